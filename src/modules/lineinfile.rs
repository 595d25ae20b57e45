//! `lineinfile`: makes sure one line is present in (or absent from) a text file. The edit is
//! a pure function over the file's text, run on the controller with Ansible's rules (the last
//! line matching `regexp` is replaced, else the line is inserted; an exact line already there
//! is left alone), and the result is written back atomically.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, text_opt};
use super::attr_diff::Style::Headed;
use super::mode::{mode_any, Mode};
use super::remote_file::{
    self as rf, fail, Action, Attrs, Content, Guard, Kind, OneShot, ReadOpts, WriteSpec,
};
use super::{FileDiff, ModuleCtx, ModuleOutput};
use crate::vars::Value;

mod edit;

pub use edit::{edit, python_template, Outcome, Rules};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    path: String,
    #[serde(default, alias = "regex")]
    regexp: Option<String>,
    #[serde(default)]
    search_string: Option<String>,
    #[serde(default, alias = "value", deserialize_with = "text_opt")]
    line: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    insertafter: Option<String>,
    #[serde(default)]
    insertbefore: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    create: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    backrefs: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    firstmatch: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    backup: bool,
    #[serde(default, deserialize_with = "text_opt")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    group: Option<String>,
    #[serde(default, deserialize_with = "mode_any")]
    mode: Option<Mode>,
    #[serde(default)]
    validate: Option<String>,
}

/// Checks the parameter combinations Ansible refuses and builds the rules.
fn rules_of(p: &Params) -> Result<Rules, String> {
    let present = match p.state.as_deref().unwrap_or("present") {
        "present" => true,
        "absent" => false,
        other => {
            return Err(format!(
                "state must be 'present' or 'absent', not '{other}'"
            ))
        }
    };
    if p.regexp.is_some() && p.search_string.is_some() {
        return Err("parameters are mutually exclusive: regexp|search_string".into());
    }
    if p.insertafter.is_some() && p.insertbefore.is_some() {
        return Err("parameters are mutually exclusive: insertafter|insertbefore".into());
    }
    if present && p.line.is_none() {
        return Err("state is present but all of the following are missing: line".into());
    }
    if present && p.backrefs && p.regexp.is_none() {
        return Err("regexp is required with backrefs=true".into());
    }
    if !present && p.regexp.is_none() && p.search_string.is_none() && p.line.is_none() {
        return Err("one of line, search_string, or regexp is required with state=absent".into());
    }
    Ok(Rules {
        regexp: p.regexp.clone(),
        search_string: p.search_string.clone(),
        line: p.line.clone().unwrap_or_default(),
        present,
        insertafter: p.insertafter.clone(),
        insertbefore: p.insertbefore.clone(),
        backrefs: p.backrefs,
        firstmatch: p.firstmatch,
    })
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("lineinfile", args).or_else(fail)?;
    let rules = rules_of(&p).or_else(fail)?;
    let path = p.path.as_str();
    let want = Attrs {
        owner: p.owner.clone(),
        group: p.group.clone(),
        mode: p.mode.clone(),
    };

    // One command reads the file and, when it is missing and may be created, already writes
    // the edit of an empty file; an existing file comes back whole and is edited here.
    let blind = match edit("", &rules) {
        Ok(o) if p.create && rules.present && !ctx.check => Some(o.content),
        _ => None,
    };
    let spec = WriteSpec {
        dest: path,
        attrs: &want,
        validate: p.validate.as_deref(),
        backup: p.backup,
        mkdir: true,
    };
    // A loop item on a file whose text is known and that nothing has touched since (no
    // command started on the host) is planned here without asking the host; a change is
    // held in the session, to be written once after the last item (`connection::Held`).
    let may_hold = ctx.loop_pass.is_some() && !ctx.check && want.is_empty() && !p.backup;
    let may_hold = may_hold && p.validate.is_none();
    let epoch = (ctx.session.commands_started(), ctx.loop_pass);
    let (untouched, recalled) = match rf::recall(ctx.host, path) {
        Some(k) if may_hold && k.epoch == epoch => (Some(k), None),
        other => (None, other),
    };
    // A file this run has just read or written (an item before, a task before) is edited
    // from that text, the write guarded by its checksum; otherwise one command reads it (and,
    // when it is missing and may be created, already writes the edit of an empty file).
    let planned = match recalled {
        Some(k) if !ctx.check => match edit(&k.text, &rules) {
            Ok(o) if o.changed => Some((k.sha256, k.text, o.content)),
            _ => None,
        },
        _ => None,
    };
    let (acted, known) = match (&untouched, planned) {
        (Some(k), _) => {
            let state = rf::FileState {
                kind: Kind::File,
                ..rf::FileState::default()
            };
            let acted = rf::Acted {
                dest: path.to_string(),
                state,
                ..rf::Acted::default()
            };
            (acted, Some(k.text.clone()))
        }
        (None, Some((sha256, text, content))) => {
            let shot = guarded_write(&spec, &sha256, Content::Always);
            let acted = rf::act(ctx, &shot, content.as_bytes()).await?;
            let known = acted.acted.then_some(text);
            (acted, known)
        }
        (None, None) => {
            let shot = OneShot {
                path,
                inside: None,
                follow: true,
                read: ReadOpts {
                    content: Content::Always,
                    ..ReadOpts::default()
                },
                guard: Guard::Absent,
                action: match blind {
                    Some(_) => Action::Write(spec.clone()),
                    None => Action::None,
                },
                before: false,
            };
            let stdin = blind.as_deref().unwrap_or_default().as_bytes();
            (rf::act(ctx, &shot, stdin).await?, None)
        }
    };
    // the file written is the one read: a symbolic link's target
    let dest = acted.dest.clone();
    let mut cur = acted.state;
    if let Some(text) = known {
        cur.content = Some(text.into_bytes());
    }
    if cur.kind == Kind::Dir {
        return fail(format!("Path {path} is a directory !"));
    }
    if !cur.exists() {
        if !rules.present {
            return Ok(ModuleOutput::ok()
                .with_msg("file not present")
                .with("found", json!(0)));
        }
        if !p.create {
            return fail(format!("Destination {path} does not exist !"));
        }
    }
    let before = match String::from_utf8(cur.content.clone().unwrap_or_default()) {
        Ok(text) => text,
        Err(_) => return fail(format!("{path} is not UTF-8 text")),
    };
    let outcome = edit(&before, &rules).or_else(fail)?;
    let attrs = if cur.exists() {
        rf::attr_changes(&want, &cur)
    } else {
        want.clone()
    };
    let created = !cur.exists();
    let content_changed = outcome.changed || created;

    let mut msg = outcome.msg.clone();
    if created && msg.is_empty() {
        msg = "line added".into();
    }
    if !attrs.is_empty() && cur.exists() {
        if !msg.is_empty() {
            msg.push_str(" and ");
        }
        msg.push_str("ownership, perms or SE linux context changed");
    }
    let mut out = ModuleOutput::changed(content_changed || !attrs.is_empty()).with_msg(msg);
    if !rules.present {
        out = out.with("found", json!(outcome.found));
    }
    if ctx.diff && content_changed {
        out.diffs.push(FileDiff {
            path: path.to_string(),
            before: before.clone(),
            after: outcome.content.clone(),
        });
    }
    if ctx.diff && cur.exists() && !attrs.is_empty() {
        let diff = super::attr_diff::attr_diff(ctx, Headed, path, &attrs, &cur).await?;
        out.diffs.push(diff);
    }
    if let Some(b) = &acted.backup {
        out = out.with("backup", json!(b));
    }
    if ctx.check {
        return Ok(out);
    }
    if let Some(k) = untouched {
        if out.changed {
            hold_write(ctx, &spec, &k.host_sha256, &outcome.content).await;
        }
        return Ok(out);
    }
    // acted: the file was missing (the blind write) or still had the remembered text
    if !out.changed || acted.acted {
        let now = if acted.acted {
            &outcome.content
        } else {
            &before
        };
        rf::remember(
            ctx.host,
            path,
            now,
            (ctx.session.commands_started(), ctx.loop_pass),
        );
        return Ok(out);
    }
    // An existing file read by this item: its write waits for the items after it.
    if may_hold && content_changed && !created && cur.kind == Kind::File {
        let host_sha256 = rf::sha256_hex(before.as_bytes());
        hold_write(ctx, &spec, &host_sha256, &outcome.content).await;
        return Ok(out);
    }
    // the host's file is about to change: until the write says it did, its text is unknown
    rf::forget(ctx.host, path);

    if content_changed {
        let spec = WriteSpec {
            dest: &dest,
            mkdir: created,
            ..spec
        };
        if let Some(b) = rf::write(ctx, &spec, outcome.content.as_bytes()).await? {
            out = out.with("backup", json!(b));
        }
        let epoch = (ctx.session.commands_started(), ctx.loop_pass);
        rf::remember(ctx.host, path, &outcome.content, epoch);
    } else {
        let target = crate::connection::quote(path);
        rf::run_script(
            ctx,
            &format!("cannot set attributes of {path}"),
            &attrs.commands(&target, false, false),
        )
        .await?;
    }
    Ok(out)
}

