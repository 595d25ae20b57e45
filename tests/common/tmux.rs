//! A program run in a detached tmux session of a fixed size, for tests that need a real
//! terminal: the live progress view, password and passphrase prompts. Shared by the test
//! binaries that include it with `#[path = "common/tmux.rs"] mod tmux;`.

#![allow(dead_code)] // each test binary uses its own part of it

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One tmux session, killed when dropped.
pub struct Screen(String);

impl Screen {
    /// Starts `command` in `dir` on a `cols` x `rows` screen; when it ends the screen shows
    /// `EXIT=<code>` and stays a minute for the test to read.
    pub fn start(session: &str, dir: &Path, command: &str, (cols, rows): (u16, u16)) -> Screen {
        let session = format!("{session}-{}", std::process::id());
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string(), "-c"])
            .arg(dir)
            .arg(format!("{command}; echo EXIT=$?; sleep 60"))
            .status()
            .expect("tmux runs");
        assert!(status.success());
        Screen(session)
    }

    /// The screen as text, wrapped lines joined.
    pub fn text(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-J", "-t", &self.0])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` and Enter.
    pub fn send(&self, text: &str) {
        for keys in [vec!["-l", text], vec!["Enter"]] {
            let status = Command::new("tmux")
                .args(["send-keys", "-t", &self.0])
                .args(keys)
                .status()
                .expect("tmux send-keys");
            assert!(status.success());
        }
    }

    /// The screen once `want` holds, or a failure showing the last screen after `limit`.
    pub fn wait_for(&self, limit: Duration, want: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self.text();
            if want(&text) {
                return text;
            }
            assert!(started.elapsed() < limit, "screen never matched:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}
