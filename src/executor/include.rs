//! Dynamic includes: `include_tasks` and `include_role` are resolved per host (condition,
//! loop, templated file or role name), hosts that include the same thing with the same item
//! are grouped, and each group then runs the included tasks as the play would.

use anyhow::Result;

use super::run_task::{item_scope, TaskRun};
use super::{scope, PlayCtx, Runner};
use crate::output::{HostReport, ResultLine, Status};
use crate::playbook::{load_included_role, load_task_file, IncludeKind, Task};
use crate::vars::{Scope, Value, Vars};

/// Hosts that include the same file (or role) with the same loop item.
struct Group {
    args: Vars,
    item: Option<(Value, usize, String)>,
    hosts: Vec<String>,
}

impl Runner {
    pub(super) async fn run_include(
        &self,
        ctx: &mut PlayCtx<'_>,
        task: &Task,
        kind: IncludeKind,
        args: &Value,
        apply: Option<&Task>,
    ) -> Result<()> {
        let mut hosts = self.active(ctx);
        if task.run_once && ctx.free.is_none() {
            hosts.truncate(1);
        }
        let name = match (&task.name, kind, args.get("name")) {
            (None, IncludeKind::Role, Some(role)) => {
                format!("include_role : {}", crate::vars::as_text(role))
            }
            _ => task.display_name(),
        };
        let origin = task.origin.to_string();
        self.free_warnings(ctx, task);
        self.task_banner(ctx, &name, Some(&origin), false, &hosts);
        let hostvars = scope::hostvars_map(&self.inventory, &self.hosts.borrow(), &self.opts);
        let run = TaskRun {
            task,
            play: ctx.play,
            templar: &self.templar,
            pool: &self.pool,
            opts: &self.opts,
            playbook_dir: &ctx.playbook_dir,
            reporter: &self.reporter,
        };

        // Which hosts include what.
        let mut groups: Vec<Group> = Vec::new();
        let mut failures: Vec<(String, String)> = Vec::new();
        // Per host, the labels of loop items its condition skipped.
        let mut skipped: Vec<(String, Vec<String>)> = Vec::new();
        for host in &hosts {
            let vars = self.task_vars(ctx, host, task);
            let host_scope = Scope::new(vars, hostvars.clone());
            match self.included_by(&run, host, &host_scope, args) {
                Ok((entries, items_skipped)) => {
                    if !items_skipped.is_empty() || entries.is_empty() {
                        skipped.push((host.clone(), items_skipped));
                    }
                    for (args, item) in entries {
                        let same = groups.iter_mut().find(|g| {
                            g.args == args
                                && g.item.as_ref().map(|i| (&i.0, i.1))
                                    == item.as_ref().map(|i| (&i.0, i.1))
                        });
                        match same {
                            Some(g) => g.hosts.push(host.clone()),
                            None => groups.push(Group {
                                args,
                                item,
                                hosts: vec![host.clone()],
                            }),
                        }
                    }
                }
                Err(msg) => failures.push((host.clone(), msg)),
            }
        }

        // Report: skipped and failed hosts, then an `included:` line per group.
        self.show_banner(ctx);
        for host in &hosts {
            let mut states = self.hosts.borrow_mut();
            let state = states.entry(host.clone()).or_default();
            let included = groups.iter().any(|g| g.hosts.contains(host));
            if let Some((_, items)) = skipped.iter().find(|(h, _)| h == host) {
                // Each item the condition skipped, then the task's line if nothing is left.
                let result = serde_json::json!({"changed": false, "skipped": true});
                let mut report = HostReport::single(host, Status::Skipped, &result, None);
                let mut lines: Vec<ResultLine<'_>> = items
                    .iter()
                    .map(|label| ResultLine {
                        status: Status::Skipped,
                        item: Some(label),
                        detail: None,
                        diffs: &[],
                    })
                    .collect();
                if included {
                    state.stats.ok += 1;
                } else {
                    state.stats.skipped += 1;
                    lines.append(&mut report.lines);
                }
                report.lines = lines;
                self.reporter.host_result(&report);
            } else if let Some((_, msg)) = failures.iter().find(|(h, _)| h == host) {
                let detail = serde_json::json!({"changed": false, "msg": msg});
                if task.ignore_errors {
                    state.stats.ok += 1;
                    state.stats.ignored += 1;
                } else {
                    state.failed = true;
                    state.stats.failed += 1;
                    let result = serde_json::json!({"changed": false, "failed": true, "msg": msg});
                    state.failed_with = Some((task.as_value(), result));
                }
                let mut report =
                    HostReport::single(host, Status::Failed, &detail, Some(detail.clone()));
                report.ignored = task.ignore_errors;
                self.reporter.host_result(&report);
            } else {
                state.stats.ok += 1;
            }
        }
        let mut loaded = Vec::new();
        for group in &groups {
            let found = self.load_group(ctx, task, kind, group);
            let (shown, mut tasks, handlers) = match found {
                Ok(found) => found,
                Err(e) => {
                    for host in &group.hosts {
                        self.mark_error(host, &e);
                    }
                    continue;
                }
            };
            let item = match &group.item {
                Some((_, _, label)) => format!(" => (item={label})"),
                None => String::new(),
            };
            self.reporter.plain(&format!(
                "included: {shown} for {}{item}\n",
                group.hosts.join(", ")
            ));
            // `apply:` gives its keywords to every included task, as a block would.
            if let Some(parent) = apply {
                for t in &mut tasks {
                    crate::playbook::inherit_from(t, parent);
                }
            }
            ctx.handlers.extend(handlers);
            loaded.push((group.hosts.clone(), tasks));
        }

        // Run each group's tasks with its hosts.
        for (hosts, tasks) in loaded {
            let saved = std::mem::replace(&mut ctx.hosts, hosts);
            for t in &tasks {
                if self.active(ctx).is_empty() || ctx.stop {
                    break;
                }
                if self.tag_selected(ctx.play, t) {
                    Box::pin(self.run_task(ctx, t, false)).await?;
                }
            }
            ctx.hosts = saved;
        }
        Ok(())
    }

