//! Values the run must never print: passwords, `-e` values named like secrets and what a
//! `no_log` task saw. They are collected as the run learns them and masked in every text
//! that leaves the process (the report, JSON events, warnings, errors and `-v` logs).

use std::borrow::Cow;
use std::sync::RwLock;

use crate::vars::{Value, Vars};

/// What a secret is replaced with.
pub const MASK: &str = "********";

/// Shorter values are not masked: masking `no` or `1` everywhere would garble the report.
pub const MIN_LEN: usize = 4;

/// Variables that hold the connection and become passwords, wherever they are defined.
const PASSWORD_VARS: &[&str] = &[
    "ansible_become_password",
    "ansible_become_pass",
    "ansible_password",
    "ansible_ssh_pass",
];

/// Words of a variable name that make its value a secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "credentials",
];

/// Phrases of module results that carry nothing of a `no_log` task's data.
const GENERIC: &[&str] = &[
    "non-zero return code",
    "All items completed",
    "One or more items failed",
    "Conditional result was False",
];

/// Result keys that name how the task ran, not what it saw: a loop variable's name (`item`)
/// masked everywhere would garble every later loop line.
const STRUCTURAL: &[&str] = &["cmd", "ansible_loop_var", "ansible_index_var"];

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Whether a variable's name marks its value as a secret: one of its words (split at `_`,
/// `-` and `.`) is a password word, `secret`, `token` or `credentials`, or its last word is
/// `key` (`api_key`, but not `cluster_key_type`).
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(['_', '-', '.']).collect();
    words.iter().any(|w| SECRET_WORDS.contains(w)) || words.last() == Some(&"key")
}

/// Records one secret value.
pub fn add(value: &str) {
    if value.chars().count() < MIN_LEN {
        return;
    }
    let known = SECRETS.read().map(|s| s.iter().any(|k| k == value));
    if known.unwrap_or(false) {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    all.push(value.to_string());
    // Longest first, so that a secret containing another is masked whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Records every string (and number) inside `value`, but not the [`STRUCTURAL`] keys
/// (program names and flags, loop variable names) nor generic phrases of module results.
pub fn add_value(value: &Value) {
    match value {
        Value::String(s) if !GENERIC.contains(&s.as_str()) => add(s),
        Value::Number(n) => add(&n.to_string()),
        Value::Array(items) => items.iter().for_each(add_value),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !STRUCTURAL.contains(&k.as_str()) && !k.starts_with("_ansible"))
            .for_each(|(_, v)| add_value(v)),
        _ => {}
    }
}

/// Records the values of `-e` variables named like secrets.
pub fn add_named(vars: &Vars) {
    for (name, value) in vars {
        if is_secret_name(name) {
            add_value(value);
        }
    }
}

/// Records the connection and become passwords among a host's variables.
pub fn add_passwords(vars: &Vars) {
    for name in PASSWORD_VARS {
        if let Some(value) = vars.get(*name) {
            add_value(value);
        }
    }
}

/// `text` with every known secret replaced by [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for secret in all.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    out
}

/// Stderr for `tracing`, with secrets masked.
pub struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names() {
        let cases = [
            ("db_password", true),
            ("DB_PASSWD", true),
            ("api_token", true),
            ("swarm-join-token", true),
            ("aws_secret_access_key", true),
            ("stripe_key", true),
            ("ssh_pass", true),
            ("cluster_key_type", false),
            ("keyboard", false),
            ("passenger", false),
            ("app_image", false),
            ("ansible_ssh_private_key_file", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_secret_name(name), want, "{name}");
        }
    }

    #[test]
    fn masks_what_was_recorded() {
        add_value(
            &json!({"stdout": "unit-zq81", "cmd": ["echo", "unit-zq81"], "rc": 0,
                          "msg": "non-zero return code", "x": "abc",
                          "ansible_loop_var": "unit_item", "_ansible_no_log": "unit_hidden"}),
        );
        add("unit-zq81-longer");
        let cases = [
            ("got unit-zq81", "got ********"),
            ("unit-zq81-longer!", "********!"),
            ("echo abc", "echo abc"),
            ("non-zero return code", "non-zero return code"),
            ("(unit_item=1) unit_hidden", "(unit_item=1) unit_hidden"),
        ];
        for (text, want) in cases {
            assert_eq!(redact(text), want, "{text}");
        }
    }
}
