//! Running one task on one host: loops, conditions, templated arguments, delegation,
//! escalation, retries, and `changed_when`/`failed_when`, ending in one outcome to report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::result::OneResult;
use super::{builtin, escalation, Options, Pool};
use crate::connection::Unreachable;
use crate::modules::{self, FileDiff, ModuleCtx};
use crate::output::{py_str, HostReport, Reporter, ResultLine, Status};
use crate::playbook::{Action, Play, Task};
use crate::template::Templar;
use crate::vars::{as_bool, as_text, Scope, Value, Vars};

/// Everything shared by the hosts running one task.
pub(super) struct TaskRun<'a> {
    pub task: &'a Task,
    pub play: &'a Play,
    pub templar: &'a Templar,
    pub pool: &'a Pool,
    pub opts: &'a Options,
    pub playbook_dir: &'a Path,
    pub reporter: &'a Reporter,
}

tokio::task_local! {
    /// The pass over a loop the running item belongs to (`ModuleCtx::loop_pass`).
    static LOOP_PASS: u64;
}

/// Numbers the passes over loops (one per host and loop) for `LOOP_PASS`.
static LOOP_PASSES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One loop item's (or the task's) result, ready to print.
#[derive(Debug)]
pub(super) struct ItemLine {
    status: Status,
    label: Option<String>,
    detail: Option<Value>,
    diffs: Vec<FileDiff>,
}

/// How a task ended on one host.
#[derive(Debug)]
pub(super) struct HostOutcome {
    pub status: Status,
    pub ignored: bool,
    pub registered: Value,
    /// Values from `set_fact`.
    pub facts: Vars,
    /// Values for `ansible_facts`.
    pub ansible_facts: Vars,
    pub delegated: Option<String>,
    lines: Vec<ItemLine>,
    /// Shown after the item lines of a loop that failed.
    summary: Option<Value>,
    /// How long the host took over the task, set by the executor.
    pub duration: Duration,
}

impl HostOutcome {
    fn failure(msg: String, unreachable: bool) -> Self {
        let detail = if unreachable {
            json!({"changed": false, "msg": msg, "unreachable": true})
        } else {
            json!({"changed": false, "msg": msg})
        };
        let status = if unreachable {
            Status::Unreachable
        } else {
            Status::Failed
        };
        HostOutcome {
            status,
            ignored: false,
            registered: {
                let mut r = detail.clone();
                r["failed"] = json!(true);
                r
            },
            facts: Vars::new(),
            ansible_facts: Vars::new(),
            delegated: None,
            lines: vec![ItemLine {
                status,
                label: None,
                detail: Some(detail),
                diffs: vec![],
            }],
            summary: None,
            duration: Duration::ZERO,
        }
    }

    /// Hands the host's result to the reporter, censored for `no_log`.
    pub fn report(&self, reporter: &Reporter, host: &str, task: &Task) {
        if task.no_log {
            // What the task saw is masked wherever it shows up later (a register printed).
            crate::output::secrets::add_value(&self.registered);
        }
        let censored = json!({"censored":
            "the output has been hidden due to the fact that 'no_log: true' was specified for this result"});
        let lines = self
            .lines
            .iter()
            .map(|line| ResultLine {
                status: line.status,
                item: line.label.as_deref(),
                detail: match (&line.detail, task.no_log) {
                    (Some(_), true) => Some(censored.clone()),
                    (d, _) => d.clone(),
                },
                diffs: if task.no_log { &[] } else { &line.diffs },
            })
            .collect();
        reporter.host_result(&HostReport {
            host,
            delegated: self.delegated.as_deref(),
            status: self.status,
            ignored: self.ignored,
            lines,
            summary: self.summary.as_ref(),
            result: if task.no_log {
                &censored
            } else {
                &self.registered
            },
            duration: self.duration,
        });
    }
}

