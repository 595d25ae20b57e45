//! `copy`: puts a controller file, a directory tree or inline `content` on the host. A file
//! is rewritten only when its checksum differs, in the same command that reads it; attribute
//! drift alone is fixed in place. `put` is the single-file path the `template` module shares.

use std::path::Path;

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, mode_opt, text_opt};
use super::attr_diff::{attr_diff, Style};
use super::mode::{mode_any, Mode};
use super::remote_file::{
    self as rf, fail, Action, Attrs, Guard, Kind, OneShot, ReadOpts, WriteSpec,
};
use super::{FileDiff, ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default)]
    src: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    content: Option<String>,
    dest: String,
    #[serde(default, deserialize_with = "text_opt")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    group: Option<String>,
    #[serde(default, deserialize_with = "mode_any")]
    mode: Option<Mode>,
    #[serde(default, deserialize_with = "mode_opt")]
    directory_mode: Option<u32>,
    #[serde(default = "yes", alias = "thirsty", deserialize_with = "loose_bool")]
    force: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    backup: bool,
    #[serde(default)]
    validate: Option<String>,
}

/// How one file is put on the host.
#[derive(Clone, Debug, Default)]
pub struct PutOpts {
    pub attrs: Attrs,
    /// Replace an existing file whose content differs.
    pub force: bool,
    pub backup: bool,
    pub validate: Option<String>,
    /// Create missing parent directories.
    pub mkdir: bool,
}

/// What putting a file must do, worked out from the current state.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Nothing to do.
    Keep,
    /// Write the content (and the wanted attributes).
    Write,
    /// Content matches; set these attributes only.
    Attrs(Attrs),
}

/// Compares the wanted content (by checksum) and attributes with the host's file.
pub fn plan(sha256: &str, opts: &PutOpts, cur: &rf::FileState) -> Plan {
    if !cur.exists() {
        return Plan::Write;
    }
    if cur.sha256.as_deref() != Some(sha256) {
        return if opts.force { Plan::Write } else { Plan::Keep };
    }
    let attrs = rf::attr_changes(&opts.attrs, cur);
    if attrs.is_empty() {
        Plan::Keep
    } else {
        Plan::Attrs(attrs)
    }
}

/// Puts `data` at `dest` (a file path, or with `inside` the name to use when `dest` is a
/// directory on the host) and reports what changed. One command reads, compares and writes;
/// only attribute drift, or content too large to send blind, takes a second.
pub async fn put(
    ctx: &ModuleCtx<'_>,
    dest: &str,
    inside: Option<&str>,
    data: &[u8],
    opts: &PutOpts,
) -> Result<ModuleOutput> {
    let sum = rf::sha256_hex(data);
    let spec = WriteSpec {
        dest,
        attrs: &opts.attrs,
        validate: opts.validate.as_deref(),
        backup: opts.backup,
        mkdir: opts.mkdir,
    };
    let inline = !ctx.check && data.len() <= rf::INLINE_MAX;
    let shot = OneShot {
        path: dest,
        inside,
        follow: false,
        read: ReadOpts {
            sha256: true,
            follow: true,
            ..ReadOpts::default()
        },
        guard: Guard::Differs {
            sha256: sum.clone(),
            force: opts.force,
        },
        action: if inline {
            Action::Write(spec.clone())
        } else {
            Action::None
        },
        before: ctx.diff,
    };
    let acted = rf::act(ctx, &shot, data).await?;
    let (dest, cur) = (acted.dest.as_str(), &acted.state);
    if cur.kind == Kind::Dir {
        return fail(format!("{dest} is a directory"));
    }
    let plan = plan(&sum, opts, cur);
    let mut out = ModuleOutput::changed(plan != Plan::Keep)
        .with("dest", json!(dest))
        .with("checksum", json!(sum))
        .with("size", json!(data.len()))
        .with("state", json!("file"));
    if plan == Plan::Write && ctx.diff {
        // a file too large or not text shows no diff; a new file diffs against nothing
        let before = match &cur.content {
            Some(bytes) => rf::diff_text(bytes),
            None if !cur.exists() => Some(String::new()),
            None => None,
        };
        if let (Some(before), Some(after)) = (before, rf::diff_text(data)) {
            out.diffs.push(FileDiff {
                path: dest.to_string(),
                before,
                after,
            });
        }
    }
    if let (Plan::Attrs(attrs), true) = (&plan, ctx.diff) {
        out.diffs
            .push(attr_diff(ctx, Style::Plain, dest, attrs, cur).await?);
    }
    let mut backup = acted.backup.clone();
    match plan {
        _ if ctx.check => {}
        Plan::Keep => {}
        Plan::Write if acted.acted => {}
        Plan::Write => {
            // too large to send blind, or a path the guard does not cover (not a regular file)
            let spec = WriteSpec {
                dest,
                ..spec.clone()
            };
            backup = rf::write(ctx, &spec, data).await?;
        }
        Plan::Attrs(attrs) => {
            let script = attrs.commands(&quote(dest), false, false);
            rf::run_script(ctx, &format!("cannot set attributes of {dest}"), &script).await?;
        }
    }
    if let Some(b) = backup {
        out = out.with("backup_file", json!(b));
    }
    Ok(out)
}

