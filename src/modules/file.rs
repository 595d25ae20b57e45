//! `file`: the kind of a path (file, directory, symlink, hard link, touched, absent) and its
//! owner, group and mode. The plan is a pure function of one read of the path; a missing path
//! is made in the same command that reads it, any other change goes out as one shell snippet.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, text_opt};
use super::attr_diff::{attr_diff, Style};
use super::mode::{mode_any, Mode};
use super::remote_file::{
    self as rf, attr_changes, fail, Action, Attrs, FileState, Guard, Kind, OneShot, ReadOpts,
};
use super::{FileDiff, ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(alias = "dest", alias = "name")]
    path: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    src: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    group: Option<String>,
    #[serde(default, deserialize_with = "mode_any")]
    mode: Option<Mode>,
    #[serde(default, deserialize_with = "loose_bool")]
    recurse: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    force: bool,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    follow: bool,
    #[serde(default)]
    access_time: Option<String>,
    #[serde(default)]
    modification_time: Option<String>,
}

/// What `access_time`/`modification_time` ask for: touch sets both to now by default, other
/// states leave times alone unless told `now`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Time {
    Now,
    Preserve,
}

impl Time {
    fn parse(what: &str, value: Option<&str>, default: Time) -> Result<Time, String> {
        match value {
            None => Ok(default),
            Some("now") => Ok(Time::Now),
            Some("preserve") => Ok(Time::Preserve),
            Some(other) => Err(format!(
                "{what} '{other}' is not supported: mestral takes 'now' or 'preserve'"
            )),
        }
    }
}

/// The `touch` flags for the times to set now, or None when both are kept.
pub fn touch_flags(atime: Time, mtime: Time) -> Option<&'static str> {
    match (atime, mtime) {
        (Time::Now, Time::Now) => Some(""),
        (Time::Now, Time::Preserve) => Some("-a "),
        (Time::Preserve, Time::Now) => Some("-m "),
        (Time::Preserve, Time::Preserve) => None,
    }
}

fn yes() -> bool {
    true
}

/// The state a task asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    File,
    Directory,
    Link,
    Hard,
    Touch,
    Absent,
}

impl Want {
    fn parse(word: &str) -> Result<Want, String> {
        Ok(match word {
            "file" => Want::File,
            "directory" => Want::Directory,
            "link" => Want::Link,
            "hard" => Want::Hard,
            "touch" => Want::Touch,
            "absent" => Want::Absent,
            other => {
                return Err(format!(
                    "value of state must be one of: absent, directory, file, hard, link, \
                     touch, got: {other}"
                ))
            }
        })
    }

    fn word(self) -> &'static str {
        match self {
            Want::File => "file",
            Want::Directory => "directory",
            Want::Link => "link",
            Want::Hard => "hard",
            Want::Touch => "touch",
            Want::Absent => "absent",
        }
    }
}

/// What the task needs to do to the path itself; attributes come after.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    None,
    Remove,
    Mkdir,
    Touch,
    /// `ln -s` (replacing what is there when `replace`).
    Symlink {
        replace: bool,
    },
    Hardlink,
}

/// Decides the step for `want` given the path's state `cur` (and, for a hard link, the
/// inode of `src`). Errors are Ansible's refusals.
pub fn step(
    want: Want,
    path: &str,
    cur: &FileState,
    src: Option<&str>,
    src_inode: Option<&str>,
    force: bool,
) -> Result<Step, String> {
    let kind = cur.kind;
    Ok(match want {
        Want::Absent if kind == Kind::Absent => Step::None,
        Want::Absent => Step::Remove,
        Want::File => match kind {
            Kind::Absent => return Err(format!("file ({path}) is absent, cannot continue")),
            Kind::File => Step::None,
            other => {
                return Err(format!(
                    "file ({path}) is a {}, cannot continue",
                    other.word()
                ))
            }
        },
        Want::Directory => match kind {
            Kind::Absent => Step::Mkdir,
            Kind::Dir => Step::None,
            other => return Err(format!("{path} already exists as a {}", other.word())),
        },
        Want::Touch => Step::Touch,
        Want::Link => match kind {
            Kind::Absent => Step::Symlink { replace: false },
            Kind::Link if cur.link_target.as_deref() == src => Step::None,
            Kind::Link => Step::Symlink { replace: true },
            Kind::File if force => Step::Symlink { replace: true },
            other => {
                return Err(format!(
                    "refusing to convert from {} to symlink for {path}",
                    other.word()
                ))
            }
        },
        Want::Hard => match kind {
            Kind::Dir => {
                return Err(format!(
                    "refusing to convert from directory to hard link for {path}"
                ))
            }
            _ if src_inode.is_some() && src_inode == Some(cur.inode.as_str()) => Step::None,
            _ => Step::Hardlink,
        },
    })
}