/// The command writing `spec`'s file (a symbolic link's target) when it still has the text
/// whose SHA-256 is `sha256`, reading it (`content` with it) either way.
fn guarded_write<'a>(spec: &WriteSpec<'a>, sha256: &str, content: Content) -> OneShot<'a> {
    OneShot {
        path: spec.dest,
        inside: None,
        follow: true,
        read: ReadOpts {
            sha256: true,
            content,
            ..ReadOpts::default()
        },
        guard: Guard::Same {
            sha256: sha256.to_string(),
        },
        action: Action::Write(WriteSpec {
            mkdir: false,
            ..spec.clone()
        }),
        before: false,
    }
}

/// Leaves the write of `content` held in the session, guarded by the checksum of what the
/// host has (`host_sha256`), and remembers the text as planned.
async fn hold_write(ctx: &ModuleCtx<'_>, spec: &WriteSpec<'_>, host_sha256: &str, content: &str) {
    let path = spec.dest;
    let shot = guarded_write(spec, host_sha256, Content::No);
    let held = crate::connection::Held {
        key: path.to_string(),
        command: rf::held_script(&shot),
        stdin: content.as_bytes().to_vec(),
        escalation: ctx.escalation.cloned(),
        what: format!("cannot write {path} (the edits of the loop items before)"),
    };
    ctx.session.hold(held).await;
    rf::remember_held(
        ctx.host,
        path,
        content,
        host_sha256,
        (ctx.session.commands_started(), ctx.loop_pass),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_checks() {
        let check = |args: Value| {
            let p: Params = args::parse("lineinfile", &args).unwrap();
            rules_of(&p).map(|_| ()).unwrap_err()
        };
        assert_eq!(
            check(json!({"path": "/f", "regexp": "a", "search_string": "b", "line": "x"})),
            "parameters are mutually exclusive: regexp|search_string"
        );
        assert_eq!(
            check(json!({"dest": "/f"})),
            "state is present but all of the following are missing: line"
        );
        assert_eq!(
            check(json!({"name": "/f", "state": "absent"})),
            "one of line, search_string, or regexp is required with state=absent"
        );
        assert_eq!(
            check(json!({"destfile": "/f", "line": "x", "state": "gone"})),
            "state must be 'present' or 'absent', not 'gone'"
        );
    }
}
