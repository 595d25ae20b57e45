//! Host key checking against OpenSSH known_hosts files: plain and hashed (`|1|salt|hash`)
//! host entries, `[host]:port` for other ports, `!` and wildcard patterns, `@revoked`. The
//! decision is a pure function of the files' text; learning a new key appends a plain line.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use super::ssh_config::glob;

/// Serializes appends to known_hosts files within this process (several hosts may be learnt
/// at once when the executor connects in parallel).
static LEARN_LOCK: Mutex<()> = Mutex::new(());

/// What to do about host keys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Policy {
    /// Known keys must match; unknown hosts are learnt.
    AcceptNew,
    /// Known keys must match; unknown hosts are refused.
    Strict,
    /// Unknown hosts are accepted and not recorded; a changed or revoked key is still refused.
    Off,
}

impl Policy {
    /// Reads mestral's names and OpenSSH's StrictHostKeyChecking values.
    pub(crate) fn parse(value: &str) -> Result<Policy> {
        match value.to_ascii_lowercase().as_str() {
            "" | "accept-new" => Ok(Policy::AcceptNew),
            "strict" | "yes" | "ask" => Ok(Policy::Strict),
            "off" | "no" | "false" => Ok(Policy::Off),
            other => bail!(
                "unknown host key checking policy '{other}' (expected accept-new, strict or off)"
            ),
        }
    }
}

/// The key a server presented: algorithm name and base64 blob, as known_hosts writes them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HostKey {
    pub algorithm: String,
    pub base64: String,
}

/// What one known_hosts file says about a host and key.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lookup {
    /// A line lists this key for the host.
    Known,
    /// The host is listed with another key of the same type, first at this line.
    Changed { line: usize },
    /// The key is marked `@revoked` at this line.
    Revoked { line: usize },
    /// No line of the same key type names the host.
    Unknown,
}

/// The outcome of the check.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Verdict {
    Accept,
    /// Unknown host under accept-new: record the key, then accept.
    Learn,
    Refuse(String),
}

/// The host name as known_hosts spells it: `host` on port 22, `[host]:port` otherwise.
pub(crate) fn host_entry(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Looks `key` for `host`/`port` up in the text of one known_hosts file.
pub(crate) fn lookup(text: &str, host: &str, port: u16, key: &HostKey) -> Lookup {
    let name = host_entry(host, port).to_ascii_lowercase();
    let mut changed = None;
    let mut known = false;
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(mut first) = fields.next() else {
            continue;
        };
        if first.starts_with('#') {
            continue;
        }
        let marker = first.strip_prefix('@');
        if marker.is_some() {
            match fields.next() {
                Some(next) => first = next,
                None => continue,
            }
        }
        let (Some(algorithm), Some(base64)) = (fields.next(), fields.next()) else {
            continue;
        };
        if marker == Some("cert-authority") || !hosts_match(first, &name) {
            continue;
        }
        let same_key = algorithm == key.algorithm && base64 == key.base64;
        if marker == Some("revoked") {
            if same_key {
                return Lookup::Revoked { line: index + 1 };
            }
            continue;
        }
        if same_key {
            known = true;
        } else if algorithm == key.algorithm && changed.is_none() {
            changed = Some(index + 1);
        }
    }
    match (known, changed) {
        (true, _) => Lookup::Known,
        (false, Some(line)) => Lookup::Changed { line },
        (false, None) => Lookup::Unknown,
    }
}

/// A comma-separated host list matches when one entry matches and no `!` entry does.
fn hosts_match(list: &str, name: &str) -> bool {
    let mut matched = false;
    for entry in list.split(',') {
        if let Some(hashed) = entry.strip_prefix("|1|") {
            matched |= hashed_match(hashed, name);
        } else if let Some(negated) = entry.strip_prefix('!') {
            if glob(&negated.to_ascii_lowercase(), name) {
                return false;
            }
        } else {
            matched |= glob(&entry.to_ascii_lowercase(), name);
        }
    }
    matched
}

/// `salt|hash`, both base64: the entry is HMAC-SHA1(salt, name).
fn hashed_match(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let Ok(mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt) else {
        return false;
    };
    mac.chain_update(name.as_bytes())
        .verify_slice(&hash)
        .is_ok()
}