/// `a/b/c` -> `a`, `a/b`, `a/b/c` (absolute paths keep their leading slash).
pub fn prefixes(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut acc = String::from(if path.starts_with('/') { "/" } else { "" });
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if !acc.is_empty() && !acc.ends_with('/') {
            acc.push('/');
        }
        acc.push_str(part);
        out.push(acc.clone());
    }
    out
}

/// The shell snippet for a step.
fn step_script(step: &Step, path: &str, src: &str) -> String {
    let (p, s) = (quote(path), quote(src));
    match step {
        Step::None => String::new(),
        Step::Remove => format!("rm -rf -- {p}\n"),
        Step::Mkdir => format!("mkdir -p -- {p}\n"),
        Step::Touch => format!("touch -- {p}\n"),
        Step::Symlink { replace: false } => format!("ln -s -- {s} {p}\n"),
        Step::Symlink { replace: true } => format!("ln -sfn -- {s} {p}\n"),
        Step::Hardlink => format!("ln -f -- {s} {p}\n"),
    }
}

/// Finds one path under a tree whose owner, group or mode differs from `want`.
fn drift_script(path: &str, want: &Attrs) -> Option<String> {
    let mut tests = Vec::new();
    if let Some(o) = &want.owner {
        tests.push(format!("! -user {}", quote(o)));
    }
    if let Some(g) = &want.group {
        tests.push(format!("! -group {}", quote(g)));
    }
    if let Some(Mode::Octal(m)) = want.mode {
        tests.push(format!("! -perm {m:04o}"));
    }
    if tests.is_empty() {
        return None;
    }
    Some(format!(
        "find {} \\( {} \\) -print | head -n 1",
        quote(path),
        tests.join(" -o ")
    ))
}

