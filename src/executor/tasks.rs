//! One task over the active hosts of a play: which tasks the tags select, the banner, the
//! hosts run side by side within `forks` and `throttle`, and each host's outcome applied to
//! its state (registered values, facts, notifications, the recap counts).

use anyhow::Result;

use super::run_task::{HostOutcome, TaskRun};
use super::{factcache, flow, scope, PlayCtx, Runner};
use crate::output::Status;
use crate::playbook::{Action, Play, Task};
use crate::vars::{Value, Vars};

impl Runner {
    /// `--tags` / `--skip-tags` with Ansible's `always` and `never`.
    pub(super) fn tag_selected(&self, play: &Play, task: &Task) -> bool {
        let mut tags: Vec<&str> = task.tags.iter().map(String::as_str).collect();
        tags.extend(play.tags.iter().map(String::as_str));
        if self
            .opts
            .skip_tags
            .iter()
            .any(|s| tags.contains(&s.as_str()))
        {
            return false;
        }
        if tags.contains(&"always") {
            return true;
        }
        let wanted = &self.opts.tags;
        if wanted.is_empty() || wanted.iter().any(|t| t == "all") {
            return !tags.contains(&"never");
        }
        wanted
            .iter()
            .any(|t| tags.contains(&t.as_str()) || (t == "tagged" && !tags.is_empty()))
    }

    /// The task's name for its banner, rendered as Ansible does when it holds a template
    /// (with the first host's variables); as written when that fails.
    pub(super) fn banner_name(
        &self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        host: Option<&String>,
    ) -> String {
        let name = task.display_name();
        let Some(host) = host.filter(|_| name.contains("{{")) else {
            return name;
        };
        let scope = self.scope_for(self.task_vars(ctx, host, task));
        self.templar.render_str(&name, &scope).unwrap_or(name)
    }

    pub(super) fn scope_for(&self, vars: Vars) -> crate::vars::Scope {
        let hostvars = scope::hostvars_map(&self.inventory, &self.hosts.borrow(), &self.opts);
        crate::vars::Scope::new(vars, hostvars)
    }

    /// Runs one task on every active host of the play and reports the results.
    pub(super) async fn run_task(
        &self,
        ctx: &mut PlayCtx<'_>,
        task: &Task,
        handler: bool,
    ) -> Result<()> {
        // After Ctrl-C no task starts; the run goes straight to its recap.
        if crate::connection::interrupted() || self.free_end(ctx, false) {
            ctx.stop = true;
            ctx.quiet_stop = true;
            return Ok(());
        }
        if let Action::Block {
            block,
            rescue,
            always,
        } = &task.action
        {
            return self.run_block(ctx, task, block, rescue, always).await;
        }
        if !ctx.started {
            let wanted = self.opts.start_at_task.as_deref().unwrap_or_default();
            if !task.starts_at(wanted) {
                return Ok(());
            }
            ctx.started = true;
        }
        if self.opts.step && !flow::step_confirms(&task.display_name())? {
            return Ok(());
        }
        if let Action::Include { kind, args, apply } = &task.action {
            return self
                .run_include(ctx, task, *kind, args, apply.as_deref())
                .await;
        }
        if task.module_name() == Some("meta") {
            return self.run_meta(ctx, task).await;
        }
        let mut hosts = self.active(ctx);
        if task.run_once && ctx.free.is_none() {
            hosts.truncate(1);
        }
        // No banner for a task no host runs (the rest of a block after its hosts failed).
        if hosts.is_empty() {
            return Ok(());
        }
        let name = self.banner_name(ctx, task, hosts.first());
        let origin = task.origin.to_string();
        self.free_warnings(ctx, task);
        self.task_banner(ctx, &name, Some(&origin), handler, &hosts);
        let throttle = self.free_throttle(ctx, task);
        let free_slot = self.free_slot(ctx, throttle).await;
        if self.free_end(ctx, false) {
            ctx.stop = true;
            ctx.quiet_stop = true;
            return Ok(());
        }
        let hostvars = scope::hostvars_map(&self.inventory, &self.hosts.borrow(), &self.opts);
        // In a free play, the lines a command streams come under this task's banner.
        let reporter = self.reporter.streaming_for(ctx.banner.as_ref());
        let run = TaskRun {
            task,
            play: ctx.play,
            templar: &self.templar,
            pool: &self.pool,
            opts: &self.opts,
            playbook_dir: &ctx.playbook_dir,
            reporter: &reporter,
        };
        let scopes: Vec<crate::vars::Scope> = hosts
            .iter()
            .map(|h| crate::vars::Scope::new(self.task_vars(ctx, h, task), hostvars.clone()))
            .collect();
        let mut limit = self.opts.forks.max(1);
        for throttle in [task.throttle, ctx.play.throttle] {
            if throttle > 0 {
                limit = limit.min(throttle);
            }
        }
        let forks = tokio::sync::Semaphore::new(limit);
        let outcomes: Vec<HostOutcome> =
            futures::future::join_all(hosts.iter().zip(scopes.iter()).map(|(h, s)| {
                let run = &run;
                let forks = &forks;
                let reporter = &self.reporter;
                async move {
                    // The semaphore lives until every future is done, so it is never closed.
                    let _permit = forks.acquire().await.expect("semaphore open");
                    reporter.host_running(h);
                    let started = std::time::Instant::now();
                    let mut outcome = run.on_host(h, s).await;
                    outcome.duration = started.elapsed();
                    reporter.host_finished(h, outcome.status);
                    outcome
                }
            }))
            .await;
        drop(free_slot);

        let all_hosts = self.active(ctx);
        let mut newly_failed = false;
        for (host, outcome) in hosts.iter().zip(outcomes) {
            newly_failed |=
                matches!(outcome.status, Status::Failed | Status::Unreachable) && !outcome.ignored;
            self.apply_outcome(ctx, task, host, &outcome, &all_hosts);
        }
        if newly_failed {
            self.after_failure(ctx, task);
        }
        Ok(())
    }

