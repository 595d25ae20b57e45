//! Playbooks: plays, tasks, handlers and roles read from YAML into typed structures that the
//! executor trusts. Roles and `import_tasks` are expanded here, so the executor sees flat
//! task lists that remember where each task came from.

mod include;
mod load;
mod preflight;
mod roles;
mod task;

use std::path::PathBuf;
use std::sync::Arc;

use crate::vars::{Value, Vars};

pub use include::{load_included_role, load_task_file};
pub use load::{load_playbook, read_vars_file, read_yaml_file, serial_size};
pub use task::{inherit as inherit_from, split_free_form};

/// Where a task was written, for messages: `playbooks/swarm.yml:14`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}", self.file.display(), self.line)
        } else {
            write!(f, "{}", self.file.display())
        }
    }
}

/// A role as used by a play: its name, its folder and the variables it brings.
#[derive(Debug, Default)]
pub struct Role {
    pub name: String,
    pub path: PathBuf,
    /// `defaults/main.yml`: lowest precedence.
    pub defaults: Vars,
    /// `vars/main.yml` plus the variables given where the role is used.
    pub vars: Vars,
    /// `tasks_from` / `handlers_from` of `import_role` and `include_role`.
    pub tasks_from: Option<String>,
    pub handlers_from: Option<String>,
}

/// What a task does: one module call, or a block of tasks.
#[derive(Clone, Debug)]
pub enum Action {
    Module {
        name: String,
        args: Value,
    },
    Block {
        block: Vec<Task>,
        rescue: Vec<Task>,
        always: Vec<Task>,
    },
    /// `include_tasks` / `include_role`: resolved per host when the task runs.
    Include {
        kind: IncludeKind,
        args: Value,
        /// `apply:`: keywords the included tasks inherit, as from an enclosing block.
        apply: Option<Box<Task>>,
    },
}

/// What a dynamic include brings in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeKind {
    Tasks,
    Role,
}

impl IncludeKind {
    pub fn module(self) -> &'static str {
        match self {
            IncludeKind::Tasks => "include_tasks",
            IncludeKind::Role => "include_role",
        }
    }
}

/// A task with every keyword mestral understands. Templates stay as written; the executor
/// renders them per host.
#[derive(Clone, Debug)]
pub struct Task {
    pub name: Option<String>,
    pub action: Action,
    pub origin: Origin,
    pub role: Option<Arc<Role>>,
    pub register: Option<String>,
    /// Conditions, all of which must hold (a list in YAML is an `and`), including those
    /// inherited from an enclosing block or role.
    pub when: Vec<String>,
    pub loop_items: Option<Value>,
    pub loop_var: String,
    pub loop_label: Option<String>,
    /// `loop_control.index_var`: the name that holds the item's index.
    pub index_var: Option<String>,
    /// `loop_control.pause`: seconds between items.
    pub loop_pause: f64,
    /// `with_fileglob`: the items are patterns of files on the controller.
    pub loop_fileglob: bool,
    pub notify: Vec<String>,
    pub changed_when: Option<Value>,
    pub failed_when: Option<Value>,
    pub ignore_errors: bool,
    pub escalate: Option<bool>,
    pub become_user: Option<String>,
    pub tags: Vec<String>,
    pub run_once: bool,
    pub delegate_to: Option<String>,
    /// Facts a delegated task sets go to the delegate, not the host.
    pub delegate_facts: bool,
    /// At most this many hosts run the task at once (0: no limit beyond forks).
    pub throttle: usize,
    /// `timeout`: seconds the task may run before its remote commands are stopped (0: none).
    pub timeout: u64,
    pub any_errors_fatal: bool,
    pub vars: Vars,
    pub no_log: bool,
    pub check_mode: Option<bool>,
    pub diff: Option<bool>,
    pub until: Option<String>,
    pub retries: u32,
    pub delay: u64,
    /// Extra topics a handler answers to.
    pub listen: Vec<String>,
    pub environment: Vars,
}

