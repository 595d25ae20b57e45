//! The executor: runs plays over hosts, task by task (Ansible's linear strategy), with one
//! session per host, a bounded number of hosts in flight, handlers at the end of each play,
//! and the recap at the end of the run.

mod blocks;
mod builtin;
mod facts;
mod flow;
mod glob;
mod include;
mod pool;
mod result;
mod run_task;
mod scope;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use anyhow::Result;

use crate::connection::Become;
use crate::inventory::Inventory;
use crate::output::{HostReport, Reporter, Stats, Status};
use crate::playbook::{Action, Play, Playbook, Task};
use crate::template::Templar;
use crate::vars::{Value, Vars};

pub use flow::list_tags;
pub use pool::Pool;
use run_task::{HostOutcome, TaskRun};

/// Settings from the command line that apply to the whole run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    pub limit: Option<String>,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub extra_vars: Vars,
    pub verbosity: u8,
    pub remote_user: Option<String>,
    pub private_key: Option<PathBuf>,
    pub escalate: bool,
    pub become_user: Option<String>,
    pub become_password: Option<String>,
    pub host_key_checking: Option<String>,
    pub timeout: u64,
    pub roles_path: Vec<PathBuf>,
    /// `--start-at-task`: tasks before the first one of this name are not run.
    pub start_at_task: Option<String>,
    /// `--step`: ask before each task.
    pub step: bool,
}

/// What the run ended with, for the exit code.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub any_failed: bool,
    pub any_unreachable: bool,
}

/// Per-host state that lives across tasks and plays.
#[derive(Default)]
struct HostState {
    /// `ansible_facts` from gathering and modules.
    facts: Vars,
    /// Registered results and `set_fact` values.
    registered: Vars,
    stats: Stats,
    failed: bool,
    unreachable: bool,
}

/// Runs playbooks against an inventory.
pub struct Runner {
    inventory: Inventory,
    templar: Templar,
    opts: Options,
    reporter: Reporter,
    pool: Pool,
    hosts: BTreeMap<String, HostState>,
    /// Hosts in the order they first appeared in a play, for the recap.
    order: Vec<String>,
}

impl Runner {
    pub fn new(inventory: Inventory, opts: Options, reporter: Reporter) -> Self {
        Runner {
            inventory,
            templar: Templar::new(),
            opts,
            reporter,
            pool: Pool::new(),
            hosts: BTreeMap::new(),
            order: Vec::new(),
        }
    }

    /// Runs every play of the playbook and prints the recap.
    pub async fn run(&mut self, playbook: &Playbook) -> Result<Outcome> {
        // Lookups read controller files relative to the playbook, as in Ansible.
        self.templar = self.templar.with_base_dir(playbook.dir());
        for play in &playbook.plays {
            if crate::connection::interrupted() {
                break;
            }
            self.run_play(playbook, play).await?;
        }
        self.pool.close_all().await;
        let recap: Vec<(String, Stats)> = self
            .order
            .iter()
            .map(|h| {
                (
                    h.clone(),
                    self.hosts
                        .get(h)
                        .map(|s| s.stats.clone())
                        .unwrap_or_default(),
                )
            })
            .collect();
        self.reporter.recap(&recap);
        Ok(Outcome {
            any_failed: self.hosts.values().any(|h| h.failed && !h.unreachable),
            any_unreachable: self.hosts.values().any(|h| h.unreachable),
        })
    }

    /// The hosts a play targets, `--limit` applied, in inventory order.
    pub fn play_hosts(&self, play: &Play) -> Result<Vec<String>> {
        let mut hosts = self.inventory.select(&play.hosts)?;
        if let Some(limit) = &self.opts.limit {
            let allowed: HashSet<String> =
                self.inventory.select_limit(limit)?.into_iter().collect();
            hosts.retain(|h| allowed.contains(h));
        }
        Ok(hosts)
    }

