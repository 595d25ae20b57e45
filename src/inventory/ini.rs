//! Ansible's INI inventory: `[group]` host lines with `key=value` vars, `[group:vars]`,
//! `[group:children]`, hosts before any section in `ungrouped`, `#`/`;` comments. Values are
//! typed as Ansible's INI reader types them; errors name `file:line`.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{bail, Result};
use regex::Regex;

use super::{range, Inventory};
use crate::vars::{from_yaml, Value, Vars};

/// What the lines of the current section declare.
enum Section {
    Hosts(String),
    Vars(String),
    Children(String),
}

/// A group named before it is declared: by `[g:vars]`, or as a child in `[p:children]`.
struct Pending {
    name: String,
    line: usize,
    /// The parents waiting for it; empty for a `[g:vars]` declaration.
    parents: Vec<String>,
}

pub(super) fn parse(inv: &mut Inventory, path: &Path, text: &str) -> Result<()> {
    let file = path.display();
    let mut section = Section::Hosts("ungrouped".to_string());
    let mut pending: Vec<Pending> = Vec::new();

    for (index, raw) in text.lines().enumerate() {
        let lineno = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let fail = |msg: String| anyhow::anyhow!("{file}:{lineno}: {msg}");

        if let Some((name, kind)) = section_header(line) {
            section = match kind {
                None | Some("hosts") => Section::Hosts(name.to_string()),
                Some("vars") => Section::Vars(name.to_string()),
                Some("children") => Section::Children(name.to_string()),
                Some(other) => {
                    return Err(fail(format!(
                        "section [{name}:{other}] has unknown type '{other}'; \
                         expected vars or children"
                    )))
                }
            };
            let is_vars = matches!(section, Section::Vars(_));
            if inv.group(name).is_none() {
                if is_vars && !pending.iter().any(|p| p.name == name) {
                    pending.push(Pending {
                        name: name.to_string(),
                        line: lineno,
                        parents: Vec::new(),
                    });
                }
                inv.ensure_group(name);
            }
            // A `[g]` or `[g:children]` section declares g: settle who waited for it.
            if !is_vars {
                if let Some(at) = pending.iter().position(|p| p.name == name) {
                    let waiting = pending.remove(at);
                    for parent in &waiting.parents {
                        inv.add_child(parent, name)
                            .map_err(|e| fail(e.to_string()))?;
                    }
                }
            }
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(fail(format!(
                "invalid section header '{line}'; expected [group], [group:vars] or \
                 [group:children], with no spaces"
            )));
        }

        match &section {
            Section::Hosts(group) => host_line(inv, path, lineno, group, line).map_err(fail)?,
            Section::Vars(group) => {
                let (key, value) = var_definition(line).map_err(fail)?;
                if let Some(w) = lossy_typing(&key, line, &value) {
                    inv.warnings.push(format!("{file}:{lineno}: {w}"));
                }
                // The section header created the group.
                if let Some(g) = inv.group_mut(group) {
                    g.vars.insert(key, value);
                }
            }
            Section::Children(group) => {
                let child = child_name(line).map_err(fail)?;
                if inv.group(child).is_some() {
                    inv.add_child(group, child)
                        .map_err(|e| fail(e.to_string()))?;
                } else if let Some(p) = pending.iter_mut().find(|p| p.name == child) {
                    p.parents.push(group.clone());
                } else {
                    pending.push(Pending {
                        name: child.to_string(),
                        line: lineno,
                        parents: vec![group.clone()],
                    });
                }
            }
        }
    }

    if let Some(p) = pending.first() {
        match p.parents.last() {
            None => bail!(
                "{file}:{}: section [{}:vars] is for a group that is never declared",
                p.line,
                p.name
            ),
            Some(parent) => bail!(
                "{file}:{}: section [{parent}:children] includes undefined group '{}'",
                p.line,
                p.name
            ),
        }
    }
    Ok(())
}

/// `[name]` or `[name:kind]`, optionally followed by a `#` comment.
fn section_header(line: &str) -> Option<(&str, Option<&str>)> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        // A constant pattern, checked by the unit tests.
        Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").expect("valid section regex")
    });
    let caps = re.captures(line)?;
    let name = caps.get(1)?.as_str();
    Some((name, caps.get(2).map(|m| m.as_str())))
}

