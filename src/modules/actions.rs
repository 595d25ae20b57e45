//! Typed arguments of the actions the executor runs on the controller (`debug`, `fail`,
//! `assert`, `include_vars`, `meta`, `setup`, `set_fact`), so that they refuse an unknown or
//! mistyped parameter exactly as the host modules do, both when the playbook loads and when
//! the task runs.

use serde::Deserialize;

use super::args::{loose_bool, loose_u64, text_opt};
use crate::template::json_has_template;
use crate::vars::{as_bool, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Debug {
    #[serde(default)]
    pub msg: Option<Value>,
    #[serde(default, deserialize_with = "text_opt")]
    pub var: Option<String>,
    /// Shown only from this many `-v` on.
    #[serde(default, deserialize_with = "loose_u64")]
    pub verbosity: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fail {
    #[serde(default)]
    pub msg: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assert {
    pub that: Value,
    #[serde(default, alias = "msg")]
    pub fail_msg: Option<Value>,
    #[serde(default)]
    pub success_msg: Option<Value>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub quiet: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludeVars {
    #[serde(rename = "_raw_params", default, deserialize_with = "text_opt")]
    pub raw: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    pub file: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    #[serde(
        rename = "_raw_params",
        alias = "free_form",
        default,
        deserialize_with = "text_opt"
    )]
    pub raw: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    #[serde(default)]
    pub gather_subset: Option<Value>,
    #[serde(default)]
    pub filter: Option<Value>,
    #[serde(default, deserialize_with = "loose_u64")]
    pub gather_timeout: u64,
}

/// `set_fact` takes any variable name, and `cacheable`: each name must be one a template
/// can read back (letters, digits and underscores, not starting with a digit).
pub fn set_fact(args: &Value) -> Result<(), String> {
    let Some(map) = args.as_object() else {
        return Err("module 'set_fact': expects a mapping of variable names to values".into());
    };
    for (key, value) in map {
        if key == "cacheable" {
            if as_bool(value).is_none() && !json_has_template(value) {
                return Err(format!(
                    "parameter 'cacheable' for module 'set_fact': {}",
                    super::args::not_valid(value, "boolean")
                ));
            }
            continue;
        }
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid && !json_has_template(&Value::String(key.clone())) {
            return Err(format!(
                "module 'set_fact': '{key}' is not a valid variable name (letters, digits and \
                 underscores, not starting with a digit)"
            ));
        }
    }
    Ok(())
}
