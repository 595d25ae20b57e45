//! The command line, shaped like ansible-playbook's: the same flags with the same meaning,
//! the same listing modes, and the same exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;

use crate::executor::{Options, Runner};
use crate::inventory::Inventory;
use crate::playbook::{load_playbook, read_vars_file, Playbook};
use crate::vars::{merge, Value, Vars};

/// Exit codes, with Ansible's meanings.
pub mod exit {
    pub const OK: u8 = 0;
    /// Bad input: a parse error, an unknown flag, a missing file.
    pub const ERROR: u8 = 1;
    /// At least one host failed a task.
    pub const HOST_FAILED: u8 = 2;
    /// At least one host could not be reached (and none failed).
    pub const UNREACHABLE: u8 = 4;
    /// Interrupted with Ctrl-C (SIGINT): 128 + the signal's number, the Unix convention.
    pub const INTERRUPTED: u8 = 130;
    /// Stopped by SIGTERM.
    pub const TERMINATED: u8 = 143;
    /// Stopped by SIGHUP (the terminal went away).
    pub const HUNG_UP: u8 = 129;
}

/// The whole command line: a subcommand, or (the default) running playbooks.
#[derive(Parser, Debug)]
#[command(
    name = "mestral",
    version,
    about = "Run Ansible-style playbooks over one SSH session per host",
    after_help = "Exit codes: 0 all good, 1 bad input, 2 a host failed, 4 a host was unreachable, 130 interrupted.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<crate::commands::Command>,

    #[command(flatten)]
    pub run: Args,
}

/// ansible-playbook's flags.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Playbook files to run, in order.
    #[arg(required = true)]
    pub playbooks: Vec<PathBuf>,

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
    #[arg(short = 'f', long = "forks", default_value_t = 50)]
    pub forks: usize,

    /// Show what would change without changing anything.
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Show the differences in the files that tasks change.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,

    /// Only run tasks with these tags (comma separated, repeatable).
    #[arg(short = 't', long = "tags", value_delimiter = ',')]
    pub tags: Vec<String>,

    /// Skip tasks with these tags.
    #[arg(long = "skip-tags", value_delimiter = ',')]
    pub skip_tags: Vec<String>,

    /// Connect as this user (wins over ansible_user).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,

    /// Private key file (wins over ansible_ssh_private_key_file).
    #[arg(long = "private-key", visible_alias = "key-file")]
    pub private_key: Option<PathBuf>,

    /// Run tasks with privilege escalation (sudo).
    #[arg(short = 'b', long = "become")]
    pub escalate: bool,

    /// Escalate to this user.
    #[arg(long = "become-user")]
    pub become_user: Option<String>,

    /// Ask for the sudo password.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,

    /// Ask for the SSH password (tried after the keys).
    #[arg(short = 'k', long = "ask-pass")]
    pub ask_pass: bool,

    /// More output: -v results, -vv and more for diagnostics on stderr.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Seconds to wait for a host to answer when connecting.
    #[arg(short = 'T', long = "timeout", default_value_t = 10)]
    pub timeout: u64,

    /// Host key checking: accept-new (default), strict, or off.
    #[arg(long = "host-key-checking", value_parser = ["accept-new", "strict", "off"])]
    pub host_key_checking: Option<String>,

    /// Where roles are looked for after `roles/` beside the playbook (colon separated).
    #[arg(long = "roles-path", env = "ANSIBLE_ROLES_PATH", value_delimiter = ':')]
    pub roles_path: Vec<PathBuf>,

    /// List the hosts each play would run on, and stop.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,

    /// List the tasks each play would run, and stop.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,

    /// List the tags each play uses, and stop.
    #[arg(long = "list-tags")]
    pub list_tags: bool,

    /// Start the playbook at the task of this name.
    #[arg(long = "start-at-task")]
    pub start_at_task: Option<String>,

    /// Confirm each task before running it.
    #[arg(long = "step")]
    pub step: bool,

    /// Check the playbook's syntax, and stop.
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,

    /// Colour: auto, always or never (NO_COLOR is honoured).
    #[arg(long = "color", default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub color: String,

    /// Report format: text (ansible-playbook's) or json (JSON Lines, docs/json-output.md).
    /// (`adhoc` is the `ansible` command's one-result-per-host format, used by `mestral adhoc`.)
    #[arg(long = "output", default_value = "text", value_parser = ["text", "json", "adhoc"])]
    pub output: String,

    /// Plain append-only output even on a terminal (no live per-host states).
    #[arg(long = "no-progress")]
    pub no_progress: bool,

    /// Wall times in the recap and the slowest tasks after it.
    #[arg(long = "timing")]
    pub timing: bool,

    /// Write the hosts that failed to this file, one per line, for `--limit @FILE`.
    #[arg(long = "retry-file")]
    pub retry_file: Option<PathBuf>,
}