/// Whether a symbolic mode would change anything under a tree: each path's mode is read and
/// the mode applied to it, since the result depends on each one's current mode.
async fn symbolic_drift(ctx: &ModuleCtx<'_>, path: &str, want: &Attrs) -> Result<bool> {
    let Some(mode @ Mode::Symbolic(_)) = &want.mode else {
        return Ok(false);
    };
    let script = format!("find {} ! -type l -printf '%y %m\\n'", quote(path));
    let listing = rf::run_script(ctx, &format!("cannot inspect {path}"), &script).await?;
    Ok(listing.lines().any(|line| {
        let (kind, octal) = line.split_once(' ').unwrap_or((line, ""));
        let cur = u32::from_str_radix(octal, 8).unwrap_or(0);
        mode.resolve(cur, kind == "d").is_ok_and(|m| m != cur)
    }))
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("file", args).or_else(fail)?;
    let path = p.path.as_str();

    // One command reads the path and, when nothing is there yet, already makes what a task
    // with an explicit state asks for; any other state is planned from the read.
    let blind = match p.state.as_deref().map(Want::parse) {
        Some(Ok(Want::Directory | Want::Link | Want::Touch)) if !p.recurse && !ctx.check => {
            decide(&p, &FileState::default(), None, false)
                .ok()
                .and_then(|d| d.script)
        }
        _ => None,
    };
    let shot = OneShot {
        path,
        inside: None,
        follow: false,
        read: ReadOpts::default(),
        guard: Guard::Absent,
        action: match &blind {
            Some(script) => Action::Script {
                what: format!("cannot change {path}"),
                script: script.clone(),
            },
            None => Action::None,
        },
        before: false,
    };
    let acted = rf::act(ctx, &shot, b"").await?;
    let mut cur = acted.state;
    if acted.acted {
        // the guard held: the path was absent, exactly the state `blind` was planned for
        let out = decide(&p, &cur, None, false).or_else(fail)?.out;
        return Ok(shown(out, ctx.diff));
    }

    // attributes of what a link points at, unless the task manages the link itself
    let want = want_of(&p, &cur).or_else(fail)?;
    if cur.kind == Kind::Link
        && p.follow
        && matches!(want, Want::File | Want::Directory | Want::Touch)
    {
        let follow = ReadOpts {
            follow: true,
            ..ReadOpts::default()
        };
        cur = rf::read(ctx, path, &follow).await?;
    }
    let src_inode = match (want, &p.src) {
        (Want::Hard, Some(src)) => {
            let follow = ReadOpts {
                follow: true,
                ..ReadOpts::default()
            };
            let s = rf::read(ctx, src, &follow).await?;
            if !s.exists() {
                return fail(format!("src does not exist: {src}"));
            }
            Some(s.inode)
        }
        _ => None,
    };
    let wanted = Attrs {
        owner: p.owner.clone(),
        group: p.group.clone(),
        mode: p.mode.clone(),
    };
    let drift = p.recurse && want == Want::Directory && cur.exists() && {
        let found = match drift_script(path, &wanted) {
            Some(script) => !rf::run_script(ctx, &format!("cannot inspect {path}"), &script)
                .await?
                .is_empty(),
            None => false,
        };
        found || symbolic_drift(ctx, path, &wanted).await?
    };
    let mut decision = decide(&p, &cur, src_inode.as_deref(), drift).or_else(fail)?;
    if let (true, Some(attrs)) = (ctx.diff, &decision.attrs_only) {
        let diff = attr_diff(ctx, Style::Plain, path, attrs, &cur).await?;
        decision.out.diffs.push(diff);
    }
    if let (false, Some(script)) = (ctx.check, &decision.script) {
        rf::run_script(ctx, &format!("cannot change {path}"), script).await?;
    }
    Ok(shown(decision.out, ctx.diff))
}

/// Drops the diffs unless `--diff` asked for them.
fn shown(mut out: ModuleOutput, diff: bool) -> ModuleOutput {
    if !diff {
        out.diffs.clear();
    }
    out
}

/// The state a task asks for: its `state`, else what the path already is.
fn want_of(p: &Params, cur: &FileState) -> Result<Want, String> {
    Ok(match &p.state {
        Some(s) => Want::parse(s)?,
        None if p.recurse => Want::Directory,
        None => match cur.kind {
            Kind::Dir => Want::Directory,
            Kind::Link => Want::Link,
            _ => Want::File,
        },
    })
}

/// The task's result and the shell snippet making it so (None when nothing changes).
struct Decision {
    out: ModuleOutput,
    script: Option<String>,
    /// Only owner, group or mode change: what `--diff` shows.
    attrs_only: Option<Attrs>,
}

