//! `group`: a local group present (with a given gid, a system group when created with
//! `system: true`) or absent, with Ansible's arguments and return values (`name`, `state`,
//! `gid`, `system`). One remote command reads the group, compares and, where needed, runs
//! `groupadd`/`groupmod`/`groupdel`; check mode runs the same command without the change.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, int_text_opt, loose_bool, text_opt};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    name: String,
    #[serde(default, deserialize_with = "text_opt")]
    state: Option<String>,
    #[serde(default, deserialize_with = "int_text_opt")]
    gid: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    system: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    local: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    non_unique: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    force: bool,
}

/// What the task asks for, checked.
#[derive(Debug, PartialEq)]
pub struct Want {
    pub name: String,
    pub present: bool,
    pub gid: Option<u32>,
    pub system: bool,
    pub non_unique: bool,
    pub force: bool,
}

fn want(p: Params) -> Result<Want, String> {
    let present = match p.state.as_deref().unwrap_or("present") {
        "present" => true,
        "absent" => false,
        other => {
            return Err(format!(
                "parameter 'state' for module 'group': '{other}' is not one of present, absent"
            ))
        }
    };
    let gid =
        match p.gid.as_deref() {
            None | Some("") => None,
            Some(g) => Some(g.parse::<u32>().map_err(|_| {
                format!("parameter 'gid' for module 'group': '{g}' is not a number")
            })?),
        };
    if p.name.is_empty() || p.name.contains([':', '\n']) {
        return Err(format!(
            "parameter 'name' for module 'group': '{}' is not a valid group name",
            p.name
        ));
    }
    // `local` selects lgroupadd on hosts with a directory service; plain groupadd is local.
    let _ = p.local;
    Ok(Want {
        name: p.name,
        present,
        gid,
        system: p.system,
        non_unique: p.non_unique,
        force: p.force,
    })
}

/// The one remote command: prints `changed:<0|1>` then the group's `getent` line (empty when
/// there is none). The line is read once into a shell variable, the gid cut out of it with
/// parameter expansion, and read again only after `groupadd`/`groupmod` changed it: one
/// program (`getent`) for a group that is already right. In check mode the change commands
/// are replaced by `:` and the group is not read again.
pub fn script(w: &Want, check: bool) -> String {
    let n = quote(&w.name);
    let act = |cmd: String| {
        if check {
            ":".to_string()
        } else {
            format!("{cmd} >&2 || exit $?")
        }
    };
    if !w.present {
        let force = if w.force { "-f " } else { "" };
        return format!(
            "c=0; if getent group {n} >/dev/null; then {} ; c=1; fi; echo changed:$c",
            act(format!("groupdel {force}{n}"))
        );
    }
    let mut add = String::from("groupadd");
    if w.system {
        add.push_str(" -r");
    }
    let reread = if check {
        String::new()
    } else {
        format!(" g=$(getent group {n});")
    };
    let mut modify = String::new();
    if let Some(gid) = w.gid {
        add.push_str(&format!(" -g {gid}"));
        let o = if w.non_unique { " -o" } else { "" };
        add.push_str(o);
        // name:password:gid:members
        modify = format!(
            " elif r=${{g#*:*:}}; [ \"${{r%%:*}}\" != {gid} ]; then {} ; c=1;{reread}",
            act(format!("groupmod -g {gid}{o} {n}"))
        );
    }
    format!(
        "c=0; if ! g=$(getent group {n}); then {} ; c=1;{reread}{modify} fi; \
         echo changed:$c; printf '%s\\n' \"$g\"; exit 0",
        act(format!("{add} {n}"))
    )
}

