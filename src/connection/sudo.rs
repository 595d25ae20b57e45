//! Privilege escalation: the exact command line sent to the host for a task (plain
//! `/bin/sh -c`, or through sudo), and the clean-up of sudo's prompt and messages in stderr.
//! With a password, sudo prompts with a marker on stderr and the wrapped command announces
//! itself with another marker on stdout, so the password is only sent when sudo asks.

use std::sync::OnceLock;

use super::{quote, Become};

/// What sudo prints on stderr when it wants the password (`-p`).
pub(crate) const PROMPT: &str = "[mestral-sudo-password]";

/// The command line for the host, and how to drive it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CommandLine {
    pub line: String,
    pub mode: Mode,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Mode {
    /// No sudo involved.
    Plain,
    /// `sudo -n`: fails at once when a password is needed.
    SudoNoPassword,
    /// `sudo -S`: the password goes on stdin when `PROMPT` shows; `marker` then a newline
    /// starts stdout once the command runs.
    SudoPassword { password: String, marker: String },
}

/// Builds the command line: `/bin/sh -c <command>` whatever the login shell, wrapped in
/// sudo when `escalation` asks for a user other than `session_user`.
pub(crate) fn command_line(
    command: &str,
    session_user: &str,
    escalation: Option<&Become>,
    marker: &str,
) -> CommandLine {
    let shell = format!("/bin/sh -c {}", quote(command));
    let Some(escalation) = escalation else {
        return CommandLine {
            line: shell,
            mode: Mode::Plain,
        };
    };
    let target = if escalation.user.is_empty() {
        "root"
    } else {
        escalation.user.as_str()
    };
    if target == session_user {
        return CommandLine {
            line: shell,
            mode: Mode::Plain,
        };
    }
    match &escalation.password {
        None => CommandLine {
            line: format!("sudo -H -n -u {} {shell}", quote(target)),
            mode: Mode::SudoNoPassword,
        },
        Some(password) => {
            let inner = format!("echo {marker}; exec {shell}");
            CommandLine {
                line: format!(
                    "sudo -H -S -p {} -u {} /bin/sh -c {}",
                    quote(PROMPT),
                    quote(target),
                    quote(&inner)
                ),
                mode: Mode::SudoPassword {
                    password: password.clone(),
                    marker: marker.to_string(),
                },
            }
        }
    }
}

/// A marker unlikely to appear in real output, the same for the whole process.
pub(crate) fn success_marker() -> &'static str {
    static MARKER: OnceLock<String> = OnceLock::new();
    MARKER.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let seed = format!("{}-{nanos}", std::process::id());
        let digest = Sha256::digest(seed.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("MESTRAL-BECOME-{hex}")
    })
}

/// Rewrites stderr after the command: drops sudo's prompts and turns sudo's own failures
/// into messages that say what to do.
pub(crate) fn clean_stderr(stderr: Vec<u8>, mode: &Mode, prompts: u32, host: &str) -> Vec<u8> {
    match mode {
        Mode::Plain => stderr,
        Mode::SudoNoPassword => {
            let text = String::from_utf8_lossy(&stderr);
            if text.starts_with("sudo: a password is required")
                || text.starts_with("sudo: a terminal is required")
            {
                format!("sudo on {host} needs a password: run with -K / --ask-become-pass\n")
                    .into_bytes()
            } else {
                stderr
            }
        }
        Mode::SudoPassword { .. } => {
            // A second prompt, or sudo giving up after one try (`passwd_tries=1`).
            let gave_up = prompts == 1 && find(&stderr, b"incorrect password attempt").is_some();
            if prompts > 1 || gave_up {
                return wrong_password(host).into_bytes();
            }
            remove_all(&stderr, PROMPT.as_bytes())
        }
    }
}

/// What a task says when sudo refused the password: Ansible's words, then the host and where
/// the password came from.
pub(crate) fn wrong_password(host: &str) -> String {
    format!(
        "Incorrect sudo password: sudo on {host} refused the become password (-K or \
         ansible_become_password)\n"
    )
}

/// What a task says when sudo sat on a prompt that is not mestral's (a PAM module asking
/// for something else than the password): that prompt, quoted.
pub(crate) fn unknown_prompt(prompt: &[u8], host: &str) -> String {
    let text = String::from_utf8_lossy(prompt);
    let last = text.trim();
    format!(
        "sudo on {host} asked {last:?} instead of for the password, and mestral can only \
         answer a password prompt\n"
    )
}