/// Plans the task against the path's state `cur` (for a hard link, `src`'s inode; `drift`
/// when something under a recursed tree has other attributes). Pure: errors are Ansible's
/// refusals.
fn decide(
    p: &Params,
    cur: &FileState,
    src_inode: Option<&str>,
    drift: bool,
) -> Result<Decision, String> {
    let path = p.path.as_str();
    let want = want_of(p, cur)?;
    if p.recurse && want != Want::Directory {
        return Err("recurse option requires state to be 'directory'".into());
    }
    let src = match (want, &p.src) {
        (Want::Link | Want::Hard, None) => {
            return Err(format!("src is required for state={}", want.word()))
        }
        (_, s) => s.clone().unwrap_or_default(),
    };
    let step = step(want, path, cur, p.src.as_deref(), src_inode, p.force)?;

    // times: touch sets them to now unless preserved; other states only when asked
    let default = if want == Want::Touch {
        Time::Now
    } else {
        Time::Preserve
    };
    let atime = Time::parse("access_time", p.access_time.as_deref(), default)?;
    let mtime = Time::parse("modification_time", p.modification_time.as_deref(), default)?;
    let times = touch_flags(atime, mtime).filter(|_| want != Want::Absent);
    let step = match step {
        // an existing path only gets its times set (below), if any
        Step::Touch if cur.exists() => Step::None,
        other => other,
    };

    // attributes: all wanted ones on something new, the drifted ones otherwise
    let is_link = want == Want::Link;
    let wanted = Attrs {
        owner: p.owner.clone(),
        group: p.group.clone(),
        mode: if is_link { None } else { p.mode.clone() },
    };
    let fresh =
        matches!(step, Step::Mkdir | Step::Symlink { .. } | Step::Hardlink) || !cur.exists();
    let attrs = match (want, fresh) {
        (Want::Absent, _) => Attrs::default(),
        (_, true) => wanted.clone(),
        (_, false) => attr_changes(&wanted, cur),
    };
    let retime = times.is_some() && cur.exists() && step == Step::None;
    let changed = step != Step::None || !attrs.is_empty() || drift || retime;
    let final_state = match want {
        Want::Absent => "absent",
        Want::Touch => "file",
        other => other.word(),
    };
    let mut out = ModuleOutput::changed(changed)
        .with("path", json!(path))
        .with("state", json!(final_state));
    if is_link || want == Want::Hard {
        out = out.with("src", json!(src));
    }
    if step != Step::None {
        out.diffs.push(FileDiff {
            path: path.to_string(),
            before: format!("state: {}\n", cur.kind.word()),
            // Ansible's diff names the state asked for (`touch`), its result the kind.
            after: format!(
                "state: {}\n",
                if want == Want::Touch {
                    "touch"
                } else {
                    final_state
                }
            ),
        });
    }
    if !changed {
        return Ok(Decision {
            out,
            script: None,
            attrs_only: None,
        });
    }
    let attrs_only = (step == Step::None && !attrs.is_empty()).then(|| attrs.clone());

    let mut script = String::from("set -e\n");
    let mut applied = false;
    if step == Step::Mkdir {
        // like Ansible, every folder created on the way gets the wanted attributes; a plain
        // octal mode goes with `mkdir -m` (one program started on the host, not two), and the
        // last folder, created so, needs no second pass
        let (mkdir, set) = match &wanted.mode {
            Some(crate::modules::mode::Mode::Octal(m)) if m & 0o7000 == 0 => (
                format!("mkdir -m {m:04o}"),
                Attrs {
                    mode: None,
                    ..wanted.clone()
                },
            ),
            _ => ("mkdir".to_string(), wanted.clone()),
        };
        // The missing folders are found first (a missing one means all below it are missing
        // too) and made by one `mkdir`, their attributes set by one command each.
        let dirs: Vec<String> = prefixes(path).iter().map(|d| quote(d)).collect();
        let set = set.commands("\"$@\"", false, false).replace('\n', "; ");
        let again = if p.recurse && drift {
            String::new()
        } else {
            applied = true;
            let last = dirs.last().map(String::as_str).unwrap_or_default();
            attrs.commands(last, false, false).replace('\n', "; ")
        };
        script.push_str(&format!(
            "set --\nfor x in {}; do [ -e \"$x\" ] || set -- \"$@\" \"$x\"; done\n\
             if [ $# = 0 ]; then :; {again}else {mkdir} -- \"$@\"; {set}fi\n",
            dirs.join(" ")
        ));
    } else {
        script.push_str(&step_script(&step, path, &src));
    }
    if let (true, Some(flags)) = (retime, times) {
        script.push_str(&format!("touch {flags}-- {}\n", quote(path)));
    }
    let apply = if p.recurse && drift { &wanted } else { &attrs };
    if !applied {
        script.push_str(&apply.commands(&quote(path), p.recurse && drift, is_link));
    }
    Ok(Decision {
        out,
        script: Some(script),
        attrs_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(kind: Kind) -> FileState {
        FileState {
            kind,
            inode: "1:2".into(),
            ..FileState::default()
        }
    }

    #[test]
    fn folder_prefixes() {
        assert_eq!(prefixes("/a/b//c/"), ["/a", "/a/b", "/a/b/c"]);
        assert_eq!(prefixes("x/y"), ["x", "x/y"]);
        assert_eq!(touch_flags(Time::Preserve, Time::Preserve), None);
        assert_eq!(touch_flags(Time::Now, Time::Preserve), Some("-a "));
    }

    #[test]
    fn steps() {
        let link_to = |t: &str| FileState {
            link_target: Some(t.into()),
            ..st(Kind::Link)
        };
        // want, current state, src, src inode, force, expected step
        type Case<'a> = (
            Want,
            FileState,
            Option<&'a str>,
            Option<&'a str>,
            bool,
            Result<Step, String>,
        );
        let cases: Vec<Case> = vec![
            (
                Want::Absent,
                st(Kind::Absent),
                None,
                None,
                false,
                Ok(Step::None),
            ),
            (
                Want::Absent,
                st(Kind::Dir),
                None,
                None,
                false,
                Ok(Step::Remove),
            ),
            (
                Want::File,
                st(Kind::File),
                None,
                None,
                false,
                Ok(Step::None),
            ),
            (
                Want::File,
                st(Kind::Absent),
                None,
                None,
                false,
                Err("file (/p) is absent, cannot continue".into()),
            ),
            (
                Want::File,
                st(Kind::Dir),
                None,
                None,
                false,
                Err("file (/p) is a directory, cannot continue".into()),
            ),
            (
                Want::Directory,
                st(Kind::Absent),
                None,
                None,
                false,
                Ok(Step::Mkdir),
            ),
            (
                Want::Directory,
                st(Kind::Dir),
                None,
                None,
                false,
                Ok(Step::None),
            ),
            (
                Want::Directory,
                st(Kind::File),
                None,
                None,
                false,
                Err("/p already exists as a file".into()),
            ),
            (
                Want::Touch,
                st(Kind::File),
                None,
                None,
                false,
                Ok(Step::Touch),
            ),
            (
                Want::Link,
                st(Kind::Absent),
                Some("/t"),
                None,
                false,
                Ok(Step::Symlink { replace: false }),
            ),
            (
                Want::Link,
                link_to("/t"),
                Some("/t"),
                None,
                false,
                Ok(Step::None),
            ),
            (
                Want::Link,
                link_to("/u"),
                Some("/t"),
                None,
                false,
                Ok(Step::Symlink { replace: true }),
            ),
            (
                Want::Link,
                st(Kind::File),
                Some("/t"),
                None,
                false,
                Err("refusing to convert from file to symlink for /p".into()),
            ),
            (
                Want::Link,
                st(Kind::File),
                Some("/t"),
                None,
                true,
                Ok(Step::Symlink { replace: true }),
            ),
            (
                Want::Hard,
                st(Kind::File),
                Some("/t"),
                Some("1:2"),
                false,
                Ok(Step::None),
            ),
            (
                Want::Hard,
                st(Kind::File),
                Some("/t"),
                Some("1:3"),
                false,
                Ok(Step::Hardlink),
            ),
        ];
        for (want, cur, src, inode, force, expect) in cases {
            assert_eq!(
                step(want, "/p", &cur, src, inode, force),
                expect,
                "{want:?} {cur:?}"
            );
        }
    }

    #[test]
    fn scripts() {
        assert_eq!(
            step_script(&Step::Symlink { replace: true }, "/a b", "t"),
            "ln -sfn -- t '/a b'\n"
        );
        let want = Attrs {
            owner: Some("bob".into()),
            group: None,
            mode: Some(Mode::Octal(0o750)),
        };
        assert_eq!(
            drift_script("/d", &want).unwrap(),
            "find /d \\( ! -user bob -o ! -perm 0750 \\) -print | head -n 1"
        );
        assert_eq!(drift_script("/d", &Attrs::default()), None);
        assert_eq!(
            Want::parse("dir").unwrap_err(),
            "value of state must be one of: absent, directory, file, hard, link, touch, got: dir"
        );
    }
}
