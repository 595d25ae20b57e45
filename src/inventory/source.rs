//! One `-i` source: a file (YAML by extension, INI otherwise), a directory of such files, or
//! a comma-separated list of hosts. Says which folder holds the source's `group_vars/`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{ini, range, yaml, Inventory};
use crate::vars::Vars;

/// Reads `src` into `inv`. Returns the folder whose `group_vars/` and `host_vars/` belong to
/// the source: a file's folder, or the directory itself.
pub(super) fn read(inv: &mut Inventory, src: &Path) -> Result<Option<PathBuf>> {
    if src.is_dir() {
        read_dir(inv, src)?;
        return Ok(Some(src.to_path_buf()));
    }
    if src.is_file() {
        read_file(inv, src)?;
        let dir = match src.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        return Ok(Some(dir));
    }
    let text = src.to_string_lossy();
    if text.contains(',') {
        read_host_list(inv, &text)?;
        return Ok(None);
    }
    // A lone host name or address was most likely meant as a host list.
    let file_like = text.contains('/')
        || [".ini", ".yml", ".yaml", ".json", ".cfg", ".txt"]
            .iter()
            .any(|ext| text.ends_with(ext));
    let hint = match file_like {
        true => String::new(),
        false => {
            format!(" (to give hosts on the command line, end the list with a comma: -i '{text},')")
        }
    };
    bail!("inventory source '{}' does not exist{hint}", src.display())
}

fn read_file(inv: &mut Inventory, path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read inventory {}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "yml" | "yaml" | "json" => yaml::parse(inv, path, &text),
        _ => ini::parse(inv, path, &text),
    }
}

/// Every file of a directory, in name order, descending into folders; hidden files, backups
/// and the variable folders are skipped.
fn read_dir(inv: &mut Inventory, dir: &Path) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read inventory directory {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<PathBuf>>>()
        .with_context(|| format!("cannot read inventory directory {}", dir.display()))?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if is_ignored(name) {
            continue;
        }
        if path.is_dir() {
            if name != "group_vars" && name != "host_vars" {
                read_dir(inv, &path)?;
            }
        } else {
            read_file(inv, &path)?;
        }
    }
    Ok(())
}

/// Names a directory source does not read as inventory.
pub(super) fn is_ignored(name: &str) -> bool {
    const SKIPPED: &[&str] = &[".retry", ".orig", ".cfg", ".pyc", ".pyo", ".swp"];
    name.is_empty()
        || name.starts_with('.')
        || name.ends_with('~')
        || SKIPPED.iter().any(|ext| name.ends_with(ext))
}

/// `web1,web2:2222,` as a list of ungrouped hosts.
fn read_host_list(inv: &mut Inventory, text: &str) -> Result<()> {
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, port) =
            range::split_port(item).map_err(|e| anyhow::anyhow!("host list '{text}': {e}"))?;
        let mut vars = Vars::new();
        if let Some(port) = port {
            vars.insert("ansible_port".into(), port.into());
        }
        inv.add_host(&name, "ungrouped", vars, None);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_names() {
        let cases = [
            ("hosts", false),
            ("lab.ini", false),
            ("lab.yml", false),
            (".hidden", true),
            ("site.retry", true),
            ("hosts~", true),
            ("ansible.cfg", true),
            ("hosts.orig", true),
        ];
        for (name, want) in cases {
            assert_eq!(is_ignored(name), want, "{name}");
        }
    }

    #[test]
    fn host_list_source() {
        let mut inv = Inventory::empty();
        let dir = read(&mut inv, Path::new("web1, web2:2222,")).unwrap();
        inv.reconcile();
        assert_eq!(dir, None);
        assert_eq!(inv.hosts_of_group("ungrouped"), vec!["web1", "web2"]);
        assert_eq!(
            inv.host("web2").unwrap().vars,
            serde_json::json!({"ansible_port": 2222})
                .as_object()
                .unwrap()
                .clone()
        );
        assert!(inv.host("web1").unwrap().vars.is_empty());
    }

    #[test]
    fn missing_source() {
        let cases = [
            (
                "no/such/hosts.ini",
                "inventory source 'no/such/hosts.ini' does not exist",
            ),
            ("hosts.yml", "inventory source 'hosts.yml' does not exist"),
            (
                "172.30.8.250",
                "inventory source '172.30.8.250' does not exist (to give hosts on the command \
                 line, end the list with a comma: -i '172.30.8.250,')",
            ),
            (
                "web1",
                "inventory source 'web1' does not exist (to give hosts on the command line, \
                 end the list with a comma: -i 'web1,')",
            ),
        ];
        for (source, want) in cases {
            let mut inv = Inventory::empty();
            let err = read(&mut inv, Path::new(source)).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
    }
}
