//! `openssh_keypair` (community.crypto): an SSH key pair generated on the host with
//! `ssh-keygen`. Idempotent: a readable private key of the wanted type and size whose public
//! half matches `PATH.pub` is kept; a missing `.pub` is restored, a new comment applied.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, mode_opt, text_opt};
use super::remote_file::{self as rf, attr_changes, fail, Attrs, ReadOpts};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    path: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    size: Option<u32>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    force: bool,
    #[serde(default, deserialize_with = "text_opt")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    group: Option<String>,
    #[serde(default, deserialize_with = "mode_opt")]
    mode: Option<u32>,
}

/// The key pair as found on the host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pair {
    pub private: bool,
    /// `type blob` derived from the private key (None if it cannot be read).
    pub derived: Option<String>,
    /// `type blob` from `PATH.pub`, if that exists.
    pub public: Option<String>,
    pub bits: Option<u32>,
    /// Lower-case type from the fingerprint line (`rsa`, `ed25519`, ...).
    pub kind: Option<String>,
    pub fingerprint: Option<String>,
    pub comment: Option<String>,
}

/// What must be done to the pair.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    None,
    Generate,
    RestorePublic,
    Recomment,
    Remove,
}

/// The wanted pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Want {
    pub present: bool,
    pub kind: String,
    pub bits: Option<u32>,
    pub comment: Option<String>,
    pub force: bool,
}

/// `type blob` of a public key line.
fn type_blob(line: &str) -> Option<String> {
    let mut parts = line.split_whitespace();
    Some(format!("{} {}", parts.next()?, parts.next()?))
}

/// Parses `ssh-keygen -l` output: `4096 SHA256:xx comment words (RSA)`.
pub fn parse_fingerprint(line: &str, pair: &mut Pair) {
    let line = line.trim();
    let (head, kind) = match line.rsplit_once(" (") {
        Some((h, k)) => (h, k.trim_end_matches(')')),
        None => (line, ""),
    };
    let mut parts = head.splitn(3, ' ');
    pair.bits = parts.next().and_then(|b| b.parse().ok());
    pair.fingerprint = parts.next().map(str::to_string);
    pair.comment = parts
        .next()
        .filter(|c| *c != "no comment")
        .map(str::to_string);
    pair.kind = Some(kind.to_ascii_lowercase()).filter(|k| !k.is_empty());
}

/// The default size for a key type, as community.crypto uses.
fn default_bits(kind: &str) -> Option<u32> {
    match kind {
        "rsa" => Some(4096),
        "ecdsa" => Some(256),
        "dsa" => Some(1024),
        _ => None,
    }
}

/// Decides what to do with `cur` for `want`.
pub fn decide(want: &Want, cur: &Pair) -> Result<Action, String> {
    if !want.present {
        let any = cur.private || cur.public.is_some();
        return Ok(if any { Action::Remove } else { Action::None });
    }
    if want.force || !cur.private {
        return Ok(Action::Generate);
    }
    let Some(derived) = &cur.derived else {
        return Err(
            "Unable to read the key. The key is protected with a passphrase or broken".into(),
        );
    };
    let bits = want.bits.or_else(|| default_bits(&want.kind));
    if cur.kind.as_deref() != Some(want.kind.as_str())
        || (want.kind != "ed25519" && bits.is_some() && cur.bits != bits)
    {
        return Ok(Action::Generate);
    }
    if cur.public.as_ref() != Some(derived) {
        return Ok(Action::RestorePublic);
    }
    if want.comment.is_some() && want.comment != cur.comment {
        return Ok(Action::Recomment);
    }
    Ok(Action::None)
}

fn probe_script(path: &str) -> String {
    format!(
        "p={p}\n\
         if [ -e \"$p\" ]; then echo 'private|1'\n\
           d=$(ssh-keygen -y -f \"$p\" 2>/dev/null) && printf 'derived|%s\\n' \"$d\"\n\
           f=\"$p\"; [ -e \"$p.pub\" ] && f=\"$p.pub\"\n\
           l=$(ssh-keygen -l -f \"$f\" 2>/dev/null) && printf 'fp|%s\\n' \"$l\"\n\
         fi\n\
         if [ -e \"$p.pub\" ]; then printf 'public|%s\\n' \"$(head -n 1 -- \"$p.pub\")\"; fi\n\
         echo {mark}\n{read}",
        p = quote(path),
        mark = rf::STATE_MARK,
        read = rf::read_script_at("\"$p\"", &ReadOpts::default()),
    )
}