/// Reads the command's output into the task's result.
pub fn outcome(w: &Want, rc: i32, stdout: &str, stderr: &str) -> ModuleOutput {
    let mut lines = stdout.lines();
    let changed = match (rc, lines.next()) {
        (0, Some("changed:1")) => true,
        (0, Some("changed:0")) => false,
        _ => {
            let why = stderr.trim();
            let why = if why.is_empty() { stdout.trim() } else { why };
            return ModuleOutput::failed(format!("group {}: rc {rc}: {why}", w.name));
        }
    };
    let state = if w.present { "present" } else { "absent" };
    let mut out = ModuleOutput::changed(changed)
        .with("name", json!(w.name))
        .with("state", json!(state));
    if w.present {
        let gid = lines
            .next()
            .and_then(|l| l.split(':').nth(2))
            .and_then(|g| g.parse::<u32>().ok())
            .or(w.gid);
        out = out.with("gid", json!(gid)).with("system", json!(w.system));
    }
    out
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let w = match args::parse::<Params>("group", args).and_then(want) {
        Ok(w) => w,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let out = ctx.exec(&script(&w, ctx.check)).await?;
    Ok(outcome(&w, out.rc, &out.stdout_text(), &out.stderr_text()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(args: Value) -> Result<Want, String> {
        args::parse::<Params>("group", &args).and_then(want)
    }

    #[test]
    fn scripts() {
        let cases = [
            (
                json!({"name": "calx", "system": true}),
                false,
                "c=0; if ! g=$(getent group calx); then groupadd -r calx >&2 || exit $? ; c=1; \
                 g=$(getent group calx); fi; echo changed:$c; printf '%s\\n' \"$g\"; exit 0",
            ),
            (
                json!({"name": "calx", "gid": 990}),
                false,
                "c=0; if ! g=$(getent group calx); then groupadd -g 990 calx >&2 || exit $? ; \
                 c=1; g=$(getent group calx); elif r=${g#*:*:}; [ \"${r%%:*}\" != 990 ]; then \
                 groupmod -g 990 calx >&2 || exit $? ; c=1; g=$(getent group calx); fi; \
                 echo changed:$c; printf '%s\\n' \"$g\"; exit 0",
            ),
            (
                json!({"name": "calx", "system": "yes"}),
                true,
                "c=0; if ! g=$(getent group calx); then : ; c=1; fi; echo changed:$c; \
                 printf '%s\\n' \"$g\"; exit 0",
            ),
            (
                json!({"name": "calx", "state": "absent"}),
                false,
                "c=0; if getent group calx >/dev/null; then groupdel calx >&2 || exit $? ; c=1; \
                 fi; echo changed:$c",
            ),
        ];
        for (args, check, expected) in cases {
            assert_eq!(script(&w(args.clone()).unwrap(), check), expected, "{args}");
        }
    }

    #[test]
    fn bad_arguments() {
        let cases = [
            (
                json!({"name": "x", "state": "gone"}),
                "parameter 'state' for module 'group': 'gone' is not one of present, absent",
            ),
            (
                json!({"name": "x", "gid": "abc"}),
                "parameter 'gid' for module 'group': 'abc' is not a valid integer",
            ),
            (
                json!({"nam": "x"}),
                "unknown parameter 'nam' for module 'group'; did you mean 'name'?",
            ),
        ];
        for (args, msg) in cases {
            assert_eq!(w(args).unwrap_err(), msg);
        }
    }

    #[test]
    fn outcomes() {
        let want = w(json!({"name": "calx", "system": true})).unwrap();
        let created = outcome(&want, 0, "changed:1\ncalx:x:998:\n", "");
        assert!(created.changed && !created.failed);
        assert_eq!(
            Value::Object(created.values),
            json!({"name": "calx", "state": "present", "gid": 998, "system": true})
        );
        let kept = outcome(&want, 0, "changed:0\ncalx:x:998:\n", "");
        assert!(!kept.changed && !kept.failed);
        let failed = outcome(&want, 4, "", "groupadd: GID '5' already exists\n");
        assert_eq!(
            failed.msg.as_deref(),
            Some("group calx: rc 4: groupadd: GID '5' already exists")
        );
        let gone = w(json!({"name": "calx", "state": "absent"})).unwrap();
        let out = outcome(&gone, 0, "changed:1\n", "");
        assert_eq!(
            Value::Object(out.values),
            json!({"name": "calx", "state": "absent"})
        );
    }
}
