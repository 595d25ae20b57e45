//! The templated inventory source (`plugin: mestral.generator`): layers of values, and host
//! and group templates rendered once for every combination of them. Ansible's `generator`
//! files read as they are; mestral adds ranges, mapping values, computed `vars` and host
//! variables, so one file can give a dozen labs their own names and addresses.
//! The format is documented in docs/inventory.md.

use std::path::Path;

use anyhow::{anyhow, bail, Result};

use super::Inventory;
use crate::template::Templar;
use crate::vars::{Scope, Value, Vars};

/// The `plugin:` names this source answers to.
pub(super) const PLUGINS: &[&str] = &[
    "mestral.generator",
    "generator",
    "ansible.builtin.generator",
];

const TOP_KEYS: &[&str] = &["plugin", "layers", "vars", "hosts"];
const ENTITY_KEYS: &[&str] = &["name", "vars", "parents"];

pub(super) fn parse(inv: &mut Inventory, path: &Path, doc: Value) -> Result<()> {
    let file = path.display();
    let Value::Object(top) = doc else {
        bail!("{file}: expected a mapping");
    };
    for key in top.keys() {
        check_key(key, TOP_KEYS, &format!("{file}: top level"))?;
    }
    let plugin = top.get("plugin").and_then(Value::as_str).unwrap_or("");
    if !PLUGINS.contains(&plugin) {
        bail!(
            "{file}: inventory plugin '{plugin}' is not supported; mestral reads {}",
            PLUGINS.join(", ")
        );
    }
    let layers = layers(path, top.get("layers"))?;
    let computed = match top.get("vars") {
        None | Some(Value::Null) => Vars::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => bail!("{file}: vars must be a mapping of name to template"),
    };
    let host = match top.get("hosts") {
        Some(h @ Value::Object(_)) => h,
        _ => bail!("{file}: hosts must be a mapping with at least a name template"),
    };

    let templar = Templar::new();
    for combo in combinations(&layers) {
        let mut vars = Vars::new();
        for (name, value) in layers.iter().map(|(n, _)| n).zip(combo) {
            vars.insert(name.clone(), value.clone());
        }
        let at = describe(&vars);
        // Each computed value may use the layers and the values computed before it.
        for (name, template) in &computed {
            let value = render(&templar, &vars, template)
                .map_err(|e| anyhow!("{file}: vars.{name} ({at}): {e}"))?;
            vars.insert(name.clone(), value);
        }
        let gen = Gen {
            inv: &mut *inv,
            path,
            templar: &templar,
            vars: &vars,
            at: &at,
        };
        gen.host(host)?;
    }
    Ok(())
}

/// The layers in file order, each a name and its values.
fn layers(path: &Path, spec: Option<&Value>) -> Result<Vec<(String, Vec<Value>)>> {
    let file = path.display();
    let Some(Value::Object(spec)) = spec else {
        bail!("{file}: layers must be a mapping of name to values");
    };
    let mut out = Vec::new();
    for (name, values) in spec {
        let values = match values {
            Value::Array(items) if !items.is_empty() => items.clone(),
            Value::Object(range) => {
                range_values(range).map_err(|e| anyhow!("{file}: layer '{name}': {e}"))?
            }
            _ => bail!(
                "{file}: layer '{name}' must be a non-empty list of values or a range \
                 {{from: N, to: M, step: S}}"
            ),
        };
        out.push((name.clone(), values));
    }
    Ok(out)
}

/// `{from: 1, to: 12}` (both ends included, `step` 1 unless given) as a list of integers.
fn range_values(range: &Vars) -> Result<Vec<Value>, String> {
    for key in range.keys() {
        if !["from", "to", "step"].contains(&key.as_str()) {
            return Err(format!(
                "unexpected key '{key}' in a range (from, to, step)"
            ));
        }
    }
    let int = |key: &str, default: Option<i64>| match range.get(key) {
        Some(v) => v
            .as_i64()
            .ok_or_else(|| format!("range '{key}' must be an integer, found {v}")),
        None => default.ok_or_else(|| format!("a range needs '{key}'")),
    };
    let (from, to, step) = (int("from", None)?, int("to", None)?, int("step", Some(1))?);
    if step < 1 {
        return Err(format!("range step must be at least 1, found {step}"));
    }
    if to < from {
        return Err(format!("range runs backwards: from {from} to {to}"));
    }
    Ok((from..=to)
        .step_by(step as usize)
        .map(Value::from)
        .collect())
}

/// Every combination of one value per layer; the first layer varies slowest.
fn combinations(layers: &[(String, Vec<Value>)]) -> Vec<Vec<&Value>> {
    let mut out: Vec<Vec<&Value>> = vec![Vec::new()];
    for (_, values) in layers {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(v);
                    next
                })
            })
            .collect();
    }
    out
}

