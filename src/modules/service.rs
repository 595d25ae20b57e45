//! `service` and `systemd`: start, stop, restart or reload a service and set whether it
//! starts at boot. Uses `systemctl` when systemd runs the host (`/run/systemd/system`),
//! else the SysV script in `/etc/init.d` (or `service`) and `update-rc.d` links.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, loose_bool_opt, text_opt};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceArgs {
    #[serde(alias = "service", alias = "unit")]
    name: String,
    #[serde(default, deserialize_with = "text_opt")]
    state: Option<String>,
    #[serde(default, deserialize_with = "loose_bool_opt")]
    enabled: Option<bool>,
    #[serde(default, alias = "daemon-reload", deserialize_with = "loose_bool")]
    daemon_reload: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    Start,
    Stop,
    Restart,
    Reload,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Reload => "reload",
        }
    }
}

/// The service as the probe found it.
#[derive(Debug, Default, PartialEq)]
pub struct Current {
    pub systemd: bool,
    /// The unit or init script exists.
    pub exists: bool,
    /// `/etc/init.d/NAME` is there (else `service NAME` is used).
    pub script: bool,
    pub running: bool,
    pub enabled: bool,
}

/// The probe, printing `key=value` lines.
pub fn probe_command(name: &str) -> String {
    let n = quote(name);
    format!(
        "if [ -d /run/systemd/system ]; then echo init=systemd; \
         echo load=$(systemctl show -p LoadState --value {n} 2>/dev/null); \
         echo active=$(systemctl is-active {n} 2>/dev/null); \
         echo enabled=$(systemctl is-enabled {n} 2>/dev/null); \
         else echo init=sysv; \
         if [ -x /etc/init.d/{n} ]; then echo script=1; /etc/init.d/{n} status >/dev/null 2>&1; \
         echo status=$?; \
         elif command -v service >/dev/null 2>&1; then echo script=0; \
         service {n} status >/dev/null 2>&1; echo status=$?; \
         else echo script=0; echo status=missing; fi; \
         set -- /etc/rc[2345].d/S[0-9][0-9]{n}; \
         if [ -e \"$1\" ]; then echo enabled=1; else echo enabled=0; fi; fi"
    )
}

/// Reads the probe's `key=value` lines.
pub fn parse_probe(text: &str) -> Current {
    let mut c = Current::default();
    let mut status: Option<String> = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "init" => c.systemd = value == "systemd",
            "load" => c.exists = value == "loaded",
            "active" => c.running = matches!(value, "active" | "reloading" | "activating"),
            "enabled" => c.enabled = matches!(value, "1" | "enabled" | "enabled-runtime"),
            "script" => c.script = value == "1",
            "status" => status = Some(value.to_string()),
            _ => {}
        }
    }
    if !c.systemd {
        c.running = status.as_deref() == Some("0");
        // Without a script, only LSB's "running" (0) and "not running" (3) prove it exists.
        c.exists = c.script || matches!(status.as_deref(), Some("0" | "3"));
    }
    c
}

/// Decides the state action and the boot setting to apply (`Some(true)` enable).
pub fn plan(
    state: Option<&str>,
    enabled: Option<bool>,
    c: &Current,
) -> (Option<Action>, Option<bool>) {
    let action = match state {
        Some("started") if !c.running => Some(Action::Start),
        Some("stopped") if c.running => Some(Action::Stop),
        Some("restarted") => Some(Action::Restart),
        Some("reloaded") if c.running => Some(Action::Reload),
        Some("reloaded") => Some(Action::Start),
        _ => None,
    };
    let boot = enabled.filter(|want| *want != c.enabled);
    (action, boot)
}

/// The command applying `action` and `boot`. SysV scripts write to a temporary file, not to
/// the channel: a daemon that keeps its inherited output open would hold the channel forever.
pub fn apply_command(
    name: &str,
    c: &Current,
    action: Option<Action>,
    boot: Option<bool>,
) -> String {
    let n = quote(name);
    let mut steps = Vec::new();
    if c.systemd {
        if let Some(a) = action {
            steps.push(format!("systemctl {} {n}", a.verb()));
        }
        if let Some(on) = boot {
            steps.push(format!(
                "systemctl {} {n}",
                if on { "enable" } else { "disable" }
            ));
        }
        return steps.join(" && ");
    }
    if let Some(on) = boot {
        steps.push(if on {
            format!("update-rc.d {n} defaults >/dev/null && update-rc.d {n} enable")
        } else {
            format!("update-rc.d {n} disable")
        });
    }
    if let Some(a) = action {
        let script = if c.script {
            format!("/etc/init.d/{n} {}", a.verb())
        } else {
            format!("service {n} {}", a.verb())
        };
        steps.push(format!(
            "{{ o=$(mktemp) && {script} </dev/null >\"$o\" 2>&1; rc=$?; cat \"$o\"; \
             rm -f \"$o\"; [ $rc -eq 0 ]; }}"
        ));
    }
    steps.join(" && ")
}

