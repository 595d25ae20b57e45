//! Checks made while a playbook loads, before any host is contacted: file modes YAML read as
//! decimal numbers (`mode: 644`), module parameters (unknown, mistyped, missing), and hints for the YAML mistakes people make most (a `k=v`
//! value holding `: `, a tab used for indentation). Errors name the file, line and column.

use std::path::Path;

use anyhow::{bail, Result};

use super::Origin;
use crate::vars::Value;

/// Modules whose `mode` (and `directory_mode`) parameters are file modes.
const MODE_MODULES: &[&str] = &[
    "copy",
    "template",
    "file",
    "lineinfile",
    "blockinfile",
    "get_url",
    "openssh_keypair",
];

/// Refuses a file mode written as an unquoted number without a leading zero (`mode: 644`,
/// which YAML reads as decimal 644) at its line and column. `mode: 0o644` (the number 420
/// in YAML 1.2) is turned into the text `0o644`, so it means 0644 as written.
pub fn file_modes(module: &str, args: &mut Value, origin: &Origin) -> Result<()> {
    if !MODE_MODULES.contains(&module) {
        return Ok(());
    }
    let Some(map) = args.as_object_mut() else {
        return Ok(());
    };
    for key in ["mode", "directory_mode"] {
        let Some(n) = map.get(key).and_then(Value::as_u64) else {
            continue;
        };
        let digits = n.to_string();
        if n <= 7 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            continue;
        }
        let place = find_value(&origin.file, origin.line, key, n);
        if let Some((_, _, written)) = &place {
            if written.starts_with("0o") {
                map.insert(key.into(), Value::String(written.clone()));
                continue;
            }
        }
        let msg = format!(
            "module '{module}': {key} {n} was read as a decimal number; \
             quote it as '0{n}' (or write {key}: 0{n})"
        );
        match place {
            Some((line, col, _)) => {
                let text = std::fs::read_to_string(&origin.file).unwrap_or_default();
                let shown = text.lines().nth(line - 1).unwrap_or("");
                bail!(
                    "{}:{line}:{col}: {msg}\n    {shown}\n    {}^",
                    origin.file.display(),
                    " ".repeat(col - 1)
                );
            }
            None => bail!("{origin}: {msg}"),
        }
    }
    Ok(())
}

/// Refuses an unknown parameter (and, when no value holds a template, a mistyped or missing
/// one) of a module or controller action, at the parameter's line and column when it can be
/// found, else at the task.
pub fn parameters(module: &str, args: &Value, origin: &Origin) -> Result<()> {
    let Err(msg) = crate::modules::params::check(module, args) else {
        return Ok(());
    };
    let key = ["unknown parameter '", "parameter '"]
        .iter()
        .find_map(|p| msg.strip_prefix(p))
        .and_then(|rest| rest.split('\'').next());
    match key.and_then(|k| find_key(&origin.file, origin.line, k)) {
        Some((line, col)) => {
            let text = std::fs::read_to_string(&origin.file).unwrap_or_default();
            let shown = text.lines().nth(line - 1).unwrap_or("");
            bail!(
                "{}:{line}:{col}: {msg}\n    {shown}\n    {}^",
                origin.file.display(),
                " ".repeat(col - 1)
            );
        }
        None => bail!("{origin}: {msg}"),
    }
}

/// Where the parameter `key` is written (`key:` in a mapping or `key=` in `k=v` text), from
/// the task's line on: (line, column), 1-based.
fn find_key(file: &Path, from_line: usize, key: &str) -> Option<(usize, usize)> {
    let text = std::fs::read_to_string(file).ok()?;
    for (i, line) in text.lines().enumerate().skip(from_line.saturating_sub(1)) {
        let mut search = 0;
        while let Some(at) = line[search..].find(key).map(|a| a + search) {
            search = at + key.len();
            let before = line[..at].chars().next_back();
            let boundary = before.is_none_or(|c| !c.is_alphanumeric() && c != '_');
            let rest = line[search..].trim_start_matches([' ', '"', '\'']);
            if boundary && (rest.starts_with(':') || rest.starts_with('=')) {
                return Some((i + 1, at + 1));
            }
        }
    }
    None
}

