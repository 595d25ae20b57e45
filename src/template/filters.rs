//! Ansible's filters on top of minijinja's builtins: data shaping (`dict2items`, `combine`,
//! `flatten`, `extract`), serialisation (`to_json`, `from_yaml`, ...), regular expressions,
//! paths, encodings, and the Ansible meaning of `bool`, `int` and `string`.

use base64::Engine as _;
use minijinja::value::{Kwargs, Rest, Value as MjValue, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use regex::{Regex, RegexBuilder};
use serde_json::Value as Json;
use sha2::Digest;

use super::convert::{py_json, py_str, to_json, to_mj};
use crate::vars::as_bool;

pub fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Fails with the engine's own undefined error, which names the expression that produced
/// `value`, when it is undefined.
pub fn require_defined(value: &MjValue) -> Result<(), Error> {
    if value.is_undefined() {
        value.get_attr("__mestral_undefined")?;
    }
    Ok(())
}

fn text(value: &MjValue) -> Result<String, Error> {
    require_defined(value)?;
    Ok(py_str(value))
}

fn json_of(value: &MjValue) -> Result<Json, Error> {
    require_defined(value)?;
    to_json(value)
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("lower", |v: &MjValue| text(v).map(|s| s.to_lowercase()));
    env.add_filter("upper", |v: &MjValue| text(v).map(|s| s.to_uppercase()));
    env.add_filter("trim", |v: &MjValue| text(v).map(|s| s.trim().to_string()));
    env.add_filter("string", |v: &MjValue| text(v));
    env.add_filter("bool", to_bool);
    env.add_filter("int", to_int);
    env.add_filter("float", to_float);
    env.add_filter("join", join);
    env.add_filter("to_json", |v: &MjValue| {
        json_of(v).map(|j| py_json(&j, None))
    });
    env.add_filter(
        "to_nice_json",
        |v: &MjValue, indent: Option<usize>, kwargs: Kwargs| {
            let indent = indent.or(kwargs.get("indent")?).unwrap_or(4);
            json_of(v).map(|j| py_json(&j, Some(indent)))
        },
    );
    env.add_filter("from_json", |v: &MjValue| {
        serde_json::from_str::<Json>(&text(v)?)
            .map(|j| to_mj(&j))
            .map_err(|e| fail(format!("from_json: {e}")))
    });
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_nice_yaml", to_yaml);
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", |v: &MjValue| {
        text(v).map(|s| regex::escape(&s))
    });
    env.add_filter("b64encode", |v: &MjValue| {
        text(v).map(|s| base64::engine::general_purpose::STANDARD.encode(s))
    });
    env.add_filter("b64decode", b64decode);
    env.add_filter("basename", |v: &MjValue| {
        text(v).map(|s| split_path(&s).1.to_string())
    });
    env.add_filter("dirname", |v: &MjValue| {
        text(v).map(|s| split_path(&s).0.to_string())
    });
    env.add_filter("quote", |v: &MjValue| text(v).map(|s| shell_quote(&s)));
    env.add_filter("mandatory", |v: &MjValue, msg: Option<String>| match msg {
        Some(msg) if v.is_undefined() => Err(fail(msg)),
        _ => require_defined(v).map(|_| v.clone()),
    });
    env.add_filter("hash", hash);
    env.add_filter("password_hash", super::password::password_hash);
    env.add_filter("type_debug", |v: &MjValue| type_name(v));
}

fn to_bool(v: &MjValue) -> Result<bool, Error> {
    let json = json_of(v)?;
    Ok(match &json {
        Json::String(_) => as_bool(&json).unwrap_or(false),
        other => as_bool(other).unwrap_or(v.is_true()),
    })
}

/// Python's `int()` as Ansible's `int` filter uses it: text is parsed (in `base`), floats
/// are truncated, and what cannot be read gives `default`.
fn to_int(
    v: &MjValue,
    default: Option<i64>,
    base: Option<u32>,
    kwargs: Kwargs,
) -> Result<i64, Error> {
    require_defined(v)?;
    let default = default.or(kwargs.get("default")?).unwrap_or(0);
    let base = base.or(kwargs.get("base")?);
    kwargs.assert_all_used()?;
    Ok(match v.kind() {
        ValueKind::Bool => i64::from(v.is_true()),
        ValueKind::Number => match v.as_i64() {
            Some(i) => i,
            None => f64::try_from(v.clone())
                .map(|f| f.trunc() as i64)
                .unwrap_or(default),
        },
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default().trim();
            let base = base.unwrap_or(10);
            let digits = match base {
                16 => s.trim_start_matches("0x").trim_start_matches("0X"),
                8 => s.trim_start_matches("0o").trim_start_matches("0O"),
                2 => s.trim_start_matches("0b").trim_start_matches("0B"),
                _ => s,
            };
            match i64::from_str_radix(digits, base) {
                Ok(i) => i,
                Err(_) if base == 10 => s
                    .parse::<f64>()
                    .map(|f| f.trunc() as i64)
                    .unwrap_or(default),
                Err(_) => default,
            }
        }
        _ => default,
    })
}

