//! `blockinfile`: keeps one block of lines between two marker lines in a text file. The edit
//! is a pure function with Ansible's rules (an existing block is replaced where it stands,
//! a new one goes after/before the last line matching `insertafter`/`insertbefore`, at the
//! end by default), and the file is written back atomically.

use anyhow::Result;
use regex::Regex;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    path: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default = "default_marker")]
    marker: String,
    #[serde(default, alias = "content", deserialize_with = "text_opt")]
    block: Option<String>,
    #[serde(default)]
    insertafter: Option<String>,
    #[serde(default)]
    insertbefore: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    create: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    backup: bool,
    #[serde(default)]
    validate: Option<String>,
    #[serde(default = "begin", deserialize_with = "text_req")]
    marker_begin: String,
    #[serde(default = "end", deserialize_with = "text_req")]
    marker_end: String,
    #[serde(default, deserialize_with = "loose_bool")]
    append_newline: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    prepend_newline: bool,
    #[serde(default, deserialize_with = "text_opt")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    group: Option<String>,
    #[serde(default, deserialize_with = "mode_any")]
    mode: Option<Mode>,
}

fn default_marker() -> String {
    "# {mark} ANSIBLE MANAGED BLOCK".into()
}

fn begin() -> String {
    "BEGIN".into()
}

fn end() -> String {
    "END".into()
}

fn text_req<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(text_opt(d)?.unwrap_or_default())
}

/// The edit a task asks for, independent of any host.
#[derive(Clone, Debug, Default)]
pub struct BlockRules {
    pub marker_begin_line: String,
    pub marker_end_line: String,
    pub block: String,
    pub present: bool,
    pub insertafter: Option<String>,
    pub insertbefore: Option<String>,
    pub append_newline: bool,
    pub prepend_newline: bool,
}

/// Applies `r` to the file's text (None when the file does not exist yet); returns the new
/// text and Ansible's message (empty when nothing changes).
pub fn edit_block(original: Option<&str>, r: &BlockRules) -> Result<(String, String), String> {
    let mut lines: Vec<String> = original
        .unwrap_or("")
        .split_inclusive('\n')
        .map(str::to_string)
        .collect();
    let marker0 = format!("{}\n", r.marker_begin_line);
    let marker1 = format!("{}\n", r.marker_end_line);
    let blocklines: Vec<String> = if r.present && !r.block.is_empty() {
        let mut block = r.block.clone();
        if !block.ends_with('\n') {
            block.push('\n');
        }
        std::iter::once(marker0.clone())
            .chain(block.split_inclusive('\n').map(str::to_string))
            .chain(std::iter::once(marker1.clone()))
            .collect()
    } else {
        Vec::new()
    };
    let after = match (&r.insertafter, &r.insertbefore) {
        (None, None) => Some("EOF".to_string()),
        (a, _) => a.clone(),
    };
    let pattern = match (&after, &r.insertbefore) {
        (Some(a), _) if a != "EOF" => Some(a.as_str()),
        (None, Some(b)) if b != "BOF" => Some(b.as_str()),
        _ => None,
    };
    let insert_re = pattern
        .map(|p| Regex::new(p).map_err(|e| format!("'{p}' is not a valid regular expression: {e}")))
        .transpose()?;

    let n0_found = lines.iter().rposition(|l| *l == marker0);
    let n1_found = lines.iter().rposition(|l| *l == marker1);
    let mut n0 = match (n0_found, n1_found) {
        (Some(a), Some(b)) => {
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            lines.drain(lo..=hi);
            lo
        }
        _ => match &insert_re {
            Some(re) => {
                let hit = if pattern.is_some_and(|p| p.contains("(?m")) {
                    let text = original.unwrap_or("");
                    re.find(text).map(|m| {
                        let at = if after.is_some() { m.end() } else { m.start() };
                        text[..at].matches('\n').count()
                    })
                } else {
                    lines.iter().rposition(|l| re.is_match(l)).map(|i| {
                        if after.is_some() {
                            i + 1
                        } else {
                            i
                        }
                    })
                };
                hit.unwrap_or(lines.len())
            }
            None if after.is_none() => 0,
            None => lines.len(),
        },
    };
    if n0 > 0 && !lines[n0 - 1].ends_with('\n') {
        lines[n0 - 1].push('\n');
    }
    if r.prepend_newline && r.present && n0 != 0 && lines[n0 - 1] != "\n" {
        lines.insert(n0, "\n".into());
        n0 += 1;
    }
    let after_block = n0 + blocklines.len();
    let count = blocklines.len();
    lines.splice(n0..n0, blocklines);
    if r.append_newline && r.present && after_block < lines.len() && lines[after_block] != "\n" {
        lines.insert(after_block, "\n".into());
    }
    let result = lines.concat();
    let msg = match original {
        Some(o) if o == result => "",
        None => "File created",
        Some(_) if count == 0 => "Block removed",
        Some(_) => "Block inserted",
    };
    Ok((result, msg.to_string()))
}

