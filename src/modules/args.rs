//! Typed module arguments: serde helpers for Ansible's loose booleans and file modes, and a
//! parser that turns a module's argument map into its typed struct with a clear message for
//! an unknown, missing or mistyped parameter.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::coerce;
use crate::vars::{as_bool, Value};

/// Parses `args` into `T`; the error names the module and the argument, and suggests the
/// closest known argument for a typo.
pub fn parse<T: DeserializeOwned>(module: &str, args: &Value) -> Result<T, String> {
    let mut args = match args {
        Value::Null => Value::Object(Default::default()),
        other => other.clone(),
    };
    // Each round converts one mistyped value (Ansible's string-to-int/float/bool conversion);
    // the bound only stops a pathological argument tree.
    for _ in 0..64 {
        let err = match serde_json::from_value::<T>(args.clone()) {
            Ok(parsed) => return Ok(parsed),
            Err(e) => e.to_string(),
        };
        match converted_args::<T>(&args, &err) {
            Ok(Some(next)) => args = next,
            Ok(None) => return Err(message::<T>(module, &args, &err)),
            Err((name, why)) => {
                return Err(format!("parameter '{name}' for module '{module}': {why}"))
            }
        }
    }
    Err(format!("module '{module}': too many arguments to convert"))
}

/// `args` with the value serde refused converted to the kind it wanted; `Ok(None)` when the
/// error is not a convertible scalar, `Err((name, "'20x' is not a valid integer"))` when the
/// value cannot be converted.
fn converted_args<T: DeserializeOwned>(
    args: &Value,
    err: &str,
) -> Result<Option<Value>, (String, String)> {
    let Some(m) = coerce::mistyped(err) else {
        return Ok(None);
    };
    let places = coerce::places(args, &m.got);
    for path in &places {
        let Some(next) = coerce::converted(args, path, m.want) else {
            continue;
        };
        // The conversion that moves the error is the one serde asked for.
        match serde_json::from_value::<T>(next.clone()) {
            Ok(_) => return Ok(Some(next)),
            Err(e) if e.to_string() != err => return Ok(Some(next)),
            Err(_) => {}
        }
    }
    match (m.want, places.first()) {
        (coerce::Want::Text, _) | (_, None) => Ok(None),
        (want, Some(path)) => {
            let path = culprit_path::<T>(args, &places, err).unwrap_or_else(|| path.clone());
            let why = format!("{} is not a valid {}", coerce::quoted(&m.got), want.noun());
            Err((coerce::name(&path), why))
        }
    }
}

/// Of the places holding the refused value, the one whose removal changes the error.
fn culprit_path<T: DeserializeOwned>(
    args: &Value,
    places: &[coerce::Path],
    err: &str,
) -> Option<coerce::Path> {
    places.iter().find_map(|path| {
        let Some((coerce::Step::Key(last), parent)) = path.split_last() else {
            return None;
        };
        let mut copy = args.clone();
        let mut node = &mut copy;
        for step in parent {
            node = match step {
                coerce::Step::Key(k) => node.get_mut(k.as_str())?,
                coerce::Step::Index(i) => node.get_mut(*i)?,
            };
        }
        node.as_object_mut()?.remove(last);
        match serde_json::from_value::<T>(copy) {
            Err(e) if e.to_string() == err => None,
            _ => Some(path.clone()),
        }
    })
}

/// The user's message for a parse error that no conversion fixes.
fn message<T: DeserializeOwned>(module: &str, args: &Value, err: &str) -> String {
    if let Some(rest) = err.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        return unknown(module, field, &backticked(expected));
    }
    if let Some(rest) = err.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return format!("missing required parameter '{field}' for module '{module}'");
    }
    let plain = coerce::plain(err);
    match culprit::<T>(args, err) {
        Some(key) => format!("parameter '{key}' for module '{module}': {plain}"),
        None => format!("module '{module}': {plain}"),
    }
}

/// The message for a parameter `module` does not take, with the closest of `known` as a
/// suggestion, or why a parameter Ansible once had is gone.
pub fn unknown<S: AsRef<str>>(module: &str, field: &str, known: &[S]) -> String {
    let mut msg = format!("unknown parameter '{field}' for module '{module}'");
    if let Some((_, _, why)) = REMOVED
        .iter()
        .find(|(m, f, _)| m.contains(&module) && *f == field)
    {
        msg.push_str(&format!("; {why}"));
    } else if let Some(best) = closest(field, known.iter().map(AsRef::as_ref)) {
        msg.push_str(&format!("; did you mean '{best}'?"));
    }
    msg
}

