//! `mestral inventory`: the inventory as ansible-inventory shows it. `--list` prints the JSON
//! that dynamic-inventory consumers read (`_meta.hostvars` included), `--graph` the group
//! tree (with `--vars`, each host's and group's variables), `--host` one host's variables.
//! Keys are sorted and indented as ansible-inventory prints them, so the outputs compare
//! byte for byte. Variables are shown as written: templates are not rendered.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::inventory::Inventory;
use crate::vars::{merge, Value, Vars};

/// Variables that describe the inventory rather than belong to it; ansible-inventory leaves
/// them out.
const INTERNAL: &[&str] = &[
    "inventory_file",
    "inventory_dir",
    "inventory_hostname",
    "inventory_hostname_short",
    "group_names",
];

/// ansible-inventory's flags.
#[derive(clap::Args, Debug)]
pub struct InventoryArgs {
    /// Inventory file or folder (repeatable).
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<PathBuf>,

    /// Print the whole inventory as JSON.
    #[arg(long = "list", conflicts_with_all = ["graph", "host"])]
    pub list: bool,

    /// Print the group tree, from GROUP (default all).
    #[arg(long = "graph", num_args = 0..=1, default_missing_value = "all", value_name = "GROUP")]
    pub graph: Option<String>,

    /// Print one host's variables as JSON.
    #[arg(long = "host", value_name = "NAME", conflicts_with = "graph")]
    pub host: Option<String>,

    /// With --graph, show the variables of every host and group.
    #[arg(long = "vars")]
    pub vars: bool,

    /// With --list, show each group's own variables and each host's own, unmerged.
    #[arg(long = "export")]
    pub export: bool,

    /// Also read group_vars/ and host_vars/ from this folder, as a playbook's would be.
    #[arg(long = "playbook-dir")]
    pub playbook_dir: Option<PathBuf>,
}

/// Runs the command and prints its output; exit code 0, or an error (exit 1).
pub fn run(args: &InventoryArgs) -> Result<u8> {
    let sources: Vec<&Path> = args.inventory.iter().map(PathBuf::as_path).collect();
    let mut inv = Inventory::load(&sources)?;
    if let Some(dir) = &args.playbook_dir {
        inv.load_vars_dir(dir)?;
    }
    let out = if args.list {
        pretty_json(&list(&inv, args.export))
    } else if let Some(host) = &args.host {
        if inv.host(host).is_none() {
            let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
            let hint = crate::suggest::did_you_mean(host, &names)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            bail!("--host: no host '{host}' in the inventory{hint}");
        }
        pretty_json(&Value::Object(sorted(&merged_vars(&inv, host))))
    } else if let Some(group) = &args.graph {
        if inv.group(group).is_none() {
            let names: Vec<&str> = inv.groups.iter().map(|g| g.name.as_str()).collect();
            let hint = crate::suggest::did_you_mean(group, &names)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            bail!("--graph: no group '{group}' in the inventory{hint}");
        }
        let mut lines = Vec::new();
        graph(&inv, group, 0, args.vars, &mut lines);
        lines.join("\n")
    } else {
        bail!("one of --list, --graph or --host is needed");
    };
    // A reader that stops early (`| head`) is not an error.
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{out}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(crate::cli::exit::OK),
    }
}

/// The `--list` document: `_meta.hostvars`, then each group with its hosts and children
/// (empty keys and empty groups left out), keys sorted.
pub fn list(inv: &Inventory, export: bool) -> Value {
    let mut top: BTreeMap<String, Value> = BTreeMap::new();
    let mut hostvars = Vars::new();
    for host in &inv.hosts {
        let vars = match export {
            true => without_internal(host.vars.clone()),
            false => merged_vars(inv, &host.name),
        };
        if !vars.is_empty() {
            hostvars.insert(host.name.clone(), Value::Object(vars));
        }
    }
    let mut meta = Vars::new();
    meta.insert("hostvars".into(), Value::Object(hostvars));
    meta.insert("profile".into(), Value::from("inventory_legacy"));
    top.insert("_meta".into(), Value::Object(meta));

    for g in &inv.groups {
        let mut entry = Vars::new();
        if g.name != "all" && !g.hosts.is_empty() {
            entry.insert("hosts".into(), names(&g.hosts));
        }
        if !g.children.is_empty() {
            entry.insert("children".into(), names(&g.children));
        }
        if export {
            let vars = group_vars(g);
            if !vars.is_empty() {
                entry.insert("vars".into(), Value::Object(vars));
            }
        }
        if !entry.is_empty() {
            top.insert(g.name.clone(), Value::Object(entry));
        }
    }
    sort_value(&Value::Object(top.into_iter().collect()))
}