fn to_float(v: &MjValue, default: Option<f64>, kwargs: Kwargs) -> Result<f64, Error> {
    require_defined(v)?;
    let default = default.or(kwargs.get("default")?).unwrap_or(0.0);
    kwargs.assert_all_used()?;
    Ok(match v.kind() {
        ValueKind::Bool => f64::from(u8::from(v.is_true())),
        ValueKind::Number => f64::try_from(v.clone()).unwrap_or(default),
        ValueKind::String => v
            .as_str()
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(default),
        _ => default,
    })
}

fn join(v: &MjValue, sep: Option<String>) -> Result<String, Error> {
    require_defined(v)?;
    if let Some(s) = v.as_str() {
        return Ok(s.to_string());
    }
    let parts: Vec<String> = v.try_iter()?.map(|item| py_str(&item)).collect();
    Ok(parts.join(sep.as_deref().unwrap_or("")))
}

fn to_yaml(v: &MjValue, _kwargs: Kwargs) -> Result<String, Error> {
    serde_yaml::to_string(&json_of(v)?).map_err(|e| fail(format!("to_yaml: {e}")))
}

fn from_yaml(v: &MjValue) -> Result<MjValue, Error> {
    let parsed: serde_yaml::Value =
        serde_yaml::from_str(&text(v)?).map_err(|e| fail(format!("from_yaml: {e}")))?;
    let json = crate::vars::from_yaml(parsed).map_err(|e| fail(format!("from_yaml: {e}")))?;
    Ok(to_mj(&json))
}

fn build_regex(pattern: &str, kwargs: &Kwargs) -> Result<Regex, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| fail(format!("invalid regular expression {pattern:?}: {e}")))
}

/// Python replacement syntax (`\1`, `\g<name>`) in Rust's (`${1}`, `${name}`).
fn python_replacement(replacement: &str) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        group.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') => {
                    chars.next();
                    let name: String = chars.by_ref().skip(1).take_while(|&c| c != '>').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

fn regex_replace(
    v: &MjValue,
    pattern: String,
    replacement: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let re = build_regex(&pattern, &kwargs)?;
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    kwargs.assert_all_used()?;
    let replacement = python_replacement(replacement.as_deref().unwrap_or(""));
    Ok(re
        .replacen(&text(v)?, count, replacement.as_str())
        .into_owned())
}