/// Where `key: VALUE` holding the number `n` is written, from the task's line on:
/// (line, column of the value, the value's text), 1-based.
fn find_value(file: &Path, from_line: usize, key: &str, n: u64) -> Option<(usize, usize, String)> {
    let text = std::fs::read_to_string(file).ok()?;
    for (i, line) in text.lines().enumerate().skip(from_line.saturating_sub(1)) {
        let mut search = 0;
        while let Some(at) = line[search..].find(key).map(|a| a + search) {
            search = at + key.len();
            let boundary = at == 0
                || !line.as_bytes()[at - 1].is_ascii_alphanumeric()
                    && line.as_bytes()[at - 1] != b'_';
            let rest = &line[search..];
            let Some(after) = rest.trim_start().strip_prefix(':') else {
                continue;
            };
            let value_at = line.len() - after.trim_start().len();
            let word: String = line[value_at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let same = match word.strip_prefix("0o") {
                Some(oct) => u64::from_str_radix(oct, 8).ok() == Some(n),
                None => word == n.to_string(),
            };
            if boundary && same {
                return Some((i + 1, value_at + 1, word));
            }
        }
    }
    None
}

/// A hint for a YAML syntax error at `line` and `col` (1-based), if the text shows a common cause.
pub fn yaml_hint(text: &str, line: usize, col: usize, reason: &str) -> Option<String> {
    // A tab in the indentation at or before the error is the likely cause.
    let tabbed = text.lines().take(line).position(|l| {
        l.chars()
            .take_while(|c| c.is_whitespace())
            .any(|c| c == '\t')
    });
    if let Some(at) = tabbed {
        return Some(format!(
            "line {} is indented with a tab; YAML indents with spaces only",
            at + 1
        ));
    }
    let shown = text.lines().nth(line.saturating_sub(1))?;
    if reason.starts_with("mapping values are not allowed") {
        // `module: a=1 b=x: y` — the k=v text holds ": ", which YAML reads as a mapping.
        let before = shown.get(..col.saturating_sub(1)).unwrap_or(shown);
        let module = before
            .trim_start()
            .trim_start_matches("- ")
            .split(':')
            .next();
        let key = before
            .split_whitespace()
            .filter_map(|w| w.split_once('=').map(|(k, _)| k))
            // parameter names are lower case, `ALL=(ALL)` inside a value is not one
            .rfind(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        return Some(match (module, key) {
            (Some(m), Some(k)) => format!(
                "the value of '{k}' holds ': '; quote the whole argument text \
                 ({m}: '... {k}=\"...\"') or write the arguments as a mapping"
            ),
            _ => "a value holding ': ' must be quoted".to_string(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_hints() {
        let kv =
            "- hosts: a\n  tasks:\n    - lineinfile: path=/x line=\"%a ALL=(ALL) NOPASSWD: ALL\"\n";
        let tab = "- hosts: a\n  tasks:\n\t- ping:\n";
        let cases = [
            (
                kv,
                (3, 54),
                "mapping values are not allowed in this context",
                Some(
                    "the value of 'line' holds ': '; quote the whole argument text \
                     (lineinfile: '... line=\"...\"') or write the arguments as a mapping",
                ),
            ),
            (
                tab,
                (3, 1),
                "found character that cannot start any token",
                Some("line 3 is indented with a tab; YAML indents with spaces only"),
            ),
            (
                "- hosts: [\n",
                (2, 1),
                "did not find expected node content",
                None,
            ),
        ];
        for (text, (line, col), reason, want) in cases {
            assert_eq!(
                yaml_hint(text, line, col, reason).as_deref(),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn finds_mode_values() {
        let dir = std::env::temp_dir().join(format!("mestral-preflight-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pb.yml");
        let text = "- copy:\n    filemode: 644\n    mode: 644\n- file: {path: /x, mode: 0o755}\n";
        std::fs::write(&file, text).unwrap();
        let cases = [
            (1, "mode", 644, Some((3, 11, "644".to_string()))),
            (4, "mode", 0o755, Some((4, 26, "0o755".to_string()))),
            (1, "directory_mode", 644, None),
        ];
        for (from, key, n, want) in cases {
            assert_eq!(find_value(&file, from, key, n), want, "{key} {n}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
