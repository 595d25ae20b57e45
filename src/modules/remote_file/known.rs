//! What this run last saw of a small text file on a host: its text and SHA-256, kept after
//! each read or write of a module that edits text (`lineinfile` in a loop edits one file
//! once per item). A module plans its edit on the remembered text and sends it with a guard
//! that the file still has that checksum (`Guard::Same`), so the edit of a file read a moment
//! ago takes one command instead of a read and a write. The memory is only a guess: when the
//! host's file differs, the guard fails, the read comes back and the module goes on from it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::sha256_hex;

/// Larger texts are not kept (the memory stays small whatever the files).
pub const KEEP_MAX: usize = 64 * 1024;

/// At most this many files are remembered; past it the memory starts over.
const FILES_MAX: usize = 4096;

/// (host, path) -> (SHA-256, text).
type Memory = HashMap<(String, String), (String, String)>;

fn memory() -> &'static Mutex<Memory> {
    static MEMORY: OnceLock<Mutex<Memory>> = OnceLock::new();
    MEMORY.get_or_init(Mutex::default)
}

/// Remembers that `path` on `host` holds `text` now.
pub fn remember(host: &str, path: &str, text: &str) {
    // A poisoned lock only means another task panicked; the map itself is intact.
    let mut m = memory().lock().unwrap_or_else(|e| e.into_inner());
    if text.len() > KEEP_MAX {
        m.remove(&(host.to_string(), path.to_string()));
        return;
    }
    if m.len() >= FILES_MAX {
        m.clear();
    }
    m.insert(
        (host.to_string(), path.to_string()),
        (sha256_hex(text.as_bytes()), text.to_string()),
    );
}

/// Forgets `path` on `host` (its state is unknown now).
pub fn forget(host: &str, path: &str) {
    let mut m = memory().lock().unwrap_or_else(|e| e.into_inner());
    m.remove(&(host.to_string(), path.to_string()));
}

/// The SHA-256 and text last seen of `path` on `host`.
pub fn recall(host: &str, path: &str) -> Option<(String, String)> {
    let m = memory().lock().unwrap_or_else(|e| e.into_inner());
    m.get(&(host.to_string(), path.to_string())).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_host_and_path() {
        let host = "known-test-host";
        remember(host, "/a", "one\n");
        remember(host, "/b", &"x".repeat(KEEP_MAX + 1));
        type Case<'a> = (&'a str, &'a str, Option<(String, String)>);
        let cases: [Case; 3] = [
            (host, "/a", Some((sha256_hex(b"one\n"), "one\n".into()))),
            (host, "/b", None),
            ("other-host", "/a", None),
        ];
        for (h, p, want) in cases {
            assert_eq!(recall(h, p), want, "{h} {p}");
        }
        forget(host, "/a");
        assert_eq!(recall(host, "/a"), None);
    }
}
