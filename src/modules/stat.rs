//! `stat`: reports a path's state in Ansible's shape (`stat.exists`, `stat.mode`, `stat.isdir`,
//! `stat.checksum` as SHA-1, ...). Reads only; never changes the host.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool};
use super::remote_file::{self as rf, fail, FileState, Kind, ReadOpts};
use super::{ModuleCtx, ModuleOutput};
use crate::vars::Value;

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(alias = "dest", alias = "name")]
    path: String,
    #[serde(default, deserialize_with = "loose_bool")]
    follow: bool,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    get_checksum: bool,
    #[serde(default)]
    checksum_algorithm: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    get_mime: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    get_attributes: bool,
}

/// The `stat` dictionary Ansible returns for `path`.
pub fn describe(path: &str, st: &FileState) -> Value {
    if !st.exists() {
        return json!({"exists": false});
    }
    let m = st.mode;
    let mut v = json!({
        "exists": true,
        "path": path,
        "mode": st.mode_text(),
        "isdir": st.kind == Kind::Dir,
        "isreg": st.kind == Kind::File,
        "islnk": st.kind == Kind::Link,
        "uid": st.uid,
        "gid": st.gid,
        "pw_name": st.owner,
        "gr_name": st.group,
        "size": st.size,
        "mtime": st.mtime as f64,
        "atime": st.atime as f64,
        "ctime": st.ctime as f64,
        "inode": st.inode.split(':').nth(1).and_then(|i| i.parse::<u64>().ok()),
        "dev": st.inode.split(':').next().and_then(|d| d.parse::<u64>().ok()),
        "nlink": st.nlink,
        "isuid": m & 0o4000 != 0,
        "isgid": m & 0o2000 != 0,
        "rusr": m & 0o400 != 0,
        "wusr": m & 0o200 != 0,
        "xusr": m & 0o100 != 0,
        "rgrp": m & 0o040 != 0,
        "wgrp": m & 0o020 != 0,
        "xgrp": m & 0o010 != 0,
        "roth": m & 0o004 != 0,
        "woth": m & 0o002 != 0,
        "xoth": m & 0o001 != 0,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(target) = &st.link_target {
            obj.insert("lnk_target".into(), json!(target));
            obj.insert("lnk_source".into(), json!(target));
        }
        if let Some(sum) = &st.sha1 {
            obj.insert("checksum".into(), json!(sum));
        }
    }
    v
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("stat", args).or_else(fail)?;
    if let Some(algo) = p.checksum_algorithm.as_deref().filter(|a| *a != "sha1") {
        return fail(format!(
            "checksum_algorithm '{algo}' is not supported; use sha1"
        ));
    }
    // mime type and file attributes are not reported; asking for them is accepted
    let _ = (p.get_mime, p.get_attributes);
    let opts = ReadOpts {
        sha1: p.get_checksum,
        follow: p.follow,
        ..ReadOpts::default()
    };
    let st = rf::read(ctx, &p.path, &opts).await?;
    Ok(ModuleOutput::ok().with("stat", describe(&p.path, &st)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes() {
        assert_eq!(
            describe("/x", &FileState::default()),
            json!({"exists": false})
        );
        let st = FileState {
            kind: Kind::File,
            mode: 0o4750,
            owner: "root".into(),
            group: "adm".into(),
            uid: 0,
            gid: 4,
            size: 3,
            mtime: 10,
            atime: 11,
            ctime: 12,
            inode: "2049:77".into(),
            nlink: 1,
            sha1: Some("abc".into()),
            ..FileState::default()
        };
        assert_eq!(
            describe("/x", &st),
            json!({
                "exists": true, "path": "/x", "mode": "4750", "isdir": false, "isreg": true,
                "islnk": false, "uid": 0, "gid": 4, "pw_name": "root", "gr_name": "adm",
                "size": 3, "mtime": 10.0, "atime": 11.0, "ctime": 12.0, "inode": 77,
                "dev": 2049, "nlink": 1, "isuid": true, "isgid": false, "rusr": true,
                "wusr": true, "xusr": true, "rgrp": true, "wgrp": false, "xgrp": true,
                "roth": false, "woth": false, "xoth": false, "checksum": "abc"
            })
        );
    }
}