/// A host line: a host (with a port or a range) then `key=value` tokens.
fn host_line(
    inv: &mut Inventory,
    path: &Path,
    lineno: usize,
    group: &str,
    line: &str,
) -> Result<(), String> {
    let tokens = split_words(line)?;
    let Some((first, rest)) = tokens.split_first() else {
        return Ok(());
    };
    let (pattern, port) = range::split_port(&first.text)?;
    let names = range::expand(&pattern)?;
    inv.take_entries(names.len())?;

    let mut vars = Vars::new();
    if let Some(port) = port {
        vars.insert("ansible_port".into(), Value::from(port));
    }
    for token in rest {
        let Some((key, value)) = token.text.split_once('=') else {
            return Err(format!(
                "expected key=value host variable assignment, got: {}",
                token.text
            ));
        };
        let value = if token.quoted {
            Value::String(value.to_string())
        } else {
            let typed = typed(value);
            if let Some(w) = lossy_typing(key, &token.text, &typed) {
                inv.warnings
                    .push(format!("{}:{lineno}: {w}", path.display()));
            }
            typed
        };
        vars.insert(key.to_string(), value);
    }
    for name in names {
        inv.add_host(&name, group, vars.clone(), Some(path));
    }
    Ok(())
}

/// A `[group:vars]` line: `key=value`, the value typed, quotes removed from a quoted one.
fn var_definition(line: &str) -> Result<(String, Value), String> {
    let Some((key, value)) = line.split_once('=') else {
        return Err(format!("expected key=value, got: {line}"));
    };
    let key = key.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(format!("expected key=value, got: {line}"));
    }
    let value = value.trim();
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return Ok((key.to_string(), Value::from(&value[1..value.len() - 1])));
        }
    }
    Ok((key.to_string(), typed(value)))
}

/// A `[group:children]` line: one group name, optionally followed by a comment.
fn child_name(line: &str) -> Result<&str, String> {
    let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    if name.contains([':', ']', '[']) || !(rest.is_empty() || rest.starts_with('#')) {
        return Err(format!("expected a group name, got: {line}"));
    }
    Ok(name)
}

/// A word of a host line, and whether quotes appeared in it.
#[derive(Debug, PartialEq)]
struct Word {
    text: String,
    quoted: bool,
}

/// Splits a host line as a POSIX shell would: quotes group and vanish, a backslash escapes
/// the next character, `#` outside quotes starts a comment.
fn split_words(line: &str) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut current: Option<Word> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(current.take()),
            '#' if current.is_none() => break,
            '\'' | '"' => {
                let word = current.get_or_insert(Word {
                    text: String::new(),
                    quoted: false,
                });
                word.quoted = true;
                loop {
                    match chars.next() {
                        None => return Err(format!("unclosed quote {c} in: {line}")),
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.text.push(e),
                            Some(other) => {
                                word.text.push('\\');
                                word.text.push(other);
                            }
                            None => return Err(format!("unclosed quote {c} in: {line}")),
                        },
                        Some(other) => word.text.push(other),
                    }
                }
            }
            '\\' => {
                let word = current.get_or_insert(Word {
                    text: String::new(),
                    quoted: false,
                });
                word.text.extend(chars.next());
            }
            other => {
                let word = current.get_or_insert(Word {
                    text: String::new(),
                    quoted: false,
                });
                word.text.push(other);
            }
        }
    }
    words.extend(current);
    Ok(words)
}

