//! The `--diff` of an owner, group or mode change, as ansible-core shows it: the attributes
//! before and after as JSON (sorted keys, four-space indent), owner and group as numeric
//! ids. `file`, `copy` and `template` add the path and have plain `before`/`after` headers;
//! `lineinfile` and `blockinfile` name the file with "(file attributes)" in the headers.

use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Map};

use super::remote_file::{Attrs, FileState};
use super::{FileDiff, ModuleCtx};
use crate::connection::quote;
use crate::vars::Value;

/// How the diff is headed and whether it lists the path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// `file`, `copy`, `template`: `--- before`, with `"path"` in the JSON.
    Plain,
    /// `lineinfile`, `blockinfile`: `--- before: PATH (file attributes)`.
    Headed,
}

/// The diff for `changes` (from `attr_changes`) on `path`, whose state was `cur`. A wanted
/// owner or group given by name is looked up on the host for its id.
pub async fn attr_diff(
    ctx: &ModuleCtx<'_>,
    style: Style,
    path: &str,
    changes: &Attrs,
    cur: &FileState,
) -> Result<FileDiff> {
    let mut before = Map::new();
    let mut after = Map::new();
    if let Some(group) = &changes.group {
        before.insert("group".into(), json!(cur.gid));
        after.insert("group".into(), id_of(ctx, "group", group).await?);
    }
    if let Some(mode) = &changes.mode {
        // `attr_changes` gives the resolved octal mode
        let to = mode.resolve(cur.mode, false).unwrap_or(cur.mode);
        before.insert("mode".into(), json!(format!("0{:03o}", cur.mode & 0o7777)));
        after.insert("mode".into(), json!(format!("0{to:03o}")));
    }
    if let Some(owner) = &changes.owner {
        before.insert("owner".into(), json!(cur.uid));
        after.insert("owner".into(), id_of(ctx, "passwd", owner).await?);
    }
    Ok(render(style, path, before, after))
}

/// The diff text for maps of attributes, in sorted key order.
pub fn render(
    style: Style,
    path: &str,
    mut before: Map<String, Value>,
    mut after: Map<String, Value>,
) -> FileDiff {
    let header = match style {
        Style::Plain => {
            before.insert("path".into(), json!(path));
            after.insert("path".into(), json!(path));
            String::new()
        }
        Style::Headed => format!("{path} (file attributes)"),
    };
    FileDiff {
        path: header,
        before: pretty(&before),
        after: pretty(&after),
    }
}

/// Python's `json.dumps(v, sort_keys=True, indent=4)` plus a final newline.
fn pretty(map: &Map<String, Value>) -> String {
    let sorted: std::collections::BTreeMap<&String, &Value> = map.iter().collect();
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // a map of JSON values always serializes
    let _ = sorted.serialize(&mut ser);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    text.push('\n');
    text
}

/// The numeric id of a user (`passwd`) or group named `name` on the host; a number stays.
async fn id_of(ctx: &ModuleCtx<'_>, db: &str, name: &str) -> Result<Value> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(json!(id));
    }
    let out = ctx.exec(&format!("getent {db} {}", quote(name))).await?;
    let id = out
        .stdout_text()
        .split(':')
        .nth(2)
        .and_then(|i| i.trim().parse::<u32>().ok());
    Ok(id.map_or_else(|| json!(name), |i| json!(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_ansible() {
        let mut before = Map::new();
        let mut after = Map::new();
        before.insert("owner".into(), json!(0));
        after.insert("owner".into(), json!(65534));
        before.insert("mode".into(), json!("0600"));
        after.insert("mode".into(), json!("0644"));
        let plain = render(Style::Plain, "/t/f", before.clone(), after.clone());
        assert_eq!(
            plain,
            FileDiff {
                path: String::new(),
                before:
                    "{\n    \"mode\": \"0600\",\n    \"owner\": 0,\n    \"path\": \"/t/f\"\n}\n"
                        .into(),
                after:
                    "{\n    \"mode\": \"0644\",\n    \"owner\": 65534,\n    \"path\": \"/t/f\"\n}\n"
                        .into(),
            }
        );
        let headed = render(Style::Headed, "/t/l", before, after);
        assert_eq!(headed.path, "/t/l (file attributes)");
        assert_eq!(
            headed.before,
            "{\n    \"mode\": \"0600\",\n    \"owner\": 0\n}\n"
        );
    }
}
