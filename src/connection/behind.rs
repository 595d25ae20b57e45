//! Commands held back: a module that knows a file's text may plan an edit without a round
//! trip (`lineinfile` in a loop edits one file once per item) and leave the write here. The
//! write runs before the next command of the session starts, whatever that command is, or
//! when the executor flushes at the end of the task's loop; one held write per key (a file's
//! path), a later one replacing the earlier, so a loop of fifty edits of `/etc/hosts` writes
//! it once.
//!
//! A held command must do all its work or fail with a non-zero status and a message on
//! stderr (the write of `lineinfile` checks that the file still has the text it was planned
//! on); its failure is the failure of whatever flushed it.

use anyhow::{anyhow, Result};

use super::{Become, Session};

/// A command waiting to run on the session's host.
#[derive(Clone, Debug)]
pub struct Held {
    /// What it stands for (a file's path): a later command with the same key replaces it.
    pub key: String,
    pub command: String,
    pub stdin: Vec<u8>,
    pub escalation: Option<Become>,
    /// Names it in a failure: "cannot write /etc/hosts (the edits of the items before)".
    pub what: String,
}

/// The session's held commands, in the order first held.
#[derive(Default)]
pub(super) struct Queue {
    held: tokio::sync::Mutex<Vec<Held>>,
}

impl Queue {
    pub(super) async fn hold(&self, command: Held) {
        let mut held = self.held.lock().await;
        match held.iter_mut().find(|h| h.key == command.key) {
            Some(slot) => *slot = command,
            None => held.push(command),
        }
    }
}

impl Session {
    /// Leaves `command` to run before the session's next command (or at `flush_held`).
    pub async fn hold(&self, command: Held) {
        self.inner.held.hold(command).await;
    }

    /// Runs the held commands now, in order; the first failure is returned (the others
    /// still run: they stand for other files). Commands started meanwhile by other tasks
    /// wait until the held ones are done.
    pub async fn flush_held(&self) -> Result<()> {
        let mut held = self.inner.held.held.lock().await;
        if held.is_empty() {
            return Ok(());
        }
        let mut first_error = None;
        for h in std::mem::take(&mut *held) {
            let out = self
                .exec_now(&h.command, Some(&h.stdin), h.escalation.as_ref())
                .await;
            let error = match out {
                Ok(out) if out.rc == 0 => None,
                Ok(out) => Some(anyhow!("{}: {}", h.what, out.stderr_text().trim_end())),
                Err(e) => Some(e),
            };
            if first_error.is_none() {
                first_error = error;
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