pub fn main() -> ExitCode {
    // A usage error exits 1 (bad input), as documented, rather than clap's 2, which
    // means "a host failed" here.
    let usage_exit = |e: clap::Error| -> ExitCode {
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::from(exit::ERROR)
        } else {
            ExitCode::SUCCESS
        }
    };
    let matches = match <Cli as clap::CommandFactory>::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return usage_exit(e),
    };
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_exit(e),
    };
    // The configuration file may set forks only when -f is not on the command line.
    let forks_given = matches.value_source("forks") == Some(clap::parser::ValueSource::CommandLine);
    let mut args = cli.run;
    let started = std::time::Instant::now();
    let json_output = args.output == "json" && cli.command.is_none();
    init_tracing(args.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ERROR! cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let outcome = match cli.command {
        Some(command) => runtime.block_on(crate::commands::run(command)),
        None => match crate::config::apply_found(&mut args, forks_given) {
            Ok(()) => runtime.block_on(run(args)),
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let text = format!("{e:#}");
            let text = crate::output::secrets::redact(&text);
            eprintln!("ERROR! {text}");
            if json_output {
                println!("{}", crate::output::json::error(&text, started.elapsed()));
            }
            ExitCode::from(exit::ERROR)
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 | 1 => "warn",
        2 => "info",
        3 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MESTRAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("mestral={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::output::secrets::Stderr)
        .init();
}

fn color_enabled(choice: &str) -> bool {
    match choice {
        "always" => true,
        "never" => false,
        _ => std::env::var_os("NO_COLOR").is_none() && console::Term::stdout().is_term(),
    }
}

/// The reporter's settings from the flags: live progress only on a terminal.
pub fn report_options(args: &Args) -> crate::output::ReportOptions {
    let json = args.output == "json";
    crate::output::ReportOptions {
        verbosity: args.verbose,
        color: !json && color_enabled(&args.color),
        format: match args.output.as_str() {
            "json" => crate::output::Format::Json,
            "adhoc" => crate::output::Format::Adhoc,
            _ => crate::output::Format::Text,
        },
        live: !json && !args.no_progress && console::Term::stdout().is_term(),
        timing: args.timing,
        retry_file: args.retry_file.clone(),
        sink: None,
    }
}

/// Runs the command line and returns the exit code.
pub async fn run(args: Args) -> Result<u8> {
    let reporter = crate::output::Reporter::with_options(report_options(&args));
    run_reporting(args, reporter).await
}

/// Runs the command line with the given reporter and returns the exit code.
pub async fn run_reporting(args: Args, reporter: crate::output::Reporter) -> Result<u8> {
    let sources: Vec<&std::path::Path> = args.inventory.iter().map(|p| p.as_path()).collect();
    if sources.is_empty() {
        crate::inventory::warn("No inventory was parsed, only implicit localhost is available");
        crate::inventory::warn(
            "provided hosts list is empty, only localhost is available. Note that the implicit \
             localhost does not match 'all'",
        );
    }
    let mut inventory = Inventory::load(&sources)?;
    // A limit that matches nothing is an error before any play banner is printed.
    if let Some(limit) = &args.limit {
        inventory.select_limit(limit)?;
    }
    let mut playbooks = Vec::new();
    for path in &args.playbooks {
        if !path.is_file() {
            bail!("the playbook {} could not be found", path.display());
        }
        let pb = load_playbook(path, &args.roles_path)?;
        inventory.load_vars_dir(&pb.dir())?;
        playbooks.push(pb);
    }

    if args.syntax_check {
        for pb in &playbooks {
            reporter.plain(&format!("\nplaybook: {}\n", pb.path.display()));
        }
        return Ok(exit::OK);
    }
    // Ansible finds out only after running through every play; the same error comes here
    // before anything runs.
    if let Some(wanted) = &args.start_at_task {
        let found = playbooks.iter().flat_map(|pb| &pb.plays).any(|play| {
            play.tasks
                .iter()
                .flat_map(|t| t.walk())
                .any(|t| t.starts_at(wanted))
        });
        if !found {
            bail!(
                "No matching task \"{wanted}\" found. Note: --start-at-task can only follow \
                 static includes."
            );
        }
    }

    let connection_password = if args.ask_pass {
        Some(rpassword::prompt_password("SSH password: ").context(
            "reading the SSH password (-k needs a terminal; without one, set \
             ansible_password in the inventory)",
        )?)
    } else {
        None
    };
    let become_password = if args.ask_become_pass {
        Some(rpassword::prompt_password("BECOME password: ").context(
            "reading the become password (-K needs a terminal; without one, set \
             ansible_become_password in the inventory or with -e)",
        )?)
    } else {
        None
    };
    let extra_vars = parse_extra_vars(&args.extra_vars)?;
    crate::output::secrets::add_named(&extra_vars);
    if let Some(password) = &become_password {
        crate::output::secrets::add(password);
    }
    let opts = Options {
        check: args.check,
        diff: args.diff,
        forks: args.forks.max(1),
        limit: args.limit.clone(),
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        extra_vars,
        verbosity: args.verbose,
        remote_user: args.user.clone(),
        private_key: args.private_key.clone(),
        escalate: args.escalate,
        become_user: args.become_user.clone(),
        become_password,
        connection_password,
        host_key_checking: args.host_key_checking.clone(),
        timeout: args.timeout,
        roles_path: args.roles_path.clone(),
        start_at_task: args.start_at_task.clone(),
        step: args.step,
        fact_cache: crate::config::fact_cache()?,
        gathering: crate::config::gathering()?,
    };
    let mut runner = Runner::new(inventory, opts, reporter);

    if args.list_tags {
        for pb in &playbooks {
            print!("{}", crate::executor::list_tags(pb));
        }
        return Ok(exit::OK);
    }
    if args.list_hosts || args.list_tasks {
        for pb in &playbooks {
            list(&runner, pb, args.list_hosts, args.list_tasks)?;
        }
        return Ok(exit::OK);
    }

    let mut failed = false;
    let mut unreachable = false;
    // The first Ctrl-C (or SIGTERM, SIGHUP) stops the running commands and lets the run print
    // its recap; a second one leaves at once. The exit code is 128 + the first signal's number.
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigint = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    let mut sighup = signal(SignalKind::hangup()).context("cannot watch for SIGHUP")?;
    let mut interrupted: Option<u8> = None;
    for pb in &playbooks {
        let mut run = Box::pin(runner.run(pb));
        let outcome = loop {
            let (code, text) = tokio::select! {
                outcome = &mut run => break outcome?,
                _ = sigint.recv() => (exit::INTERRUPTED, "User interrupted execution"),
                _ = sigterm.recv() => (exit::TERMINATED, "Terminated by SIGTERM"),
                _ = sighup.recv() => (exit::HUNG_UP, "Hung up (SIGHUP)"),
            };
            if let Some(first) = interrupted {
                return Ok(first);
            }
            interrupted = Some(code);
            eprintln!("\n[ERROR]: {text}");
            crate::connection::interrupt();
        };
        failed |= outcome.any_failed;
        unreachable |= outcome.any_unreachable;
        if interrupted.is_some() {
            break;
        }
    }
    Ok(if let Some(code) = interrupted {
        code
    } else if failed {
        exit::HOST_FAILED
    } else if unreachable {
        exit::UNREACHABLE
    } else {
        exit::OK
    })
}

/// `--list-hosts` and `--list-tasks`, in ansible-playbook's layout.
fn list(runner: &Runner, pb: &Playbook, hosts: bool, tasks: bool) -> Result<()> {
    let mut out = format!("\nplaybook: {}\n", pb.path.display());
    for (i, play) in pb.plays.iter().enumerate() {
        out.push_str(&format!(
            "\n  play #{} ({}): {}\tTAGS: [{}]\n",
            i + 1,
            play.hosts,
            play.name,
            play.tags.join(",")
        ));
        if hosts {
            let list = runner.play_hosts(play)?;
            out.push_str(&format!("    pattern: ['{}']\n", play.hosts));
            out.push_str(&format!("    hosts ({}):\n", list.len()));
            for h in list {
                out.push_str(&format!("      {h}\n"));
            }
        }
        if tasks {
            out.push_str("    tasks:\n");
            for t in &play.tasks {
                out.push_str(&format!(
                    "      {}\tTAGS: [{}]\n",
                    t.display_name(),
                    t.tags.join(",")
                ));
            }
        }
    }
    print!("{out}");
    Ok(())
}

/// `-e` values: `@file`, inline YAML/JSON mappings, or `k=v` pairs (values stay text, as in
/// Ansible).
pub fn parse_extra_vars(items: &[String]) -> Result<Vars> {
    let mut vars = Vars::new();
    for item in items {
        let item = item.trim();
        if let Some(file) = item.strip_prefix('@') {
            merge(&mut vars, &read_vars_file(std::path::Path::new(file))?);
        } else if item.starts_with('{') {
            let yaml: serde_yaml::Value = serde_yaml::from_str(item)
                .map_err(|e| anyhow!("-e '{item}': not valid YAML/JSON: {e}"))?;
            match crate::vars::from_yaml(yaml)? {
                Value::Object(m) => merge(&mut vars, &m),
                _ => bail!("-e '{item}' must be a mapping"),
            }
        } else {
            let pairs = crate::playbook::split_free_form("", item)
                .map_err(|e| anyhow!("-e '{item}': {e}"))?;
            merge(&mut vars, &pairs);
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_vars_forms() {
        let v = parse_extra_vars(&[
            "a=1 b='two words'".into(),
            "{\"c\": [1, 2]}".into(),
            "a=3".into(),
        ])
        .unwrap();
        assert_eq!(
            Value::Object(v),
            json!({"a": "3", "b": "two words", "c": [1, 2]})
        );
    }

    #[test]
    fn flags_parse_like_ansible_playbook() {
        let a = Cli::try_parse_from([
            "mestral",
            "-i",
            "inv.ini",
            "-i",
            "more.yml",
            "-l",
            "workers",
            "-e",
            "x=1",
            "-f",
            "5",
            "-C",
            "-D",
            "-t",
            "a,b",
            "--skip-tags",
            "c",
            "-u",
            "marc",
            "--private-key",
            "k",
            "-b",
            "-vvv",
            "pb.yml",
        ])
        .unwrap()
        .run;
        assert_eq!(a.inventory.len(), 2);
        assert_eq!(a.tags, vec!["a", "b"]);
        assert_eq!(a.verbose, 3);
        assert!(a.check && a.diff && a.escalate);
        assert_eq!(a.forks, 5);
    }
}