fn rules_of(p: &Params) -> Result<BlockRules, String> {
    let present = match p.state.as_deref().unwrap_or("present") {
        "present" => true,
        "absent" => false,
        other => {
            return Err(format!(
                "state must be 'present' or 'absent', not '{other}'"
            ))
        }
    };
    if p.insertafter.is_some() && p.insertbefore.is_some() {
        return Err("parameters are mutually exclusive: insertbefore|insertafter".into());
    }
    Ok(BlockRules {
        marker_begin_line: p.marker.replace("{mark}", &p.marker_begin),
        marker_end_line: p.marker.replace("{mark}", &p.marker_end),
        block: p.block.clone().unwrap_or_default(),
        present,
        insertafter: p.insertafter.clone(),
        insertbefore: p.insertbefore.clone(),
        append_newline: p.append_newline,
        prepend_newline: p.prepend_newline,
    })
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("blockinfile", args).or_else(fail)?;
    let rules = rules_of(&p).or_else(fail)?;
    let path = p.path.as_str();
    let want = Attrs {
        owner: p.owner.clone(),
        group: p.group.clone(),
        mode: p.mode.clone(),
    };

    // One command reads the file and, when it is missing and may be created, already writes
    // the new file; an existing file comes back whole and is edited here.
    let blind = match edit_block(None, &rules) {
        Ok((text, _)) if p.create && rules.present && !ctx.check => Some(text),
        _ => None,
    };
    let spec = WriteSpec {
        dest: path,
        attrs: &want,
        validate: p.validate.as_deref(),
        backup: false,
        mkdir: true,
    };
    let shot = OneShot {
        path,
        inside: None,
        follow: false,
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
    let acted = rf::act(ctx, &shot, blind.as_deref().unwrap_or_default().as_bytes()).await?;
    let cur = acted.state;
    if cur.kind == Kind::Dir {
        return fail(format!("Path {path} is a directory !"));
    }
    // as in Ansible, a missing file fails without `create`, even for state=absent
    if !cur.exists() {
        if !p.create {
            return fail(format!("Path {path} does not exist !"));
        }
        if !rules.present {
            return Ok(ModuleOutput::ok().with_msg(format!("File {path} not present")));
        }
    }
    let before = match String::from_utf8(cur.content.clone().unwrap_or_default()) {
        Ok(text) => text,
        Err(_) => return fail(format!("{path} is not UTF-8 text")),
    };
    let original = cur.exists().then_some(before.as_str());
    let (after, mut msg) = edit_block(original, &rules).or_else(fail)?;
    let content_changed = !msg.is_empty();
    let attrs = if cur.exists() {
        rf::attr_changes(&want, &cur)
    } else {
        want.clone()
    };
    if !attrs.is_empty() && cur.exists() {
        if !msg.is_empty() {
            msg.push_str(" and ");
        }
        msg.push_str("ownership, perms or SE linux context changed");
    }
    let mut out = ModuleOutput::changed(content_changed || !attrs.is_empty()).with_msg(msg);
    if ctx.diff && content_changed {
        out.diffs.push(FileDiff {
            path: path.to_string(),
            before: before.clone(),
            after: after.clone(),
        });
    }
    if ctx.diff && cur.exists() && !attrs.is_empty() {
        let diff = super::attr_diff::attr_diff(ctx, Headed, path, &attrs, &cur).await?;
        out.diffs.push(diff);
    }
    // acted: the file was missing, the case the blind write was made for
    if ctx.check || !out.changed || acted.acted {
        return Ok(out);
    }
    if content_changed {
        let spec = WriteSpec {
            backup: p.backup && cur.exists(),
            mkdir: !cur.exists(),
            ..spec
        };
        if let Some(b) = rf::write(ctx, &spec, after.as_bytes()).await? {
            out = out.with("backup_file", json!(b));
        }
    } else {
        let target = crate::connection::quote(path);
        let script = attrs.commands(&target, false, false);
        rf::run_script(ctx, &format!("cannot set attributes of {path}"), &script).await?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(block: &str) -> BlockRules {
        BlockRules {
            marker_begin_line: "# BEGIN M".into(),
            marker_end_line: "# END M".into(),
            block: block.into(),
            present: true,
            ..BlockRules::default()
        }
    }

    #[test]
    fn edits() {
        let absent = BlockRules {
            present: false,
            ..rules("x")
        };
        let after = |p: &str| BlockRules {
            insertafter: Some(p.into()),
            ..rules("x")
        };
        let before = |p: &str| BlockRules {
            insertbefore: Some(p.into()),
            ..rules("x")
        };
        let cases: Vec<(&str, Option<&str>, BlockRules, &str, &str)> = vec![
            (
                "new file",
                None,
                rules("a\nb"),
                "# BEGIN M\na\nb\n# END M\n",
                "File created",
            ),
            (
                "append",
                Some("k"),
                rules("x"),
                "k\n# BEGIN M\nx\n# END M\n",
                "Block inserted",
            ),
            (
                "replace in place",
                Some("1\n# BEGIN M\nold\n# END M\n2\n"),
                rules("new"),
                "1\n# BEGIN M\nnew\n# END M\n2\n",
                "Block inserted",
            ),
            (
                "same block",
                Some("# BEGIN M\nx\n# END M\n"),
                rules("x\n"),
                "# BEGIN M\nx\n# END M\n",
                "",
            ),
            (
                "remove",
                Some("1\n# BEGIN M\nx\n# END M\n2\n"),
                absent,
                "1\n2\n",
                "Block removed",
            ),
            (
                "after last match",
                Some("a\nb\na\nc\n"),
                after("^a"),
                "a\nb\na\n# BEGIN M\nx\n# END M\nc\n",
                "Block inserted",
            ),
            (
                "before match",
                Some("a\nb\n"),
                before("^b"),
                "a\n# BEGIN M\nx\n# END M\nb\n",
                "Block inserted",
            ),
            (
                "BOF",
                Some("a\n"),
                before("BOF"),
                "# BEGIN M\nx\n# END M\na\n",
                "Block inserted",
            ),
            (
                "no match goes to end",
                Some("a"),
                after("^z"),
                "a\n# BEGIN M\nx\n# END M\n",
                "Block inserted",
            ),
        ];
        for (name, original, r, want, msg) in cases {
            let got = edit_block(original, &r).unwrap();
            assert_eq!(got, (want.to_string(), msg.to_string()), "{name}");
        }
    }
}
