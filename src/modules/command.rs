//! `command`, `shell` and `raw`: run a command on the host. `command` splits its text into
//! words itself and runs them without a shell; `shell` runs the text through a shell with
//! `pipefail` where the host has bash; `raw` sends the text as it is. `creates`/`removes`
//! are tested in the same channel just before the command (see `command_gate`), and a
//! command that runs always reports a change, as Ansible does.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, text_opt};
use super::command_gate::{self, GateEcho, Marker, Verdict};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::{quote, Echo, ExecOutput};
use crate::vars::{as_text, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CommandArgs {
    #[serde(rename = "_raw_params", default, deserialize_with = "text_opt")]
    raw: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    cmd: Option<String>,
    #[serde(default)]
    argv: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "text_opt")]
    chdir: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    creates: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    removes: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    stdin: Option<String>,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    stdin_add_newline: bool,
    #[serde(default, deserialize_with = "text_opt")]
    executable: Option<String>,
    /// `$VAR`, `${VAR}` and `~` in command words are expanded (command only).
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    expand_argument_vars: bool,
    /// Trailing `\r`/`\n` are stripped from stdout and stderr.
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    strip_empty_ends: bool,
}

fn yes() -> bool {
    true
}

/// Which of the three modules is running.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Command,
    Shell,
    Raw,
}

/// What `creates`/`removes` and check mode decide before anything runs.
#[derive(Debug, PartialEq)]
pub enum Gate {
    Run,
    /// Stop with ok (not changed): Ansible's message, and its `stdout`.
    Satisfied {
        msg: String,
        stdout: String,
    },
    /// Check mode: the command would run.
    WouldRun,
    /// Check mode with nothing to probe: the task is skipped.
    CheckSkip,
}

/// Decides from the tested existence of `creates` and `removes` (None when not given).
pub fn gate(creates: Option<(&str, bool)>, removes: Option<(&str, bool)>, check: bool) -> Gate {
    let shoulda = if check { "Would" } else { "Did" };
    let satisfied = |path: &str, why: &str| Gate::Satisfied {
        msg: format!("{shoulda} not run command since '{path}' {why}"),
        stdout: format!("skipped, since {path} {why}"),
    };
    if let Some((path, true)) = creates {
        return satisfied(path, "exists");
    }
    if let Some((path, false)) = removes {
        return satisfied(path, "does not exist");
    }
    match (check, creates.is_some() || removes.is_some()) {
        (false, _) => Gate::Run,
        (true, true) => Gate::WouldRun,
        (true, false) => Gate::CheckSkip,
    }
}

/// Splits command text into words the way a POSIX shell would, without any expansion:
/// whitespace separates words, single quotes keep everything literal, double quotes keep
/// everything but `\"`, `\\`, `\$` and `` \` ``, and a backslash outside quotes escapes
/// the next character.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in: {text}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unterminated double quote in: {text}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in: {text}")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err(format!("trailing backslash in: {text}")),
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Wraps a shell script so a failing stage of a pipeline fails the whole: through
/// `bash -o pipefail` where bash exists, else plain `/bin/sh` (dash has no pipefail).
pub fn with_pipefail(script: &str) -> String {
    let q = quote(script);
    format!(
        "if command -v bash >/dev/null 2>&1; then exec bash -o pipefail -c {q}; \
         else exec /bin/sh -c {q}; fi"
    )
}

/// Whether the shell at `exe` understands `-o pipefail`, judged by its file name.
fn has_pipefail(exe: &str) -> bool {
    let name = exe.rsplit('/').next().unwrap_or(exe);
    matches!(name, "bash" | "zsh" | "ksh" | "mksh")
}

