//! `fetch`: copies a file from the host to the controller, under `dest/<host>/<src path>` or,
//! with `flat`, to `dest` itself. The controller's copy is rewritten only when the bytes
//! differ, so a second run reports no change.

use std::path::PathBuf;

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool};
use super::remote_file::{self as rf, fail, Content, Kind, ReadOpts};
use super::{ModuleCtx, ModuleOutput};
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    src: String,
    dest: String,
    #[serde(default, deserialize_with = "loose_bool")]
    flat: bool,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    fail_on_missing: bool,
    /// Always on in effect: the bytes received are the bytes compared and written.
    #[serde(
        default = "yes",
        rename = "validate_checksum",
        deserialize_with = "loose_bool"
    )]
    _validate_checksum: bool,
}

fn yes() -> bool {
    true
}

/// Where the fetched file lands on the controller.
pub fn local_dest(dest: &str, host: &str, src: &str, flat: bool) -> PathBuf {
    if flat {
        if dest.ends_with('/') {
            let name = src.trim_end_matches('/').rsplit('/').next().unwrap_or(src);
            return PathBuf::from(dest).join(name);
        }
        return PathBuf::from(dest);
    }
    PathBuf::from(dest)
        .join(host)
        .join(src.trim_start_matches('/'))
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("fetch", args).or_else(fail)?;
    let read = ReadOpts {
        sha1: true,
        content: Content::Always,
        follow: true,
        ..ReadOpts::default()
    };
    let cur = rf::read(ctx, &p.src, &read).await?;
    let dest = local_dest(&p.dest, ctx.host, &p.src, p.flat);
    let dest_text = dest.to_string_lossy().into_owned();
    match cur.kind {
        Kind::Absent if p.fail_on_missing => {
            return fail(format!(
                "the remote file does not exist, not transferring, ignored: {}",
                p.src
            ))
        }
        Kind::Absent => {
            return Ok(ModuleOutput::ok()
                .with_msg("the remote file does not exist, not transferring, ignored")
                .with("file", json!(p.src)))
        }
        Kind::Dir => return fail("remote file is a directory, fetch cannot work on directories"),
        _ => {}
    }
    let data = cur.content.unwrap_or_default();
    let same = std::fs::read(&dest).is_ok_and(|have| have == data);
    let out = ModuleOutput::changed(!same)
        .with("dest", json!(dest_text))
        .with("remote_checksum", json!(cur.sha1))
        .with("checksum", json!(cur.sha1));
    if same || ctx.check {
        return Ok(out);
    }
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)
            .or_else(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    }
    // atomic on the controller too: a temp file beside dest, then a rename
    let tmp = dest.with_file_name(format!(
        ".{}.mestral-fetch",
        dest.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, &data)
        .and_then(|()| std::fs::rename(&tmp, &dest))
        .or_else(|e| fail(format!("cannot write {dest_text}: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let cases = [
            ("/b", "web1", "/etc/hosts", false, "/b/web1/etc/hosts"),
            ("/b/", "web1", "/etc/hosts", true, "/b/hosts"),
            ("/b/h.txt", "web1", "/etc/hosts", true, "/b/h.txt"),
            ("out", "db", "rel/f", false, "out/db/rel/f"),
        ];
        for (dest, host, src, flat, want) in cases {
            assert_eq!(
                local_dest(dest, host, src, flat),
                PathBuf::from(want),
                "{dest} {src}"
            );
        }
    }
}
