//! `authorized_key`: adds or removes SSH public keys in a user's `authorized_keys`. A key is
//! known by its type and blob, never its comment; other lines are kept in place. The file is
//! 0600 and the `.ssh` folder 0700, both owned by the user.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool};
use super::remote_file::{self as rf, fail, Attrs, Content, ReadOpts, WriteSpec};
use super::{FileDiff, ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    user: String,
    key: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    manage_dir: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    exclusive: bool,
    #[serde(default)]
    key_options: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    validate_certs: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    follow: bool,
}

/// One public key line: `[options] type blob [comment]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub options: Option<String>,
    pub kind: String,
    pub blob: String,
    pub comment: Option<String>,
}

fn is_key_type(word: &str) -> bool {
    ["ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-"]
        .iter()
        .any(|p| word.starts_with(p))
}

/// Splits off the first whitespace-delimited word, honouring double quotes (options may
/// hold `command="a b"`).
fn first_word(line: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&line[..i], line[i..].trim_start()),
            _ => {}
        }
    }
    (line, "")
}

impl Key {
    /// Parses a key line; None for blank lines, comments and anything else.
    pub fn parse(line: &str) -> Option<Key> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (first, rest) = first_word(line);
        let (options, rest) = if is_key_type(first) {
            (None, line)
        } else {
            (Some(first.to_string()), rest)
        };
        let mut parts = rest.splitn(3, char::is_whitespace);
        let kind = parts.next().filter(|k| is_key_type(k))?.to_string();
        let blob = parts.next().filter(|b| !b.is_empty())?.to_string();
        let comment = parts
            .next()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        Some(Key {
            options,
            kind,
            blob,
            comment,
        })
    }

    fn same_key(&self, other: &Key) -> bool {
        self.kind == other.kind && self.blob == other.blob
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(o) = &self.options {
            s.push_str(o);
            s.push(' ');
        }
        s.push_str(&self.kind);
        s.push(' ');
        s.push_str(&self.blob);
        if let Some(c) = &self.comment {
            s.push(' ');
            s.push_str(c);
        }
        s
    }
}

/// The keys a task names, with `key_options` and `comment` applied.
pub fn wanted_keys(
    text: &str,
    options: Option<&str>,
    comment: Option<&str>,
) -> Result<Vec<Key>, String> {
    let mut keys = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut key = Key::parse(line).ok_or_else(|| format!("invalid key specified: {line}"))?;
        if let Some(o) = options {
            key.options = Some(o.to_string()).filter(|o| !o.is_empty());
        }
        if let Some(c) = comment {
            key.comment = Some(c.to_string()).filter(|c| !c.is_empty());
        }
        keys.push(key);
    }
    Ok(keys)
}

/// The new file text: wanted keys replaced in place or appended (present), or removed
/// (absent); with `exclusive`, every other key line goes.
pub fn update(content: &str, wanted: &[Key], present: bool, exclusive: bool) -> String {
    let mut out = Vec::new();
    let mut placed = vec![false; wanted.len()];
    for line in content.lines() {
        let Some(key) = Key::parse(line) else {
            out.push(line.to_string());
            continue;
        };
        match wanted.iter().position(|w| w.same_key(&key)) {
            Some(_) if !present => {}
            Some(i) if placed[i] => {}
            Some(i) => {
                placed[i] = true;
                out.push(wanted[i].render());
            }
            None if exclusive => {}
            None => out.push(line.to_string()),
        }
    }
    if present {
        for (key, done) in wanted.iter().zip(&placed) {
            if !done {
                out.push(key.render());
            }
        }
    }
    out.into_iter().map(|l| l + "\n").collect()
}

