//! Read, decide and act in one remote command. The controller plans for the state it expects
//! (a missing file, or a file whose checksum differs from the new content) and sends the
//! read, a guard testing that expectation and the action together; the host acts only when
//! the guard holds. The read comes back either way, so a module whose guess was wrong (or
//! whose action cannot run blind) plans again from the real state, as with a plain read.

use std::fmt::Write as _;

use anyhow::Result;

use super::{
    fail, parse_tagged, read_script_at, write_prepare, Content, FileState, ReadOpts, WriteSpec,
    VALIDATE_FAILED, WRITE_COMMIT,
};
use crate::connection::quote;
use crate::modules::ModuleCtx;

/// Content up to this size is sent with the guarded write even when it may not be needed;
/// larger content waits for the read to say it differs.
pub const INLINE_MAX: usize = 256 * 1024;

/// Old content is printed for `--diff` only up to this size, as with a plain read.
const BEFORE_MAX: u64 = 1 << 20;

/// When the host acts, judged on the state it has just read.
#[derive(Clone, Debug, PartialEq)]
pub enum Guard {
    /// Nothing is at the path.
    Absent,
    /// Nothing is at the path, or (with `force`) a regular file whose SHA-256 differs.
    Differs { sha256: String, force: bool },
    /// A regular file whose SHA-256 is this one (its text is known: `known`).
    Same { sha256: String },
}

/// What the host does when the guard holds.
#[derive(Clone, Debug)]
pub enum Action<'a> {
    /// Nothing (check mode, or an action that needs the real state first).
    None,
    /// Write stdin to the path with `write_prepare`, then rename it into place (the path
    /// written is the one read; the spec's `dest` is not used).
    Write(WriteSpec<'a>),
    /// Run a shell snippet (under `set -e`); `what` names it in a failure.
    Script { what: String, script: String },
}

/// One read-decide-act command.
#[derive(Clone, Debug)]
pub struct OneShot<'a> {
    pub path: &'a str,
    /// When the path is a directory on the host, act on this name inside it instead.
    pub inside: Option<&'a str>,
    /// When the path is a symbolic link, act on the file it leads to (`lineinfile` edits
    /// the target of a link, as Ansible's does, instead of replacing the link by a file).
    pub follow: bool,
    /// The read; its `content` is printed only when the guard does not hold.
    pub read: ReadOpts,
    pub guard: Guard,
    pub action: Action<'a>,
    /// When the guard holds, print the old content (up to 1 MiB) for `--diff`.
    pub before: bool,
}

/// What came back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Acted {
    /// The path acted on (`inside` resolved).
    pub dest: String,
    /// The state read before acting.
    pub state: FileState,
    /// The guard held and the action ran.
    pub acted: bool,
    pub backup: Option<String>,
}