    async fn run_play(&mut self, playbook: &Playbook, play: &Play) -> Result<()> {
        self.reporter.play(&play.name);
        let all_hosts = self.play_hosts(play)?;
        if all_hosts.is_empty() {
            self.reporter.plain("skipping: no hosts matched\n");
            return Ok(());
        }
        for h in &all_hosts {
            if !self.order.contains(h) {
                self.order.push(h.clone());
            }
            self.hosts.entry(h.clone()).or_default();
        }
        let mut play_vars = scope::play_vars(play, &playbook.dir())?;
        flow::prompt_vars(play, &mut play_vars, &self.opts)?;
        self.prepare_connections(play, &play_vars)?;

        let batches = flow::batches(&play.serial, &all_hosts);
        for (i, batch) in batches.into_iter().enumerate() {
            if i > 0 {
                self.reporter.play(&play.name);
            }
            // Hosts that failed earlier (in this play or an earlier one) sit this out.
            let hosts: Vec<String> = batch
                .into_iter()
                .filter(|h| {
                    self.hosts
                        .get(h)
                        .map(|s| !s.failed && !s.unreachable)
                        .unwrap_or(true)
                })
                .collect();
            if hosts.is_empty() {
                continue;
            }
            let mut ctx = PlayCtx {
                play,
                play_vars: play_vars.clone(),
                hosts: hosts.clone(),
                batch: hosts,
                all_hosts: all_hosts.clone(),
                notified: BTreeMap::new(),
                playbook_dir: playbook.dir(),
                handlers: Vec::new(),
                ended: HashSet::new(),
                stop: false,
                abort: false,
                quiet_stop: false,
                started: self.opts.start_at_task.is_none(),
            };
            self.run_batch(&mut ctx).await?;
            let all_failed = ctx
                .batch
                .iter()
                .all(|h| self.hosts.get(h).is_some_and(|s| s.failed || s.unreachable));
            if ctx.abort || all_failed {
                break;
            }
        }
        Ok(())
    }

    /// One batch of hosts (the whole play without `serial`): facts, tasks, handlers.
    async fn run_batch(&mut self, ctx: &mut PlayCtx<'_>) -> Result<()> {
        let play = ctx.play;
        if play.gather_facts {
            self.gather_facts(ctx).await;
        }
        let tasks: Vec<&Task> = play
            .tasks
            .iter()
            .filter(|t| self.tag_selected(play, t))
            .collect();
        for task in tasks {
            if self.active(ctx).is_empty() || ctx.stop {
                break;
            }
            self.run_task(ctx, task, false).await?;
        }
        if ctx.stop && !ctx.quiet_stop {
            self.reporter.banner("NO MORE HOSTS LEFT");
        }
        if (!ctx.stop || play.force_handlers) && !crate::connection::interrupted() {
            self.run_handlers(ctx).await?;
        }
        Ok(())
    }

    fn active(&self, ctx: &PlayCtx) -> Vec<String> {
        ctx.active_hosts(&self.hosts)
    }

    /// Works out how to reach each host of the play from its variables.
    fn prepare_connections(&mut self, play: &Play, play_vars: &Vars) -> Result<()> {
        let mut names: Vec<String> = self
            .inventory
            .hosts
            .iter()
            .map(|h| h.name.clone())
            .collect();
        names.push("localhost".into());
        // one `hostvars` for every host's scope: building it per host cost O(hosts²)
        let hostvars = scope::hostvars_map(&self.inventory, &self.hosts, &self.opts);
        for name in names {
            if self.pool.has_spec(&name) {
                continue;
            }
            let vars = scope::vars_for(
                &self.inventory,
                &name,
                self.hosts.get(&name),
                play_vars,
                None,
                &self.opts,
                &Value::Array(Vec::new()),
            );
            let scope = crate::vars::Scope::new(vars, hostvars.clone());
            let spec = scope::connect_spec(&name, play, &self.opts, &self.templar, &scope)?;
            self.pool.set_spec(&name, spec);
        }
        Ok(())
    }

