//! `hostname`: sets the host's name, both the running one and the persistent one
//! (`hostnamectl` where systemd runs, else `/etc/hostname` and `hostname`).

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args;
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    name: String,
    #[serde(default, rename = "use")]
    strategy: Option<String>,
}

/// Prints the running name, then the persistent one (empty when there is no /etc/hostname).
const READ: &str = "hostname; cat /etc/hostname 2>/dev/null || true";

/// Whether the names read by `READ` differ from `name`.
pub fn needs_change(read: &str, name: &str) -> bool {
    let mut lines = read.lines();
    let running = lines.next().unwrap_or("").trim();
    let persistent = lines.next().unwrap_or("").trim();
    running != name || persistent != name
}

/// The commands that set `name`.
pub fn set_script(name: &str) -> String {
    let q = quote(name);
    format!(
        "set -e\nif command -v hostnamectl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then \
         hostnamectl set-hostname {q}; \
         else printf '%s\\n' {q} > /etc/hostname; hostname {q}; fi\n"
    )
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = match args::parse("hostname", args) {
        Ok(p) => p,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    if let Some(s) = p
        .strategy
        .as_deref()
        .filter(|s| !["systemd", "debian", "generic"].contains(s))
    {
        return Ok(ModuleOutput::failed(format!(
            "use '{s}' is not supported: mestral knows systemd, debian and generic"
        )));
    }
    let name = p.name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Ok(ModuleOutput::failed(format!(
            "'{}' is not a host name",
            p.name
        )));
    }
    let read = ctx.exec(READ).await?;
    let changed = needs_change(&read.stdout_text(), name);
    let facts: crate::vars::Vars = [
        (
            "ansible_hostname".to_string(),
            json!(name.split('.').next().unwrap_or(name)),
        ),
        ("ansible_nodename".to_string(), json!(name)),
    ]
    .into_iter()
    .collect();
    let mut out = ModuleOutput::changed(changed).with("name", json!(name));
    out.facts = Some(facts.clone());
    out = out.with("ansible_facts", json!(facts));
    if changed && !ctx.check {
        let set = ctx.exec(&set_script(name)).await?;
        if set.rc != 0 {
            return Ok(ModuleOutput::failed(format!(
                "cannot set the host name: {}",
                set.stderr_text().trim_end()
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_decision() {
        assert!(!needs_change("web1\nweb1\n", "web1"));
        assert!(needs_change("web1\nold\n", "web1"));
        assert!(needs_change("old\nweb1\n", "web1"));
        assert!(needs_change("web1\n", "web1"));
        assert_eq!(
            set_script("a b"),
            "set -e\nif command -v hostnamectl >/dev/null 2>&1 && [ -d /run/systemd/system ]; \
             then hostnamectl set-hostname 'a b'; else printf '%s\\n' 'a b' > /etc/hostname; \
             hostname 'a b'; fi\n"
        );
    }
}