/// The POSIX sh script for `o`.
pub fn script(o: &OneShot) -> String {
    let mut s = format!("sha256= sha1=\nd={}\n", quote(o.path));
    if let Some(name) = o.inside {
        let _ = writeln!(
            s,
            "if [ -d \"$d\" ]; then d=\"${{d%/}}\"/{}; fi",
            quote(name)
        );
    }
    if o.follow {
        s.push_str("if [ -L \"$d\" ]; then d=$(readlink -f -- \"$d\") || exit 1; fi\n");
    }
    s.push_str("printf 'dest|%s\\n' \"$d\"\n");
    let read = ReadOpts {
        content: Content::No,
        ..o.read
    };
    s.push_str(&read_script_at("\"$d\"", &read));

    let absent = "! [ -L \"$d\" ] && ! [ -e \"$d\" ]";
    match &o.guard {
        Guard::Absent => {
            let _ = writeln!(s, "w=0; if {absent}; then w=1; fi");
        }
        Guard::Differs { sha256, force } => {
            let _ = writeln!(
                s,
                "w=0; if {absent}; then w=1; elif [ -f \"$d\" ] && \
                 [ \"${{sha256%% *}}\" != {} ]; then w={}; fi",
                quote(sha256),
                u8::from(*force)
            );
        }
        Guard::Same { sha256 } => {
            let _ = writeln!(
                s,
                "w=0; if [ -f \"$d\" ] && [ \"${{sha256%% *}}\" = {} ]; then w=1; fi",
                quote(sha256)
            );
        }
    }

    s.push_str("if [ $w = 1 ]; then\n:\n");
    let commit = match &o.action {
        Action::None => "",
        Action::Write(spec) => {
            s.push_str("echo act\nset -e\n");
            s.push_str(&write_prepare(spec));
            WRITE_COMMIT
        }
        Action::Script { script, .. } => {
            s.push_str("echo act\nset -e\n");
            s.push_str(script);
            ""
        }
    };
    if o.before {
        let _ = writeln!(
            s,
            "if [ -f \"$d\" ] && [ \"$(stat -L -c %s -- \"$d\")\" -le {BEFORE_MAX} ]; then \
             printf 'content\\n'; cat -- \"$d\"; fi"
        );
    }
    s.push_str(commit);
    s.push_str("else\n:\n");
    match o.read.content {
        Content::No => {}
        Content::Always => {
            s.push_str("if [ -f \"$d\" ]; then printf 'content\\n'; exec cat -- \"$d\"; fi\n")
        }
        Content::UpTo(n) => {
            let _ = writeln!(
                s,
                "if [ -f \"$d\" ] && [ \"$(stat -L -c %s -- \"$d\")\" -le {n} ]; then \
                 printf 'content\\n'; exec cat -- \"$d\"; fi"
            );
        }
    }
    s.push_str("fi\n");
    s
}

/// Parses what `script` printed (after a zero exit).
/// The script of a guarded write held for later (`connection::Held`): nobody reads what it
/// prints, so a guard that does not hold (the file changed on the host since it was read)
/// is a failure, with a message on stderr, and nothing is written.
pub fn held_script(o: &OneShot) -> String {
    let mut s = script(o);
    s.push_str(
        "[ $w = 1 ] || { printf '%s changed on the host since it was read; not written\\n' \
         \"$d\" >&2; exit 1; }\n",
    );
    s
}

pub fn parse(out: &[u8]) -> Result<Acted> {
    let (state, extra) = parse_tagged(out)?;
    let mut acted = Acted {
        state,
        ..Acted::default()
    };
    for (tag, value) in extra {
        match tag.as_str() {
            "dest" => acted.dest = value,
            "act" => acted.acted = true,
            "backup" => acted.backup = Some(value),
            _ => return Err(anyhow::anyhow!("unexpected line in file state: {tag:?}")),
        }
    }
    Ok(acted)
}