/// Decides from the lookups in every file read (`(file, lookup)`, user files first).
pub(crate) fn decide(
    policy: Policy,
    host: &str,
    port: u16,
    lookups: &[(PathBuf, Lookup)],
) -> Verdict {
    let entry = host_entry(host, port);
    for (file, lookup) in lookups {
        if let Lookup::Revoked { line } = lookup {
            return Verdict::Refuse(format!(
                "host key for {entry} is revoked (known_hosts {}:{line})",
                display(file)
            ));
        }
    }
    if lookups.iter().any(|(_, l)| *l == Lookup::Known) {
        return Verdict::Accept;
    }
    if let Some((file, Lookup::Changed { line })) = lookups
        .iter()
        .find(|(_, l)| matches!(l, Lookup::Changed { .. }))
    {
        return Verdict::Refuse(format!(
            "host key for {entry} has changed (known_hosts {}:{line}); if this is expected \
             remove the line with: {}",
            display(file),
            remove_command(file, &entry)
        ));
    }
    match policy {
        Policy::Off => Verdict::Accept,
        Policy::Strict => Verdict::Refuse(format!(
            "host key for {entry} is not in known_hosts ({}) and host key checking is strict",
            lookups
                .iter()
                .map(|(f, _)| display(f))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Verdict::Learn,
    }
}

/// The `ssh-keygen -R` line to drop a host, with `-f` unless the file is the default one.
fn remove_command(file: &Path, entry: &str) -> String {
    let default = dirs::home_dir().map(|h| h.join(".ssh/known_hosts"));
    let target = super::quote(entry);
    if default.as_deref() == Some(file) {
        format!("ssh-keygen -R {target}")
    } else {
        format!(
            "ssh-keygen -f {} -R {target}",
            super::quote(&file.display().to_string())
        )
    }
}

/// A path with the home directory shown as `~`.
pub(crate) fn display(path: &Path) -> String {
    match dirs::home_dir().and_then(|home| path.strip_prefix(home).ok().map(Path::to_path_buf)) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// Checks the key against `files` (missing files count as empty) and, under accept-new,
/// appends it to `learn_to`. Returns `Err` with the refusal message.
pub(crate) fn check(
    policy: Policy,
    host: &str,
    port: u16,
    key: &HostKey,
    files: &[PathBuf],
    learn_to: &Path,
) -> Result<()> {
    let lookups = read_lookups(host, port, key, files)?;
    match decide(policy, host, port, &lookups) {
        Verdict::Accept => Ok(()),
        Verdict::Refuse(message) => bail!(message),
        Verdict::Learn => learn(host, port, key, learn_to),
    }
}

fn read_lookups(
    host: &str,
    port: u16,
    key: &HostKey,
    files: &[PathBuf],
) -> Result<Vec<(PathBuf, Lookup)>> {
    let mut lookups = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).context(format!("cannot read {}", display(file))),
        };
        lookups.push((file.clone(), lookup(&text, host, port, key)));
    }
    Ok(lookups)
}

/// Appends `[host]:port algorithm base64` to `file`, unless another task of this process
/// recorded the same key meanwhile.
fn learn(host: &str, port: u16, key: &HostKey, file: &Path) -> Result<()> {
    use std::io::Write;

    // A poisoned lock only means another learner panicked; the file itself is still sound.
    let _guard = LEARN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let current = std::fs::read_to_string(file).unwrap_or_default();
    if lookup(&current, host, port, key) == Lookup::Known {
        return Ok(());
    }
    if let Some(dir) = file.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            set_private(dir);
        }
    }
    let mut line = String::new();
    if !current.is_empty() && !current.ends_with('\n') {
        line.push('\n');
    }
    line.push_str(&format!(
        "{} {} {}\n",
        host_entry(host, port),
        key.algorithm,
        key.base64
    ));
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_context(|| format!("cannot open {} to record the host key", display(file)))?;
    out.write_all(line.as_bytes())
        .with_context(|| format!("cannot write {}", display(file)))?;
    tracing::debug!(host, port, file = %file.display(), "recorded new host key");
    Ok(())
}