/// Runs `service` or `systemd`.
pub async fn run(module: &str, args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let a: ServiceArgs = match args::parse(module, args) {
        Ok(a) => a,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let state = a.state.as_deref();
    if let Some(s) = state.filter(|s| !["started", "stopped", "restarted", "reloaded"].contains(s))
    {
        return Ok(ModuleOutput::failed(format!(
            "{module}: state '{s}' is not one of started, stopped, restarted, reloaded"
        )));
    }
    if state.is_none() && a.enabled.is_none() && !a.daemon_reload {
        return Ok(ModuleOutput::failed(format!(
            "{module}: one of 'state', 'enabled' or 'daemon_reload' is required"
        )));
    }

    // As in Ansible, the reload comes first, so that a unit file written by an earlier task
    // is what the probe sees.
    if a.daemon_reload && !ctx.check {
        let out = ctx
            .exec("if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi")
            .await?;
        if out.rc != 0 {
            return Ok(ModuleOutput::failed("systemctl daemon-reload failed").with_exec(&out));
        }
    }
    let out = ctx.exec(&probe_command(&a.name)).await?;
    let current = parse_probe(&out.stdout_text());
    if !current.exists && (state.is_some() || a.enabled.is_some()) {
        return Ok(ModuleOutput::failed(format!(
            "Could not find the requested service {}: host {}",
            a.name, ctx.host
        )));
    }
    let (action, boot) = plan(state, a.enabled, &current);
    let result = |o: ModuleOutput, running: bool, enabled: bool| {
        o.with("name", json!(a.name))
            .with("state", json!(if running { "started" } else { "stopped" }))
            .with("enabled", json!(enabled))
    };
    let after_running = match action {
        Some(Action::Stop) => false,
        Some(_) => true,
        None => current.running,
    };
    let after_enabled = boot.unwrap_or(current.enabled);
    if action.is_none() && boot.is_none() {
        return Ok(result(ModuleOutput::ok(), current.running, current.enabled));
    }
    if ctx.check {
        return Ok(result(
            ModuleOutput::changed(true),
            after_running,
            after_enabled,
        ));
    }

    let out = ctx
        .exec(&apply_command(&a.name, &current, action, boot))
        .await?;
    if out.rc != 0 {
        let what = action.map_or("enable", |a| a.verb());
        let msg = format!(
            "Unable to {what} service {}: {}",
            a.name,
            out.stdout_text().trim()
        );
        return Ok(ModuleOutput::failed(msg).with_exec(&out));
    }
    Ok(result(
        ModuleOutput::changed(true),
        after_running,
        after_enabled,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_probes() {
        let sysv = parse_probe("init=sysv\nscript=1\nstatus=3\nenabled=1\n");
        assert_eq!(
            sysv,
            Current {
                systemd: false,
                exists: true,
                script: true,
                running: false,
                enabled: true
            }
        );
        let systemd = parse_probe("init=systemd\nload=loaded\nactive=active\nenabled=disabled\n");
        assert_eq!(
            systemd,
            Current {
                systemd: true,
                exists: true,
                script: false,
                running: true,
                enabled: false
            }
        );
        let missing = parse_probe("init=sysv\nscript=0\nstatus=4\nenabled=0\n");
        assert!(!missing.exists);
        let gone = parse_probe("init=systemd\nload=not-found\nactive=inactive\nenabled=\n");
        assert!(!gone.exists);
    }

    #[test]
    fn plans() {
        let up = Current {
            running: true,
            enabled: true,
            exists: true,
            ..Current::default()
        };
        let down = Current {
            exists: true,
            ..Current::default()
        };
        let cases = [
            (Some("started"), None, &up, (None, None)),
            (Some("started"), None, &down, (Some(Action::Start), None)),
            (Some("stopped"), None, &up, (Some(Action::Stop), None)),
            (Some("stopped"), Some(false), &down, (None, None)),
            (Some("restarted"), None, &up, (Some(Action::Restart), None)),
            (Some("reloaded"), None, &up, (Some(Action::Reload), None)),
            (Some("reloaded"), None, &down, (Some(Action::Start), None)),
            (None, Some(true), &down, (None, Some(true))),
            (None, Some(true), &up, (None, None)),
        ];
        for (state, enabled, current, want) in cases {
            assert_eq!(
                plan(state, enabled, current),
                want,
                "{state:?} {enabled:?} {current:?}"
            );
        }
    }

    #[test]
    fn commands() {
        let sysv = Current {
            exists: true,
            script: true,
            ..Current::default()
        };
        assert_eq!(
            apply_command("docker", &sysv, Some(Action::Start), Some(true)),
            "update-rc.d docker defaults >/dev/null && update-rc.d docker enable && \
             { o=$(mktemp) && /etc/init.d/docker start </dev/null >\"$o\" 2>&1; rc=$?; \
             cat \"$o\"; rm -f \"$o\"; [ $rc -eq 0 ]; }"
        );
        let systemd = Current {
            systemd: true,
            exists: true,
            ..Current::default()
        };
        assert_eq!(
            apply_command("docker", &systemd, Some(Action::Restart), Some(false)),
            "systemctl restart docker && systemctl disable docker"
        );
    }
}
