//! Ansible's YAML inventory: top-level groups (usually `all`), each a mapping of `hosts`
//! (host name to vars or null), `vars` and `children` (group name to the same shape).
//! Also reads the YAML documents of `group_vars/` and `host_vars/`.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use serde_yaml::Value as Yaml;

use super::{range, Inventory};
use crate::vars::{from_yaml, Value, Vars};

const GROUP_KEYS: &[&str] = &["hosts", "vars", "children"];

pub(super) fn parse(inv: &mut Inventory, path: &Path, text: &str) -> Result<()> {
    let file = path.display();
    let doc = load(path, text)?;
    if matches!(&doc, Yaml::Mapping(m) if m.contains_key("plugin")) {
        let doc = from_yaml(doc).map_err(|e| anyhow!("{file}: {e}"))?;
        return super::generator::parse(inv, path, doc);
    }
    let top = match doc {
        Yaml::Null => return Ok(()),
        Yaml::Mapping(m) => m,
        other => bail!(
            "{file}: expected a mapping of groups, found {}",
            kind(&other)
        ),
    };
    for (name, body) in top {
        let name = scalar_key(&name).map_err(|e| anyhow!("{file}: {e}"))?;
        group(inv, path, &name, body)?;
    }
    Ok(())
}

/// Parses YAML text, naming `file:line:column` on a syntax error.
pub(super) fn load(path: &Path, text: &str) -> Result<Yaml> {
    serde_yaml::from_str(text).map_err(|e| {
        let msg = e.to_string();
        match e.location() {
            Some(loc) => {
                // serde_yaml puts " at line L column C" in its message; the prefix says it.
                let at = format!(" at line {} column {}", loc.line(), loc.column());
                let msg = msg.replacen(&at, "", 1);
                anyhow!("{}:{}:{}: {msg}", path.display(), loc.line(), loc.column())
            }
            None => anyhow!("{}: {msg}", path.display()),
        }
    })
}

/// A YAML mapping of variables (or nothing), as `vars:` and the variable files hold.
pub(super) fn vars_of(value: Yaml, what: &str) -> Result<Vars> {
    match value {
        Yaml::Null => Ok(Vars::new()),
        Yaml::Mapping(_) => match from_yaml(value)? {
            Value::Object(map) => Ok(map),
            _ => unreachable!("a YAML mapping converts to an object"),
        },
        other => bail!(
            "{what} must be a mapping of variables, found {}",
            kind(&other)
        ),
    }
}

fn group(inv: &mut Inventory, path: &Path, name: &str, body: Yaml) -> Result<()> {
    let file = path.display();
    inv.ensure_group(name);
    let body = match body {
        Yaml::Null => return Ok(()),
        Yaml::Mapping(m) => m,
        other => bail!(
            "{file}: group '{name}' must be a mapping, found {}",
            kind(&other)
        ),
    };

    for (key, value) in body {
        let key = scalar_key(&key).map_err(|e| anyhow!("{file}: {e}"))?;
        match key.as_str() {
            "vars" => {
                let vars = vars_of(value, &format!("vars of group '{name}'"))
                    .map_err(|e| anyhow!("{file}: {e}"))?;
                if let Some(g) = inv.group_mut(name) {
                    crate::vars::merge(&mut g.vars, &vars);
                }
            }
            "hosts" => {
                for (host, vars) in entries(value, name, "hosts", path)? {
                    let vars = vars_of(vars, &format!("host '{host}' in group '{name}'"))
                        .map_err(|e| anyhow!("{file}: {e}"))?;
                    add_hosts(inv, path, name, &host, vars)?;
                }
            }
            "children" => {
                for (child, body) in entries(value, name, "children", path)? {
                    inv.add_child(name, &child)
                        .map_err(|e| anyhow!("{file}: {e}"))?;
                    group(inv, path, &child, body)?;
                }
            }
            other => {
                let hint = crate::suggest::did_you_mean(other, GROUP_KEYS)
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                bail!(
                    "{file}: group '{name}' has unexpected key '{other}' \
                     (only hosts, vars and children are valid){hint}"
                );
            }
        }
    }
    Ok(())
}

/// The entries of `hosts:` or `children:`, which must be a mapping (or empty).
fn entries(value: Yaml, group: &str, what: &str, path: &Path) -> Result<Vec<(String, Yaml)>> {
    match value {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Mapping(m) => m
            .into_iter()
            .map(|(k, v)| {
                Ok((
                    scalar_key(&k).map_err(|e| anyhow!("{}: {e}", path.display()))?,
                    v,
                ))
            })
            .collect(),
        other => bail!(
            "{}: {what} of group '{group}' must be a mapping of names, found {}",
            path.display(),
            kind(&other)
        ),
    }
}