/// Parameters Ansible removed, which old playbooks still carry: (modules, name, why).
const REMOVED: &[(&[&str], &str, &str)] = &[(
    &["command", "shell"],
    "warn",
    "ansible-core removed it in 2.14 and refuses it too; delete it",
)];

/// Every name (aliases included) a typed parameter struct accepts, read from serde's message
/// for a field no struct can have.
pub fn names<T: DeserializeOwned>() -> Vec<String> {
    let probe = serde_json::json!({ "\u{1}": null });
    match serde_json::from_value::<T>(probe) {
        Err(e) => match e.to_string().strip_prefix("unknown field `\u{1}`") {
            Some(expected) => backticked(expected),
            None => Vec::new(),
        },
        Ok(_) => Vec::new(),
    }
}

/// The parameter whose removal changes a type error: serde's messages for a mistyped value do
/// not say which field held it, so each key is dropped in turn until the error moves.
fn culprit<T: DeserializeOwned>(args: &Value, err: &str) -> Option<String> {
    let map = args.as_object()?;
    map.keys().find_map(|key| {
        let mut without = map.clone();
        without.remove(key);
        match serde_json::from_value::<T>(Value::Object(without)) {
            Ok(_) => Some(key.clone()),
            Err(e) if e.to_string() != err => Some(key.clone()),
            Err(_) => None,
        }
    })
}

/// The names between backticks in serde's "expected one of `a`, `b`" text.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The candidate closest to `word` by edit distance, if close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (crate::suggest::distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A boolean that accepts YAML 1.1 words (`yes`, `no`, `on`, `off`) and strings.
pub fn loose_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    as_bool(&v).ok_or_else(|| serde::de::Error::custom(not_valid(&v, "boolean")))
}

/// Same as `loose_bool` for optional fields.
pub fn loose_bool_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    as_bool(&v)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(not_valid(&v, "boolean")))
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

/// A whole number, also written as text (`"30"`), as k=v arguments give it.
pub fn loose_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| serde::de::Error::custom(not_valid(&v, "integer")))
}

/// `'maybe' is not a valid boolean`: the message for a value no conversion fits.
pub fn not_valid(value: &Value, noun: &str) -> String {
    format!("{} is not a valid {noun}", coerce::quoted(value))
}

/// A whole number kept as its text (modules that read it later parse it again): a number or
/// its string form, anything else refused as Ansible's `int` type refuses it.
pub fn int_text_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        Value::String(s) if s.trim().parse::<i64>().is_ok() => Ok(Some(s.trim().to_string())),
        _ => Err(serde::de::Error::custom(not_valid(&v, "integer"))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        #[serde(alias = "path")]
        dest: String,
        #[serde(default, deserialize_with = "loose_bool")]
        force: bool,
        #[serde(default, deserialize_with = "mode_opt")]
        mode: Option<u32>,
    }

    #[test]
    fn parse_messages() {
        let cases = [
            (
                json!({"dst": "/x"}),
                "unknown parameter 'dst' for module 'copy'; did you mean 'dest'?",
            ),
            (
                json!({"dest": "/x", "zzzzzzzz": 1}),
                "unknown parameter 'zzzzzzzz' for module 'copy'",
            ),
            (
                json!({"force": true}),
                "missing required parameter 'dest' for module 'copy'",
            ),
            (
                json!({"dest": "/x", "force": "maybe"}),
                "parameter 'force' for module 'copy': 'maybe' is not a valid boolean",
            ),
            (
                json!({"dest": "/x", "mode": 644}),
                "parameter 'mode' for module 'copy': mode 644 was read as a decimal number; \
                 quote it as '0644'",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(parse::<Demo>("copy", &args).unwrap_err(), want, "{args}");
        }
    }

    #[test]
    fn parse_ok_with_alias_and_loose_values() {
        let got: Demo = parse(
            "file",
            &json!({"path": "/a", "force": "yes", "mode": "0750"}),
        )
        .unwrap();
        assert_eq!(
            got,
            Demo {
                dest: "/a".into(),
                force: true,
                mode: Some(0o750)
            }
        );
    }

    #[test]
    fn closest_words() {
        let known = ["dest", "src", "content", "owner"];
        assert_eq!(closest("dst", known), Some("dest"));
        assert_eq!(closest("ownr", known), Some("owner"));
        assert_eq!(closest("bogus", known), None);
    }
}
