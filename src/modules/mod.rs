//! Modules: each compares the state a task asks for with the host's state, and changes the
//! host only where they differ. Every module reads the host through `ModuleCtx`, supports
//! check mode (stop after working out what would change) and reports changes truthfully.
//!
//! Contract: `run(name, args, ctx)` with `args` already templated. A module returns
//! `Ok(ModuleOutput)` for both success and a task failure it diagnosed (set `failed` and
//! `msg`); `Err` is for a broken connection or an internal error. Bad arguments are a failure
//! with a message naming the argument (`unknown parameter 'x' for module 'copy'; did you
//! mean 'dest'?`).

pub mod actions;
pub mod apt;
pub mod args;
pub mod attr_diff;
pub mod authorized_key;
pub mod blockinfile;
pub mod coerce;
pub mod command;
pub mod command_gate;
pub mod copy;
pub mod docker;
pub mod docker_context;
pub mod docker_image;
pub mod docker_image_copy;
pub mod docker_service_spec;
pub mod docker_swarm;
pub mod docker_swarm_service;
pub mod fetch;
pub mod file;
pub mod get_url;
pub mod group;
pub mod hostname;
pub mod lineinfile;
pub mod mode;
pub mod openssh_keypair;
pub mod params;
pub mod pause;
pub mod ping;
pub mod remote_file;
pub mod service;
pub mod slurp;
pub mod stat;
pub mod template;
pub mod user;
pub mod wait_for;

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use crate::connection::{Become, ExecOutput, Session};
use crate::template::Templar;
use crate::vars::{Scope, Value, Vars};

/// Sessions to other hosts, for modules that reach more than the task's own host
/// (the image copy streams from a source host into the task's host).
pub trait SessionLookup: Send + Sync {
    /// The open session to the host named `host` in the inventory, connecting if needed.
    fn session<'a>(
        &'a self,
        host: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Session>> + Send + 'a>>;
}

/// What a module may use while it runs on one host.
pub struct ModuleCtx<'a> {
    /// Inventory name of the host.
    pub host: &'a str,
    pub session: &'a Session,
    /// Escalation for this task, if any.
    pub escalation: Option<&'a Become>,
    pub check: bool,
    pub diff: bool,
    pub templar: &'a Templar,
    /// The task's variables (for the `template` module and `debug: var=`).
    pub scope: &'a Scope,
    /// Where a relative `src` is looked for, in order (role `files/` or `templates/`, the
    /// playbook's folder and its `files/`/`templates/`).
    pub search_paths: &'a [PathBuf],
    pub sessions: &'a dyn SessionLookup,
    /// Verbosity (-v count), for modules that stream progress.
    pub verbosity: u8,
    /// Set for a loop item on the task's own host: this host's pass over the loop (one
    /// number per pass). A module may then hold a write in the session for the items after
    /// it (`connection::Held`), and plan on what an item before it of the same pass saw; the
    /// executor flushes the held writes after the last item.
    pub loop_pass: Option<u64>,
}

impl ModuleCtx<'_> {
    /// Runs a shell command on the task's host with the task's escalation.
    pub async fn exec(&self, command: &str) -> Result<ExecOutput> {
        self.session.exec(command, None, self.escalation).await
    }

    /// Runs a shell command feeding it `stdin`.
    pub async fn exec_stdin(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput> {
        self.session
            .exec(command, Some(stdin), self.escalation)
            .await
    }

    /// Runs the task's own command (command, shell, raw), its output shown as it comes when
    /// the executor asked for that (`-v`).
    pub async fn exec_echoed(&self, command: &str, stdin: Option<&[u8]>) -> Result<ExecOutput> {
        self.session
            .exec_echoed(command, stdin, self.escalation)
            .await
    }

    /// Finds a controller-side `src` file: absolute as given, else the first search path
    /// that holds it.
    pub fn find_src(&self, src: &str) -> Option<PathBuf> {
        let path = PathBuf::from(src);
        if path.is_absolute() {
            return path.exists().then_some(path);
        }
        self.search_paths
            .iter()
            .map(|dir| dir.join(src))
            .find(|p| p.exists())
    }
}

/// One file's change, shown with `--diff`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileDiff {
    pub path: String,
    pub before: String,
    pub after: String,
}

/// What a module did on one host.
#[derive(Clone, Debug, Default)]
pub struct ModuleOutput {
    pub changed: bool,
    pub failed: bool,
    /// For modules that decide themselves to do nothing (`creates` satisfied, for example).
    pub skipped: bool,
    pub msg: Option<String>,
    /// Module-specific return values (`rc`, `stdout`, `path`, `swarm_facts`, ...), merged into
    /// the registered result.
    pub values: Vars,
    /// Facts to set on the host (`set_fact`, `ansible_facts`).
    pub facts: Option<Vars>,
    pub diffs: Vec<FileDiff>,
}

