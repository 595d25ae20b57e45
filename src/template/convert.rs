//! Conversions between the JSON-shaped variables (`serde_json::Value`) and minijinja values,
//! and the Python-style text forms Ansible users expect: `repr()` for printed lists and
//! maps, `True`/`False`/`None` for scalars, and `json.dumps` output for `to_json`.

use minijinja::value::{Value as MjValue, ValueKind};
use minijinja::{Error, ErrorKind};
use serde_json::Value as Json;

/// Converts a JSON value into a minijinja value, keeping map order.
pub fn to_mj(value: &Json) -> MjValue {
    match value {
        Json::Null => MjValue::from(()),
        Json::Bool(b) => MjValue::from(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                MjValue::from(i)
            } else if let Some(u) = n.as_u64() {
                MjValue::from(u)
            } else {
                // serde_json numbers that are neither i64 nor u64 are finite f64s.
                MjValue::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => MjValue::from(s.as_str()),
        Json::Array(items) => MjValue::from(items.iter().map(to_mj).collect::<Vec<_>>()),
        Json::Object(map) => MjValue::from_pairs(map.iter().map(|(k, v)| (k.as_str(), to_mj(v)))),
    }
}

/// Surfaces the error an invalid value carries (a lazily rendered variable that failed).
pub fn validate(value: &MjValue) -> Result<MjValue, Error> {
    if value.kind() != ValueKind::Invalid {
        return Ok(value.clone());
    }
    let wrapped = MjValue::from(vec![value.clone()]);
    match wrapped.try_iter()?.checked().next() {
        Some(result) => result,
        None => Err(Error::new(ErrorKind::InvalidOperation, "invalid value")),
    }
}

/// Converts a minijinja value back into JSON. Map keys become their text. An undefined
/// value anywhere inside is an error.
pub fn to_json(value: &MjValue) -> Result<Json, Error> {
    let value = validate(value)?;
    Ok(match value.kind() {
        ValueKind::Undefined => {
            return Err(Error::new(ErrorKind::UndefinedError, "value is undefined"));
        }
        ValueKind::None => Json::Null,
        ValueKind::Bool => Json::Bool(value.is_true()),
        ValueKind::Number => number_to_json(&value),
        ValueKind::String => Json::String(value.as_str().unwrap_or_default().to_string()),
        ValueKind::Bytes => {
            Json::String(String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into())
        }
        ValueKind::Map => {
            let mut out = serde_json::Map::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                let text = match key.as_str() {
                    Some(s) => s.to_string(),
                    None => key.to_string(),
                };
                out.insert(text, to_json(&item)?);
            }
            Json::Object(out)
        }
        ValueKind::Seq | ValueKind::Iterable => Json::Array(
            value
                .try_iter()?
                .map(|v| to_json(&v))
                .collect::<Result<_, _>>()?,
        ),
        _ => Json::String(value.to_string()),
    })
}

fn number_to_json(value: &MjValue) -> Json {
    if value.is_integer() {
        if let Some(i) = value.as_i64() {
            return Json::from(i);
        }
        if let Ok(u) = u64::try_from(value.clone()) {
            return Json::from(u);
        }
    }
    match f64::try_from(value.clone())
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        Some(n) => Json::Number(n),
        None => Json::String(value.to_string()),
    }
}

/// Python's `str()` of a value: strings as they are, everything else as `repr()`.
pub fn py_str(value: &MjValue) -> String {
    match value.as_str() {
        Some(s) => s.to_string(),
        None => py_repr(value),
    }
}

/// Python's `repr()` of a value: `['a', 1, True]`, `{'k': None}`.
pub fn py_repr(value: &MjValue) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &MjValue) {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool if value.is_true() => out.push_str("True"),
        ValueKind::Bool => out.push_str("False"),
        ValueKind::String => {
            crate::output::pyrepr::write_str_repr(out, value.as_str().unwrap_or_default())
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, &key);
                out.push_str(": ");
                write_repr(out, &value.get_item(&key).unwrap_or_default());
            }
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, &item);
            }
            out.push(']');
        }
        _ => out.push_str(&value.to_string()),
    }
}

/// Python's `json.dumps`: compact with `", "` and `": "` separators, or with `indent` and
/// sorted keys (`to_nice_json`). Non-ASCII text is escaped as `\uXXXX`, as Python does.
pub fn py_json(value: &Json, indent: Option<usize>) -> String {
    let mut out = String::new();
    write_json(&mut out, value, indent, 0);
    out
}

fn write_json(out: &mut String, value: &Json, indent: Option<usize>, depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(width) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(width * depth));
        }
    };
    let separator = if indent.is_some() { "," } else { ", " };
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::String(s) => write_json_str(out, s),
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                newline(out, depth + 1);
                write_json(out, item, indent, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Json::Object(map) if map.is_empty() => out.push_str("{}"),
        Json::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            if indent.is_some() {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                newline(out, depth + 1);
                write_json_str(out, key);
                out.push_str(": ");
                write_json(out, item, indent, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && (c as u32) >= 0x20 => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trip_keeps_types_and_order() {
        let cases = [
            json!(null),
            json!(true),
            json!(-3),
            json!(18446744073709551615u64),
            json!(1.5),
            json!("x"),
            json!({"z": [1, "a", {"b": null}], "a": false}),
        ];
        for case in cases {
            assert_eq!(to_json(&to_mj(&case)).unwrap(), case, "{case}");
        }
    }

    #[test]
    fn python_repr_and_str() {
        let cases = [
            (json!(["a", 1, true, null]), "['a', 1, True, None]"),
            (
                json!({"k": "it's", "n": false}),
                "{'k': \"it's\", 'n': False}",
            ),
            (json!("plain"), "plain"),
            (json!(2.5), "2.5"),
        ];
        for (value, want) in cases {
            assert_eq!(py_str(&to_mj(&value)), want, "{value}");
        }
    }

    #[test]
    fn python_json_dumps() {
        let value = json!({"b": [1, 2], "a": {"é": "x\"y"}, "c": []});
        assert_eq!(
            py_json(&value, None),
            r#"{"b": [1, 2], "a": {"\u00e9": "x\"y"}, "c": []}"#
        );
        assert_eq!(
            py_json(&value, Some(4)),
            concat!(
                "{\n    \"a\": {\n        \"\\u00e9\": \"x\\\"y\"\n    },\n",
                "    \"b\": [\n        1,\n        2\n    ],\n    \"c\": []\n}"
            )
        );
    }
}