fn set_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIA6rWI3G2sz07DnfFlrouTcysQlj2P+jpNSOEWD9OJ3X";

    fn ed(base64: &str) -> HostKey {
        HostKey {
            algorithm: "ssh-ed25519".into(),
            base64: base64.into(),
        }
    }

    /// A hashed entry for `name` with a fixed salt, computed the way ssh-keygen -H does.
    fn hashed(name: &str) -> String {
        let salt = [7u8; 20];
        let mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt).unwrap();
        let hash = mac.chain_update(name.as_bytes()).finalize().into_bytes();
        format!("|1|{}|{}", STANDARD.encode(salt), STANDARD.encode(hash))
    }

    #[test]
    fn lookup_table() {
        let text = format!(
            "# comment\n\
             \n\
             10.0.0.1,web1 ssh-ed25519 {KEY_A}\n\
             [10.0.0.2]:2222 ssh-ed25519 {KEY_A}\n\
             10.0.0.3 ssh-ed25519 {KEY_B}\n\
             10.0.0.3 ssh-rsa AAAAB3NzaC1yc2E\n\
             {} ssh-ed25519 {KEY_B}\n\
             *.lab,!bad.lab ssh-ed25519 {KEY_A}\n\
             @revoked 10.0.0.9 ssh-ed25519 {KEY_B}\n\
             @cert-authority 10.0.0.10 ssh-ed25519 {KEY_B}\n",
            hashed("[10.0.0.5]:2200")
        );
        let cases = [
            ("10.0.0.1", 22, KEY_A, Lookup::Known),
            ("WEB1", 22, KEY_A, Lookup::Known),
            ("10.0.0.1", 22, KEY_B, Lookup::Changed { line: 3 }),
            ("10.0.0.1", 2222, KEY_A, Lookup::Unknown),
            ("10.0.0.2", 2222, KEY_A, Lookup::Known),
            ("10.0.0.2", 22, KEY_A, Lookup::Unknown),
            ("10.0.0.3", 22, KEY_A, Lookup::Changed { line: 5 }),
            ("10.0.0.5", 2200, KEY_B, Lookup::Known),
            ("10.0.0.5", 2200, KEY_A, Lookup::Changed { line: 7 }),
            ("10.0.0.5", 22, KEY_A, Lookup::Unknown),
            ("a.lab", 22, KEY_A, Lookup::Known),
            ("bad.lab", 22, KEY_A, Lookup::Unknown),
            ("10.0.0.9", 22, KEY_B, Lookup::Revoked { line: 9 }),
            ("10.0.0.9", 22, KEY_A, Lookup::Unknown),
            ("10.0.0.10", 22, KEY_A, Lookup::Unknown),
        ];
        for (host, port, key, expected) in cases {
            assert_eq!(
                lookup(&text, host, port, &ed(key)),
                expected,
                "{host}:{port}"
            );
        }
    }

    #[test]
    fn other_key_types_do_not_count_as_changed() {
        let text = "h ecdsa-sha2-nistp256 AAAAE2VjZHNh\n";
        assert_eq!(lookup(text, "h", 22, &ed(KEY_A)), Lookup::Unknown);
    }

    #[test]
    fn decisions() {
        let file = PathBuf::from("/etc/mestral/kh");
        let other = PathBuf::from("/etc/mestral/global");
        let at = |l: Lookup| vec![(file.clone(), l), (other.clone(), Lookup::Unknown)];
        let changed = "host key for 172.30.8.250 has changed (known_hosts /etc/mestral/kh:3); \
                       if this is expected remove the line with: \
                       ssh-keygen -f /etc/mestral/kh -R 172.30.8.250";
        let strict = "host key for 172.30.8.250 is not in known_hosts (/etc/mestral/kh, \
                      /etc/mestral/global) and host key checking is strict";
        let cases = [
            (Policy::AcceptNew, Lookup::Known, Verdict::Accept),
            (Policy::AcceptNew, Lookup::Unknown, Verdict::Learn),
            (
                Policy::AcceptNew,
                Lookup::Changed { line: 3 },
                Verdict::Refuse(changed.into()),
            ),
            (Policy::Strict, Lookup::Known, Verdict::Accept),
            (
                Policy::Strict,
                Lookup::Unknown,
                Verdict::Refuse(strict.into()),
            ),
            (
                Policy::Strict,
                Lookup::Changed { line: 3 },
                Verdict::Refuse(changed.into()),
            ),
            (
                Policy::Off,
                Lookup::Changed { line: 3 },
                Verdict::Refuse(changed.into()),
            ),
            (Policy::Off, Lookup::Unknown, Verdict::Accept),
            (
                Policy::AcceptNew,
                Lookup::Revoked { line: 2 },
                Verdict::Refuse(
                    "host key for 172.30.8.250 is revoked (known_hosts /etc/mestral/kh:2)".into(),
                ),
            ),
        ];
        for (policy, lookup, expected) in cases {
            let got = decide(policy, "172.30.8.250", 22, &at(lookup.clone()));
            assert_eq!(got, expected, "{policy:?} {lookup:?}");
        }
    }

    #[test]
    fn changed_key_on_other_port_quotes_the_entry() {
        let lookups = vec![(PathBuf::from("/k h"), Lookup::Changed { line: 1 })];
        let Verdict::Refuse(message) = decide(Policy::AcceptNew, "127.0.0.1", 22022, &lookups)
        else {
            panic!("expected a refusal");
        };
        assert_eq!(
            message,
            "host key for [127.0.0.1]:22022 has changed (known_hosts /k h:1); if this is \
             expected remove the line with: ssh-keygen -f '/k h' -R '[127.0.0.1]:22022'"
        );
    }

    #[test]
    fn policy_names() {
        let cases = [
            ("", Policy::AcceptNew),
            ("accept-new", Policy::AcceptNew),
            ("strict", Policy::Strict),
            ("yes", Policy::Strict),
            ("off", Policy::Off),
            ("no", Policy::Off),
        ];
        for (name, expected) in cases {
            assert_eq!(Policy::parse(name).unwrap(), expected, "{name}");
        }
        assert_eq!(
            Policy::parse("maybe").unwrap_err().to_string(),
            "unknown host key checking policy 'maybe' (expected accept-new, strict or off)"
        );
    }

    #[test]
    fn learning_appends_once_and_fixes_a_missing_newline() {
        let dir = std::env::temp_dir().join(format!("mestral-kh-unit-{}", std::process::id()));
        let file = dir.join("sub/known_hosts");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, format!("other ssh-ed25519 {KEY_B}")).unwrap();
        let key = ed(KEY_A);
        let files = vec![file.clone()];
        check(Policy::AcceptNew, "10.1.1.1", 2222, &key, &files, &file).unwrap();
        check(Policy::AcceptNew, "10.1.1.1", 2222, &key, &files, &file).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            format!("other ssh-ed25519 {KEY_B}\n[10.1.1.1]:2222 ssh-ed25519 {KEY_A}\n")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