/// Counts `needle` in `haystack`.
pub(crate) fn count(haystack: &[u8], needle: &[u8]) -> u32 {
    let mut found = 0;
    let mut at = 0;
    while let Some(pos) = find(&haystack[at..], needle) {
        found += 1;
        at += pos + needle.len();
    }
    found
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn remove_all(haystack: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut at = 0;
    while let Some(pos) = find(&haystack[at..], needle) {
        out.extend_from_slice(&haystack[at..at + pos]);
        at += pos + needle.len();
    }
    out.extend_from_slice(&haystack[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn become_user(user: &str, password: Option<&str>) -> Become {
        Become {
            user: user.into(),
            password: password.map(String::from),
        }
    }

    #[test]
    fn command_lines() {
        let cmd = "echo 'hi' > /tmp/x";
        let no_pw = become_user("root", None);
        let pw = become_user("postgres", Some("s3cret"));
        let empty = become_user("", None);
        let cases: [(Option<&Become>, &str, &str); 5] = [
            (None, "deploy", r#"/bin/sh -c 'echo '\''hi'\'' > /tmp/x'"#),
            (
                Some(&no_pw),
                "root",
                r#"/bin/sh -c 'echo '\''hi'\'' > /tmp/x'"#,
            ),
            (
                Some(&no_pw),
                "deploy",
                r#"sudo -H -n -u root /bin/sh -c 'echo '\''hi'\'' > /tmp/x'"#,
            ),
            (
                Some(&empty),
                "root",
                r#"/bin/sh -c 'echo '\''hi'\'' > /tmp/x'"#,
            ),
            (
                Some(&pw),
                "deploy",
                concat!(
                    r#"sudo -H -S -p '[mestral-sudo-password]' -u postgres /bin/sh -c "#,
                    r#"'echo MARK; exec /bin/sh -c '\''echo '\''\'\'''\''hi'\''\'\'''\''"#,
                    r#" > /tmp/x'\'''"#,
                ),
            ),
        ];
        for (escalation, user, expected) in cases {
            let got = command_line(cmd, user, escalation, "MARK");
            assert_eq!(got.line, expected, "{escalation:?} as {user}");
        }
        assert_eq!(
            command_line(cmd, "deploy", Some(&pw), "MARK").mode,
            Mode::SudoPassword {
                password: "s3cret".into(),
                marker: "MARK".into(),
            }
        );
        assert_eq!(
            command_line(cmd, "deploy", Some(&no_pw), "M").mode,
            Mode::SudoNoPassword
        );
    }

    #[test]
    fn the_password_line_runs_the_command_in_a_real_shell() {
        // The nested quoting must survive two shells: run the inner part with /bin/sh.
        let pw = become_user("other", Some("x"));
        let got = command_line("printf '%s' \"a'b\"", "me", Some(&pw), "MARK");
        let inner = got.line.split_once(" -u other ").unwrap().1;
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(inner)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "MARK\na'b");
    }

    #[test]
    fn stderr_clean_up() {
        let no_pw = Mode::SudoNoPassword;
        let pw = Mode::SudoPassword {
            password: "x".into(),
            marker: "M".into(),
        };
        let wrong = "Incorrect sudo password: sudo on web1 refused the become password (-K or \
                     ansible_become_password)\n";
        let cases: [(&str, &Mode, u32, &str); 7] = [
            ("oops\n", &Mode::Plain, 0, "oops\n"),
            (
                "sudo: a password is required\n",
                &no_pw,
                0,
                "sudo on web1 needs a password: run with -K / --ask-become-pass\n",
            ),
            ("ls: cannot access\n", &no_pw, 0, "ls: cannot access\n"),
            ("[mestral-sudo-password]warn\n", &pw, 1, "warn\n"),
            (
                "[mestral-sudo-password]Sorry, try again.\n[mestral-sudo-password]",
                &pw,
                2,
                wrong,
            ),
            (
                "[mestral-sudo-password]sudo: 1 incorrect password attempt\n",
                &pw,
                1,
                wrong,
            ),
            (
                "lecture\n[mestral-sudo-password]sudo: lab is not in the sudoers file.\n",
                &pw,
                1,
                "lecture\nsudo: lab is not in the sudoers file.\n",
            ),
        ];
        for (stderr, mode, prompts, expected) in cases {
            let got = clean_stderr(stderr.as_bytes().to_vec(), mode, prompts, "web1");
            assert_eq!(String::from_utf8(got).unwrap(), expected, "{stderr:?}");
        }
    }

    #[test]
    fn an_unknown_prompt_is_quoted() {
        assert_eq!(
            unknown_prompt(b"Verification code: ", "web1"),
            "sudo on web1 asked \"Verification code:\" instead of for the password, and \
             mestral can only answer a password prompt\n"
        );
    }

    #[test]
    fn counting_markers() {
        assert_eq!(count(b"[p]x[p][p", b"[p]"), 2);
        assert_eq!(count(b"", b"[p]"), 0);
        assert_eq!(remove_all(b"a[p]b[p]", b"[p]"), b"ab".to_vec());
    }

    #[test]
    fn marker_is_stable_and_shell_safe() {
        let marker = success_marker();
        assert_eq!(marker, success_marker());
        assert_eq!(marker.len(), "MESTRAL-BECOME-".len() + 16);
        assert_eq!(quote(marker), marker);
    }
}
