//! Variables: the JSON-shaped values that inventories, plays, facts and registered results
//! hold, and the scope a template is rendered in.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Result};

pub use serde_json::Value;

/// A flat set of variables, in insertion order.
pub type Vars = serde_json::Map<String, Value>;

/// A reserved key in a `Vars` map: a list of the names in that map whose values are data
/// (facts, registered results, `set_fact` values) and are never rendered as templates, as
/// Ansible treats them as unsafe. Command output such as `{{.Name}}` stays text.
pub const RAW_KEY: &str = "__mestral_raw";

/// Every host's variables, by inventory name, as `hostvars` exposes them.
pub type HostVarsMap = BTreeMap<String, Arc<Vars>>;

/// What a template sees: the current host's variables (magic variables such as
/// `inventory_hostname`, `groups` and `group_names` included) and, for `hostvars`, every
/// host's own variables. Values may themselves contain templates; they are rendered lazily
/// when used, each in the scope of the host that owns them.
#[derive(Clone, Default)]
pub struct Scope {
    pub vars: Arc<Vars>,
    pub hostvars: Arc<HostVarsMap>,
}

impl Scope {
    pub fn new(vars: Vars, hostvars: Arc<HostVarsMap>) -> Self {
        Scope {
            vars: Arc::new(vars),
            hostvars,
        }
    }

    /// A scope with only local variables and no other hosts.
    pub fn local(vars: Vars) -> Self {
        Scope {
            vars: Arc::new(vars),
            hostvars: Arc::new(BTreeMap::new()),
        }
    }
}

/// Converts a YAML value into the JSON-shaped value used everywhere else.
/// Mapping keys that are not strings (numbers, booleans) become their text form, as
/// Ansible's variables do in practice.
pub fn from_yaml(value: serde_yaml::Value) -> Result<Value> {
    Ok(match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                // An f64 from YAML is finite except for .inf/.nan, which JSON cannot hold.
                let f = n.as_f64().unwrap_or(f64::NAN);
                match serde_json::Number::from_f64(f) {
                    Some(n) => Value::Number(n),
                    None => Value::String(n.to_string()),
                }
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(seq) => {
            Value::Array(seq.into_iter().map(from_yaml).collect::<Result<_>>()?)
        }
        serde_yaml::Value::Mapping(map) => {
            let mut out = Vars::new();
            for (k, v) in map {
                out.insert(key_text(k)?, from_yaml(v)?);
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(tagged) => match tagged.tag.to_string().as_str() {
            "!unsafe" => from_yaml(tagged.value)?,
            "!vault" => bail!("vault-encrypted values are not supported"),
            other => bail!("unsupported YAML tag {other}"),
        },
    })
}

fn key_text(key: serde_yaml::Value) -> Result<String> {
    Ok(match key {
        serde_yaml::Value::String(s) => s,
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Null => "null".to_string(),
        other => bail!("mapping key {other:?} is not a scalar"),
    })
}

/// Adds `name` to the variables listed under `RAW_KEY` in `vars`.
pub fn mark_raw(vars: &mut Vars, name: &str) {
    let entry = vars
        .entry(RAW_KEY)
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(names) = entry {
        if !names.iter().any(|n| n.as_str() == Some(name)) {
            names.push(Value::String(name.to_string()));
        }
    }
}

/// Copies `src` over `dst`, replacing whole values as Ansible's default
/// `hash_behaviour=replace` does.
pub fn merge(dst: &mut Vars, src: &Vars) {
    for (k, v) in src {
        dst.insert(k.clone(), v.clone());
    }
}

/// Ansible's truthiness for values given as booleans in YAML 1.1 or as text:
/// `yes/no/on/off/true/false/1/0` in any case.
pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "on" | "true" | "1" | "y" | "t" => Some(true),
            "no" | "off" | "false" | "0" | "n" | "f" | "" => Some(false),
            _ => None,
        },
        Value::Null => Some(false),
        _ => None,
    }
}

/// Text of a scalar as a shell or a template would see it.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_keys_and_numbers() {
        let y: serde_yaml::Value =
            serde_yaml::from_str("a: 1\n2: x\nmode: '0644'\nv: 1.10\n").unwrap();
        let v = from_yaml(y).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "2": "x", "mode": "0644", "v": 1.1})
        );
    }

    #[test]
    fn truthiness() {
        for (v, want) in [("yes", true), ("No", false), ("on", true), ("0", false)] {
            assert_eq!(as_bool(&Value::String(v.into())), Some(want), "{v}");
        }
        assert_eq!(as_bool(&Value::String("maybe".into())), None);
    }
}