    async fn gather_facts(&mut self, ctx: &PlayCtx<'_>) {
        let hosts = self.active(ctx);
        self.reporter
            .task_start("Gathering Facts", None, false, &hosts);
        let pool = &self.pool;
        let reporter = &self.reporter;
        let results = futures::future::join_all(hosts.iter().map(|h| async move {
            reporter.host_running(h);
            let subsets = &ctx.play.gather_subset;
            let gathered = async {
                let all = facts::gather(&pool.get(h).await?).await?;
                if subsets.is_empty() {
                    Ok(all)
                } else {
                    facts::select(all, subsets)
                }
            }
            .await;
            let status = if gathered.is_ok() {
                Status::Ok
            } else {
                Status::Failed
            };
            reporter.host_finished(h, status);
            gathered
        }))
        .await;
        for (host, result) in hosts.iter().zip(results) {
            let state = self.hosts.entry(host.clone()).or_default();
            match result {
                Ok(facts) => {
                    state.facts.extend(facts);
                    state.stats.ok += 1;
                    let result = serde_json::json!({"changed": false});
                    self.reporter
                        .host_result(&HostReport::single(host, Status::Ok, &result, None));
                }
                Err(e) => self.mark_error(host, &e),
            }
        }
    }

    /// Records a host that failed outside a task (connecting, gathering facts).
    fn mark_error(&mut self, host: &str, err: &anyhow::Error) {
        let unreachable = err
            .downcast_ref::<crate::connection::Unreachable>()
            .is_some();
        let state = self.hosts.entry(host.to_string()).or_default();
        let detail = serde_json::json!({"changed": false, "msg": format!("{err:#}"),
            "unreachable": unreachable});
        let status = if unreachable {
            state.unreachable = true;
            state.stats.unreachable += 1;
            Status::Unreachable
        } else {
            state.failed = true;
            state.stats.failed += 1;
            Status::Failed
        };
        self.reporter.host_result(&HostReport::single(
            host,
            status,
            &detail,
            Some(detail.clone()),
        ));
    }

