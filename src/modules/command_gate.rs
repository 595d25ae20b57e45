//! `creates`/`removes` of `command` and `shell` in the same channel as the command itself:
//! one script tests the paths with shell builtins and either `exec`s the command or, when it
//! must not run, prints a verdict line and exits. The verdict line starts with a marker that
//! holds a random nonce made for this one task, so no command can print it by accident: a
//! command only ever runs on the path that prints no verdict (it is `exec`ed, the shell is
//! gone), and its output could start with the marker only if it guessed 64 random bits. The
//! exit status alone could not tell the two apart (a command may exit with any status and
//! print nothing), hence the marker. `GateEcho` keeps the verdict line out of the `-v` echo.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use crate::connection::{quote, Echo, ExecOutput};

/// Why the script stopped without running the command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// `chdir` could not be entered (the shell's `cd` message is on stderr).
    Chdir,
    /// `creates` exists.
    Creates,
    /// `removes` does not exist.
    Removes,
    /// Check mode: the command would run.
    WouldRun,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Chdir => "chdir",
            Verdict::Creates => "creates",
            Verdict::Removes => "removes",
            Verdict::WouldRun => "run",
        }
    }
}

/// The status the script exits with when `chdir` fails, as the shell's own `cd` failure.
pub const CHDIR_STATUS: i32 = 2;

/// The start of every verdict line of one task: `mestral-gate-<16 hex digits>:`.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker(String);

impl Marker {
    /// A marker with a fresh random nonce (std's per-process random hash keys, which change
    /// with every `RandomState`, mixed with the clock).
    pub fn fresh() -> Marker {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        hasher.write_u128(now);
        Marker::with_nonce(hasher.finish())
    }

    pub fn with_nonce(nonce: u64) -> Marker {
        Marker(format!("mestral-gate-{nonce:016x}:"))
    }

    fn line(&self, verdict: Verdict) -> String {
        format!("{}{}\n", self.0, verdict.word())
    }

    /// The verdict the script printed, if it stopped before the command: its whole stdout is
    /// one verdict line, with the exit status that verdict exits with.
    pub fn verdict(&self, out: &ExecOutput) -> Option<Verdict> {
        let all = [
            Verdict::Chdir,
            Verdict::Creates,
            Verdict::Removes,
            Verdict::WouldRun,
        ];
        let found = all
            .into_iter()
            .find(|v| out.stdout == self.line(*v).as_bytes())?;
        let status = if found == Verdict::Chdir {
            CHDIR_STATUS
        } else {
            0
        };
        (out.rc == status).then_some(found)
    }

    fn say(&self, verdict: Verdict) -> String {
        quote(self.line(verdict).trim_end())
    }
}