/// `regex_search(pattern, '\\1', '\\g<name>', ...)`: the whole match, or the listed
/// groups as a list; `None` when nothing matches.
fn regex_search(v: &MjValue, args: Rest<String>, kwargs: Kwargs) -> Result<MjValue, Error> {
    let Some((pattern, groups)) = args.split_first() else {
        return Err(Error::new(
            ErrorKind::MissingArgument,
            "regex_search needs a pattern",
        ));
    };
    let re = build_regex(pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let subject = text(v)?;
    let Some(caps) = re.captures(&subject) else {
        return Ok(MjValue::from(()));
    };
    if groups.is_empty() {
        return Ok(MjValue::from(
            caps.get(0).map(|m| m.as_str()).unwrap_or_default(),
        ));
    }
    let mut out = Vec::new();
    for group in groups {
        let group = group.trim_start_matches('\\');
        let found = match group.parse::<usize>() {
            Ok(i) => caps.get(i),
            Err(_) => caps.name(group.trim_start_matches("g<").trim_end_matches('>')),
        };
        out.push(MjValue::from(found.map(|m| m.as_str()).unwrap_or_default()));
    }
    Ok(MjValue::from(out))
}

fn regex_findall(v: &MjValue, pattern: String, kwargs: Kwargs) -> Result<MjValue, Error> {
    let re = build_regex(&pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let subject = text(v)?;
    let groups = re.captures_len() - 1;
    let mut out = Vec::new();
    for caps in re.captures_iter(&subject) {
        let group = |i: usize| MjValue::from(caps.get(i).map(|m| m.as_str()).unwrap_or_default());
        out.push(match groups {
            0 => group(0),
            1 => group(1),
            n => MjValue::from((1..=n).map(group).collect::<Vec<_>>()),
        });
    }
    Ok(MjValue::from(out))
}

fn b64decode(v: &MjValue) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text(v)?.trim())
        .map_err(|e| fail(format!("b64decode: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Python's `os.path.split`: (`dirname`, `basename`).
fn split_path(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        None => ("", path),
        Some(i) => {
            let head = &path[..=i];
            let trimmed = head.trim_end_matches('/');
            (
                if trimmed.is_empty() { head } else { trimmed },
                &path[i + 1..],
            )
        }
    }
}

/// Python's `shlex.quote`.
pub fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".to_string();
    }
    let safe = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if safe {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn hash(v: &MjValue, algorithm: Option<String>) -> Result<String, Error> {
    let data = text(v)?;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    match algorithm.as_deref().unwrap_or("sha1") {
        "sha224" => Ok(hex(&sha2::Sha224::digest(data.as_bytes()))),
        "sha256" => Ok(hex(&sha2::Sha256::digest(data.as_bytes()))),
        "sha384" => Ok(hex(&sha2::Sha384::digest(data.as_bytes()))),
        "sha512" => Ok(hex(&sha2::Sha512::digest(data.as_bytes()))),
        other => Err(fail(format!(
            "hash type '{other}' is not supported (use sha256 or sha512)"
        ))),
    }
}

/// Python's type name of a value, as `type_debug` shows it.
pub fn type_name(v: &MjValue) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Map => "dict",
        _ => "list",
    }
}

#[cfg(test)]
mod tests {
    use crate::template::Templar;
    use crate::vars::Scope;
    use serde_json::json;

    fn scope() -> Scope {
        let vars = json!({
            "text": "Hello World 42",
            "path": "/etc/app/conf.d/app.conf",
            "l": [3, 1, 2, 1],
            "nested": [1, [2, [3, null]]],
            "m": {"a": 1, "b": "two"},
            "users": [
                {"name": "ana", "admin": true, "shell": "/bin/bash"},
                {"name": "bo", "admin": false},
            ],
            "nothing": null,
            "yes_word": "yes",
            "mode": "0644",
        });
        match vars {
            serde_json::Value::Object(map) => Scope::local(map),
            _ => unreachable!("the literal above is a map"),
        }
    }

    #[test]
    fn filters_give_ansible_results() {
        let t = Templar::new();
        let scope = scope();
        let cases = [
            ("{{ l | join(',') }}", "3,1,2,1"),
            ("{{ text | lower }}", "hello world 42"),
            ("{{ text | upper }}", "HELLO WORLD 42"),
            ("{{ '  pad  ' | trim }}", "pad"),
            ("{{ '12' | int + 1 }}", "13"),
            ("{{ '0x1A' | int(base=16) }}", "26"),
            ("{{ 'junk' | int }}", "0"),
            ("{{ '3.7' | int }}", "3"),
            ("{{ '2.5' | float * 2 }}", "5.0"),
            ("{{ yes_word | bool }}", "True"),
            ("{{ 'off' | bool }}", "False"),
            ("{{ 5 | string ~ 'x' }}", "5x"),
            ("{{ l | length }}/{{ text | count }}", "4/14"),
            ("{{ l | first }}-{{ l | last }}", "3-1"),
            ("{{ l | unique | list }}", "[3, 1, 2]"),
            ("{{ l | sort }}", "[1, 1, 2, 3]"),
            ("{{ 'ab' | list }}", "['a', 'b']"),
            ("{{ m | to_json }}", "{\"a\": 1, \"b\": \"two\"}"),
            (
                "{{ {'b': 1, 'a': [true]} | to_nice_json(indent=2) }}",
                "{\n  \"a\": [\n    true\n  ],\n  \"b\": 1\n}",
            ),
            ("{{ ('{\"k\": [1, 2]}' | from_json).k[1] }}", "2"),
            ("{{ m | to_yaml }}", "a: 1\nb: two\n"),
            ("{{ ('a: [1, yes]' | from_yaml).a }}", "[1, 'yes']"),
            (
                "{{ text | regex_replace('(\\\\w+) (\\\\w+)', '\\\\2 \\\\1') }}",
                "World Hello 42",
            ),
            (
                "{{ text | regex_replace('o', '0', count=1) }}",
                "Hell0 World 42",
            ),
            ("{{ 'a$b' | regex_replace('\\\\$', '${x}') }}", "a${x}b"),
            ("{{ text | regex_search('\\\\d+') }}", "42"),
            (
                "{{ text | regex_search('(?P<w>W\\\\w+)', '\\\\g<w>') }}",
                "['World']",
            ),
            ("{{ text | regex_search('zzz') }}", ""),
            ("{{ text | regex_findall('o.') }}", "['o ', 'or']"),
            (
                "{{ 'k1=v1 k2=v2' | regex_findall('(\\\\w)(\\\\d)=') }}",
                "[['k', '1'], ['k', '2']]",
            ),
            ("{{ 'a.b' | regex_escape }}", "a\\.b"),
            ("{{ 'hi there' | b64encode }}", "aGkgdGhlcmU="),
            ("{{ 'aGkgdGhlcmU=' | b64decode }}", "hi there"),
            (
                "{{ path | basename }}|{{ path | dirname }}",
                "app.conf|/etc/app/conf.d",
            ),
            (
                "{{ '/' | dirname }}|{{ 'file' | dirname }}|{{ '/x/' | basename }}",
                "/||",
            ),
            (
                "{{ \"it's a\" | quote }} {{ 'safe-1.2' | quote }} {{ '' | quote }}",
                "'it'\"'\"'s a' safe-1.2 ''",
            ),
            ("{{ text | mandatory }}", "Hello World 42"),
            ("{{ users | map(attribute='name') | join(' ') }}", "ana bo"),
            (
                "{{ users | selectattr('admin') | map(attribute='name') | list }}",
                "['ana']",
            ),
            (
                "{{ users | rejectattr('admin') | map(attribute='name') | first }}",
                "bo",
            ),
            ("{{ users | selectattr('shell', 'defined') | length }}", "1"),
            (
                "{{ users | selectattr('name', 'equalto', 'bo') | map(attribute='admin') \
                 | first }}",
                "False",
            ),
            (
                "{{ ['ab', 'cd', 'ax'] | select('match', 'a') | list }}",
                "['ab', 'ax']",
            ),
            (
                "{{ ['ab', 'cd', 'xa'] | reject('search', 'a') | list }}",
                "['cd']",
            ),
            ("{{ l | map('string') | map('int') | sum }}", "7"),
            (
                "{{ [1, 2] | zip(['a', 'b']) | list }}",
                "[[1, 'a'], [2, 'b']]",
            ),
            ("{{ l | min }}/{{ l | max }}/{{ l | sum }}", "1/3/7"),
            ("{{ range(1, 4) | list }}", "[1, 2, 3]"),
            (
                "{{ 'abc' | hash('sha256') }}",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                "{{ m | type_debug }} {{ mode | type_debug }} {{ 1.5 | type_debug }}",
                "dict str float",
            ),
            ("{{ text | replace('World', 'There') }}", "Hello There 42"),
            ("{{ m | items | list }}", "[['a', 1], ['b', 'two']]"),
        ];
        for (text, want) in cases {
            assert_eq!(t.render_str(text, &scope).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn tests_give_ansible_results() {
        let t = Templar::new();
        let scope = scope();
        let cases = [
            ("text is match('Hello')", true),
            ("text is match('World')", false),
            ("text is search('World')", true),
            ("text is regex('world', ignorecase=true)", true),
            ("'2.10' is version('2.9', '>')", true),
            ("'1.0.0' is version('1.0.1', 'lt')", true),
            ("'24.0' is version('24.0', '==')", true),
            ("nothing is none", true),
            ("text is string", true),
            ("42 is number", true),
            ("m is mapping", true),
            ("l is iterable and l is sequence", true),
            ("m is string", false),
            ("3 in l", true),
            ("l is contains(2)", true),
            ("[1, 2] is subset(l)", true),
            ("'/' is directory", true),
            ("'/definitely/not/here' is exists", false),
        ];
        for (expr, want) in cases {
            assert_eq!(t.eval_bool(expr, &scope).unwrap(), want, "{expr}");
        }
    }

    #[test]
    fn filter_errors_are_named() {
        let t = Templar::new();
        let scope = scope();
        let cases = [
            ("{{ missing | mandatory }}", "'missing' is undefined"),
            ("{{ missing | mandatory('set missing') }}", "set missing"),
            (
                "{{ text | hash('md5') }}",
                "hash type 'md5' is not supported (use sha256 or sha512)",
            ),
            (
                "{{ l | dict2items }}",
                "dict2items requires a dictionary, got list",
            ),
        ];
        for (text, want) in cases {
            let err = t.render_str(text, &scope).unwrap_err();
            assert_eq!(
                err.message,
                format!("{want}, in template {text:?}"),
                "{text}"
            );
        }
    }
}
