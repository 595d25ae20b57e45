//! Typed module arguments: serde helpers for Ansible's loose booleans and file modes, and a
//! parser that turns a module's argument map into its typed struct with a clear message for
//! an unknown or mistyped parameter.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::vars::{as_bool, Value};

/// Parses `args` into `T`; the error names the module and the argument, and suggests the
/// closest known argument for a typo.
pub fn parse<T: DeserializeOwned>(module: &str, args: &Value) -> Result<T, String> {
    let args = match args {
        Value::Null => Value::Object(Default::default()),
        other => other.clone(),
    };
    serde_json::from_value(args).map_err(|e| format!("{module}: {e}"))
}

/// A boolean that accepts YAML 1.1 words (`yes`, `no`, `on`, `off`) and strings.
pub fn loose_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    as_bool(&v).ok_or_else(|| serde::de::Error::custom(format!("{v} is not a boolean")))
}

/// Same as `loose_bool` for optional fields.
pub fn loose_bool_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    as_bool(&v)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{v} is not a boolean")))
}

/// A file mode: a string is octal text (`"0644"`, `"644"`, `"u+rwx"` is refused here), a
/// number is taken as decimal as YAML gave it, matching Ansible (`0o644` or 420).
pub fn mode_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(None),
        // An unquoted 644 is almost always meant as octal but YAML read it as decimal:
        // refuse it rather than set mode 01204. `0o644` arrives as 420 and is fine.
        Value::Number(n) => match n.as_u64() {
            Some(m) if m > 7 && m.to_string().bytes().all(|b| (b'0'..=b'7').contains(&b)) => {
                Err(serde::de::Error::custom(format!(
                    "mode {m} was read as a decimal number; quote it as '0{m}'"
                )))
            }
            Some(m) => Ok(Some(m as u32)),
            None => Err(serde::de::Error::custom(format!("mode {n} is not valid"))),
        },
        Value::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("mode '{s}' is not an octal number"))),
        other => Err(serde::de::Error::custom(format!(
            "mode {other} is not valid"
        ))),
    }
}

/// A string, or a number/bool written without quotes, as text.
pub fn text_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}