impl ModuleOutput {
    pub fn ok() -> Self {
        Self::default()
    }

    pub fn changed(changed: bool) -> Self {
        ModuleOutput {
            changed,
            ..Self::default()
        }
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        ModuleOutput {
            failed: true,
            msg: Some(msg.into()),
            ..Self::default()
        }
    }

    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.values.insert(key.to_string(), value);
        self
    }

    pub fn with_msg(mut self, msg: impl Into<String>) -> Self {
        self.msg = Some(msg.into());
        self
    }

    /// Adds `rc`, `stdout`, `stderr`, `stdout_lines`, `stderr_lines` from a command.
    pub fn with_exec(mut self, out: &ExecOutput) -> Self {
        let stdout = out.stdout_text();
        let stderr = out.stderr_text();
        let stdout = stdout.strip_suffix('\n').unwrap_or(&stdout).to_string();
        let stderr = stderr.strip_suffix('\n').unwrap_or(&stderr).to_string();
        self.values.insert("rc".into(), json!(out.rc));
        self.values.insert(
            "stdout_lines".into(),
            json!(stdout.lines().collect::<Vec<_>>()),
        );
        self.values.insert(
            "stderr_lines".into(),
            json!(stderr.lines().collect::<Vec<_>>()),
        );
        self.values.insert("stdout".into(), json!(stdout));
        self.values.insert("stderr".into(), json!(stderr));
        self
    }
}

/// Strips Ansible collection prefixes: `ansible.builtin.copy` and
/// `community.docker.docker_swarm` name the same modules as `copy` and `docker_swarm`.
pub fn short_name(name: &str) -> &str {
    const PREFIXES: &[&str] = &[
        "ansible.builtin.",
        "ansible.legacy.",
        "ansible.posix.",
        "community.general.",
        "community.docker.",
        "community.crypto.",
    ];
    PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name)
}

/// Modules the executor handles itself because they act on the run, not on the host.
pub const EXECUTOR_MODULES: &[&str] = &[
    "set_fact",
    "debug",
    "meta",
    "include_vars",
    "fail",
    "assert",
];

/// Every module name mestral knows (short form), for validation and "did you mean".
pub const KNOWN: &[&str] = &[
    "command",
    "shell",
    "raw",
    "copy",
    "template",
    "file",
    "lineinfile",
    "blockinfile",
    "authorized_key",
    "fetch",
    "get_url",
    "hostname",
    "pause",
    "wait_for",
    "slurp",
    "stat",
    "openssh_keypair",
    "apt",
    "package",
    "service",
    "systemd",
    "ping",
    "setup",
    "user",
    "group",
    "docker_swarm",
    "docker_image",
    "docker_image_copy",
    "docker_swarm_service",
    "set_fact",
    "debug",
    "meta",
    "include_vars",
    "fail",
    "assert",
];

/// Runs the module `name` with templated `args` on the context's host.
pub async fn run(name: &str, args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let name = short_name(name);
    match name {
        "copy" => copy::run(args, ctx).await,
        "template" => template::run(args, ctx).await,
        "file" => file::run(args, ctx).await,
        "lineinfile" => lineinfile::run(args, ctx).await,
        "blockinfile" => blockinfile::run(args, ctx).await,
        "fetch" => fetch::run(args, ctx).await,
        "get_url" => get_url::run(args, ctx).await,
        "hostname" => hostname::run(args, ctx).await,
        "pause" => pause::run(args, ctx).await,
        "wait_for" => wait_for::run(args, ctx).await,
        "authorized_key" => authorized_key::run(args, ctx).await,
        "slurp" => slurp::run(args, ctx).await,
        "stat" => stat::run(args, ctx).await,
        "openssh_keypair" => openssh_keypair::run(args, ctx).await,
        "command" => command::run(command::Kind::Command, name, args, ctx).await,
        "shell" => command::run(command::Kind::Shell, name, args, ctx).await,
        "raw" => command::run(command::Kind::Raw, name, args, ctx).await,
        "apt" => apt::run_apt(args, ctx).await,
        "package" => apt::run_package(args, ctx).await,
        "service" | "systemd" => service::run(name, args, ctx).await,
        "ping" => ping::run(args, ctx).await,
        "user" => user::run(args, ctx).await,
        "group" => group::run(args, ctx).await,
        "docker_swarm" => docker_swarm::run(args, ctx).await,
        "docker_image" => docker_image::run(args, ctx).await,
        "docker_image_copy" => docker_image_copy::run(args, ctx).await,
        "docker_swarm_service" => docker_swarm_service::run(args, ctx).await,
        _ => Ok(ModuleOutput::failed(format!(
            "module '{name}' is not available"
        ))),
    }
}
