//! `with_fileglob`: file patterns on the controller (`*`, `?` in the file name), matched in
//! one folder as Ansible's fileglob lookup does, giving the regular files found, sorted.

use std::path::{Path, PathBuf};

/// The files matching `pattern`; a relative pattern is tried in each search folder in turn
/// and the first folder that exists is used.
pub fn expand(pattern: &str, search: &[PathBuf]) -> Vec<String> {
    let path = Path::new(pattern);
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => (d.to_path_buf(), n.to_string_lossy().into_owned()),
        _ => return Vec::new(),
    };
    let dirs: Vec<PathBuf> = if path.is_absolute() {
        vec![dir]
    } else {
        search.iter().map(|s| s.join(&dir)).collect()
    };
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut found: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter(|e| matches(&name, &e.file_name().to_string_lossy()))
            .map(|e| {
                let path = e.path();
                std::fs::canonicalize(&path)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            })
            .collect();
        if !found.is_empty() {
            found.sort();
            return found;
        }
    }
    Vec::new()
}

/// Shell-style matching of one name: `*` any run of characters, `?` one character.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_table() {
        let cases = [
            ("*.conf", "a.conf", true),
            ("*.conf", "a.conf.bak", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*", "", true),
            ("x*y*z", "xaaybbz", true),
            ("x*y*z", "xaaybb", false),
            ("plain", "plain", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(matches(pattern, name), want, "{pattern} {name}");
        }
    }
}