/// An unquoted INI value as Ansible types it: integers (also `0x`, `0o`, `0b`), floats,
/// `True`/`False` (and, here, `true`/`false`), `None`, `[...]` and `{...}` literals; anything
/// else, `0644` included, stays a string.
pub(super) fn typed(raw: &str) -> Value {
    match raw {
        "True" | "true" => return Value::Bool(true),
        "False" | "false" => return Value::Bool(false),
        "None" => return Value::Null,
        _ => {}
    }
    if let Some(n) = integer(raw) {
        return Value::from(n);
    }
    static FLOAT: OnceLock<Regex> = OnceLock::new();
    let float = FLOAT.get_or_init(|| {
        // A constant pattern, checked by the unit tests.
        Regex::new(r"^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+|\.\d+[eE][+-]?\d+)$")
            .expect("valid float regex")
    });
    if float.is_match(raw) {
        if let Some(n) = raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            return Value::Number(n);
        }
    }
    let bracketed = (raw.starts_with('[') && raw.ends_with(']'))
        || (raw.starts_with('{') && raw.ends_with('}'));
    if bracketed {
        let parsed = serde_yaml::from_str::<serde_yaml::Value>(raw).ok();
        if let Some(v) = parsed.and_then(|v| from_yaml(v).ok()) {
            return v;
        }
    }
    Value::from(raw)
}

/// A warning when typing `key=raw` as a number changed its text (`ver=1.10` is the number
/// 1.1, `n=1e3` is 1000.0, `n=+5` is 5); explicit radix notation (`0x1F`) is deliberate.
fn lossy_typing(key: &str, assignment: &str, value: &Value) -> Option<String> {
    let Value::Number(n) = value else {
        return None;
    };
    let raw = assignment
        .split_once('=')
        .map_or(assignment, |(_, v)| v)
        .trim();
    let digits = raw.trim_start_matches(['+', '-']);
    let radix = ["0x", "0X", "0o", "0O", "0b", "0B"];
    if radix.iter().any(|p| digits.starts_with(p)) || n.to_string() == raw {
        return None;
    }
    Some(format!(
        "{key}={raw} is read as the number {n}; quote the value (\"{raw}\") to keep the text"
    ))
}