/// Runs `o` on the host, feeding `stdin` to a write. A failed read, write, validation or
/// script is a task failure saying which.
pub async fn act(ctx: &ModuleCtx<'_>, o: &OneShot<'_>, stdin: &[u8]) -> Result<Acted> {
    if let Action::Write(spec) = &o.action {
        super::check_validate(spec)?;
    }
    let script = script(o);
    let out = match o.action {
        Action::Write(_) => ctx.exec_stdin(&script, stdin).await?,
        _ => ctx.exec(&script).await?,
    };
    if out.rc == 0 {
        return parse(&out.stdout);
    }
    let stderr = out.stderr_text();
    let detail = stderr.trim_end();
    let started = out.stdout.windows(5).any(|w| w == b"\nact\n");
    let dest = String::from_utf8_lossy(&out.stdout);
    let dest = dest
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("dest|"))
        .unwrap_or(o.path);
    match &o.action {
        Action::Write(spec) if started => {
            if out.rc == VALIDATE_FAILED && spec.validate.is_some() {
                if detail.is_empty() {
                    return fail("failed to validate");
                }
                return fail(format!("failed to validate: {detail}"));
            }
            fail(format!("cannot write {dest}: {detail}"))
        }
        Action::Script { what, .. } if started => fail(format!("{what}: {detail}")),
        _ => fail(format!("cannot read {dest}: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mode::Mode;
    use crate::modules::remote_file::{sha256_hex, Attrs, Kind};

    fn sh(script: &str, stdin: &[u8]) -> std::process::Output {
        use std::io::Write;
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // a script that does not read its stdin may close it first
        let _ = child.stdin.take().unwrap().write_all(stdin);
        child.wait_with_output().unwrap()
    }

    /// Each case runs the script under a real `sh`: (what is there before, guard, whether the
    /// write runs, what the file holds after, whether it acted, the old content printed).
    #[test]
    fn guarded_writes_under_sh() {
        let dir = std::env::temp_dir().join(format!("mestral-os-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let new = b"new\n";
        let differs = Guard::Differs {
            sha256: sha256_hex(new),
            force: true,
        };
        let keep = Guard::Differs {
            sha256: sha256_hex(new),
            force: false,
        };
        let attrs = Attrs {
            mode: Some(Mode::Octal(0o600)),
            ..Attrs::default()
        };
        type Case<'a> = (
            &'a str,
            Option<&'a [u8]>,
            Guard,
            bool,
            &'a [u8],
            bool,
            Option<&'a [u8]>,
        );
        let same_old = Guard::Same {
            sha256: sha256_hex(b"old\n"),
        };
        let cases: [Case; 8] = [
            (
                "same",
                Some(b"old\n"),
                same_old.clone(),
                true,
                new,
                true,
                Some(b"old\n"),
            ),
            (
                "not the same",
                Some(b"other\n"),
                same_old,
                true,
                b"other\n",
                false,
                None,
            ),
            ("absent", None, differs.clone(), true, new, true, None),
            (
                "differs",
                Some(b"old\n"),
                differs.clone(),
                true,
                new,
                true,
                Some(b"old\n"),
            ),
            ("equal", Some(new), differs.clone(), true, new, false, None),
            (
                "no force",
                Some(b"old\n"),
                keep,
                true,
                b"old\n",
                false,
                None,
            ),
            (
                "check",
                Some(b"old\n"),
                differs,
                false,
                b"old\n",
                false,
                Some(b"old\n"),
            ),
            (
                "absent guard",
                Some(b"old\n"),
                Guard::Absent,
                true,
                b"old\n",
                false,
                None,
            ),
        ];
        for (name, before, guard, write, after, acted, printed) in cases {
            let dest = dir.join("f");
            let dest_s = dest.to_str().unwrap();
            let _ = std::fs::remove_file(&dest);
            if let Some(b) = before {
                std::fs::write(&dest, b).unwrap();
            }
            let spec = WriteSpec {
                dest: dest_s,
                attrs: &attrs,
                validate: None,
                backup: false,
                mkdir: false,
            };
            let o = OneShot {
                path: dest_s,
                inside: None,
                follow: false,
                read: ReadOpts {
                    sha256: true,
                    follow: true,
                    ..ReadOpts::default()
                },
                guard,
                action: if write {
                    Action::Write(spec)
                } else {
                    Action::None
                },
                before: true,
            };
            let out = sh(&script(&o), new);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got = parse(&out.stdout).unwrap();
            assert_eq!(
                (
                    got.dest.as_str(),
                    got.acted,
                    got.state.exists(),
                    got.state.content.as_deref()
                ),
                (dest_s, acted, before.is_some(), printed),
                "{name}"
            );
            assert_eq!(std::fs::read(&dest).unwrap(), after, "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A directory as the path: the name inside it is used, and its content comes back when
    /// the guard does not hold.
    #[test]
    fn inside_a_directory_and_content_on_no_action() {
        let dir = std::env::temp_dir().join(format!("mestral-os2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("n.txt"), "here\n").unwrap();
        let path = dir.to_str().unwrap();
        let o = OneShot {
            path,
            inside: Some("n.txt"),
            follow: false,
            read: ReadOpts {
                content: Content::Always,
                ..ReadOpts::default()
            },
            guard: Guard::Absent,
            action: Action::Script {
                what: "x".into(),
                script: "touch -- \"$d\"\n".into(),
            },
            before: false,
        };
        let out = sh(&script(&o), b"");
        let got = parse(&out.stdout).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            (got.dest, got.acted, got.state.kind, got.state.content),
            (
                format!("{path}/n.txt"),
                false,
                Kind::File,
                Some(b"here\n".to_vec())
            )
        );
    }
}