    /// Reports one host's outcome and updates its state; `run_once` results go to every host.
    pub(super) fn apply_outcome(
        &self,
        ctx: &mut PlayCtx<'_>,
        task: &Task,
        host: &str,
        outcome: &HostOutcome,
        all_hosts: &[String],
    ) {
        self.show_banner(ctx);
        outcome.report(&self.reporter, host, task);
        let targets: Vec<String> = if task.run_once && ctx.free.is_none() {
            all_hosts.to_vec()
        } else {
            vec![host.to_string()]
        };
        let cacheable = self.opts.fact_cache.is_some()
            && !outcome.facts.is_empty()
            && self.is_cacheable(ctx, task, host);
        let gathered = task.module_name() == Some("setup")
            && matches!(outcome.status, Status::Ok | Status::Changed);
        // Hosts whose cache entry changed, written once the states are updated.
        let mut to_save = Vec::new();
        let mut states = self.hosts.borrow_mut();
        for target in targets {
            let state = states.entry(target.clone()).or_default();
            if let Some(name) = &task.register {
                state
                    .registered
                    .insert(name.clone(), outcome.registered.clone());
            }
            // `delegate_facts` gives the facts to the host the task was delegated to.
            let owner_name = match (&outcome.delegated, task.delegate_facts) {
                (Some(d), true) => d.clone(),
                _ => target.clone(),
            };
            let state = states.entry(owner_name.clone()).or_default();
            for (k, v) in &outcome.facts {
                state.registered.insert(k.clone(), v.clone());
            }
            for (k, v) in &outcome.ansible_facts {
                state.facts.insert(k.clone(), v.clone());
            }
            state.gathered |= gathered;
            let changes_cache = !outcome.ansible_facts.is_empty() || cacheable;
            if self.opts.fact_cache.is_some() && changes_cache {
                let cache = state.cache.get_or_insert_with(Vars::new);
                cache.extend(factcache::prefixed(&outcome.ansible_facts));
                if gathered {
                    cache.insert(factcache::GATHERED.into(), serde_json::json!(true));
                }
                if cacheable {
                    cache.extend(outcome.facts.clone());
                }
                to_save.push(owner_name.clone());
            }
            if outcome.status == Status::Changed {
                for n in &task.notify {
                    ctx.notified
                        .entry(target.clone())
                        .or_default()
                        .insert(n.clone());
                }
            }
        }
        let state = states.entry(host.to_string()).or_default();
        match outcome.status {
            Status::Ok => state.stats.ok += 1,
            Status::Changed => {
                state.stats.ok += 1;
                state.stats.changed += 1;
            }
            Status::Skipped => state.stats.skipped += 1,
            Status::Failed if outcome.ignored => {
                state.stats.ok += 1;
                state.stats.ignored += 1;
            }
            Status::Failed => {
                state.stats.failed += 1;
                state.failed = true;
                state.failed_with = Some((task.as_value(), outcome.registered.clone()));
            }
            Status::Unreachable => {
                state.stats.unreachable += 1;
                state.unreachable = true;
            }
        }
        drop(states);
        for owner in to_save {
            self.save_fact_cache(&owner);
        }
    }

    /// `set_fact` with `cacheable` true, the value rendered with the host's variables when
    /// it is a template (`cacheable: "{{ keep }}"`).
    fn is_cacheable(&self, ctx: &PlayCtx<'_>, task: &Task, host: &str) -> bool {
        let Action::Module { args, .. } = &task.action else {
            return false;
        };
        let Some(raw) = args.get("cacheable") else {
            return false;
        };
        let value = match raw {
            Value::String(s) if s.contains("{{") || s.contains("{%") => {
                let scope = self.scope_for(self.task_vars(ctx, host, task));
                match self.templar.render_value(raw, &scope) {
                    Ok(v) => v,
                    Err(_) => return false,
                }
            }
            other => other.clone(),
        };
        crate::vars::as_bool(&value).unwrap_or(false)
    }
}
