//! `mestral adhoc PATTERN -m MODULE -a ARGS`: one module on the hosts of a pattern, as
//! `ansible` does. The task becomes a one-play playbook in a scratch folder, run by the same
//! code and reported the same way as `mestral PLAYBOOK`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use serde_json::{json, Value};

use crate::cli::{Args, Cli};

/// ansible-playbook's flags that also make sense for a single module.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunFlags {
    /// Inventory file or folder (repeatable).
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<PathBuf>,
    /// Further limit the hosts to a pattern.
    #[arg(short = 'l', long = "limit")]
    pub limit: Option<String>,
    /// Extra variables: `k=v ...`, YAML/JSON text, or `@file.yml` (repeatable).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// How many hosts to work on at once.
    #[arg(short = 'f', long = "forks")]
    pub forks: Option<usize>,
    /// Connect as this user.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Private key file.
    #[arg(long = "private-key", visible_alias = "key-file")]
    pub private_key: Option<PathBuf>,
    /// Run with privilege escalation (sudo).
    #[arg(short = 'b', long = "become")]
    pub escalate: bool,
    /// Escalate to this user.
    #[arg(long = "become-user")]
    pub become_user: Option<String>,
    /// Ask for the sudo password.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// More output.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Seconds to wait for a host to answer when connecting.
    #[arg(short = 'T', long = "timeout")]
    pub timeout: Option<u64>,
    /// Host key checking: accept-new (default), strict, or off.
    #[arg(long = "host-key-checking")]
    pub host_key_checking: Option<String>,
    /// Colour: auto, always or never.
    #[arg(long = "color", default_value = "auto")]
    pub color: String,
    /// Plain append-only output even on a terminal.
    #[arg(long = "no-progress")]
    pub no_progress: bool,
}

impl RunFlags {
    /// The same flags as ansible-playbook's command line words.
    fn words(&self) -> Vec<String> {
        let mut w: Vec<String> = Vec::new();
        let mut add = |flag: &str, value: String| {
            w.push(flag.to_string());
            w.push(value);
        };
        for i in &self.inventory {
            add("-i", i.display().to_string());
        }
        for e in &self.extra_vars {
            add("-e", e.clone());
        }
        let optional = [
            ("-l", self.limit.clone()),
            ("-f", self.forks.map(|f| f.to_string())),
            ("-u", self.user.clone()),
            (
                "--private-key",
                self.private_key.as_ref().map(|p| p.display().to_string()),
            ),
            ("--become-user", self.become_user.clone()),
            ("-T", self.timeout.map(|t| t.to_string())),
            ("--host-key-checking", self.host_key_checking.clone()),
        ];
        for (flag, value) in optional {
            if let Some(v) = value {
                add(flag, v);
            }
        }
        add("--color", self.color.clone());
        let switches = [
            ("-b", self.escalate),
            ("-K", self.ask_become_pass),
            ("--no-progress", self.no_progress),
        ];
        w.extend(
            switches
                .iter()
                .filter(|(_, on)| *on)
                .map(|(f, _)| f.to_string()),
        );
        if self.verbose > 0 {
            w.push(format!("-{}", "v".repeat(self.verbose as usize)));
        }
        w
    }
}

#[derive(clap::Args, Debug)]
pub struct AdhocArgs {
    /// Hosts to run on: a host, a group, or a pattern (`web:!web3`).
    pub pattern: String,
    /// The module to run (`command` when only -a is given, as in Ansible).
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    pub module: String,
    /// The module's arguments: `k=v ...`, or the command for shell and command.
    #[arg(short = 'a', long = "args", default_value = "")]
    pub args: String,
    /// Show what would change without changing anything.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Show the differences in the files the module changes.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,
    /// Report format: text or json (JSON Lines, docs/json-output.md).
    #[arg(long = "output", default_value = "text", value_parser = ["text", "json"])]
    pub output: String,
    #[command(flatten)]
    pub flags: RunFlags,
}

/// A one-play playbook in its own scratch folder, removed when dropped.
pub(crate) struct ScratchPlaybook {
    dir: PathBuf,
    pub path: PathBuf,
}

impl ScratchPlaybook {
    /// Writes a play of `tasks` (JSON task mappings) on `pattern`.
    pub(crate) fn write(kind: &str, name: &str, pattern: &str, tasks: Vec<Value>) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("mestral-{kind}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let play = json!([{"name": name, "hosts": pattern, "gather_facts": false, "tasks": tasks}]);
        let text = serde_yaml::to_string(&play).context("writing the play as YAML")?;
        let path = dir.join(format!("{kind}.yml"));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(ScratchPlaybook { dir, path })
    }

    /// The playbook command line for this play with `flags` and `more` words.
    pub(crate) fn args(&self, flags: &RunFlags, more: &[&str]) -> Result<Args> {
        let mut words = vec!["mestral".to_string()];
        words.extend(flags.words());
        words.extend(more.iter().map(|w| w.to_string()));
        words.push(self.path.display().to_string());
        let mut args = Cli::try_parse_from(words)?.run;
        crate::config::apply_found(&mut args, flags.forks.is_some())?;
        Ok(args)
    }
}

impl Drop for ScratchPlaybook {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The task for `-m MODULE -a ARGS`: the arguments stay text, split as a playbook's would be.
fn task(module: &str, args: &str) -> Value {
    let value = if args.trim().is_empty() {
        Value::Null
    } else {
        json!(args)
    };
    let label = format!("{module} {args}").trim().to_string();
    json!({"name": label, module: value})
}

pub async fn run(a: &AdhocArgs) -> Result<u8> {
    let name = format!("adhoc: {}", a.pattern);
    let pb = ScratchPlaybook::write("adhoc", &name, &a.pattern, vec![task(&a.module, &a.args)])?;
    // Text means the `ansible` command's own lines here, not ansible-playbook's.
    let output = if a.output == "text" {
        "adhoc"
    } else {
        a.output.as_str()
    };
    let mut more = vec!["--output", output];
    if a.check {
        more.push("-C");
    }
    if a.diff {
        more.push("-D");
    }
    crate::cli::run(pb.args(&a.flags, &more)?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_shapes() {
        let cases = [
            ("ping", "", json!({"name": "ping", "ping": null})),
            (
                "shell",
                "echo hi",
                json!({"name": "shell echo hi", "shell": "echo hi"}),
            ),
            (
                "copy",
                "src=a dest=/b",
                json!({"name": "copy src=a dest=/b", "copy": "src=a dest=/b"}),
            ),
        ];
        for (module, args, want) in cases {
            assert_eq!(task(module, args), want);
        }
    }

    #[test]
    fn flags_become_playbook_words() {
        let flags = RunFlags {
            inventory: vec!["inv.ini".into()],
            limit: Some("web".into()),
            forks: Some(3),
            escalate: true,
            verbose: 2,
            color: "never".into(),
            ..RunFlags::default()
        };
        let pb = ScratchPlaybook::write("adhoc-test", "p", "all", vec![]).unwrap();
        assert!(pb.path.starts_with(std::env::temp_dir()));
        let args = pb.args(&flags, &["-C"]).unwrap();
        assert_eq!(args.inventory, vec![PathBuf::from("inv.ini")]);
        assert_eq!(args.limit.as_deref(), Some("web"));
        assert_eq!((args.forks, args.escalate, args.verbose), (3, true, 2));
        assert!(args.check);
        assert_eq!(args.playbooks, vec![pb.path.clone()]);
    }
}
