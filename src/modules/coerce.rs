//! Ansible's type conversion of module arguments: `k=v` text and quoted YAML reach a module
//! as strings, and Ansible turns them into the integer, float or boolean its parameter wants.
//! serde says only which Rust type it expected and which value it got, so the value is found
//! in the argument tree and replaced, and the parse runs again. Messages name no Rust type.

use crate::vars::{as_bool, Value};

/// The kind of scalar a parameter wants, read from serde's "expected ..." text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Want {
    Integer,
    Float,
    Boolean,
    Text,
}

impl Want {
    fn of(expected: &str) -> Option<Want> {
        let rust = [
            "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize",
        ];
        match expected {
            e if rust.contains(&e) => Some(Want::Integer),
            "f32" | "f64" => Some(Want::Float),
            "a boolean" => Some(Want::Boolean),
            "a string" => Some(Want::Text),
            _ => None,
        }
    }

    /// The words for the wanted kind in a message.
    pub fn noun(self) -> &'static str {
        match self {
            Want::Integer => "integer",
            Want::Float => "float",
            Want::Boolean => "boolean",
            Want::Text => "string",
        }
    }

    /// `value` converted as Ansible converts it, or `None` if it cannot be.
    fn convert(self, value: &Value) -> Option<Value> {
        match (self, value) {
            (Want::Integer, Value::String(s)) => s.trim().parse::<i64>().ok().map(Value::from),
            (Want::Float, Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::from),
            (Want::Boolean, Value::String(_) | Value::Number(_)) => as_bool(value).map(Value::Bool),
            (Want::Text, Value::Number(n)) => Some(Value::String(n.to_string())),
            _ => None,
        }
    }
}

/// A mistyped scalar in serde's message: the value it got and the kind it wanted.
#[derive(Debug, PartialEq)]
pub struct Mistyped {
    pub got: Value,
    pub want: Want,
}

/// Reads serde_json's `invalid type: string "3600", expected u64` (also `integer `5``,
/// `floating point `1.5``, `boolean `true``) into the value and the wanted kind.
pub fn mistyped(err: &str) -> Option<Mistyped> {
    let rest = err.strip_prefix("invalid type: ")?;
    let (got, expected) = rest.rsplit_once(", expected ")?;
    let want = Want::of(expected)?;
    let got = if let Some(quoted) = got.strip_prefix("string ") {
        Value::String(serde_json::from_str::<String>(quoted).ok()?)
    } else {
        let (_, raw) = got.split_once(" `")?;
        serde_json::from_str::<Value>(raw.strip_suffix('`')?).ok()?
    };
    Some(Mistyped { got, want })
}

/// A place in the argument tree: keys of maps and indexes of lists from the top.
pub type Path = Vec<Step>;

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// Every place in `tree` that holds exactly `value`, shallowest first.
pub fn places(tree: &Value, value: &Value) -> Vec<Path> {
    let mut found = Vec::new();
    let mut level = vec![(Vec::new(), tree)];
    while !level.is_empty() {
        let mut next = Vec::new();
        for (path, node) in level {
            if node == value {
                found.push(path.clone());
            }
            let children: Vec<(Step, &Value)> = match node {
                Value::Object(map) => map.iter().map(|(k, v)| (Step::Key(k.clone()), v)).collect(),
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Step::Index(i), v))
                    .collect(),
                _ => Vec::new(),
            };
            for (step, child) in children {
                let mut deeper = path.clone();
                deeper.push(step);
                next.push((deeper, child));
            }
        }
        level = next;
    }
    found
}

/// `tree` with the value at `path` converted to `want`, or `None` when it cannot be.
pub fn converted(tree: &Value, path: &Path, want: Want) -> Option<Value> {
    let mut copy = tree.clone();
    let mut node = &mut copy;
    for step in path {
        node = match step {
            Step::Key(k) => node.get_mut(k.as_str())?,
            Step::Index(i) => node.get_mut(*i)?,
        };
    }
    *node = want.convert(node)?;
    Some(copy)
}

/// The name of the parameter at `path`: its top-level key, with nested keys after dots.
pub fn name(path: &Path) -> String {
    let keys: Vec<String> = path
        .iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Index(i) => i.to_string(),
        })
        .collect();
    keys.join(".")
}

