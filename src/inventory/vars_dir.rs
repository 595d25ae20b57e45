//! `group_vars/` and `host_vars/` in a folder: for each group or host of the inventory,
//! `NAME.yml`, `NAME.yaml`, `NAME.json`, then `NAME` itself (a file, or a folder whose files
//! are merged in name order), as Ansible's `host_group_vars` plugin finds them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{source, yaml, Inventory};
use crate::vars::{merge, Vars};

const EXTENSIONS: &[&str] = &["yml", "yaml", "json"];

/// Whose folder it is: group variables beside the playbook rank above those beside the
/// inventory, each in its own layer (`Inventory::host_vars` says the order).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Layer {
    Inventory,
    Playbook,
}

/// Merges the folder's group variables into the groups' `layer` and its host variables
/// over the hosts' own.
pub(super) fn load(inv: &mut Inventory, dir: &Path, layer: Layer) -> Result<()> {
    let group_dir = dir.join("group_vars");
    if group_dir.is_dir() {
        let names: Vec<String> = inv.groups.iter().map(|g| g.name.clone()).collect();
        for name in names {
            let vars = read_entity(&group_dir, &name)?;
            if let Some(g) = inv.group_mut(&name) {
                let into = match layer {
                    Layer::Inventory => &mut g.dir_vars,
                    Layer::Playbook => &mut g.playbook_vars,
                };
                merge(into, &vars);
            }
        }
    }
    let host_dir = dir.join("host_vars");
    if host_dir.is_dir() {
        let names: Vec<String> = inv.hosts.iter().map(|h| h.name.clone()).collect();
        for name in names {
            let vars = read_entity(&host_dir, &name)?;
            if let Some(h) = inv.host_mut(&name) {
                merge(&mut h.vars, &vars);
            }
        }
    }
    Ok(())
}

/// The merged variables of every file found for `name` in `dir`.
fn read_entity(dir: &Path, name: &str) -> Result<Vars> {
    let mut files = Vec::new();
    for ext in EXTENSIONS {
        let path = dir.join(format!("{name}.{ext}"));
        if path.is_file() {
            files.push(path);
        }
    }
    let bare = dir.join(name);
    if bare.is_dir() {
        files_in(&bare, &mut files)?;
    } else if bare.is_file() {
        files.push(bare);
    }

    let mut out = Vars::new();
    for file in files {
        merge(&mut out, &read_file(&file)?);
    }
    Ok(out)
}

/// Variable files of a folder and its subfolders, in name order.
fn files_in(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<PathBuf>>>()
        .with_context(|| format!("cannot read {}", dir.display()))?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if source::is_ignored(name) {
            continue;
        }
        if path.is_dir() {
            files_in(&path, out)?;
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str());
        if ext.is_none() || ext.is_some_and(|e| EXTENSIONS.contains(&e)) {
            out.push(path);
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<Vars> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc = yaml::load(path, &text)?;
    yaml::vars_of(doc, "the file").map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testdir::TempDir;
    use crate::vars::Value;
    use serde_json::json;

    #[test]
    fn files_and_folders() {
        let tmp = TempDir::new("files");
        tmp.write("group_vars/web.yml", "a: 1\nb: yml\n");
        tmp.write("group_vars/web.json", "{\"b\": \"json\", \"c\": 3}");
        tmp.write("group_vars/web/20-late.yml", "d: late\n");
        tmp.write("group_vars/web/10-early.yaml", "d: early\ne: 5\n");
        tmp.write("group_vars/web/.hidden.yml", "e: hidden\n");
        tmp.write("group_vars/web/notes.txt", "e: text\n");
        tmp.write("group_vars/all", "x: bare\n");
        tmp.write("group_vars/ghost.yml", "g: 1\n");
        tmp.write("host_vars/h1.yaml", "port: 22\n");
        tmp.write("host_vars/h2.yml", "");

        let mut inv = Inventory::empty();
        inv.add_host("h1", "web", Vars::new(), None);
        inv.add_host("h2", "web", Vars::new(), None);
        inv.reconcile();
        load(&mut inv, &tmp.0, Layer::Inventory).unwrap();

        let web = Value::Object(inv.group("web").unwrap().dir_vars.clone());
        assert_eq!(
            web,
            json!({"a": 1, "b": "json", "c": 3, "d": "late", "e": 5})
        );
        let all = Value::Object(inv.group("all").unwrap().dir_vars.clone());
        assert_eq!(all, json!({"x": "bare"}));
        assert!(inv.group("ghost").is_none());
        assert_eq!(
            Value::Object(inv.host("h1").unwrap().vars.clone()),
            json!({"port": 22})
        );
        assert_eq!(
            Value::Object(inv.host("h2").unwrap().vars.clone()),
            json!({})
        );
    }

    #[test]
    fn bad_files_name_the_place() {
        let tmp = TempDir::new("bad");
        tmp.write("group_vars/all.yml", "- a\n- b\n");
        let mut inv = Inventory::empty();
        let err = load(&mut inv, &tmp.0, Layer::Inventory)
            .unwrap_err()
            .to_string();
        let file = tmp.0.join("group_vars/all.yml");
        assert_eq!(
            err,
            format!(
                "{}: the file must be a mapping of variables, found a list",
                file.display()
            )
        );

        tmp.write("group_vars/all.yml", "a: [1\n");
        let err = load(&mut inv, &tmp.0, Layer::Inventory)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}:2:1: did not find expected ',' or ']', while parsing a flow sequence \
                 at line 1 column 4",
                file.display()
            )
        );
    }
}
