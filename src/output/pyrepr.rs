//! Python's `str()` and `repr()` of a JSON value, as ansible-playbook prints loop item labels
//! (`(item=['a', 'b'])`, `(item={'k': True})`): Python's choice of quotes, its escapes for
//! characters it does not print, and its float notation.

use serde_json::{Number, Value};

/// Python's `str()`: a string as it is, anything else as `repr()`.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()`: `None`, `True`, `'text'`, `[1, 2.5]`, `{'k': 'v'}`.
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&number_repr(n)),
        Value::String(s) => write_str_repr(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(out, k);
                out.push_str(": ");
                write_repr(out, v);
            }
            out.push('}');
        }
    }
}

/// Integers as digits; floats in Python's shortest form: `1.0`, `0.1`, `1e+17`, `1.5e-07`.
fn number_repr(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:e}` gives the shortest digits that read back the same, as Python's repr does.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{text}")
}

/// A string in quotes: single ones unless the text holds a single quote and no double one.
pub(crate) fn write_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if printable(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable` for one character: not a control or format character, not a
/// separator other than the space, not private use. Unassigned code points count as
/// printable here (Python escapes them; telling them apart needs Unicode's tables).
fn printable(c: char) -> bool {
    let u = c as u32;
    let hidden = c.is_control()
        || matches!(u, 0xa0 | 0xad | 0x1680 | 0x180e | 0x2000..=0x200f | 0x2028..=0x202f)
        || matches!(u, 0x205f..=0x2064 | 0x2066..=0x206f | 0x3000 | 0xfeff | 0xfff9..=0xfffb)
        || matches!(
            u,
            0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890 | 0x891 | 0x8e2
        )
        || matches!(u, 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3)
        || matches!(u, 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f)
        || matches!(u, 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd);
    !hidden
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each expected text was printed by Python 3.11 (through ansible-playbook's item labels).
    #[test]
    fn reprs_match_python() {
        let cases = [
            (json!(null), "None"),
            (json!(true), "True"),
            (json!([true, false, null]), "[True, False, None]"),
            (json!(3), "3"),
            (json!(-12345678901234567_i64), "-12345678901234567"),
            (json!(12345678901234567890_u64), "12345678901234567890"),
            (json!(2.5), "2.5"),
            (json!(1.0), "1.0"),
            (json!(0.1), "0.1"),
            (json!(-0.0), "-0.0"),
            (json!(1.5e-7), "1.5e-07"),
            (json!(0.0001), "0.0001"),
            (json!(1e17), "1e+17"),
            (json!(1e16), "1e+16"),
            (json!(1234567890123456.0), "1234567890123456.0"),
            (json!(-2.5e100), "-2.5e+100"),
            (json!("plain"), "'plain'"),
            (json!("it's"), "\"it's\""),
            (json!("say \"hi\""), "'say \"hi\"'"),
            (json!("both ' and \""), "'both \\' and \"'"),
            (json!("naïve €"), "'naïve €'"),
            (json!("tab\tnew\nline\r"), "'tab\\tnew\\nline\\r'"),
            (json!("back\\slash"), "'back\\\\slash'"),
            (json!("\u{7}bell\u{7f}"), "'\\x07bell\\x7f'"),
            (json!("\u{a0}nbsp"), "'\\xa0nbsp'"),
            (json!("\u{200b}zw"), "'\\u200bzw'"),
            (json!("\u{1F600}"), "'\u{1F600}'"),
            (json!("\u{f0000}"), "'\\U000f0000'"),
            (
                json!({"a b": {"c": [1]}, "it's": "x"}),
                "{'a b': {'c': [1]}, \"it's\": 'x'}",
            ),
            (
                json!([1, [true, null], {"x": ["y"]}]),
                "[1, [True, None], {'x': ['y']}]",
            ),
            (json!({}), "{}"),
            (json!([]), "[]"),
        ];
        for (value, want) in cases {
            assert_eq!(py_repr(&value), want, "{value}");
        }
        assert_eq!(py_str(&json!("it's")), "it's");
        assert_eq!(py_str(&json!(["a"])), "['a']");
    }
}