/// The probe: the user's home and ids, the key folder's state, then the key file's. The
/// passwd fields and the folder come from shell builtins (no `cut`, no `dirname`): every
/// program started on the host costs a millisecond or two. With `blind`, a missing key file
/// is written in the same command (stdin, with the folder fixed first): its new text does not
/// depend on the host.
fn probe_script(user: &str, path: Option<&str>, blind: bool) -> String {
    let word = match path {
        None => "\"$h/.ssh/authorized_keys\"".to_string(),
        Some(p) => match p.strip_prefix("~/") {
            Some(rest) => format!("\"$h\"/{}", quote(rest)),
            None => quote(p),
        },
    };
    let read = ReadOpts {
        content: Content::Always,
        follow: true,
        ..ReadOpts::default()
    };
    let mut s = format!(
        "e=$(getent passwd {u}) || {{ printf 'user %s does not exist\\n' {u} >&2; exit 1; }}\n\
         IFS=: read -r _ _ uid gid _ h _ <<MESTRAL_PASSWD\n$e\nMESTRAL_PASSWD\n\
         printf 'home|%s|%s\\n' \"$uid\" \"$gid\"\n\
         k={word}\nprintf 'path|%s\\n' \"$k\"\n\
         case $k in */*) dd=${{k%/*}}; dd=${{dd:-/}};; *) dd=.;; esac\n\
         ds=absent; if [ -d \"$dd\" ]; then ds=$(stat -c '%a|%u|%g' -- \"$dd\") || ds=absent; fi\n\
         printf 'dir|%s\\n' \"$ds\"\n\
         echo {mark}\n{read}",
        u = quote(user),
        mark = rf::STATE_MARK,
        read = rf::read_script_at("\"$k\"", &read),
    );
    if blind {
        // Only reached when the read did not end in `exec cat`: the file is not a regular one.
        s.push_str(
            "if ! [ -L \"$k\" ] && ! [ -e \"$k\" ]; then\n\
             printf 'cannot write %s: ' \"$k\" >&2\nset -e\n\
             if [ \"$ds\" != \"700|$uid|$gid\" ]; then \
             install -d -m 0700 -o \"$uid\" -g \"$gid\" -- \"$dd\"; fi\nd=\"$k\"\n",
        );
        s.push_str(&rf::temp_folder(false));
        s.push_str(&rf::install_temp(0o600, Some(("\"$uid\"", "\"$gid\""))));
        s.push_str(rf::WRITE_COMMIT);
        s.push_str("fi\n");
    }
    s
}

/// What the probe said besides the file state.
#[derive(Debug, Default, PartialEq)]
struct Probe {
    uid: String,
    gid: String,
    path: String,
    /// mode, uid, gid of the folder, None when missing.
    dir: Option<(u32, u32, u32)>,
}