    /// What `host` includes: for each loop item (or once) whose condition holds, the
    /// rendered arguments; and the labels of the loop items the condition skipped. The
    /// condition is checked per item, as Ansible does.
    #[allow(clippy::type_complexity)]
    fn included_by(
        &self,
        run: &TaskRun<'_>,
        host: &str,
        host_scope: &Scope,
        args: &Value,
    ) -> Result<(Vec<(Vars, Option<(Value, usize, String)>)>, Vec<String>), String> {
        let task = run.task;
        let holds = |scope: &Scope| -> Result<bool, String> {
            for cond in &task.when {
                let ok = self.templar.eval_bool(cond, scope).map_err(|e| {
                    format!(
                        "{}: the conditional check '{cond}' failed: {e}",
                        task.origin
                    )
                })?;
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        let looped = task.loop_items.is_some();
        if !looped && !holds(host_scope)? {
            return Ok((Vec::new(), Vec::new()));
        }
        let entries: Vec<(Scope, Option<(Value, usize, String)>)> =
            match run.loop_items(host_scope)? {
                None => vec![(host_scope.clone(), None)],
                Some(items) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let s = item_scope(task, host_scope, &item, i);
                        let label = run.label(&s, &item);
                        (s, Some((item, i, label)))
                    })
                    .collect(),
            };
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        for (s, item) in entries {
            if looped && !holds(&s)? {
                skipped.extend(item.map(|(_, _, label)| label));
                continue;
            }
            let rendered = self.templar.render_value(args, &s).map_err(|e| {
                format!(
                    "{}: task '{}' on {host}: {e}",
                    task.origin,
                    task.display_name()
                )
            })?;
            let Value::Object(map) = rendered else {
                return Err(format!(
                    "{}: include arguments must be a mapping",
                    task.origin
                ));
            };
            out.push((map, item));
        }
        Ok((out, skipped))
    }

    /// The tasks and handlers a group includes, and the text shown for the included file.
    fn load_group(
        &self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        kind: IncludeKind,
        group: &Group,
    ) -> Result<(String, Vec<Task>, Vec<Task>)> {
        let roles_path = &self.opts.roles_path;
        let (shown, mut tasks, handlers) = match kind {
            IncludeKind::Tasks => {
                let file = group
                    .args
                    .get("file")
                    .or_else(|| group.args.get("_raw_params"))
                    .map(crate::vars::as_text)
                    .ok_or_else(|| {
                        anyhow::anyhow!("{}: include_tasks needs a file", task.origin)
                    })?;
                let (path, tasks, handlers) = load_task_file(
                    &file,
                    &task.origin,
                    task.role.as_ref(),
                    &ctx.playbook_dir,
                    roles_path,
                )?;
                let shown = std::fs::canonicalize(&path).unwrap_or(path);
                (shown.display().to_string(), tasks, handlers)
            }
            IncludeKind::Role => {
                let (tasks, handlers) =
                    load_included_role(&group.args, &task.origin, &ctx.playbook_dir, roles_path)?;
                let name = group.args.get("name").map(crate::vars::as_text);
                (name.unwrap_or_default(), tasks, handlers)
            }
        };

        // The included tasks see the include's variables and its loop item; its other
        // keywords (condition, tags, become...) apply to the include only, as in Ansible.
        let mut vars = task.vars.clone();
        if let Some((item, index, _)) = &group.item {
            vars.insert(task.loop_var.clone(), item.clone());
            if let Some(index_var) = &task.index_var {
                vars.insert(index_var.clone(), serde_json::json!(index));
            }
        }
        for t in &mut tasks {
            for (k, v) in &vars {
                t.vars.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Ok((shown, tasks, handlers))
    }
}