/// The value as a message quotes it: text in single quotes, anything else as JSON.
pub fn quoted(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// serde's remaining messages without Rust type names: `expected u32` reads `expected an
/// integer`, `invalid value: integer `-1`` reads `-1 is out of range`.
pub fn plain(err: &str) -> String {
    if let Some(rest) = err.strip_prefix("invalid value: integer `") {
        if let Some((n, expected)) = rest.split_once("`, expected ") {
            let range = match expected {
                "u8" => " (0 to 255)",
                "u16" => " (0 to 65535)",
                "u32" => " (0 to 4294967295)",
                "u64" | "usize" => " (0 or more)",
                "i32" => " (-2147483648 to 2147483647)",
                _ => "",
            };
            return format!("{n} is out of range{range}");
        }
    }
    if let Some(rest) = err.strip_prefix("invalid type: ") {
        if let Some((got, expected)) = rest.rsplit_once(", expected ") {
            let got = got.split(" `").next().unwrap_or(got);
            let got = got.split(" \"").next().unwrap_or(got);
            let want = match Want::of(expected) {
                Some(Want::Integer) => "an integer".to_string(),
                Some(Want::Float) => "a float".to_string(),
                _ => expected
                    .replace("a sequence", "a list")
                    .replace("a map", "a dictionary"),
            };
            let got = match got {
                "sequence" => "list",
                "map" => "dictionary",
                "floating point" => "float",
                "unit value" | "null" => "null",
                other => other,
            };
            return format!("expected {want}, got {got}");
        }
    }
    err.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serde_messages_read() {
        let rows = [
            (
                "invalid type: string \"3600\", expected u64",
                Some((json!("3600"), Want::Integer)),
            ),
            (
                "invalid type: string \"a\\\"b\", expected f64",
                Some((json!("a\"b"), Want::Float)),
            ),
            (
                "invalid type: string \"yes\", expected a boolean",
                Some((json!("yes"), Want::Boolean)),
            ),
            (
                "invalid type: integer `5`, expected a string",
                Some((json!(5), Want::Text)),
            ),
            (
                "invalid type: integer `1`, expected a boolean",
                Some((json!(1), Want::Boolean)),
            ),
            ("invalid type: map, expected u64", None),
            ("unknown field `x`", None),
        ];
        for (err, want) in rows {
            let got = mistyped(err).map(|m| (m.got, m.want));
            assert_eq!(got, want, "{err}");
        }
    }

    #[test]
    fn conversions() {
        let rows = [
            (Want::Integer, json!(" 42 "), Some(json!(42))),
            (Want::Integer, json!("-3"), Some(json!(-3))),
            (Want::Integer, json!("20x"), None),
            (Want::Integer, json!("1.5"), None),
            (Want::Float, json!("1.5"), Some(json!(1.5))),
            (Want::Float, json!("nan"), None),
            (Want::Boolean, json!("Yes"), Some(json!(true))),
            (Want::Boolean, json!("off"), Some(json!(false))),
            (Want::Boolean, json!(0), Some(json!(false))),
            (Want::Boolean, json!("maybe"), None),
            (Want::Text, json!(8080), Some(json!("8080"))),
        ];
        for (want, value, expected) in rows {
            assert_eq!(want.convert(&value), expected, "{want:?} {value}");
        }
    }

    #[test]
    fn places_are_found_shallowest_first_and_converted() {
        let tree = json!({"a": {"b": "7"}, "c": "7", "d": ["x", "7"]});
        let found = places(&tree, &json!("7"));
        let names: Vec<String> = found.iter().map(name).collect();
        assert_eq!(names, ["c", "a.b", "d.1"]);
        let after = converted(&tree, &found[2], Want::Integer).unwrap();
        assert_eq!(after, json!({"a": {"b": "7"}, "c": "7", "d": ["x", 7]}));
    }

    #[test]
    fn plain_messages() {
        let rows = [
            (
                "invalid value: integer `-1`, expected u32",
                "-1 is out of range (0 to 4294967295)",
            ),
            (
                "invalid type: map, expected u64",
                "expected an integer, got dictionary",
            ),
            (
                "invalid type: sequence, expected a string",
                "expected a string, got list",
            ),
            (
                "invalid type: floating point `1.5`, expected u16",
                "expected an integer, got float",
            ),
            ("something else", "something else"),
        ];
        for (err, want) in rows {
            assert_eq!(plain(err), want, "{err}");
        }
    }
}