fn parse_probe(lines: &[String]) -> Option<Probe> {
    let mut p = Probe::default();
    for line in lines {
        let f: Vec<&str> = line.split('|').collect();
        match f.as_slice() {
            ["home", uid, gid] => (p.uid, p.gid) = (uid.to_string(), gid.to_string()),
            ["path", path] => p.path = path.to_string(),
            ["dir", "absent"] => p.dir = None,
            ["dir", mode, uid, gid] => {
                p.dir = Some((
                    u32::from_str_radix(mode, 8).ok()?,
                    uid.parse().ok()?,
                    gid.parse().ok()?,
                ))
            }
            _ => return None,
        }
    }
    (!p.path.is_empty()).then_some(p)
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("authorized_key", args).or_else(fail)?;
    let present = match p.state.as_deref().unwrap_or("present") {
        "present" => true,
        "absent" => false,
        other => {
            return fail(format!(
                "state must be 'present' or 'absent', not '{other}'"
            ))
        }
    };
    let _ = (p.validate_certs, p.follow);
    if p.key.starts_with("http://") || p.key.starts_with("https://") {
        return fail("keys from a URL are not supported; give the key text");
    }
    let wanted =
        wanted_keys(&p.key, p.key_options.as_deref(), p.comment.as_deref()).or_else(fail)?;
    // A missing file's new text is known before the probe: it goes with it, written when the
    // host finds no file there (the folder fixed first, as below).
    let blind = present && p.manage_dir && !ctx.check;
    let new_text = update("", &wanted, present, p.exclusive);
    let script = probe_script(&p.user, p.path.as_deref(), blind);
    let out = if blind {
        ctx.exec_stdin(&script, new_text.as_bytes()).await?
    } else {
        ctx.exec(&script).await?
    };
    if out.rc != 0 {
        return fail(out.stderr_text().trim_end().to_string());
    }
    let (lines, cur) = rf::split_probe(&out.stdout)?;
    let Some(probe) = parse_probe(&lines) else {
        return fail(format!("unexpected probe output: {lines:?}"));
    };
    let path = probe.path.clone();
    let before = String::from_utf8_lossy(cur.content.as_deref().unwrap_or_default()).into_owned();
    let after = update(&before, &wanted, present, p.exclusive);
    let content_changed = after != before && (cur.exists() || present);

    // ownership and modes of the folder and the file
    let file_attrs = Attrs {
        owner: Some(probe.uid.clone()),
        group: Some(probe.gid.clone()),
        mode: Some(super::mode::Mode::Octal(0o600)),
    };
    let dir_wrong = p.manage_dir
        && present
        && probe.dir.is_none_or(|(m, u, g)| {
            (m, u.to_string(), g.to_string()) != (0o700, probe.uid.clone(), probe.gid.clone())
        });
    let attrs = if cur.exists() && present {
        rf::attr_changes(&file_attrs, &cur)
    } else {
        Attrs::default()
    };
    let changed = content_changed || dir_wrong || !attrs.is_empty();

    let mut out = ModuleOutput::changed(changed)
        .with("user", json!(p.user))
        .with("key", json!(p.key))
        .with("key_options", json!(p.key_options))
        .with("keyfile", json!(path))
        .with("manage_dir", json!(p.manage_dir))
        .with("exclusive", json!(p.exclusive))
        .with("state", json!(if present { "present" } else { "absent" }))
        .with("comment", json!(p.comment));
    if ctx.diff && content_changed {
        out.diffs.push(FileDiff {
            path: path.clone(),
            before: before.clone(),
            after: after.clone(),
        });
    }
    // written by the probe itself: the file was missing
    if ctx.check || !changed || (blind && !cur.exists()) {
        return Ok(out);
    }

    // the folder's fix and the file's change go out as one command
    let dir = rf::parent(&path);
    let prepare = if dir_wrong {
        // `install -d`: mkdir -p, chown and chmod of the folder in one program
        format!(
            "install -d -m 0700 -o {u} -g {g} -- {d}\n",
            d = quote(dir),
            u = quote(&probe.uid),
            g = quote(&probe.gid)
        )
    } else {
        String::new()
    };
    if content_changed {
        let spec = WriteSpec {
            dest: &path,
            attrs: &file_attrs,
            validate: None,
            backup: false,
            mkdir: false,
        };
        rf::write_after(ctx, &prepare, &spec, after.as_bytes()).await?;
    } else {
        let script = format!(
            "set -e\n{prepare}{}",
            attrs.commands(&quote(&path), false, false)
        );
        rf::run_script(ctx, &format!("cannot set attributes of {path}"), &script).await?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "ssh-ed25519 AAAAC3NzaA alice@x";
    const B: &str = "ssh-rsa AAAAB3NzaB bob@y";

    #[test]
    fn parses_keys() {
        let cases = [
            (
                A,
                Some(Key {
                    options: None,
                    kind: "ssh-ed25519".into(),
                    blob: "AAAAC3NzaA".into(),
                    comment: Some("alice@x".into()),
                }),
            ),
            (
                r#"from="10.0.0.1",command="echo a b" ssh-rsa AAAAB3 c d"#,
                Some(Key {
                    options: Some(r#"from="10.0.0.1",command="echo a b""#.into()),
                    kind: "ssh-rsa".into(),
                    blob: "AAAAB3".into(),
                    comment: Some("c d".into()),
                }),
            ),
            (
                "ecdsa-sha2-nistp256 AAAAE2",
                Some(Key {
                    options: None,
                    kind: "ecdsa-sha2-nistp256".into(),
                    blob: "AAAAE2".into(),
                    comment: None,
                }),
            ),
            ("# ssh-rsa AAAA", None),
            ("garbage", None),
            ("ssh-rsa", None),
        ];
        for (line, want) in cases {
            assert_eq!(Key::parse(line), want, "{line}");
        }
    }

    #[test]
    fn updates() {
        let a = wanted_keys(A, None, None).unwrap();
        let a_opts = wanted_keys(A, Some("no-pty"), Some("new")).unwrap();
        // name, file, wanted keys, present, exclusive, new file
        type Case<'a> = (&'a str, &'a str, &'a [Key], bool, bool, &'a str);
        let cases: Vec<Case> = vec![
            (
                "append to empty",
                "",
                &a,
                true,
                false,
                "ssh-ed25519 AAAAC3NzaA alice@x\n",
            ),
            (
                "already there, other comment",
                "ssh-ed25519 AAAAC3NzaA old\n",
                &a,
                true,
                false,
                "ssh-ed25519 AAAAC3NzaA alice@x\n",
            ),
            (
                "append after others",
                "# c\nssh-rsa AAAAB3NzaB bob@y\n",
                &a,
                true,
                false,
                "# c\nssh-rsa AAAAB3NzaB bob@y\nssh-ed25519 AAAAC3NzaA alice@x\n",
            ),
            (
                "options replace in place",
                "ssh-rsa AAAAB3NzaB bob@y\nssh-ed25519 AAAAC3NzaA alice@x\n",
                &a_opts,
                true,
                false,
                "ssh-rsa AAAAB3NzaB bob@y\nno-pty ssh-ed25519 AAAAC3NzaA new\n",
            ),
            (
                "duplicates collapse",
                "ssh-ed25519 AAAAC3NzaA alice@x\nssh-ed25519 AAAAC3NzaA alice@x\n",
                &a,
                true,
                false,
                "ssh-ed25519 AAAAC3NzaA alice@x\n",
            ),
            (
                "exclusive drops others",
                "# c\nssh-rsa AAAAB3NzaB bob@y\n",
                &a,
                true,
                true,
                "# c\nssh-ed25519 AAAAC3NzaA alice@x\n",
            ),
            (
                "absent removes by blob",
                "ssh-rsa AAAAB3NzaB bob@y\nssh-ed25519 AAAAC3NzaA other\n",
                &a,
                false,
                false,
                "ssh-rsa AAAAB3NzaB bob@y\n",
            ),
            (
                "absent when missing",
                "ssh-rsa AAAAB3NzaB bob@y\n",
                &a,
                false,
                false,
                "ssh-rsa AAAAB3NzaB bob@y\n",
            ),
            (
                "no trailing newline",
                "ssh-rsa AAAAB3NzaB bob@y",
                &a,
                true,
                false,
                "ssh-rsa AAAAB3NzaB bob@y\nssh-ed25519 AAAAC3NzaA alice@x\n",
            ),
        ];
        for (name, content, wanted, present, exclusive, want) in cases {
            assert_eq!(update(content, wanted, present, exclusive), want, "{name}");
        }
        let two = wanted_keys(&format!("{A}\n\n{B}\n"), None, None).unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(
            wanted_keys("nope", None, None).unwrap_err(),
            "invalid key specified: nope"
        );
    }

    #[test]
    fn probe_lines() {
        let lines: Vec<String> = [
            "home|1000|1001",
            "path|/home/a/.ssh/authorized_keys",
            "dir|700|1000|1001",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            parse_probe(&lines),
            Some(Probe {
                uid: "1000".into(),
                gid: "1001".into(),
                path: "/home/a/.ssh/authorized_keys".into(),
                dir: Some((0o700, 1000, 1001)),
            })
        );
        assert_eq!(
            probe_script("bob", Some("~/k"), false).lines().nth(5),
            Some("k=\"$h\"/k")
        );
        assert_eq!(
            probe_script("bob", Some("/x y"), false).lines().nth(5),
            Some("k='/x y'")
        );
    }
}
