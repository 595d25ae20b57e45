//! What this run last saw of a small text file on a host: its text and SHA-256, kept after
//! each read or write of a module that edits text (`lineinfile` in a loop edits one file
//! once per item). A module plans its edit on the remembered text and sends it with a guard
//! that the file still has that checksum (`Guard::Same`), so the edit of a file read a moment
//! ago takes one command instead of a read and a write. The memory is only a guess: when the
//! host's file differs, the guard fails, the read comes back and the module goes on from it.
//!
//! Each entry also keeps when it was made (its `Epoch`): the session's command count and the
//! pass over a loop, if any. While no command has started on the host since, nothing of ours
//! can have changed the file, and a later item of the same pass may plan on the text without
//! asking the host at all, leaving its write held in the session (`connection::Held`) for
//! the items after it to replace. (Past the loop, the next task asks the host again: the
//! file may have been changed by something other than this run between two tasks.)

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::sha256_hex;

/// Larger texts are not kept (the memory stays small whatever the files).
pub const KEEP_MAX: usize = 64 * 1024;

/// At most this many files are remembered; past it the memory starts over.
const FILES_MAX: usize = 4096;

/// What is known of one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Known {
    /// The text, and its SHA-256: what the file holds once the held write (if any) has run.
    pub text: String,
    pub sha256: String,
    /// The SHA-256 of what the host's file holds now: `sha256` unless a write is held.
    pub host_sha256: String,
    pub epoch: Epoch,
}

/// When something was learned or planned: the session's command count, and the pass over a
/// loop (`ModuleCtx::loop_pass`) it was learned in, if any.
pub type Epoch = (u64, Option<u64>);

/// (host, path) -> what is known.
type Memory = HashMap<(String, String), Known>;

fn memory() -> &'static Mutex<Memory> {
    static MEMORY: OnceLock<Mutex<Memory>> = OnceLock::new();
    MEMORY.get_or_init(Mutex::default)
}

/// Remembers that `path` on `host` holds `text` now, the session having started `epoch`
/// commands.
pub fn remember(host: &str, path: &str, text: &str, epoch: Epoch) {
    let sha256 = sha256_hex(text.as_bytes());
    keep(host, path, text, sha256.clone(), sha256, epoch);
}

/// Remembers that `path` on `host` will hold `text` once the write held in the session has
/// run; until then the host has the text whose SHA-256 is `host_sha256`.
pub fn remember_held(host: &str, path: &str, text: &str, host_sha256: &str, epoch: Epoch) {
    let sha256 = sha256_hex(text.as_bytes());
    keep(host, path, text, sha256, host_sha256.to_string(), epoch);
}

fn keep(host: &str, path: &str, text: &str, sha256: String, host_sha256: String, epoch: Epoch) {
    // A poisoned lock only means another task panicked; the map itself is intact.
    let mut m = memory().lock().unwrap_or_else(|e| e.into_inner());
    if text.len() > KEEP_MAX {
        m.remove(&(host.to_string(), path.to_string()));
        return;
    }
    if m.len() >= FILES_MAX {
        m.clear();
    }
    let known = Known {
        text: text.to_string(),
        sha256,
        host_sha256,
        epoch,
    };
    m.insert((host.to_string(), path.to_string()), known);
}

/// Forgets `path` on `host` (its state is unknown now).
pub fn forget(host: &str, path: &str) {
    let mut m = memory().lock().unwrap_or_else(|e| e.into_inner());
    m.remove(&(host.to_string(), path.to_string()));
}

/// What is known of `path` on `host`.
pub fn recall(host: &str, path: &str) -> Option<Known> {
    let m = memory().lock().unwrap_or_else(|e| e.into_inner());
    m.get(&(host.to_string(), path.to_string())).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_host_and_path() {
        let host = "known-test-host";
        remember(host, "/a", "one\n", (3, None));
        remember(host, "/b", &"x".repeat(KEEP_MAX + 1), (3, None));
        remember_held(host, "/c", "two\n", &sha256_hex(b"one\n"), (5, Some(2)));
        let known = |text: &str, host_text: &str, epoch| Known {
            text: text.into(),
            sha256: sha256_hex(text.as_bytes()),
            host_sha256: sha256_hex(host_text.as_bytes()),
            epoch,
        };
        type Case<'a> = (&'a str, &'a str, Option<Known>);
        let cases: [Case; 4] = [
            (host, "/a", Some(known("one\n", "one\n", (3, None)))),
            (host, "/b", None),
            (host, "/c", Some(known("two\n", "one\n", (5, Some(2))))),
            ("other-host", "/a", None),
        ];
        for (h, p, want) in cases {
            assert_eq!(recall(h, p), want, "{h} {p}");
        }
        forget(host, "/a");
        assert_eq!(recall(host, "/a"), None);
    }
}
