//! The executor: runs plays over hosts in `serial` batches, task by task (Ansible's linear
//! strategy) or each host on its own (`free`), with one session per host, a bounded number
//! of hosts in flight, handlers at the end of each batch, and the recap at the end of the run.

mod blocks;
mod builtin;
mod factcache;
mod facts;
mod flow;
mod free;
mod gathering;
mod glob;
mod include;
mod pool;
mod result;
mod run_task;
mod scope;
mod tasks;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use anyhow::Result;

use crate::connection::Become;
use crate::inventory::Inventory;
use crate::output::{Reporter, Stats};
use crate::playbook::{Play, Playbook, Task};
use crate::template::Templar;
use crate::vars::{Value, Vars};

pub use flow::list_tags;
pub use pool::Pool;

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
    /// `-k` / `--ask-pass`: the SSH password, tried after the keys.
    pub connection_password: Option<String>,
    pub host_key_checking: Option<String>,
    pub timeout: u64,
    pub roles_path: Vec<PathBuf>,
    /// `--start-at-task`: tasks before the first one of this name are not run.
    pub start_at_task: Option<String>,
    /// `--step`: ask before each task.
    pub step: bool,
    /// Facts kept between runs (`fact_caching = jsonfile`).
    pub fact_cache: Option<crate::config::FactCache>,
    /// When plays gather facts (`gathering`).
    pub gathering: crate::config::Gathering,
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
    /// Failed because another host's failure was fatal (`any_errors_fatal`): not counted in
    /// the recap, and a `rescue` takes the host back without counting it as rescued.
    forced: bool,
    /// The task that last failed on the host and its result, for `ansible_failed_task` and
    /// `ansible_failed_result` in a `rescue:`.
    failed_with: Option<(Value, Value)>,
    unreachable: bool,
    /// What the fact cache holds for the host, when there is a cache: written each time it
    /// changes, so that an interrupted run keeps what it learned.
    cache: Option<Vars>,
    /// Facts were gathered for the host, in this run or a cached one (`gathering = smart`).
    gathered: bool,
}

/// Runs playbooks against an inventory.
pub struct Runner {
    inventory: Inventory,
    templar: Templar,
    opts: Options,
    reporter: Reporter,
    pool: Pool,
    /// Per-host state; behind a cell so that hosts of a `free` play can run side by side.
    hosts: RefCell<BTreeMap<String, HostState>>,
    /// Hosts that appeared in a play, for the recap.
    order: RefCell<Vec<String>>,
    /// What the hosts of a `free` batch share.
    free: RefCell<free::FreeShared>,
}

impl Runner {
    pub fn new(inventory: Inventory, opts: Options, reporter: Reporter) -> Self {
        Runner {
            inventory,
            templar: Templar::new(),
            opts,
            reporter,
            pool: Pool::new(),
            hosts: RefCell::new(BTreeMap::new()),
            order: RefCell::new(Vec::new()),
            free: RefCell::default(),
        }
    }

    /// Runs every play of the playbook and prints the recap.
    pub async fn run(&mut self, playbook: &Playbook) -> Result<Outcome> {
        // Lookups read controller files relative to the playbook, as in Ansible.
        self.templar = self.templar.with_base_dir(playbook.dir());
        self.load_fact_cache();
        for play in &playbook.plays {
            if crate::connection::interrupted() {
                break;
            }
            if self.run_play(playbook, play).await? {
                break;
            }
        }
        self.pool.close_all().await;
        let states = self.hosts.borrow();
        // The recap lists hosts sorted by name, as ansible-playbook's does.
        let mut order = self.order.borrow().clone();
        order.sort();
        let recap: Vec<(String, Stats)> = order
            .iter()
            .map(|h| {
                (
                    h.clone(),
                    states.get(h).map(|s| s.stats.clone()).unwrap_or_default(),
                )
            })
            // A host that never ran a task (its batch never came) is not in the recap.
            .filter(|(_, stats)| *stats != Stats::default())
            .collect();
        self.reporter.recap(&recap);
        Ok(Outcome {
            any_failed: states.values().any(|h| h.failed && !h.unreachable),
            any_unreachable: states.values().any(|h| h.unreachable),
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

    /// Runs one play, batch by batch; true when the whole run must stop there.
    async fn run_play(&self, playbook: &Playbook, play: &Play) -> Result<bool> {
        self.reporter.play(&play.name);
        let all_hosts = self.play_hosts(play)?;
        if all_hosts.is_empty() {
            self.reporter.plain("skipping: no hosts matched\n");
            return Ok(false);
        }
        for h in &all_hosts {
            let mut order = self.order.borrow_mut();
            if !order.contains(h) {
                order.push(h.clone());
            }
            self.hosts.borrow_mut().entry(h.clone()).or_default();
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
                        .borrow()
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
                free: None,
                banner: None,
            };
            if play.strategy == "free" {
                self.run_free_batch(&mut ctx).await?;
            } else {
                self.run_batch(&mut ctx).await?;
            }
            let all_failed = ctx.batch.iter().all(|h| {
                self.hosts
                    .borrow()
                    .get(h)
                    .is_some_and(|s| s.failed || s.unreachable)
            });
            // A failure limit, or a batch where every host failed, ends the whole run as in
            // ansible-playbook; `meta: end_play` ends only this play.
            if ctx.abort || all_failed {
                return Ok(all_failed || !ctx.quiet_stop);
            }
        }
        Ok(false)
    }

    /// One batch of hosts (the whole play without `serial`): facts, tasks, handlers.
    async fn run_batch(&self, ctx: &mut PlayCtx<'_>) -> Result<()> {
        let play = ctx.play;
        let gather = match self.opts.gathering {
            crate::config::Gathering::Explicit => play.gather_facts == Some(true),
            _ => play.gather_facts != Some(false),
        };
        if gather {
            self.gather_facts(ctx).await;
        }
        let tasks: Vec<&Task> = play
            .tasks
            .iter()
            .filter(|t| self.tag_selected(play, t))
            .collect();
        for task in tasks {
            if self.active(ctx).is_empty() || ctx.stop || self.free_end(ctx, false) {
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
        ctx.active_hosts(&self.hosts.borrow())
    }

    /// Works out how to reach each host of the play from its variables.
    fn prepare_connections(&self, play: &Play, play_vars: &Vars) -> Result<()> {
        let mut names: Vec<String> = self
            .inventory
            .hosts
            .iter()
            .map(|h| h.name.clone())
            .collect();
        names.push("localhost".into());
        // one `hostvars` for every host's scope: building it per host cost O(hosts²)
        let hostvars = scope::hostvars_map(&self.inventory, &self.hosts.borrow(), &self.opts);
        for name in names {
            if self.pool.has_spec(&name) {
                continue;
            }
            let vars = scope::vars_for(
                &self.inventory,
                &name,
                self.hosts.borrow().get(&name),
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
}

/// State of the play being run.
#[derive(Clone)]
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
    /// No more tasks in this batch (`max_fail_percentage`, `meta`).
    stop: bool,
    /// No more batches either.
    abort: bool,
    /// The stop was asked for (`meta`), not forced by failures.
    quiet_stop: bool,
    /// `--start-at-task` found its task.
    started: bool,
    /// Under the `free` strategy (one context per host): the batch's fork slots.
    free: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// A free play's banner for the task running, printed with its first result or line.
    banner: Option<crate::output::TaskBanner>,
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