/// The last path component, ignoring a trailing slash.
pub fn basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Where a file named `name` goes for `dest`: inside it when `dest` ends with `/`; else
/// `dest` itself, or `name` inside it when it is a directory on the host (`put` decides).
pub fn target<'a>(dest: &str, name: &'a str) -> (String, Option<&'a str>) {
    if dest.ends_with('/') {
        (format!("{}/{name}", dest.trim_end_matches('/')), None)
    } else {
        (dest.to_string(), Some(name))
    }
}

/// Files and folders under a controller directory, relative to it, sorted.
pub fn walk(root: &Path) -> std::io::Result<(Vec<String>, Vec<String>)> {
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    let mut todo = vec![String::new()];
    while let Some(rel) = todo.pop() {
        for entry in std::fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if std::fs::metadata(entry.path())?.is_dir() {
                dirs.push(child.clone());
                todo.push(child);
            } else {
                files.push(child);
            }
        }
    }
    dirs.sort();
    files.sort();
    Ok((dirs, files))
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("copy", args).or_else(fail)?;
    let mut opts = PutOpts {
        attrs: Attrs {
            owner: p.owner.clone(),
            group: p.group.clone(),
            mode: p.mode.clone(),
        },
        force: p.force,
        backup: p.backup,
        validate: p.validate.clone(),
        mkdir: p.dest.ends_with('/'),
    };
    let src = match (&p.src, &p.content) {
        (Some(_), Some(_)) => return fail("parameters are mutually exclusive: src|content"),
        (None, None) => return fail("one of the following is required: src, content"),
        (None, Some(content)) => {
            if p.dest.ends_with('/') {
                return fail("can not use content with a dir as dest");
            }
            return put(ctx, &p.dest, None, content.as_bytes(), &opts).await;
        }
        (Some(src), None) => src,
    };
    let Some(local) = ctx.find_src(src) else {
        return fail(format!(
            "Could not find or access '{src}' on the controller"
        ));
    };
    if !local.is_dir() {
        let data = std::fs::read(&local)
            .or_else(|e| fail(format!("cannot read {}: {e}", local.display())))?;
        let (dest, inside) = target(&p.dest, basename(src));
        return put(ctx, &dest, inside, &data, &opts)
            .await
            .map(|o| o.with("src", json!(src)));
    }

    // a directory: `dir/` copies its contents, `dir` the directory itself
    let root = if src.ends_with('/') {
        p.dest.trim_end_matches('/').to_string()
    } else {
        format!("{}/{}", p.dest.trim_end_matches('/'), basename(src))
    };
    let (dirs, files) =
        walk(&local).or_else(|e| fail(format!("cannot read {}: {e}", local.display())))?;
    opts.mkdir = true;
    let mut changed = ensure_dirs(ctx, &root, &dirs, &p).await?;
    for rel in &files {
        let data = std::fs::read(local.join(rel))
            .or_else(|e| fail(format!("cannot read {}/{rel}: {e}", local.display())))?;
        let one = put(ctx, &format!("{root}/{rel}"), None, &data, &opts).await?;
        changed |= one.changed;
    }
    Ok(ModuleOutput::changed(changed)
        .with("dest", json!(p.dest))
        .with("src", json!(src)))
}