impl TaskRun<'_> {
    pub async fn on_host(&self, host: &str, scope: &Scope) -> HostOutcome {
        let task = self.task;

        // The loop's items; a loop over nothing skips the task.
        let items = match self.loop_items(scope) {
            Ok(items) => items,
            Err(msg) => return self.fail(msg, false),
        };
        let Some(items) = items else {
            let one = self.one(host, scope).await;
            return self.single(one);
        };

        let mut results = Vec::new();
        let mut lines = Vec::new();
        let mut any_changed = false;
        let mut any_failed = false;
        let mut all_skipped = true;
        let mut facts = Vars::new();
        let mut ansible_facts = Vars::new();
        let mut delegated = None;
        let pass = LOOP_PASSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for (index, item) in items.into_iter().enumerate() {
            if index > 0 && task.loop_pause > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(task.loop_pause)).await;
            }
            let item_scope = item_scope(task, scope, &item, index);
            let label = if task.no_log {
                "None".to_string()
            } else {
                self.label(&item_scope, &item)
            };
            let r = LOOP_PASS.scope(pass, self.one(host, &item_scope)).await;
            if r.status == Status::Unreachable {
                return self.fail(r.msg.unwrap_or_default(), true);
            }
            any_changed |= r.status == Status::Changed;
            any_failed |= r.status == Status::Failed;
            all_skipped &= r.status == Status::Skipped;
            facts.extend(r.facts.clone());
            ansible_facts.extend(r.ansible_facts.clone());
            delegated = r.delegated.clone();
            let mut reg = r.registered.clone();
            reg[task.loop_var.as_str()] = item.clone();
            reg["ansible_loop_var"] = json!(task.loop_var);
            if let Some(index_var) = &task.index_var {
                reg[index_var.as_str()] = json!(index);
                reg["ansible_index_var"] = json!(index_var);
            }
            results.push(reg);
            lines.push(ItemLine {
                status: r.status,
                label: Some(label),
                detail: r.detail(self.opts.verbosity),
                diffs: r.diffs,
            });
        }
        // Writes the items held (a loop of edits of one file writes it once, here). When that
        // fails, their edits did not land: the last item carries the failure.
        if let Some(session) = self.pool.open_session(host) {
            if let Err(e) = session.flush_held().await {
                let msg = format!("{e:#}");
                if e.downcast_ref::<Unreachable>().is_some() {
                    return self.fail(msg, true);
                }
                any_failed = true;
                if let (Some(line), Some(reg)) = (lines.last_mut(), results.last_mut()) {
                    reg["changed"] = json!(false);
                    reg["msg"] = json!(msg);
                    let mut detail = reg.clone();
                    reg["failed"] = json!(true);
                    if let Value::Object(d) = &mut detail {
                        d.remove(task.loop_var.as_str());
                        d.remove("ansible_loop_var");
                    }
                    line.status = Status::Failed;
                    line.detail = Some(detail);
                }
            }
        }
        let status = if any_failed {
            Status::Failed
        } else if all_skipped {
            Status::Skipped
        } else if any_changed {
            Status::Changed
        } else {
            Status::Ok
        };
        let msg = if any_failed {
            "One or more items failed"
        } else {
            "All items completed"
        };
        let mut registered = json!({"changed": any_changed, "msg": msg, "results": results});
        if any_failed {
            registered["failed"] = json!(true);
        }
        if all_skipped {
            registered["skipped"] = json!(true);
        }
        let ignored = any_failed && task.ignore_errors;
        let summary = any_failed.then(|| json!({"changed": any_changed, "msg": msg}));
        // A loop skipped on every item (or over nothing) ends in the task's own line.
        if all_skipped {
            lines.push(ItemLine {
                status: Status::Skipped,
                label: None,
                detail: None,
                diffs: vec![],
            });
        }
        HostOutcome {
            status,
            ignored,
            registered,
            facts,
            ansible_facts,
            delegated,
            lines,
            summary,
            duration: Duration::ZERO,
        }
    }

    /// The rendered items of the task's loop, `None` without a loop; the message of a
    /// failure otherwise.
    pub fn loop_items(&self, scope: &Scope) -> Result<Option<Vec<Value>>, String> {
        let task = self.task;
        let Some(raw) = &task.loop_items else {
            return Ok(None);
        };
        let items = match self.templar.render_value(raw, scope) {
            Ok(Value::Array(items)) => items,
            Ok(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect(),
            Ok(Value::Null) => Vec::new(),
            Ok(Value::String(s)) if task.loop_fileglob => vec![Value::String(s)],
            Ok(other) => return Err(format!("loop needs a list, got {other}")),
            Err(e) => return Err(format!("{}: {e}", task.origin)),
        };
        if !task.loop_fileglob {
            return Ok(Some(items));
        }
        let search = self.search_paths();
        let mut files = Vec::new();
        for pattern in &items {
            files.extend(super::glob::expand(&as_text(pattern), &search));
        }
        Ok(Some(files.into_iter().map(Value::String).collect()))
    }

    /// The text shown for an item, as Python's `str()` shows it (`['a', 'b']`, `True`):
    /// `loop_control.label` rendered to its native value, else the item itself.
    pub fn label(&self, item_scope: &Scope, item: &Value) -> String {
        match &self.task.loop_label {
            Some(l) => self
                .templar
                .render_value(&Value::String(l.clone()), item_scope)
                .map(|v| py_str(&v))
                .unwrap_or_else(|_| l.clone()),
            None => py_str(item),
        }
    }

    fn fail(&self, msg: String, unreachable: bool) -> HostOutcome {
        let mut o = HostOutcome::failure(msg, unreachable);
        o.ignored = !unreachable && self.task.ignore_errors;
        o
    }

    fn single(&self, r: OneResult) -> HostOutcome {
        let detail = r.detail(self.opts.verbosity);
        let ignored = r.status == Status::Failed && self.task.ignore_errors;
        HostOutcome {
            status: r.status,
            ignored,
            registered: r.registered,
            facts: r.facts,
            ansible_facts: r.ansible_facts,
            delegated: r.delegated,
            lines: vec![ItemLine {
                status: r.status,
                label: None,
                detail,
                diffs: r.diffs,
            }],
            summary: None,
            duration: Duration::ZERO,
        }
    }

    /// The task once (one loop item) on the host.
    async fn one(&self, host: &str, scope: &Scope) -> OneResult {
        let task = self.task;

        for cond in &task.when {
            match self.templar.eval_bool(cond, scope) {
                Ok(true) => {}
                Ok(false) => return OneResult::skipped(),
                Err(e) => {
                    return OneResult::error(format!(
                        "{}: the conditional check '{cond}' failed: {e}",
                        task.origin
                    ))
                }
            }
        }
        let Action::Module { name, args } = &task.action else {
            return OneResult::error("a block cannot run as a single task".into());
        };

        let args = match self.templar.render_value(args, scope) {
            Ok(a) => strip_omit(a),
            Err(e) => {
                return OneResult::error(format!(
                    "{}: task '{}' on {host}: {e}",
                    task.origin,
                    task.display_name()
                ))
            }
        };

        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut r = self.call(host, name, &args, scope).await;
            if matches!(r.status, Status::Unreachable | Status::Skipped) {
                return r;
            }
            let Some(until) = &task.until else {
                self.apply_conditions(&mut r, scope);
                return r;
            };
            // `attempts` is there for `changed_when`, `failed_when` and `until`, as in Ansible.
            r.registered["attempts"] = json!(attempt);
            self.apply_conditions(&mut r, scope);
            let done = match self.with_registered(scope, &r.registered) {
                Some(s) => match self.templar.eval_bool(until, &s) {
                    Ok(done) => done,
                    Err(e) => {
                        r.status = Status::Failed;
                        r.msg = Some(format!("{}: until: {e}", task.origin));
                        return r;
                    }
                },
                None => true,
            };
            if done || attempt > task.retries {
                if !done {
                    r.status = Status::Failed;
                    r.msg = Some(format!("retries exhausted after {attempt} attempts"));
                    r.registered["failed"] = json!(true);
                }
                return r;
            }
            // Ansible's notice, so that a long wait is visibly a wait.
            self.reporter.plain(&format!(
                "FAILED - RETRYING: [{host}]: {} ({} retries left).\n",
                task.display_name(),
                task.retries + 1 - attempt
            ));
            tokio::time::sleep(Duration::from_secs(task.delay)).await;
        }
    }

    /// Runs the module (or the executor's own action) and turns its output into a result.
    async fn call(&self, host: &str, name: &str, args: &Value, scope: &Scope) -> OneResult {
        let task = self.task;
        let delegate = match &task.delegate_to {
            Some(d) => match self.templar.render_str(d, scope) {
                Ok(d) => Some(d),
                Err(e) => return OneResult::error(format!("delegate_to: {e}")),
            },
            None => None,
        };
        if modules::EXECUTOR_MODULES.contains(&name) {
            let search = self.vars_paths();
            return match builtin::run(name, args, scope, self.templar, &search) {
                Ok(out) => OneResult::from_output(out, delegate, false),
                Err(e) => OneResult::error(format!("{e:#}")),
            };
        }
        let target = delegate.clone().unwrap_or_else(|| host.to_string());
        let target = target.as_str();
        let session = match self.pool.get(target).await {
            Ok(s) => s,
            Err(e) => return OneResult::unreachable(format!("{e:#}")),
        };
        let session = match self.environment(scope) {
            Ok(env) if env.is_empty() => session,
            Ok(env) => session.with_env(env),
            Err(msg) => return OneResult::error(msg),
        };
        if name == "setup" {
            return match super::facts::setup(&session, args).await {
                Ok(out) => OneResult::from_output(out, delegate, false),
                Err(e) if e.downcast_ref::<Unreachable>().is_some() => {
                    OneResult::unreachable(format!("{e:#}"))
                }
                Err(e) => OneResult::error(format!("{e:#}")),
            };
        }
        let become_ = escalation(task, self.play, &scope.vars, self.opts);
        let search = self.search_paths();
        let ctx = ModuleCtx {
            host: target,
            session: &session,
            escalation: become_.as_ref(),
            check: task.check_mode.unwrap_or(self.opts.check),
            diff: task.diff.unwrap_or(self.opts.diff),
            templar: self.templar,
            scope,
            search_paths: &search,
            sessions: self.pool,
            verbosity: self.opts.verbosity,
            loop_pass: LOOP_PASS
                .try_with(|pass| *pass)
                .ok()
                .filter(|_| delegate.is_none()),
        };
        // With -v, a command's output is shown as it comes, unless the task hides it.
        let label = match &delegate {
            Some(d) => format!("{host} -> {d}"),
            None => host.to_string(),
        };
        let echo = (!task.no_log).then(|| self.reporter.echo(&label)).flatten();
        let run = crate::connection::with_echo(echo, modules::run(name, args, &ctx));
        let result = if task.timeout > 0 {
            // Commands still running at the deadline are stopped; the wait is bounded too.
            let limit = std::time::Duration::from_secs(task.timeout);
            let at = std::time::Instant::now() + limit;
            let run = crate::connection::with_deadline(at, run);
            let bounded = tokio::time::timeout(limit + std::time::Duration::from_secs(10), run);
            let result = bounded.await;
            if std::time::Instant::now() >= at {
                return OneResult::error(format!("the task timed out after {} s", task.timeout));
            }
            match result {
                Ok(result) => result,
                Err(_) => {
                    return OneResult::error(format!("the task timed out after {} s", task.timeout))
                }
            }
        } else {
            run.await
        };
        match result {
            Ok(out) => OneResult::from_output(out, delegate, ctx.diff),
            Err(e) if e.downcast_ref::<Unreachable>().is_some() => {
                OneResult::unreachable(format!("{e:#}"))
            }
            Err(e) => OneResult::error(format!("{e:#}")),
        }
    }

    /// Where `src` files and templates are looked for: the role first, then the playbook.
    pub fn search_paths(&self) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        if let Some(role) = &self.task.role {
            paths.push(role.path.join("files"));
            paths.push(role.path.join("templates"));
            paths.push(role.path.join("tasks"));
            paths.push(role.path.clone());
        }
        paths.push(self.playbook_dir.join("files"));
        paths.push(self.playbook_dir.join("templates"));
        paths.push(self.playbook_dir.to_path_buf());
        paths
    }

    /// The play's and the task's `environment`, rendered, the task's winning.
    fn environment(&self, scope: &Scope) -> Result<Vec<(String, String)>, String> {
        let mut merged = self.play.environment.clone();
        for (k, v) in &self.task.environment {
            merged.insert(k.clone(), v.clone());
        }
        let mut out = Vec::new();
        for (k, v) in merged {
            let valid = !k.is_empty()
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "{}: environment: '{k}' is not a variable name",
                    self.task.origin
                ));
            }
            let value = self
                .templar
                .render_value(&v, scope)
                .map_err(|e| format!("{}: environment {k}: {e}", self.task.origin))?;
            out.push((k, as_text(&value)));
        }
        Ok(out)
    }

    /// Where `include_vars` looks: the role's `vars/`, beside the task's file, then the
    /// playbook's `vars/` and folder.
    fn vars_paths(&self) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        if let Some(role) = &self.task.role {
            paths.push(role.path.join("vars"));
            paths.push(role.path.clone());
        }
        if let Some(dir) = self.task.origin.file.parent() {
            paths.push(dir.to_path_buf());
        }
        paths.push(self.playbook_dir.join("vars"));
        paths.push(self.playbook_dir.to_path_buf());
        paths
    }

    /// A scope where the task's `register` name holds this result.
    fn with_registered(&self, scope: &Scope, result: &Value) -> Option<Scope> {
        let mut vars = (*scope.vars).clone();
        if let Some(name) = &self.task.register {
            vars.insert(name.clone(), result.clone());
            crate::vars::mark_raw(&mut vars, name);
        }
        Some(Scope {
            vars: std::sync::Arc::new(vars),
            hostvars: scope.hostvars.clone(),
        })
    }

    /// `changed_when` and `failed_when`, evaluated with the result registered.
    fn apply_conditions(&self, r: &mut OneResult, scope: &Scope) {
        let task = self.task;
        if r.status == Status::Skipped
            || (task.changed_when.is_none() && task.failed_when.is_none())
        {
            return;
        }
        let Some(s) = self.with_registered(scope, &r.registered) else {
            return;
        };
        let eval = |cond: &Value| -> Result<bool, String> {
            match cond {
                Value::Bool(b) => Ok(*b),
                Value::Array(list) => {
                    for c in list {
                        if !self
                            .templar
                            .eval_bool(&as_text(c), &s)
                            .map_err(|e| e.to_string())?
                        {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                }
                other => self
                    .templar
                    .eval_bool(&as_text(other), &s)
                    .map_err(|e| e.to_string()),
            }
        };
        if let Some(cond) = &task.changed_when {
            match eval(cond) {
                Ok(changed) => {
                    if r.status != Status::Failed {
                        r.status = if changed { Status::Changed } else { Status::Ok };
                    }
                    r.registered["changed"] = json!(changed);
                }
                Err(e) => {
                    r.status = Status::Failed;
                    r.msg = Some(format!("changed_when: {e}"));
                }
            }
        }
        if let Some(cond) = &task.failed_when {
            match eval(cond) {
                Ok(true) => {
                    r.status = Status::Failed;
                    r.registered["failed"] = json!(true);
                    r.registered["failed_when_result"] = json!(true);
                    if r.msg.is_none() {
                        r.msg = Some("failed_when condition was true".into());
                    }
                }
                Ok(false) => {
                    if r.status == Status::Failed {
                        r.status = if as_bool(&r.registered["changed"]) == Some(true) {
                            Status::Changed
                        } else {
                            Status::Ok
                        };
                    }
                    r.registered["failed"] = json!(false);
                    r.registered["failed_when_result"] = json!(false);
                }
                Err(e) => {
                    r.status = Status::Failed;
                    r.msg = Some(format!("failed_when: {e}"));
                }
            }
        }
    }
}

/// The scope of one loop item: the loop variable and the index variable set.
pub(super) fn item_scope(task: &Task, scope: &Scope, item: &Value, index: usize) -> Scope {
    let mut vars = (*scope.vars).clone();
    vars.insert(task.loop_var.clone(), item.clone());
    // The item was rendered already: its text is data, not a template.
    crate::vars::mark_raw(&mut vars, &task.loop_var);
    if let Some(index_var) = &task.index_var {
        vars.insert(index_var.clone(), json!(index));
    }
    vars.insert("ansible_loop_var".into(), json!(task.loop_var));
    Scope {
        vars: std::sync::Arc::new(vars),
        hostvars: scope.hostvars.clone(),
    }
}

/// Drops arguments whose value is `omit`.
fn strip_omit(args: Value) -> Value {
    match args {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| v.as_str() != Some(crate::template::OMIT))
                .map(|(k, v)| (k, strip_omit(v)))
                .collect(),
        ),
        other => other,
    }
}
