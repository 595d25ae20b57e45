//! `mestral ping [PATTERN]`: for every host, one line saying whether it is reachable, which
//! user logged in, and whether sudo works (`--no-become` skips that check). Runs two small
//! tasks through the executor and reads its JSON events instead of printing them.

use std::sync::{Arc, Mutex};

use anyhow::Result;
use console::style;
use serde_json::{json, Value};

use super::adhoc::{RunFlags, ScratchPlaybook};
use crate::cli::exit;
use crate::output::{Format, ReportOptions, Reporter};

#[derive(clap::Args, Debug)]
pub struct PingArgs {
    /// Hosts to check (all by default).
    #[arg(default_value = "all")]
    pub pattern: String,
    /// Only check the login, not sudo.
    #[arg(long = "no-become")]
    pub no_become: bool,
    #[command(flatten)]
    pub flags: RunFlags,
}

/// What the checks found on one host.
#[derive(Debug, Default, PartialEq)]
struct HostCheck {
    login: Option<Result<String, String>>,
    escalated: Option<Result<String, String>>,
    unreachable: Option<String>,
}

pub async fn run(a: &PingArgs) -> Result<u8> {
    let mut tasks = vec![json!({"name": "login", "command": "id -un"})];
    if !a.no_become {
        tasks.push(json!({"name": "sudo", "command": "id -un", "become": true}));
    }
    let pb = ScratchPlaybook::write("ping", "ping", &a.pattern, tasks)?;
    let args = pb.args(&a.flags, &[])?;
    let sink = Arc::new(Mutex::new(Vec::new()));
    let reporter = Reporter::with_options(ReportOptions {
        verbosity: 0,
        format: Format::Json,
        sink: Some(Arc::clone(&sink)),
        ..ReportOptions::default()
    });
    let color = !matches!(a.flags.color.as_str(), "never")
        && std::env::var_os("NO_COLOR").is_none()
        && (a.flags.color == "always" || console::Term::stdout().is_term());
    crate::cli::run_reporting(args, reporter).await?;
    console::set_colors_enabled(color);

    let events = std::mem::take(&mut *sink.lock().unwrap_or_else(|e| e.into_inner()));
    let checks = read_checks(&events);
    if checks.is_empty() {
        println!("no hosts matched '{}'", a.pattern);
        return Ok(exit::OK);
    }
    let mut code = exit::OK;
    for (host, check) in &checks {
        let (line, failed, unreachable) = describe(host, check, !a.no_become);
        if unreachable {
            code = code.max(exit::UNREACHABLE);
        }
        if failed {
            code = exit::HOST_FAILED;
        }
        let styled = if failed || unreachable {
            style(line).red()
        } else {
            style(line).green()
        };
        println!("{styled}");
    }
    Ok(code)
}

/// Each host's checks, in the order the hosts ran, from the run's events.
fn read_checks(events: &[Value]) -> Vec<(String, HostCheck)> {
    let mut checks: Vec<(String, HostCheck)> = Vec::new();
    for e in events.iter().filter(|e| e["event"] == "host_result") {
        let host = e["host"].as_str().unwrap_or_default().to_string();
        let index = match checks.iter().position(|(h, _)| *h == host) {
            Some(i) => i,
            None => {
                checks.push((host, HostCheck::default()));
                checks.len() - 1
            }
        };
        let check = &mut checks[index].1;
        let msg = || {
            let stderr = e["result"]["stderr"].as_str().unwrap_or_default().trim();
            let msg = e["msg"].as_str().unwrap_or_default();
            if stderr.is_empty() { msg } else { stderr }.to_string()
        };
        let outcome = match e["status"].as_str() {
            Some("unreachable") => {
                check.unreachable = Some(msg());
                continue;
            }
            Some("failed") => Err(msg()),
            _ => Ok(e["result"]["stdout"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_string()),
        };
        if e["task"] == "login" {
            check.login = Some(outcome);
        } else {
            check.escalated = Some(outcome);
        }
    }
    checks
}

/// The host's line, and whether it failed or was unreachable.
fn describe(host: &str, c: &HostCheck, with_sudo: bool) -> (String, bool, bool) {
    let name = format!("{host:<26}");
    if let Some(why) = &c.unreachable {
        return (format!("{name} UNREACHABLE  {why}"), false, true);
    }
    let login = match &c.login {
        Some(Ok(user)) => user.clone(),
        Some(Err(why)) => return (format!("{name} FAILED  login: {why}"), true, false),
        None => return (format!("{name} FAILED  no result"), true, false),
    };
    if !with_sudo {
        return (format!("{name} ok  login={login}"), false, false);
    }
    match &c.escalated {
        Some(Ok(user)) => (
            format!("{name} ok  login={login} become={user}"),
            false,
            false,
        ),
        Some(Err(why)) => (
            format!("{name} FAILED  login={login} become: {why}"),
            true,
            false,
        ),
        None => (
            format!("{name} FAILED  login={login} become: no result"),
            true,
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(host: &str, task: &str, status: &str, stdout: &str, stderr: &str) -> Value {
        json!({"event": "host_result", "host": host, "task": task, "status": status,
            "msg": "non-zero return code",
            "result": {"stdout": stdout, "stderr": stderr}})
    }

    #[test]
    fn one_line_per_host() {
        let events = vec![
            result("a", "login", "ok", "marc\n", ""),
            result("b", "login", "ok", "marc\n", ""),
            result("c", "login", "unreachable", "", "no route to host"),
            result("a", "sudo", "ok", "root\n", ""),
            result("b", "sudo", "failed", "", "sudo: a password is required\n"),
        ];
        let checks = read_checks(&events);
        let lines: Vec<(String, bool, bool)> =
            checks.iter().map(|(h, c)| describe(h, c, true)).collect();
        let pad = |h: &str| format!("{h:<26}");
        assert_eq!(
            lines,
            vec![
                (
                    format!("{} ok  login=marc become=root", pad("a")),
                    false,
                    false
                ),
                (
                    format!(
                        "{} FAILED  login=marc become: sudo: a password is required",
                        pad("b")
                    ),
                    true,
                    false
                ),
                (
                    format!("{} UNREACHABLE  no route to host", pad("c")),
                    false,
                    true
                ),
            ]
        );
    }
}