fn integer(raw: &str) -> Option<i64> {
    let (negative, body) = match raw.as_bytes().first()? {
        b'-' => (true, &raw[1..]),
        b'+' => (false, &raw[1..]),
        _ => (false, raw),
    };
    let (radix, digits) = match body.get(..2) {
        Some("0x" | "0X") => (16, &body[2..]),
        Some("0o" | "0O") => (8, &body[2..]),
        Some("0b" | "0B") => (2, &body[2..]),
        // Python refuses a decimal with a leading zero, so `0644` stays text.
        _ if body.len() > 1 && body.starts_with('0') => return None,
        _ => (10, body),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testdir::{object, origin, sample};
    use serde_json::json;

    #[test]
    fn typing() {
        let cases = [
            ("8080", json!(8080)),
            ("-3", json!(-3)),
            ("0", json!(0)),
            ("0x1F", json!(31)),
            ("1.5", json!(1.5)),
            ("1e3", json!(1000.0)),
            ("True", json!(true)),
            ("false", json!(false)),
            ("None", json!(null)),
            ("0644", json!("0644")),
            ("172.30.8.250", json!("172.30.8.250")),
            ("host", json!("host")),
            ("yes", json!("yes")),
            ("", json!("")),
            ("[1, 'a']", json!([1, "a"])),
            ("{'a': 1}", json!({"a": 1})),
            ("[broken", json!("[broken")),
            (
                "/var/lib/mestral-lab/id_ed25519",
                json!("/var/lib/mestral-lab/id_ed25519"),
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(typed(raw), want, "{raw}");
        }
    }

    #[test]
    fn typing_that_loses_text_warns() {
        let tmp = crate::inventory::testdir::TempDir::new("lossy");
        tmp.write(
            "hosts",
            "[web]\nw1 ver=1.10 ok=1.5 big=1e3 plus=+5 hex=0x1F q=\"1.10\" s=1.10.2\n\
             [web:vars]\nrel=2.50\nkept='2.50'\nport=22\n",
        );
        let path = tmp.0.join("hosts");
        let inv = Inventory::load(&[&path]).unwrap();
        let f = path.display();
        let w = |line: u32, kv: &str, n: &str| {
            let raw = kv.split_once('=').unwrap().1;
            format!(
                "{f}:{line}: {kv} is read as the number {n}; \
                 quote the value (\"{raw}\") to keep the text"
            )
        };
        let want = vec![
            w(2, "ver=1.10", "1.1"),
            w(2, "big=1e3", "1000.0"),
            w(2, "plus=+5", "5"),
            w(4, "rel=2.50", "2.5"),
        ];
        assert_eq!(inv.warnings, want);
        let vars = inv.host_vars("w1");
        let typed: Vec<&Value> = ["ver", "ok", "hex", "q", "s", "rel", "kept"]
            .iter()
            .map(|k| &vars[*k])
            .collect();
        assert_eq!(
            typed,
            [
                &json!(1.1),
                &json!(1.5),
                &json!(31),
                &json!("1.10"),
                &json!("1.10.2"),
                &json!(2.5),
                &json!("2.50")
            ]
        );
    }

    #[test]
    fn var_lines() {
        let cases = [
            ("a=1", ("a", json!(1))),
            ("a = two words", ("a", json!("two words"))),
            ("msg=\"hello world\"", ("msg", json!("hello world"))),
            ("n='42'", ("n", json!("42"))),
            ("url=http://x/?a=b", ("url", json!("http://x/?a=b"))),
        ];
        for (line, (key, value)) in cases {
            assert_eq!(
                var_definition(line).unwrap(),
                (key.to_string(), value),
                "{line}"
            );
        }
        assert_eq!(
            var_definition("novalue").unwrap_err(),
            "expected key=value, got: novalue"
        );
    }

    #[test]
    fn words() {
        let w = |text: &str, quoted| Word {
            text: text.into(),
            quoted,
        };
        let cases = [
            (
                "h a=1 b=2",
                vec![w("h", false), w("a=1", false), w("b=2", false)],
            ),
            (
                "h msg=\"two words\"",
                vec![w("h", false), w("msg=two words", true)],
            ),
            ("h x='it''s' # note", vec![w("h", false), w("x=its", true)]),
            ("h p=a\\ b", vec![w("h", false), w("p=a b", false)]),
            (
                "h q=\"say \\\"hi\\\"\"",
                vec![w("h", false), w("q=say \"hi\"", true)],
            ),
        ];
        for (line, want) in cases {
            assert_eq!(split_words(line).unwrap(), want, "{line}");
        }
        assert_eq!(
            split_words("h a='x").unwrap_err(),
            "unclosed quote ' in: h a='x"
        );
    }

    #[test]
    fn headers() {
        let cases = [
            ("[web]", Some(("web", None))),
            ("[web:vars]", Some(("web", Some("vars")))),
            ("[web:children] # note", Some(("web", Some("children")))),
            ("[web servers]", None),
            ("[a:c].lab", None),
        ];
        for (line, want) in cases {
            assert_eq!(section_header(line), want, "{line}");
        }
    }

    #[test]
    fn ini_groups_and_ranges() {
        let (_tmp, inv) = sample();
        assert_eq!(
            Value::Object(inv.groups_map()),
            json!({
                "all": ["lone1", "lone2", "web01", "web02", "web03", "db-8", "db-9", "db-10"],
                "ungrouped": ["lone1", "lone2"],
                "web": ["web01", "web02", "web03", "db-8", "db-9", "db-10"],
                "db": ["db-8", "db-9", "db-10"],
                "prod": ["web01", "web02", "web03", "db-8", "db-9", "db-10"],
                "dbs": ["db-8", "db-9", "db-10"],
            })
        );
        let all = inv.group("all").unwrap();
        assert_eq!(all.children, vec!["ungrouped", "prod"]);
        assert_eq!(inv.group_names("db-9"), vec!["db", "dbs", "prod", "web"]);
        assert_eq!(inv.group_names("lone1"), vec!["ungrouped"]);
    }

    #[test]
    fn ini_host_vars_are_typed() {
        let (tmp, inv) = sample();
        let (file, dir) = origin(&tmp.0.join("hosts"));
        let cases = [
            ("lone1", json!({"ansible_port": 2200})),
            ("lone2", json!({"ansible_port": 2201})),
            (
                "web02",
                json!({"tier": "front", "weight": 1.5, "enabled": true, "note": "two words",
                       "mode": "0644"}),
            ),
            ("db-8", json!({"ansible_port": 2222, "primary": true})),
            ("db-10", json!({"ansible_port": 2222})),
        ];
        for (host, own) in cases {
            let mut want = object(json!({"inventory_file": file, "inventory_dir": dir}));
            want.extend(object(own));
            assert_eq!(inv.host(host).unwrap().vars, want, "{host}");
        }
        assert_eq!(
            Value::Object(inv.group("prod").unwrap().vars.clone()),
            json!({"env": "production", "retries": 3})
        );
    }

    #[test]
    fn ini_errors_name_file_and_line() {
        let cases = [
            (
                "[web]\nh1\n[web:hosts2]\n",
                "inventory/lab.ini:3: section [web:hosts2] has unknown type 'hosts2'; expected \
                 vars or children",
            ),
            (
                "[web servers]\n",
                "inventory/lab.ini:1: invalid section header '[web servers]'; expected \
                 [group], [group:vars] or [group:children], with no spaces",
            ),
            (
                "# c\n\n[web]\nnode[3:1]\n",
                "inventory/lab.ini:4: host range [3:1]: begin must not be after end",
            ),
            (
                "[web]\nh1 novalue\n",
                "inventory/lab.ini:2: expected key=value host variable assignment, got: novalue",
            ),
            (
                "[web]\nh1:ssh\n",
                "inventory/lab.ini:2: invalid port 'ssh' in 'h1:ssh'",
            ),
            (
                "[web:vars]\na=1\n",
                "inventory/lab.ini:1: section [web:vars] is for a group that is never declared",
            ),
            (
                "[web]\nh1\n[web:vars]\njustaword\n",
                "inventory/lab.ini:4: expected key=value, got: justaword",
            ),
            (
                "[p:children]\nweb\nmissing\n[web]\n",
                "inventory/lab.ini:3: section [p:children] includes undefined group 'missing'",
            ),
            (
                "[a:children]\nb\n[b:children]\na\n",
                "inventory/lab.ini:4: adding group 'a' as a child of 'b' makes a loop of groups",
            ),
            (
                "[web]\nh1 a='x\n",
                "inventory/lab.ini:2: unclosed quote ' in: h1 a='x",
            ),
        ];
        for (text, want) in cases {
            let mut inv = Inventory::empty();
            let err = parse(&mut inv, Path::new("inventory/lab.ini"), text).unwrap_err();
            assert_eq!(err.to_string(), want, "{text}");
        }
    }

    #[test]
    fn group_declared_after_use() {
        let text = "[p:vars]\nx=1\n[p:children]\nc\n[c]\nh1\n";
        let mut inv = Inventory::empty();
        parse(&mut inv, Path::new("inv"), text).unwrap();
        inv.reconcile();
        assert_eq!(inv.hosts_of_group("p"), vec!["h1"]);
        assert_eq!(Value::Object(inv.host_vars("h1")).get("x"), Some(&json!(1)));
    }

    #[test]
    fn large_ranges_load_and_a_flood_of_entries_is_refused() {
        // 26,000 hosts in one group (the fuzzing input that once took 20 s): each host
        // listed once, in order, with its groups.
        let mut inv = Inventory::empty();
        parse(
            &mut inv,
            Path::new("big.ini"),
            "[web9]\nx[a:z][0:999]\nxa7\n",
        )
        .unwrap();
        inv.reconcile();
        let web9 = inv.hosts_of_group("web9");
        assert_eq!(
            (web9.len(), web9[0].as_str(), web9[25_999].as_str()),
            (26_000, "xa0", "xz999")
        );
        assert_eq!(inv.group_names("xq500"), vec!["web9"]);
        assert_eq!(inv.hosts_of_group("ungrouped"), Vec::<String>::new());

        let flood: String = (0..11).map(|g| format!("[g{g}]\nh[0:99999]\n")).collect();
        let mut inv = Inventory::empty();
        let err = parse(&mut inv, Path::new("flood.ini"), &flood).unwrap_err();
        assert_eq!(
            err.to_string(),
            "flood.ini:22: the inventory lists more than 1000000 host entries (ranges count \
             each host); split it or narrow the ranges"
        );
    }
}