/// A host entry may carry a port (`web:2222`) or a range (`node[01:03]`).
fn add_hosts(inv: &mut Inventory, path: &Path, group: &str, entry: &str, vars: Vars) -> Result<()> {
    let at = |e: String| anyhow!("{}: host '{entry}' in group '{group}': {e}", path.display());
    let (pattern, port) = range::split_port(entry).map_err(at)?;
    let mut own = Vars::new();
    if let Some(port) = port {
        own.insert("ansible_port".into(), Value::from(port));
    }
    crate::vars::merge(&mut own, &vars);
    let names = range::expand(&pattern).map_err(at)?;
    inv.take_entries(names.len()).map_err(at)?;
    for name in names {
        inv.add_host(&name, group, own.clone(), Some(path));
    }
    Ok(())
}

fn scalar_key(key: &Yaml) -> Result<String> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Bool(b) => Ok(b.to_string()),
        other => bail!("a name must be text, found {}", kind(other)),
    }
}

fn kind(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "nothing",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(text: &str) -> Result<Inventory> {
        let mut inv = Inventory::empty();
        parse(&mut inv, Path::new("inventory/lab.yml"), text)?;
        inv.reconcile();
        Ok(inv)
    }

    #[test]
    fn groups_hosts_and_vars() {
        let inv = parsed(
            "all:\n  vars:\n    ansible_user: root\n  hosts:\n    solo:\n  children:\n    swarm:\n\
             \x20     vars: {mode: host}\n      children:\n        managers:\n          hosts:\n\
             \x20           calxitu: {ansible_host: 172.30.8.250}\n        workers:\n\
             \x20         hosts:\n            calxitu2:\n              ansible_host: 172.30.8.249\n\
             \x20             ansible_port: 2222\n            node[1:2]:\n",
        )
        .unwrap();
        let cases: &[(&str, &[&str])] = &[
            ("all", &["solo", "calxitu", "calxitu2", "node1", "node2"]),
            ("ungrouped", &["solo"]),
            ("swarm", &["calxitu", "calxitu2", "node1", "node2"]),
            ("managers", &["calxitu"]),
            ("workers", &["calxitu2", "node1", "node2"]),
        ];
        for (group, want) in cases {
            assert_eq!(inv.hosts_of_group(group), *want, "{group}");
        }
        assert_eq!(
            Value::Object(inv.group("all").unwrap().vars.clone()),
            json!({"ansible_user": "root"})
        );
        assert_eq!(
            Value::Object(inv.group("swarm").unwrap().vars.clone()),
            json!({"mode": "host"})
        );
        let mut v = inv.host("calxitu2").unwrap().vars.clone();
        v.remove("inventory_file");
        v.remove("inventory_dir");
        assert_eq!(
            Value::Object(v),
            json!({"ansible_host": "172.30.8.249", "ansible_port": 2222})
        );
    }

    #[test]
    fn errors() {
        let cases = [
            (
                "- a\n- b\n",
                "inventory/lab.yml: expected a mapping of groups, found a list",
            ),
            (
                "all:\n  hosts:\n    - h1\n",
                "inventory/lab.yml: hosts of group 'all' must be a mapping of names, found a list",
            ),
            (
                "all:\n  host:\n    h1:\n",
                "inventory/lab.yml: group 'all' has unexpected key 'host' \
                 (only hosts, vars and children are valid); did you mean 'hosts'?",
            ),
            (
                "all:\n  hosts:\n    h1: 3\n",
                "inventory/lab.yml: host 'h1' in group 'all' must be a mapping of variables, \
                 found a number",
            ),
            (
                "all:\n  hosts:\n    h[3:1]:\n",
                "inventory/lab.yml: host 'h[3:1]' in group 'all': \
                 host range [3:1]: begin must not be after end",
            ),
            (
                "all:\n  hosts:\n    a: {x: 1\n  b: 2\n",
                "inventory/lab.yml:4:4: did not find expected ',' or '}', \
                 while parsing a flow mapping at line 3 column 8",
            ),
            (
                "all:\n  hosts: a: b\n",
                "inventory/lab.yml:2:11: mapping values are not allowed in this context",
            ),
        ];
        for (text, want) in cases {
            let err = parsed(text).err().map(|e| e.to_string());
            assert_eq!(err.as_deref(), Some(want), "{text}");
        }
    }
}