fn parse_probe(lines: &[String]) -> Pair {
    let mut pair = Pair::default();
    for line in lines {
        match line.split_once('|') {
            Some(("private", _)) => pair.private = true,
            Some(("derived", v)) => pair.derived = type_blob(v),
            Some(("public", v)) => pair.public = type_blob(v),
            Some(("fp", v)) => parse_fingerprint(v, &mut pair),
            _ => {}
        }
    }
    pair
}

fn action_script(action: &Action, path: &str, want: &Want) -> String {
    let p = quote(path);
    match action {
        Action::None => String::new(),
        Action::Remove => format!("rm -f -- {p} {p}.pub\n"),
        Action::Generate => {
            let mut cmd = format!("ssh-keygen -q -N '' -t {}", quote(&want.kind));
            if let Some(b) = want.bits.or_else(|| default_bits(&want.kind)) {
                cmd.push_str(&format!(" -b {b}"));
            }
            if let Some(c) = &want.comment {
                cmd.push_str(&format!(" -C {}", quote(c)));
            }
            format!(
                "d=$(dirname -- {p}); [ -d \"$d\" ] || mkdir -p -m 0700 -- \"$d\"\n\
                 rm -f -- {p} {p}.pub\n{cmd} -f {p} </dev/null >/dev/null\n"
            )
        }
        Action::RestorePublic => format!("ssh-keygen -y -f {p} > {p}.pub\n"),
        Action::Recomment => {
            let c = quote(want.comment.as_deref().unwrap_or_default());
            format!(
                "ssh-keygen -q -c -C {c} -f {p} >/dev/null\n\
                 printf '%s %s\\n' \"$(ssh-keygen -y -f {p} | cut -d' ' -f1,2)\" {c} > {p}.pub\n"
            )
        }
    }
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("openssh_keypair", args).or_else(fail)?;
    let kind = p.kind.clone().unwrap_or_else(|| "rsa".into());
    if !["rsa", "dsa", "ecdsa", "ed25519"].contains(&kind.as_str()) {
        return fail(format!(
            "type must be one of rsa, dsa, ecdsa, ed25519, got: {kind}"
        ));
    }
    let want = Want {
        present: match p.state.as_deref().unwrap_or("present") {
            "present" => true,
            "absent" => false,
            other => {
                return fail(format!(
                    "state must be 'present' or 'absent', not '{other}'"
                ))
            }
        },
        kind,
        bits: p.size,
        comment: p.comment.clone(),
        force: p.force,
    };
    let (lines, file) = rf::probe(ctx, &probe_script(&p.path)).await?;
    let cur = parse_probe(&lines);
    let action = decide(&want, &cur).or_else(fail)?;
    let attrs = Attrs {
        owner: p.owner.clone(),
        group: p.group.clone(),
        mode: p.mode.map(super::mode::Mode::Octal),
    };
    let drift = match (&action, want.present) {
        (_, false) => Attrs::default(),
        (Action::Generate, true) => attrs.clone(),
        _ => attr_changes(&attrs, &file),
    };
    let changed = action != Action::None || !drift.is_empty();
    if !ctx.check && changed {
        let mut script = String::from("set -e\n");
        script.push_str(&action_script(&action, &p.path, &want));
        script.push_str(&drift.commands(&quote(&p.path), false, false));
        let owner = Attrs {
            mode: None,
            ..drift.clone()
        };
        if want.present {
            script.push_str(&owner.commands(&format!("{}.pub", quote(&p.path)), false, false));
        }
        rf::run_script(ctx, &format!("cannot create key pair {}", p.path), &script).await?;
    }

    // report the pair as it now is
    let now = if changed && !ctx.check && want.present {
        parse_probe(&rf::probe(ctx, &probe_script(&p.path)).await?.0)
    } else {
        cur
    };
    let mut out = ModuleOutput::changed(changed)
        .with("filename", json!(p.path))
        .with("type", json!(want.kind));
    if want.present {
        out = out
            .with("public_key", json!(now.derived))
            .with("fingerprint", json!(now.fingerprint))
            .with("comment", json!(now.comment))
            .with("size", json!(now.bits));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> Want {
        Want {
            present: true,
            kind: "ed25519".into(),
            bits: None,
            comment: None,
            force: false,
        }
    }

    fn good() -> Pair {
        Pair {
            private: true,
            derived: Some("ssh-ed25519 AAAA".into()),
            public: Some("ssh-ed25519 AAAA".into()),
            bits: Some(256),
            kind: Some("ed25519".into()),
            fingerprint: Some("SHA256:x".into()),
            comment: Some("me@h".into()),
        }
    }

    #[test]
    fn decisions() {
        let rsa = Want {
            kind: "rsa".into(),
            ..want()
        };
        let rsa_pair = Pair {
            kind: Some("rsa".into()),
            bits: Some(4096),
            ..good()
        };
        let cases: Vec<(&str, Want, Pair, Result<Action, String>)> = vec![
            (
                "absent, nothing there",
                Want {
                    present: false,
                    ..want()
                },
                Pair::default(),
                Ok(Action::None),
            ),
            (
                "absent, pair there",
                Want {
                    present: false,
                    ..want()
                },
                good(),
                Ok(Action::Remove),
            ),
            ("missing", want(), Pair::default(), Ok(Action::Generate)),
            ("good", want(), good(), Ok(Action::None)),
            (
                "force",
                Want {
                    force: true,
                    ..want()
                },
                good(),
                Ok(Action::Generate),
            ),
            ("other type", rsa.clone(), good(), Ok(Action::Generate)),
            (
                "rsa default size ok",
                rsa.clone(),
                rsa_pair.clone(),
                Ok(Action::None),
            ),
            (
                "rsa size differs",
                Want {
                    bits: Some(2048),
                    ..rsa
                },
                rsa_pair,
                Ok(Action::Generate),
            ),
            (
                "pub missing",
                want(),
                Pair {
                    public: None,
                    ..good()
                },
                Ok(Action::RestorePublic),
            ),
            (
                "pub mismatch",
                want(),
                Pair {
                    public: Some("ssh-ed25519 B".into()),
                    ..good()
                },
                Ok(Action::RestorePublic),
            ),
            (
                "comment",
                Want {
                    comment: Some("new".into()),
                    ..want()
                },
                good(),
                Ok(Action::Recomment),
            ),
            (
                "same comment",
                Want {
                    comment: Some("me@h".into()),
                    ..want()
                },
                good(),
                Ok(Action::None),
            ),
            (
                "unreadable",
                want(),
                Pair {
                    derived: None,
                    ..good()
                },
                Err(
                    "Unable to read the key. The key is protected with a passphrase or broken"
                        .into(),
                ),
            ),
        ];
        for (name, w, cur, expect) in cases {
            assert_eq!(decide(&w, &cur), expect, "{name}");
        }
    }

    #[test]
    fn fingerprints_and_probe() {
        let mut pair = Pair::default();
        parse_fingerprint("4096 SHA256:abc/def me at home (RSA)\n", &mut pair);
        assert_eq!(
            (
                pair.bits,
                pair.fingerprint.as_deref(),
                pair.comment.as_deref(),
                pair.kind.as_deref()
            ),
            (
                Some(4096),
                Some("SHA256:abc/def"),
                Some("me at home"),
                Some("rsa")
            )
        );
        let lines: Vec<String> = [
            "private|1",
            "derived|ssh-ed25519 AAAA me@h",
            "fp|256 SHA256:x me@h (ED25519)",
            "public|ssh-ed25519 AAAA me@h",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(parse_probe(&lines), good());
    }

    #[test]
    fn generate_script() {
        let w = Want {
            kind: "rsa".into(),
            comment: Some("a b".into()),
            ..want()
        };
        assert_eq!(
            action_script(&Action::Generate, "/k/id", &w),
            "d=$(dirname -- /k/id); [ -d \"$d\" ] || mkdir -p -m 0700 -- \"$d\"\n\
             rm -f -- /k/id /k/id.pub\n\
             ssh-keygen -q -N '' -t rsa -b 4096 -C 'a b' -f /k/id </dev/null >/dev/null\n"
        );
    }
}