    /// `--tags` / `--skip-tags` with Ansible's `always` and `never`.
    fn tag_selected(&self, play: &Play, task: &Task) -> bool {
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
    fn banner_name(&self, ctx: &PlayCtx<'_>, task: &Task, host: Option<&String>) -> String {
        let name = task.display_name();
        let Some(host) = host.filter(|_| name.contains("{{")) else {
            return name;
        };
        let scope = self.scope_for(self.task_vars(ctx, host, task));
        self.templar.render_str(&name, &scope).unwrap_or(name)
    }

    fn scope_for(&self, vars: Vars) -> crate::vars::Scope {
        let hostvars = scope::hostvars_map(&self.inventory, &self.hosts, &self.opts);
        crate::vars::Scope::new(vars, hostvars)
    }

    /// Runs one task on every active host of the play and reports the results.
    async fn run_task(&mut self, ctx: &mut PlayCtx<'_>, task: &Task, handler: bool) -> Result<()> {
        // After Ctrl-C no task starts; the run goes straight to its recap.
        if crate::connection::interrupted() {
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
            if task.display_name() != wanted && task.name.as_deref() != Some(wanted) {
                return Ok(());
            }
            ctx.started = true;
        }
        if self.opts.step && !flow::step_confirms(&task.display_name())? {
            return Ok(());
        }
        if let Action::Include { kind, args } = &task.action {
            return self.run_include(ctx, task, *kind, args).await;
        }
        if task.module_name() == Some("meta") {
            return self.run_meta(ctx, task).await;
        }
        let mut hosts = self.active(ctx);
        if task.run_once {
            hosts.truncate(1);
        }
        let name = self.banner_name(ctx, task, hosts.first());
        let origin = task.origin.to_string();
        self.reporter
            .task_start(&name, Some(&origin), handler, &hosts);
        let hostvars = scope::hostvars_map(&self.inventory, &self.hosts, &self.opts);
        let run = TaskRun {
            task,
            play: ctx.play,
            templar: &self.templar,
            pool: &self.pool,
            opts: &self.opts,
            playbook_dir: &ctx.playbook_dir,
            reporter: &self.reporter,
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
    fn apply_outcome(
        &mut self,
        ctx: &mut PlayCtx<'_>,
        task: &Task,
        host: &str,
        outcome: &HostOutcome,
        all_hosts: &[String],
    ) {
        outcome.report(&self.reporter, host, task);
        let targets: Vec<String> = if task.run_once {
            all_hosts.to_vec()
        } else {
            vec![host.to_string()]
        };
        for target in targets {
            let state = self.hosts.entry(target.clone()).or_default();
            if let Some(name) = &task.register {
                state
                    .registered
                    .insert(name.clone(), outcome.registered.clone());
            }
            // `delegate_facts` gives the facts to the host the task was delegated to.
            let owner = match (&outcome.delegated, task.delegate_facts) {
                (Some(d), true) => d.clone(),
                _ => target.clone(),
            };
            let state = self.hosts.entry(owner).or_default();
            for (k, v) in &outcome.facts {
                state.registered.insert(k.clone(), v.clone());
            }
            for (k, v) in &outcome.ansible_facts {
                state.facts.insert(k.clone(), v.clone());
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
        let state = self.hosts.entry(host.to_string()).or_default();
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
            }
            Status::Unreachable => {
                state.stats.unreachable += 1;
                state.unreachable = true;
            }
        }
    }
}

/// State of the play being run.
struct PlayCtx<'a> {
    play: &'a Play,
    play_vars: Vars,
    /// The hosts the current task list runs on (a block's rescue or an include narrows it).
    hosts: Vec<String>,
    /// The hosts of this `serial` batch, and of the whole play.
    batch: Vec<String>,
    all_hosts: Vec<String>,
    /// Handler names notified, per host.
    notified: BTreeMap<String, HashSet<String>>,
    playbook_dir: PathBuf,
    /// Handlers of roles brought in by `include_role`.
    handlers: Vec<Task>,
    /// Hosts that `meta: end_host` took out of the play.
    ended: HashSet<String>,
    /// No more tasks in this batch (`any_errors_fatal`, `max_fail_percentage`, `meta`).
    stop: bool,
    /// No more batches either.
    abort: bool,
    /// The stop was asked for (`meta`), not forced by failures.
    quiet_stop: bool,
    /// `--start-at-task` found its task.
    started: bool,
}

impl PlayCtx<'_> {
    fn active_hosts(&self, states: &BTreeMap<String, HostState>) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|h| !self.ended.contains(*h))
            .filter(|h| {
                states
                    .get(*h)
                    .map(|s| !s.failed && !s.unreachable)
                    .unwrap_or(true)
            })
            .cloned()
            .collect()
    }

    /// `ansible_play_hosts`: the play's hosts that have not failed.
    fn play_hosts_value(&self, states: &BTreeMap<String, HostState>) -> Value {
        names_value(&self.alive(&self.all_hosts, states))
    }

    /// `ansible_play_batch` and `play_hosts`: this batch's hosts that have not failed.
    fn batch_value(&self, states: &BTreeMap<String, HostState>) -> Value {
        names_value(&self.alive(&self.batch, states))
    }

    fn alive(&self, hosts: &[String], states: &BTreeMap<String, HostState>) -> Vec<String> {
        hosts
            .iter()
            .filter(|h| !self.ended.contains(*h))
            .filter(|h| states.get(*h).is_none_or(|s| !s.failed && !s.unreachable))
            .cloned()
            .collect()
    }
}

fn names_value(names: &[String]) -> Value {
    Value::Array(names.iter().map(|h| Value::String(h.clone())).collect())
}

/// The escalation a task runs with, if any.
pub(crate) fn escalation(task: &Task, play: &Play, vars: &Vars, opts: &Options) -> Option<Become> {
    let from_vars = vars.get("ansible_become").and_then(crate::vars::as_bool);
    let wanted = task
        .escalate
        .or(play.escalate)
        .or(from_vars)
        .unwrap_or(opts.escalate);
    if !wanted {
        return None;
    }
    let user = task
        .become_user
        .clone()
        .or_else(|| play.become_user.clone())
        .or_else(|| vars.get("ansible_become_user").map(crate::vars::as_text))
        .or_else(|| opts.become_user.clone())
        .unwrap_or_else(|| "root".into());
    let password = opts.become_password.clone().or_else(|| {
        vars.get("ansible_become_password")
            .or_else(|| vars.get("ansible_become_pass"))
            .map(crate::vars::as_text)
    });
    Some(Become { user, password })
}