/// A path for a shell test that still globs: every character but `*?[]` escaped.
fn glob_word(path: &str) -> String {
    if !path.contains(['*', '?', '[']) || path.contains('\n') {
        return quote(path);
    }
    let mut out = String::new();
    for c in path.chars() {
        if c.is_ascii_alphanumeric() || "*?[]/-_.".contains(c) {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

/// The one script: enters `chdir` (relative `creates`/`removes` are taken from there, as
/// Ansible does), tests `creates` then `removes` (a glob counts when its first match exists),
/// and then runs `body`, which must `exec` the command (it is given without any `cd`). With
/// `body` None (check mode) it prints the `WouldRun` verdict instead. Nothing but builtins
/// runs before the command.
pub fn script(
    marker: &Marker,
    chdir: Option<&str>,
    creates: Option<&str>,
    removes: Option<&str>,
    body: Option<&str>,
) -> String {
    let mut s = String::new();
    if let Some(dir) = chdir {
        s.push_str(&format!(
            "cd {} || {{ printf '%s\\n' {}; exit {CHDIR_STATUS}; }}; ",
            quote(dir),
            marker.say(Verdict::Chdir)
        ));
    }
    let test = "[ -e \"$1\" ] || [ -L \"$1\" ]";
    if let Some(path) = creates {
        s.push_str(&format!(
            "set -- {}; if {test}; then printf '%s\\n' {}; exit 0; fi; ",
            glob_word(path),
            marker.say(Verdict::Creates)
        ));
    }
    if let Some(path) = removes {
        s.push_str(&format!(
            "set -- {}; if {test}; then :; else printf '%s\\n' {}; exit 0; fi; ",
            glob_word(path),
            marker.say(Verdict::Removes)
        ));
    }
    match body {
        Some(body) => s.push_str(body),
        None => s.push_str(&format!("printf '%s\\n' {}", marker.say(Verdict::WouldRun))),
    }
    s
}

/// What `GateEcho` has decided about the stdout seen so far.
enum Seen {
    /// Everything so far could still be the start of the marker: held back.
    Holding(Vec<u8>),
    /// It is the command's output: passed on.
    Passing,
    /// It is a verdict line: never shown.
    Hiding,
}

/// Wraps the task's `-v` echo so a verdict line is never shown: stdout is held back while it
/// could still be the start of the marker, then dropped (a verdict) or passed on (anything
/// else, held bytes first). Stderr passes straight through.
pub struct GateEcho {
    inner: Arc<dyn Echo>,
    marker: Vec<u8>,
    seen: Mutex<Seen>,
}

impl GateEcho {
    pub fn new(inner: Arc<dyn Echo>, marker: &Marker) -> GateEcho {
        GateEcho {
            inner,
            marker: marker.0.as_bytes().to_vec(),
            seen: Mutex::new(Seen::Holding(Vec::new())),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        // A poisoned lock only means another echo call panicked; the state is still whole.
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Echo for GateEcho {
    fn output(&self, stderr: bool, data: &[u8]) {
        if stderr {
            return self.inner.output(true, data);
        }
        let mut seen = self.seen();
        let show = match &mut *seen {
            Seen::Passing => data.to_vec(),
            Seen::Hiding => return,
            Seen::Holding(held) => {
                held.extend_from_slice(data);
                let n = held.len().min(self.marker.len());
                if held[..n] != self.marker[..n] {
                    let held = std::mem::take(held);
                    *seen = Seen::Passing;
                    held
                } else if n == self.marker.len() {
                    *seen = Seen::Hiding;
                    return;
                } else {
                    return;
                }
            }
        };
        drop(seen);
        self.inner.output(false, &show);
    }

    fn end(&self) {
        let mut seen = self.seen();
        if let Seen::Holding(held) = &mut *seen {
            let held = std::mem::take(held);
            *seen = Seen::Passing;
            drop(seen);
            if !held.is_empty() {
                self.inner.output(false, &held);
            }
        } else {
            drop(seen);
        }
        self.inner.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts() {
        let m = Marker::with_nonce(0xab);
        let tag = "mestral-gate-00000000000000ab";
        assert_eq!(
            script(&m, Some("/d"), Some("/x y"), None, Some("exec ls")),
            format!(
                "cd /d || {{ printf '%s\\n' {tag}:chdir; exit 2; }}; set -- '/x y'; \
                 if [ -e \"$1\" ] || [ -L \"$1\" ]; then printf '%s\\n' {tag}:creates; exit 0; \
                 fi; exec ls"
            )
        );
        assert_eq!(
            script(&m, None, None, Some("/v/*.log x"), None),
            format!(
                "set -- /v/*.log\\ x; if [ -e \"$1\" ] || [ -L \"$1\" ]; then :; else \
                 printf '%s\\n' {tag}:removes; exit 0; fi; printf '%s\\n' {tag}:run"
            )
        );
    }

    #[test]
    fn verdicts() {
        let m = Marker::with_nonce(1);
        let line = |w: &str| format!("mestral-gate-0000000000000001:{w}\n");
        let out = |rc: i32, stdout: &str| ExecOutput {
            rc,
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
        };
        let rows = [
            (out(0, &line("creates")), Some(Verdict::Creates)),
            (out(0, &line("removes")), Some(Verdict::Removes)),
            (out(0, &line("run")), Some(Verdict::WouldRun)),
            (out(2, &line("chdir")), Some(Verdict::Chdir)),
            (out(0, &line("chdir")), None),
            (out(1, &line("creates")), None),
            (out(0, &format!("{}x\n", line("creates"))), None),
            (out(0, "mestral-gate-0000000000000002:creates\n"), None),
            (out(0, ""), None),
            (out(0, "hello\n"), None),
        ];
        for (o, want) in rows {
            assert_eq!(m.verdict(&o), want, "{:?}", o.stdout_text());
        }
        assert_ne!(Marker::fresh(), Marker::fresh());
    }

    /// Records what reaches the user's echo.
    #[derive(Default)]
    struct Shown(Mutex<Vec<(bool, Vec<u8>)>>, Mutex<u32>);

    impl Echo for Shown {
        fn output(&self, stderr: bool, data: &[u8]) {
            self.0.lock().unwrap().push((stderr, data.to_vec()));
        }
        fn end(&self) {
            *self.1.lock().unwrap() += 1;
        }
    }

    #[test]
    fn echo_never_shows_a_verdict() {
        let m = Marker::with_nonce(7);
        let verdict = "mestral-gate-0000000000000007:creates\n";
        // (stdout, what the user sees of stdout)
        let rows = [
            (verdict, ""),
            ("hello\n", "hello\n"),
            (
                "mestral-gate-0000000000000008:creates\n",
                "mestral-gate-0000000000000008:creates\n",
            ),
            ("mestral", "mestral"),
            ("", ""),
        ];
        for (stdout, want) in rows {
            // every way of cutting the output in two chunks
            for cut in 0..=stdout.len() {
                let shown = Arc::new(Shown::default());
                let echo = GateEcho::new(shown.clone(), &m);
                echo.output(false, &stdout.as_bytes()[..cut]);
                echo.output(true, b"err");
                echo.output(false, &stdout.as_bytes()[cut..]);
                echo.end();
                let got = shown.0.lock().unwrap();
                let out: Vec<u8> = got
                    .iter()
                    .filter(|(e, _)| !e)
                    .flat_map(|(_, d)| d.clone())
                    .collect();
                let err: Vec<u8> = got
                    .iter()
                    .filter(|(e, _)| *e)
                    .flat_map(|(_, d)| d.clone())
                    .collect();
                assert_eq!(
                    (
                        String::from_utf8(out).unwrap(),
                        err,
                        *shown.1.lock().unwrap()
                    ),
                    (want.to_string(), b"err".to_vec(), 1),
                    "{stdout:?} cut at {cut}"
                );
            }
        }
    }
}
