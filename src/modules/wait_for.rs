//! `wait_for`: waits on the host until a TCP port accepts connections (or stops), or a path
//! appears (optionally holding a line matching `search_regex`) or goes away. The wait is one
//! shell loop on the host, so it costs one command however long it takes.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, int_text_opt, text_opt};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default, deserialize_with = "text_opt")]
    host: Option<String>,
    #[serde(default, deserialize_with = "int_text_opt")]
    port: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "int_text_opt")]
    timeout: Option<String>,
    #[serde(default, deserialize_with = "int_text_opt")]
    delay: Option<String>,
    #[serde(default, deserialize_with = "int_text_opt")]
    sleep: Option<String>,
    #[serde(default, deserialize_with = "int_text_opt")]
    connect_timeout: Option<String>,
    #[serde(default)]
    search_regex: Option<String>,
    #[serde(default)]
    msg: Option<String>,
}

/// Exit code of the loop when the time ran out.
const TIMED_OUT: i32 = 3;

/// What to wait for, checked.
#[derive(Debug, PartialEq)]
pub struct Wait {
    /// The shell test that is true once the wait is over.
    pub test: String,
    pub timeout: u64,
    pub delay: u64,
    pub sleep: u64,
    /// Ansible's message on timeout.
    pub timeout_msg: String,
}

fn number(what: &str, v: Option<&str>, default: u64) -> Result<u64, String> {
    match v {
        None => Ok(default),
        Some(t) => t
            .trim()
            .parse()
            .map_err(|_| format!("{what} '{t}' is not a whole number of seconds")),
    }
}

fn plan(p: &Params) -> Result<Wait, String> {
    let state = p.state.as_deref().unwrap_or("started");
    let host = p.host.as_deref().unwrap_or("127.0.0.1");
    let connect = number("connect_timeout", p.connect_timeout.as_deref(), 5)?;
    let timeout = number("timeout", p.timeout.as_deref(), 300)?;
    let (test, timeout_msg) = match (&p.port, &p.path) {
        (Some(_), Some(_)) => return Err("port and path parameter can not both be passed".into()),
        (Some(port), None) => {
            let port: u16 = port
                .trim()
                .parse()
                .map_err(|_| format!("port '{port}' is not a port number"))?;
            if p.search_regex.is_some() {
                return Err("search_regex with a port is not supported by mestral".into());
            }
            // nc, else bash's /dev/tcp: connects and closes at once
            let probe = format!(
                "{{ if command -v nc >/dev/null 2>&1; then nc -z -w {connect} {h} {port}; \
                 else timeout {connect} bash -c 'exec 3<>/dev/tcp/'{h}/{port}; fi; }} \
                 >/dev/null 2>&1",
                h = quote(host)
            );
            let test = match state {
                "started" | "present" => probe,
                "stopped" | "absent" => format!("! {probe}"),
                other => return Err(format!("state '{other}' is not supported for a port")),
            };
            (test, format!("Timeout when waiting for {host}:{port}"))
        }
        (None, Some(path)) => {
            let q = quote(path);
            let test = match (state, &p.search_regex) {
                ("present" | "started", None) => format!("[ -e {q} ]"),
                ("present" | "started", Some(re)) => {
                    format!("[ -e {q} ] && grep -Eq -- {} {q}", quote(re))
                }
                ("absent" | "stopped", None) => format!("[ ! -e {q} ]"),
                ("absent" | "stopped", Some(re)) => {
                    format!("! {{ [ -e {q} ] && grep -Eq -- {} {q}; }}", quote(re))
                }
                (other, _) => return Err(format!("state '{other}' is not supported for a path")),
            };
            let what = if p.search_regex.is_some() {
                format!(
                    "Timeout when waiting for search string {} in {path}",
                    p.search_regex.as_deref().unwrap_or("")
                )
            } else if matches!(state, "absent" | "stopped") {
                format!("Timeout when waiting for {path} to be absent.")
            } else {
                format!("Timeout when waiting for file {path}")
            };
            (test, what)
        }
        (None, None) => ("true".to_string(), String::new()),
    };
    Ok(Wait {
        test,
        timeout,
        delay: number("delay", p.delay.as_deref(), 0)?,
        sleep: number("sleep", p.sleep.as_deref(), 1)?,
        timeout_msg,
    })
}

/// The host-side loop: prints the seconds waited, exits TIMED_OUT when time runs out.
pub fn script(w: &Wait) -> String {
    format!(
        "s=$(date +%s); sleep {delay}; end=$((s + {delay} + {timeout}))\n\
         while :; do\n\
         if {test}; then echo $(( $(date +%s) - s )); exit 0; fi\n\
         if [ \"$(date +%s)\" -ge \"$end\" ]; then exit {TIMED_OUT}; fi\n\
         sleep {sleep}\n\
         done\n",
        delay = w.delay,
        timeout = w.timeout,
        test = w.test,
        sleep = w.sleep.max(1),
    )
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = match args::parse("wait_for", args) {
        Ok(p) => p,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let wait = match plan(&p) {
        Ok(w) => w,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let out = ctx.exec(&script(&wait)).await?;
    if out.rc == TIMED_OUT {
        let msg = p.msg.clone().unwrap_or(wait.timeout_msg);
        return Ok(ModuleOutput::failed(msg).with("elapsed", json!(wait.delay + wait.timeout)));
    }
    if out.rc != 0 {
        return Ok(ModuleOutput::failed(format!(
            "wait_for could not run: {}",
            out.stderr_text().trim_end()
        )));
    }
    let elapsed: u64 = out.stdout_text().trim().parse().unwrap_or(0);
    let mut result = ModuleOutput::ok().with("elapsed", json!(elapsed));
    if let Some(port) = &p.port {
        result = result.with("port", json!(port.trim().parse::<u16>().unwrap_or(0)));
    }
    if let Some(path) = &p.path {
        result = result.with("path", json!(path));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<Wait, String> {
        plan(&args::parse::<Params>("wait_for", &v)?)
    }

    #[test]
    fn plans() {
        let w = parse(json!({"path": "/tmp/x y", "timeout": 5})).unwrap();
        assert_eq!((w.test.as_str(), w.timeout), ("[ -e '/tmp/x y' ]", 5));
        assert_eq!(w.timeout_msg, "Timeout when waiting for file /tmp/x y");
        let w = parse(json!({"path": "/f", "state": "absent"})).unwrap();
        assert_eq!(w.test, "[ ! -e /f ]");
        let w = parse(json!({"path": "/f", "search_regex": "ready"})).unwrap();
        assert_eq!(w.test, "[ -e /f ] && grep -Eq -- ready /f");
        let w = parse(json!({"port": 22, "host": "127.0.0.1"})).unwrap();
        assert_eq!(w.timeout_msg, "Timeout when waiting for 127.0.0.1:22");
        assert_eq!(
            parse(json!({"port": 22, "path": "/x"})).unwrap_err(),
            "port and path parameter can not both be passed"
        );
        assert_eq!(
            parse(json!({"port": "http"})).unwrap_err(),
            "parameter 'port' for module 'wait_for': 'http' is not a valid integer"
        );
        assert_eq!(
            parse(json!({"prot": 22})).unwrap_err(),
            "unknown parameter 'prot' for module 'wait_for'; did you mean 'port'?"
        );
    }
}