/// The command line actually sent for `kind`.
pub fn remote_command(
    kind: Kind,
    text: &str,
    chdir: Option<&str>,
    executable: Option<&str>,
) -> String {
    let body = match (kind, executable) {
        (Kind::Command, _) => format!("exec {text}"),
        // bash, zsh and ksh named as the shell keep the pipefail promise; others can't.
        (Kind::Shell, Some(exe)) if has_pipefail(exe) => {
            format!("exec {} -o pipefail -c {}", quote(exe), quote(text))
        }
        (Kind::Shell | Kind::Raw, Some(exe)) => format!("exec {} -c {}", quote(exe), quote(text)),
        (Kind::Shell, None) => with_pipefail(text),
        (Kind::Raw, None) => text.to_string(),
    };
    match chdir {
        Some(dir) => format!("cd {} && {body}", quote(dir)),
        None => body,
    }
}

/// Runs `command`, `shell` or `raw`.
pub async fn run(
    kind: Kind,
    module: &str,
    args: &Value,
    ctx: &ModuleCtx<'_>,
) -> Result<ModuleOutput> {
    let a: CommandArgs = match args::parse(module, args) {
        Ok(a) => a,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let extra = args.as_object().into_iter().flat_map(|m| m.keys());
    let mut extra = extra.filter(|k| !["_raw_params", "executable"].contains(&k.as_str()));
    if kind == Kind::Raw && extra.next().is_some() {
        return Ok(ModuleOutput::failed(
            "raw: only the command text and 'executable' are allowed",
        ));
    }
    if kind == Kind::Command && a.executable.is_some() {
        return Ok(ModuleOutput::failed(
            "command: 'executable' is only for shell and raw",
        ));
    }

    // The text to run, and what `cmd` reports.
    let (text, cmd_value) = match (kind, &a.argv, a.cmd.as_ref().or(a.raw.as_ref())) {
        (Kind::Command, Some(argv), None) => {
            let words: Vec<String> = argv.iter().map(as_text).collect();
            let words = expand_words(ctx, words, a.expand_argument_vars).await?;
            (join_quoted(&words), json!(words))
        }
        (Kind::Command, None, Some(text)) => match split_words(text) {
            Ok(words) => {
                let words = expand_words(ctx, words, a.expand_argument_vars).await?;
                (join_quoted(&words), json!(words))
            }
            Err(e) => return Ok(ModuleOutput::failed(format!("{module}: {e}"))),
        },
        (_, Some(_), Some(_)) => {
            return Ok(ModuleOutput::failed(format!(
                "{module}: give either argv or the command text"
            )))
        }
        (_, None, Some(text)) => (text.clone(), json!(text)),
        _ => return Ok(ModuleOutput::failed(format!("{module}: no command given"))),
    };
    if text.trim().is_empty() {
        return Ok(ModuleOutput::failed(format!("{module}: no command given")));
    }

    // creates/removes are tested in the command's own channel: one script that either
    // stops with a verdict line or `exec`s the command (command_gate).
    let gated = a.creates.is_some() || a.removes.is_some();
    if ctx.check && !gated {
        let mut out = ModuleOutput::ok().with_msg("skipped, running in check mode");
        out.skipped = true;
        return Ok(out);
    }
    let marker = Marker::fresh();
    let line = if gated {
        let body = remote_command(kind, &text, None, a.executable.as_deref());
        command_gate::script(
            &marker,
            a.chdir.as_deref(),
            a.creates.as_deref(),
            a.removes.as_deref(),
            (!ctx.check).then_some(body.as_str()),
        )
    } else {
        remote_command(kind, &text, a.chdir.as_deref(), a.executable.as_deref())
    };
    let out = if ctx.check {
        ctx.exec(&line).await?
    } else {
        let stdin = a.stdin.as_ref().map(|input| {
            let mut data = input.clone().into_bytes();
            if a.stdin_add_newline && !input.ends_with('\n') {
                data.push(b'\n');
            }
            data
        });
        // The -v echo never shows a verdict line.
        let echo = match gated {
            true => crate::connection::current_echo()
                .map(|inner| Arc::new(GateEcho::new(inner, &marker)) as Arc<dyn Echo>),
            false => None,
        };
        let run = ctx.exec_echoed(&line, stdin.as_deref());
        match echo {
            Some(echo) => crate::connection::with_echo(Some(echo), run).await?,
            None => run.await?,
        }
    };
    if gated {
        if let Some(done) = gate_outcome(module, &a, &marker, &out, ctx, &cmd_value) {
            return Ok(done);
        }
    }
    if ctx.escalation.is_some() {
        if let Some(msg) = become_failure(ctx.host, &out) {
            return Ok(ModuleOutput::failed(msg));
        }
    }
    let mut result = ModuleOutput::changed(true)
        .with_exec(&out)
        .with("cmd", cmd_value);
    if kind == Kind::Raw {
        // raw hands back the output untouched, final newline included
        result = result
            .with("stdout", json!(out.stdout_text()))
            .with("stderr", json!(out.stderr_text()));
    } else {
        for (key, text) in [("stdout", out.stdout_text()), ("stderr", out.stderr_text())] {
            let text = strip_ends(&text, a.strip_empty_ends);
            let lines: Vec<&str> = text.lines().collect();
            result = result
                .with(&format!("{key}_lines"), json!(lines))
                .with(key, json!(text));
        }
    }
    if out.rc != 0 {
        result.failed = true;
        result.msg = Some("non-zero return code".into());
    }
    Ok(result)
}

/// The task's result when the gate script stopped before the command (a verdict line, or in
/// check mode any output at all); None when the command ran.
fn gate_outcome(
    module: &str,
    a: &CommandArgs,
    marker: &Marker,
    out: &ExecOutput,
    ctx: &ModuleCtx<'_>,
    cmd_value: &serde_json::Value,
) -> Option<ModuleOutput> {
    let verdict = marker.verdict(out);
    let (c, r) = (a.creates.as_deref(), a.removes.as_deref());
    let (creates, removes) = match verdict {
        Some(Verdict::Chdir) => {
            let cd = ExecOutput {
                stdout: Vec::new(),
                ..out.clone()
            };
            let msg = format!(
                "Unable to change directory before execution: {}",
                a.chdir.as_deref().unwrap_or("")
            );
            return Some(ModuleOutput::failed(msg).with_exec(&cd));
        }
        Some(Verdict::Creates) => (c.map(|p| (p, true)), None),
        Some(Verdict::Removes) => (c.map(|p| (p, false)), r.map(|p| (p, false))),
        Some(Verdict::WouldRun) | None => (c.map(|p| (p, false)), r.map(|p| (p, true))),
    };
    match gate(creates, removes, ctx.check) {
        Gate::Satisfied { msg, stdout } => Some(
            ModuleOutput::ok()
                .with_msg(msg)
                .with("cmd", cmd_value.clone())
                .with("rc", json!(0))
                .with("stdout", json!(stdout))
                .with("stdout_lines", json!([stdout]))
                .with("stderr", json!(""))
                .with("stderr_lines", json!([])),
        ),
        Gate::WouldRun if verdict.is_some() => Some(
            ModuleOutput::changed(true)
                .with_msg("Command would have run if not in check mode")
                .with("cmd", cmd_value.clone()),
        ),
        Gate::WouldRun => {
            // Check mode, and the test itself did not finish (sudo refused, the shell failed).
            let msg = become_failure(ctx.host, out).unwrap_or_else(|| {
                format!("{module}: the creates/removes test did not finish on the host")
            });
            Some(ModuleOutput::failed(msg).with_exec(out))
        }
        Gate::Run | Gate::CheckSkip => None,
    }
}

/// sudo's own refusal (no password given, or a wrong one) rather than the command's failure:
/// Ansible reports it as a plain failure with a message and no command result
/// (`host | FAILED! => {"msg": ...}`), so its text does not run into `non-zero return code`.
fn become_failure(host: &str, out: &ExecOutput) -> Option<String> {
    let text = out.stderr_text();
    let line = text.strip_suffix('\n')?;
    let refused = [
        format!("sudo on {host} needs a password: run with -K / --ask-become-pass"),
        format!(
            "Incorrect sudo password: sudo on {host} refused the become password (-K or \
             ansible_become_password)"
        ),
    ];
    let only_sudo = out.rc != 0 && out.stdout.is_empty() && refused.iter().any(|r| r == line);
    only_sudo.then(|| line.to_string())
}

/// command and shell output as Ansible returns it: with `strip_empty_ends` (the default)
/// without the trailing `\r` and `\n` characters, else exactly as printed.
pub fn strip_ends(text: &str, strip: bool) -> &str {
    match strip {
        true => text.trim_end_matches(['\r', '\n']),
        false => text,
    }
}

/// Expands `$VAR`, `${VAR}` and a leading `~` in each word with the host's environment, as
/// Ansible's command module does (unknown variables stay as written), unless
/// `expand_argument_vars` is off. The environment is read from the host only when some word
/// needs it.
async fn expand_words(ctx: &ModuleCtx<'_>, words: Vec<String>, on: bool) -> Result<Vec<String>> {
    if !on || !words.iter().any(|w| w.contains('$') || w.starts_with('~')) {
        return Ok(words);
    }
    let out = ctx.exec("env -0").await?;
    let env = parse_env(&out.stdout);
    Ok(words.iter().map(|w| expand_word(w, &env)).collect())
}

/// `NAME=value` records separated by NUL bytes, as `env -0` prints them.
fn parse_env(out: &[u8]) -> BTreeMap<String, String> {
    out.split(|&b| b == 0)
        .filter_map(|rec| {
            let rec = String::from_utf8_lossy(rec);
            let (k, v) = rec.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Python's `os.path.expanduser(os.path.expandvars(word))` for `~` and `~/` (not `~user`).
pub fn expand_word(word: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, used) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match env.get(name).filter(|_| !name.is_empty()) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[at..at + 1 + used]),
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    let home = env.get("HOME");
    match (out.strip_prefix('~'), home) {
        (Some(tail), Some(home)) if tail.is_empty() || tail.starts_with('/') => {
            format!("{}{tail}", home.trim_end_matches('/'))
        }
        _ => out,
    }
}

fn join_quoted(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_refusals_are_told_from_command_failures() {
        let needs = "sudo on web1 needs a password: run with -K / --ask-become-pass";
        let wrong = "Incorrect sudo password: sudo on web1 refused the become password (-K or \
                     ansible_become_password)";
        let rows = [
            (1, "", format!("{needs}\n"), Some(needs)),
            (1, "", format!("{wrong}\n"), Some(wrong)),
            (1, "partial\n", format!("{needs}\n"), None),
            (0, "", format!("{needs}\n"), None),
            (
                1,
                "",
                "sudo on web2 needs a password: run with -K / --ask-become-pass\n".into(),
                None,
            ),
            (1, "", format!("{needs}\nmore\n"), None),
        ];
        for (rc, stdout, stderr, want) in rows {
            let out = ExecOutput {
                rc,
                stdout: stdout.as_bytes().to_vec(),
                stderr: stderr.into_bytes(),
            };
            assert_eq!(
                become_failure("web1", &out).as_deref(),
                want,
                "{rc} {stdout:?}"
            );
        }
    }

    #[test]
    fn splits_words_like_a_shell() {
        let cases: &[(&str, &[&str])] = &[
            ("uname -r", &["uname", "-r"]),
            ("  a   b  ", &["a", "b"]),
            ("echo 'a b' c", &["echo", "a b", "c"]),
            (r#"echo "a \"b\" \$x \n""#, &["echo", r#"a "b" $x \n"#]),
            (r"a\ b c", &["a b", "c"]),
            ("x''y ''", &["xy", ""]),
            (
                "tar czf /var/lib/calx/etc-calx.tgz -C /etc calx",
                &[
                    "tar",
                    "czf",
                    "/var/lib/calx/etc-calx.tgz",
                    "-C",
                    "/etc",
                    "calx",
                ],
            ),
            ("echo $HOME|x", &["echo", "$HOME|x"]),
            ("", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(split_words(text).unwrap(), *want, "input {text:?}");
        }
    }

    #[test]
    fn refuses_unterminated_quotes() {
        assert_eq!(
            split_words("echo 'a").unwrap_err(),
            "unterminated single quote in: echo 'a"
        );
        assert_eq!(
            split_words("echo \"a").unwrap_err(),
            "unterminated double quote in: echo \"a"
        );
        assert_eq!(
            split_words("a\\").unwrap_err(),
            "trailing backslash in: a\\"
        );
    }

    #[test]
    fn gates() {
        let cases = [
            (None, None, false, Gate::Run),
            (None, None, true, Gate::CheckSkip),
            (Some(("/x", false)), None, false, Gate::Run),
            (Some(("/x", false)), None, true, Gate::WouldRun),
            (
                Some(("/x", true)),
                None,
                false,
                Gate::Satisfied {
                    msg: "Did not run command since '/x' exists".into(),
                    stdout: "skipped, since /x exists".into(),
                },
            ),
            (
                Some(("/x", true)),
                None,
                true,
                Gate::Satisfied {
                    msg: "Would not run command since '/x' exists".into(),
                    stdout: "skipped, since /x exists".into(),
                },
            ),
            (
                None,
                Some(("/y", false)),
                true,
                Gate::Satisfied {
                    msg: "Would not run command since '/y' does not exist".into(),
                    stdout: "skipped, since /y does not exist".into(),
                },
            ),
            (
                Some(("/x", false)),
                Some(("/y", false)),
                false,
                Gate::Satisfied {
                    msg: "Did not run command since '/y' does not exist".into(),
                    stdout: "skipped, since /y does not exist".into(),
                },
            ),
            (None, Some(("/y", true)), false, Gate::Run),
        ];
        for (c, r, check, want) in cases {
            assert_eq!(
                gate(c, r, check),
                want,
                "creates {c:?} removes {r:?} check {check}"
            );
        }
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            remote_command(Kind::Command, "uname -r", None, None),
            "exec uname -r"
        );
        assert_eq!(
            remote_command(Kind::Command, "ls 'a b'", Some("/tmp/x y"), None),
            "cd '/tmp/x y' && exec ls 'a b'"
        );
        assert_eq!(
            remote_command(Kind::Shell, "a | b", None, None),
            "if command -v bash >/dev/null 2>&1; then exec bash -o pipefail -c 'a | b'; \
             else exec /bin/sh -c 'a | b'; fi"
        );
        assert_eq!(
            remote_command(Kind::Shell, "echo $0", None, Some("/bin/dash")),
            "exec /bin/dash -c 'echo $0'"
        );
        assert_eq!(
            remote_command(Kind::Shell, "false | true", None, Some("/bin/bash")),
            "exec /bin/bash -o pipefail -c 'false | true'"
        );
        assert_eq!(
            remote_command(Kind::Raw, "echo hi > /x", None, None),
            "echo hi > /x"
        );
    }

    #[test]
    fn expands_like_python() {
        let env: BTreeMap<String, String> = [("HOME", "/root"), ("A_B", "x")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cases = [
            ("$HOME", "/root"),
            ("${HOME}/x", "/root/x"),
            ("$A_B.c", "x.c"),
            ("$NOPE and ${NOPE}", "$NOPE and ${NOPE}"),
            ("cost$", "cost$"),
            ("${open", "${open"),
            ("~", "/root"),
            ("~/bin", "/root/bin"),
            ("~other", "~other"),
            ("a~", "a~"),
        ];
        for (word, want) in cases {
            assert_eq!(expand_word(word, &env), want, "{word}");
        }
    }

    #[test]
    fn argument_errors_name_the_parameter() {
        let err =
            args::parse::<CommandArgs>("command", &json!({"cmd": "x", "chdr": "/"})).unwrap_err();
        assert_eq!(
            err,
            "unknown parameter 'chdr' for module 'command'; did you mean 'chdir'?"
        );
    }
}