/// `lab_no=3, node=worker` for error messages: a mapping value shows its first field.
fn describe(vars: &Vars) -> String {
    vars.iter()
        .map(|(k, v)| match v {
            Value::Object(m) => match m.values().next() {
                Some(first) => format!("{k}={}", crate::vars::as_text(first)),
                None => format!("{k}={{}}"),
            },
            other => format!("{k}={}", crate::vars::as_text(other)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn render(templar: &Templar, vars: &Vars, template: &Value) -> Result<Value, String> {
    templar
        .render_value(template, &Scope::local(vars.clone()))
        .map_err(|e| e.to_string())
}

fn check_key(key: &str, valid: &[&str], place: &str) -> Result<()> {
    if valid.contains(&key) {
        return Ok(());
    }
    let hint = crate::suggest::did_you_mean(key, valid)
        .map(|s| format!("; did you mean '{s}'?"))
        .unwrap_or_default();
    bail!(
        "{place}: unexpected key '{key}' (valid: {}){hint}",
        valid.join(", ")
    )
}

/// One combination being turned into a host and its groups.
struct Gen<'a> {
    inv: &'a mut Inventory,
    path: &'a Path,
    templar: &'a Templar,
    vars: &'a Vars,
    at: &'a str,
}

impl Gen<'_> {
    fn host(mut self, spec: &Value) -> Result<()> {
        let (name, vars, parents) = self.entity(spec, "hosts")?;
        let file = self.path.display();
        if name.is_empty() || name.contains(char::is_whitespace) {
            bail!(
                "{file}: hosts.name ({}) gives the host name '{name}'",
                self.at
            );
        }
        let parent_names = self.parents(parents, "hosts.parents")?;
        let first = parent_names.first().map_or("ungrouped", String::as_str);
        self.inv.add_host(&name, first, vars, Some(self.path));
        for group in parent_names.iter().skip(1) {
            self.inv
                .add_host(&name, group, Vars::new(), Some(self.path));
        }
        Ok(())
    }

    /// Declares each parent group (with its vars and its own parents) and returns the names.
    fn parents(&mut self, parents: Option<&Value>, place: &str) -> Result<Vec<String>> {
        let file = self.path.display();
        let list = match parents {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => bail!("{file}: {place} must be a list of groups"),
        };
        let mut names = Vec::new();
        for spec in list {
            let (name, vars, grand) = self.entity(spec, place)?;
            if name.is_empty() || name.contains(char::is_whitespace) {
                bail!(
                    "{file}: {place}.name ({}) gives the group name '{name}'",
                    self.at
                );
            }
            let g = self.inv.ensure_group(&name);
            crate::vars::merge(&mut g.vars, &vars);
            for parent in self.parents(grand, &format!("{place}.parents"))? {
                self.inv
                    .add_child(&parent, &name)
                    .map_err(|e| anyhow!("{file}: {place}: {e}"))?;
            }
            names.push(name);
        }
        Ok(names)
    }

    /// A `{name, vars, parents}` entry, its name and vars rendered for this combination.
    fn entity<'s>(
        &self,
        spec: &'s Value,
        place: &str,
    ) -> Result<(String, Vars, Option<&'s Value>)> {
        let file = self.path.display();
        let Value::Object(map) = spec else {
            bail!("{file}: {place}: each entry must be a mapping with a name");
        };
        for key in map.keys() {
            check_key(key, ENTITY_KEYS, &format!("{file}: {place}"))?;
        }
        let fail = |what: &str, e: String| anyhow!("{file}: {place}.{what} ({}): {e}", self.at);
        let name = match map.get("name") {
            Some(template @ Value::String(_)) => crate::vars::as_text(
                &render(self.templar, self.vars, template).map_err(|e| fail("name", e))?,
            ),
            _ => bail!("{file}: {place}: a name template (text) is required"),
        };
        let vars = match map.get("vars") {
            None | Some(Value::Null) => Vars::new(),
            Some(Value::Object(vars)) => {
                let mut out = Vars::new();
                for (key, template) in vars {
                    let value = render(self.templar, self.vars, template)
                        .map_err(|e| fail(&format!("vars.{key}"), e))?;
                    out.insert(key.clone(), value);
                }
                out
            }
            Some(_) => bail!("{file}: {place}.vars must be a mapping"),
        };
        Ok((name, vars, map.get("parents")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testdir::TempDir;
    use serde_json::json;

    fn load(text: &str) -> Result<Inventory> {
        let tmp = TempDir::new("gen");
        tmp.write("gen.yml", text);
        Inventory::load(&[&tmp.0.join("gen.yml")])
    }

    #[test]
    fn lab_groups() {
        let inv = Inventory::load(&[Path::new("inventory/labs.yml")]).unwrap();
        let hosts = inv.select("all").unwrap();
        assert_eq!(hosts.len(), 24);
        assert_eq!(
            hosts[..3],
            ["lab01-calxitu", "lab01-calxitu2", "lab02-calxitu"]
        );
        assert_eq!(
            inv.select("lab07").unwrap(),
            ["lab07-calxitu", "lab07-calxitu2"]
        );
        assert_eq!(inv.select("managers:&lab12").unwrap(), ["lab12-calxitu"]);
        assert_eq!(inv.select("swarm").unwrap(), hosts);
        assert_eq!(
            inv.group_names("lab07-calxitu2"),
            ["lab07", "labs", "swarm", "workers"]
        );
        let cases = [
            ("lab01-calxitu", "172.30.8.201", 1),
            ("lab01-calxitu2", "172.30.8.202", 1),
            ("lab12-calxitu2", "172.30.8.224", 12),
        ];
        for (host, address, lab_no) in cases {
            let vars = inv.host_vars(host);
            assert_eq!(vars["ansible_host"], json!(address), "{host}");
            assert_eq!(vars["lab_no"], json!(lab_no), "{host}");
            assert_eq!(vars["ansible_user"], json!("root"), "{host}");
        }
        let vars = inv.host_vars("lab07-calxitu2");
        assert_eq!(
            vars["swarm_hosts"],
            json!(["lab07-calxitu", "lab07-calxitu2"])
        );
        assert_eq!(vars["swarm_manager"], json!("lab07-calxitu"));
    }

    #[test]
    fn ansible_generator_files_and_ranges() {
        let inv = load(
            "plugin: ansible.builtin.generator\nhosts:\n  name: \"{{ app }}-{{ env }}\"\n  \
             parents:\n    - name: \"{{ env }}\"\n      vars: {tier: \"{{ env | upper }}\"}\n\
             layers:\n  app: [web, api]\n  env: [dev, prod]\n",
        )
        .unwrap();
        assert_eq!(
            inv.select("all").unwrap(),
            ["web-dev", "web-prod", "api-dev", "api-prod"]
        );
        assert_eq!(inv.select("prod").unwrap(), ["web-prod", "api-prod"]);
        assert_eq!(inv.host_vars("api-dev")["tier"], json!("DEV"));

        let inv = load(
            "plugin: mestral.generator\nlayers:\n  n: {from: 1, to: 9, step: 4}\n\
             hosts:\n  name: \"s{{ '%02d' | format(n) }}\"\n  vars: {n2: \"{{ n * 2 }}\"}\n",
        )
        .unwrap();
        assert_eq!(inv.select("all").unwrap(), ["s01", "s05", "s09"]);
        assert_eq!(inv.select("ungrouped").unwrap(), ["s01", "s05", "s09"]);
        assert_eq!(inv.host_vars("s05")["n2"], json!(10));
    }

    #[test]
    fn errors_name_the_place() {
        let cases = [
            (
                "plugin: constructed\n",
                "inventory plugin 'constructed' is not supported; mestral reads \
                 mestral.generator, generator, ansible.builtin.generator",
            ),
            (
                "plugin: generator\nlayer: {a: [1]}\nhosts: {name: x}\n",
                "top level: unexpected key 'layer' (valid: plugin, layers, vars, hosts); \
                 did you mean 'layers'?",
            ),
            (
                "plugin: generator\nlayers: {n: {from: 5, to: 1}}\nhosts: {name: x}\n",
                "layer 'n': range runs backwards: from 5 to 1",
            ),
            (
                "plugin: generator\nlayers: {n: []}\nhosts: {name: x}\n",
                "layer 'n' must be a non-empty list of values or a range \
                 {from: N, to: M, step: S}",
            ),
            (
                "plugin: generator\nlayers: {n: [1]}\nhosts: {name: \"h{{ m }}\"}\n",
                "hosts.name (n=1): 'm' is undefined, in template \"h{{ m }}\"",
            ),
            (
                "plugin: generator\nlayers: {n: [1]}\nhosts: {name: h, parent: []}\n",
                "hosts: unexpected key 'parent' (valid: name, vars, parents); \
                 did you mean 'parents'?",
            ),
        ];
        for (text, want) in cases {
            let err = load(text).unwrap_err().to_string();
            let (_, msg) = err.split_once("gen.yml: ").unwrap();
            assert_eq!(msg, want, "{text}");
        }
    }
}