/// Creates the directories of a tree copy that are missing, with `directory_mode`.
async fn ensure_dirs(ctx: &ModuleCtx<'_>, root: &str, dirs: &[String], p: &Params) -> Result<bool> {
    let all: Vec<String> = std::iter::once(root.to_string())
        .chain(dirs.iter().map(|d| format!("{root}/{d}")))
        .collect();
    let list = all.iter().map(|d| quote(d)).collect::<Vec<_>>().join(" ");
    let missing = rf::run_script(
        ctx,
        &format!("cannot inspect {root}"),
        &format!("for d in {list}; do [ -d \"$d\" ] || printf '%s\\n' \"$d\"; done"),
    )
    .await?;
    if missing.is_empty() || ctx.check {
        return Ok(!missing.is_empty());
    }
    let mode = p
        .directory_mode
        .map(|m| format!("-m {m:04o} "))
        .unwrap_or_default();
    let mut script = format!("set -e\nmkdir -p {mode}-- {list}\n");
    let attrs = Attrs {
        owner: p.owner.clone(),
        group: p.group.clone(),
        mode: None,
    };
    for d in missing.lines() {
        script.push_str(&attrs.commands(&quote(d), false, false));
    }
    rf::run_script(ctx, &format!("cannot create {root}"), &script).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote_file::FileState;

    #[test]
    fn plans() {
        let file = FileState {
            kind: Kind::File,
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
            sha256: Some("aaa".into()),
            ..FileState::default()
        };
        let mode600 = Attrs {
            mode: Some(Mode::Octal(0o600)),
            ..Attrs::default()
        };
        let opts = |attrs: &Attrs, force| PutOpts {
            attrs: attrs.clone(),
            force,
            ..PutOpts::default()
        };
        let none = Attrs::default();
        let cases = [
            (
                "absent",
                "aaa",
                opts(&none, true),
                FileState::default(),
                Plan::Write,
            ),
            ("same", "aaa", opts(&none, true), file.clone(), Plan::Keep),
            (
                "differs",
                "bbb",
                opts(&none, true),
                file.clone(),
                Plan::Write,
            ),
            (
                "differs, no force",
                "bbb",
                opts(&none, false),
                file.clone(),
                Plan::Keep,
            ),
            (
                "mode drift",
                "aaa",
                opts(&mode600, true),
                file.clone(),
                Plan::Attrs(mode600.clone()),
            ),
            (
                "absent, no force",
                "aaa",
                opts(&none, false),
                FileState::default(),
                Plan::Write,
            ),
        ];
        for (name, sum, o, cur, want) in cases {
            assert_eq!(plan(sum, &o, &cur), want, "{name}");
        }
    }

    #[test]
    fn names_and_walk() {
        assert_eq!(basename("a/b/"), "b");
        assert_eq!(basename("b"), "b");
        let root = std::env::temp_dir().join(format!("mestral-walk-{}", std::process::id()));
        std::fs::create_dir_all(root.join("x/y")).unwrap();
        std::fs::write(root.join("x/y/f"), "").unwrap();
        std::fs::write(root.join("a"), "").unwrap();
        let got = walk(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            got,
            (
                vec!["x".into(), "x/y".into()],
                vec!["a".into(), "x/y/f".into()]
            )
        );
    }

    #[test]
    fn argument_errors() {
        let err = args::parse::<Params>("copy", &json!({"dst": "/x", "content": "a"})).unwrap_err();
        assert_eq!(
            err,
            "unknown parameter 'dst' for module 'copy'; did you mean 'dest'?"
        );
        let p: Params = args::parse("copy", &json!({"dest": "/x", "content": {"a": 1}})).unwrap();
        assert_eq!((p.content.as_deref(), p.force), (Some("{\"a\":1}"), true));
    }
}