impl Task {
    /// The name shown in the TASK header: the task's name, else the module name, with the
    /// role's name in front as Ansible prints it.
    pub fn display_name(&self) -> String {
        let base = match (&self.name, &self.action) {
            (Some(n), _) => n.clone(),
            (None, Action::Module { name, .. }) => name.clone(),
            (None, Action::Block { .. }) => "block".to_string(),
            (None, Action::Include { kind, .. }) => kind.module().to_string(),
        };
        match &self.role {
            Some(role) => format!("{} : {}", role.name, base),
            None => base,
        }
    }

    /// The task as `ansible_failed_task` shows it inside `rescue:`: its keywords as written
    /// (templates unrendered), under Ansible's names.
    pub fn as_value(&self) -> Value {
        let (action, args) = match &self.action {
            Action::Module { name, args } => (name.as_str(), args.clone()),
            Action::Include { kind, args, .. } => (kind.module(), args.clone()),
            Action::Block { .. } => ("block", Value::Object(Default::default())),
        };
        let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        serde_json::json!({
            "name": self.name.clone().unwrap_or_default(),
            "action": action,
            "args": args,
            "when": self.when,
            "tags": self.tags,
            "register": text(&self.register),
            "notify": self.notify,
            "loop": self.loop_items.clone().unwrap_or(Value::Null),
            "ignore_errors": self.ignore_errors,
            "delegate_to": text(&self.delegate_to),
            "become": self.escalate.unwrap_or(false),
            "become_user": text(&self.become_user),
            "run_once": self.run_once,
            "no_log": self.no_log,
            "vars": self.vars,
        })
    }

    /// Whether `--start-at-task NAME` starts at this task: its name, or its banner name
    /// (`role : name`).
    pub fn starts_at(&self, wanted: &str) -> bool {
        self.name.as_deref() == Some(wanted) || self.display_name() == wanted
    }

    /// This task and every task inside it (blocks, rescues, always), depth first.
    pub fn walk(&self) -> Vec<&Task> {
        let mut out = vec![self];
        if let Action::Block {
            block,
            rescue,
            always,
        } = &self.action
        {
            for t in block.iter().chain(rescue).chain(always) {
                out.extend(t.walk());
            }
        }
        out
    }

    pub fn module_name(&self) -> Option<&str> {
        match &self.action {
            Action::Module { name, .. } => Some(name),
            Action::Block { .. } | Action::Include { .. } => None,
        }
    }
}

/// One play, with roles already expanded into its task lists.
#[derive(Debug)]
pub struct Play {
    pub name: String,
    pub hosts: String,
    pub origin: Origin,
    pub vars: Vars,
    pub vars_files: Vec<String>,
    pub escalate: Option<bool>,
    pub become_user: Option<String>,
    /// `gather_facts` as written: unset gathers unless `gathering = explicit`.
    pub gather_facts: Option<bool>,
    /// `gather_subset` for the facts gathered at the play's start.
    pub gather_subset: Vec<String>,
    pub remote_user: Option<String>,
    pub connection: Option<String>,
    pub tags: Vec<String>,
    pub any_errors_fatal: bool,
    pub ignore_unreachable: bool,
    /// `serial`: batch sizes, each a number or a percentage (`"30%"`); the last repeats.
    pub serial: Vec<Value>,
    /// `linear` or `free`.
    pub strategy: String,
    pub max_fail_percentage: Option<f64>,
    pub throttle: usize,
    pub force_handlers: bool,
    pub vars_prompt: Vec<Prompt>,
    /// `environment` for every task of the play.
    pub environment: Vars,
    /// pre_tasks, role tasks, tasks, post_tasks, in that order.
    pub tasks: Vec<Task>,
    pub handlers: Vec<Task>,
    pub roles: Vec<Arc<Role>>,
}

/// One `vars_prompt` entry.
#[derive(Clone, Debug, Default)]
pub struct Prompt {
    pub name: String,
    pub prompt: String,
    pub default: Option<Value>,
    pub private: bool,
}

/// A whole playbook file.
#[derive(Debug)]
pub struct Playbook {
    pub path: PathBuf,
    pub plays: Vec<Play>,
}

impl Playbook {
    /// The folder holding the playbook, where relative paths are resolved.
    pub fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}