/// A host's variables as a play would see them from the inventory, internal ones left out.
fn merged_vars(inv: &Inventory, host: &str) -> Vars {
    without_internal(inv.host_vars(host))
}

fn without_internal(mut vars: Vars) -> Vars {
    vars.retain(|k, _| !INTERNAL.contains(&k.as_str()));
    vars
}

/// A group's own variables: from the inventory source and the `group_vars/` folders.
fn group_vars(g: &crate::inventory::Group) -> Vars {
    let mut vars = g.vars.clone();
    merge(&mut vars, &g.dir_vars);
    merge(&mut vars, &g.playbook_vars);
    vars
}

fn names(list: &[String]) -> Value {
    Value::Array(list.iter().cloned().map(Value::String).collect())
}

/// `--graph` lines under `group`: child groups first, then hosts (each with its variables),
/// then the group's variables; `all` lists no hosts of its own.
fn graph(inv: &Inventory, group: &str, depth: usize, vars: bool, out: &mut Vec<String>) {
    let Some(g) = inv.group(group) else { return };
    out.push(branch(&format!("@{group}:"), depth));
    for child in &g.children {
        graph(inv, child, depth + 1, vars, out);
    }
    if group != "all" {
        for host in &g.hosts {
            out.push(branch(host, depth + 1));
            if vars {
                show_vars(&merged_vars(inv, host), depth + 2, out);
            }
        }
    }
    if vars {
        show_vars(&group_vars(g), depth + 1, out);
    }
}

fn show_vars(vars: &Vars, depth: usize, out: &mut Vec<String>) {
    for (k, v) in sorted(vars) {
        out.push(branch(&format!("{{{k} = {}}}", py_str(&v)), depth));
    }
}

fn branch(name: &str, depth: usize) -> String {
    match depth {
        0 => name.to_string(),
        d => format!("{}--{name}", "  |".repeat(d)),
    }
}

/// Keys in code-point order at every level, as Python's `sort_keys` gives.
fn sort_value(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(sorted(map)),
        Value::Array(items) => Value::Array(items.iter().map(sort_value).collect()),
        other => other.clone(),
    }
}

fn sorted(map: &Vars) -> Vars {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| (k.clone(), sort_value(&map[k])))
        .collect()
}

/// JSON indented by four spaces, as ansible-inventory prints it.
pub fn pretty_json(value: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serialising a JSON value into memory cannot fail.
    value.serialize(&mut ser).expect("a JSON value serialises");
    String::from_utf8_lossy(&buf).into_owned()
}

/// A value as Python's `str()` shows it: text bare, containers in `repr` form.
fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let quote = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            let mut out = String::from(quote);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if c == quote => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(quote);
            out
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_text() {
        let cases = [
            (json!("plain text"), "plain text"),
            (json!(3), "3"),
            (json!(1.1), "1.1"),
            (json!(true), "True"),
            (json!(null), "None"),
            (json!([1, {"a": "b"}]), "[1, {'a': 'b'}]"),
            (json!(["it's", "x\\y"]), "[\"it's\", 'x\\\\y']"),
            (json!({"k": [false]}), "{'k': [False]}"),
        ];
        for (value, want) in cases {
            assert_eq!(py_str(&value), want, "{value}");
        }
    }

    #[test]
    fn branches() {
        let cases = [(0, "@all:"), (1, "  |--@all:"), (3, "  |  |  |--@all:")];
        for (depth, want) in cases {
            assert_eq!(branch("@all:", depth), want);
        }
    }

    #[test]
    fn lab_graph() {
        let inv = Inventory::load(&[Path::new("inventory/lab.ini")]).unwrap();
        let mut lines = Vec::new();
        graph(&inv, "swarm", 0, false, &mut lines);
        assert_eq!(
            lines.join("\n"),
            "@swarm:\n  |--@managers:\n  |  |--calxitu\n  |--@workers:\n  |  |--calxitu2"
        );
    }
}
