//! Ansible's Jinja tests beyond minijinja's builtins: regular expressions (`match`,
//! `search`, `regex`), `version` comparison, task results (`succeeded`, `failed`, `changed`,
//! `skipped`), controller paths, and list relations.

use std::cmp::Ordering;

use minijinja::value::{Kwargs, Value as MjValue};
use minijinja::{Environment, Error};

use super::filters::{fail, require_defined};

pub fn register(env: &mut Environment<'static>) {
    env.add_test("match", |v: &MjValue, p: String, kw: Kwargs| {
        regex_test(v, &p, kw, true)
    });
    env.add_test("search", |v: &MjValue, p: String, kw: Kwargs| {
        regex_test(v, &p, kw, false)
    });
    env.add_test("regex", |v: &MjValue, p: String, kw: Kwargs| {
        let kind = kw
            .get::<Option<String>>("match_type")?
            .unwrap_or_else(|| "search".into());
        regex_test(v, &p, kw, kind == "match")
    });
    env.add_test("version", version_test);
    env.add_test("version_compare", version_test);
    env.add_test("succeeded", |v: &MjValue| {
        result_flag(v, "failed").map(|f| !f)
    });
    env.add_test("success", |v: &MjValue| {
        result_flag(v, "failed").map(|f| !f)
    });
    env.add_test("failed", |v: &MjValue| result_flag(v, "failed"));
    env.add_test("failure", |v: &MjValue| result_flag(v, "failed"));
    env.add_test("changed", |v: &MjValue| result_flag(v, "changed"));
    env.add_test("change", |v: &MjValue| result_flag(v, "changed"));
    env.add_test("skipped", |v: &MjValue| result_flag(v, "skipped"));
    env.add_test("skip", |v: &MjValue| result_flag(v, "skipped"));
    env.add_test("exists", |p: String| std::path::Path::new(&p).exists());
    env.add_test("file", |p: String| std::path::Path::new(&p).is_file());
    env.add_test("directory", |p: String| std::path::Path::new(&p).is_dir());
    env.add_test(
        "contains",
        |v: &MjValue, item: MjValue| -> Result<bool, Error> {
            Ok(v.try_iter()?.any(|x| x == item))
        },
    );
    env.add_test(
        "subset",
        |a: &MjValue, b: &MjValue| -> Result<bool, Error> {
            let b: Vec<MjValue> = b.try_iter()?.collect();
            Ok(a.try_iter()?.all(|x| b.contains(&x)))
        },
    );
    env.add_test(
        "superset",
        |a: &MjValue, b: &MjValue| -> Result<bool, Error> {
            let a: Vec<MjValue> = a.try_iter()?.collect();
            Ok(b.try_iter()?.all(|x| a.contains(&x)))
        },
    );
    env.add_test("truthy", |v: &MjValue| v.is_true());
    env.add_test("falsy", |v: &MjValue| !v.is_true());
}

fn regex_test(v: &MjValue, pattern: &str, kwargs: Kwargs, anchored: bool) -> Result<bool, Error> {
    require_defined(v)?;
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    let pattern = if anchored {
        format!(r"\A(?:{pattern})")
    } else {
        pattern.to_string()
    };
    let re = regex::RegexBuilder::new(&pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| fail(format!("invalid regular expression {pattern:?}: {e}")))?;
    Ok(re.is_match(&super::convert::py_str(v)))
}

/// `failed`/`changed`/`skipped` of a registered result: the key's truthiness, false when
/// absent. Anything but a mapping is an error, as in Ansible.
fn result_flag(v: &MjValue, key: &str) -> Result<bool, Error> {
    require_defined(v)?;
    if v.kind() != minijinja::value::ValueKind::Map {
        return Err(fail(format!(
            "the '{key}' test expects a registered task result"
        )));
    }
    let flag = v.get_attr(key)?;
    Ok(match flag.as_str() {
        Some(s) => crate::vars::as_bool(&serde_json::Value::String(s.into())).unwrap_or(true),
        None => flag.is_true(),
    })
}

/// `is version('2.0', '>=')`: loose version comparison (numeric parts compared as numbers).
fn version_test(v: &MjValue, other: String, op: Option<String>) -> Result<bool, Error> {
    require_defined(v)?;
    let ord = compare_versions(&super::convert::py_str(v), &other);
    Ok(match op.as_deref().unwrap_or("eq") {
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        other => return Err(fail(format!("version: unknown operator '{other}'"))),
    })
}

pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> Vec<Result<u64, String>> {
        let mut out = Vec::new();
        let mut current = String::new();
        let mut numeric = false;
        for c in s.trim_start_matches('v').chars() {
            let is_digit = c.is_ascii_digit();
            let boundary = !c.is_ascii_alphanumeric() || is_digit != numeric;
            if boundary && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            if c.is_ascii_alphanumeric() {
                numeric = is_digit;
                current.push(c);
            }
        }
        if !current.is_empty() {
            out.push(current);
        }
        out.into_iter()
            .map(|p| p.parse::<u64>().map_err(|_| p))
            .collect()
    }
    let (pa, pb) = (parts(a), parts(b));
    for i in 0..pa.len().max(pb.len()) {
        let ord = match (pa.get(i), pb.get(i)) {
            (Some(Ok(x)), Some(Ok(y))) => x.cmp(y),
            (Some(Err(x)), Some(Err(y))) => x.cmp(y),
            (Some(Ok(_)), Some(Err(_))) => Ordering::Greater,
            (Some(Err(_)), Some(Ok(_))) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_versions() {
        let cases = [
            ("2.10", "2.9", Ordering::Greater),
            ("1.0", "1.0.0", Ordering::Less),
            ("24.0.7", "24.0.7", Ordering::Equal),
            ("v1.2", "1.3", Ordering::Less),
            ("1.2rc1", "1.2", Ordering::Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        }
    }
}
