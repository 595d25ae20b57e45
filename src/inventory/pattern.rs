//! Host patterns as Ansible reads them: terms joined by `:` or `,`, each a group, a host, a
//! glob or a `~regex`, optionally subscripted (`web[0]`, `web[1:]`) and prefixed by `&`
//! (intersection) or `!` (exclusion). Unions apply first, then intersections, exclusions.

use std::collections::HashSet;
use std::net::Ipv6Addr;
use std::sync::{Mutex, OnceLock};

use anyhow::{anyhow, Result};
use regex::Regex;

use super::Inventory;

pub(super) fn select(inv: &Inventory, pattern: &str) -> Result<Vec<String>> {
    let terms = order(with_files(split(pattern))?);
    let mut hosts: Vec<String> = Vec::new();
    for term in terms {
        if let Some(expr) = term.strip_prefix('!') {
            let out: HashSet<String> = matches(inv, expr)?.into_iter().collect();
            hosts.retain(|h| !out.contains(h));
        } else if let Some(expr) = term.strip_prefix('&') {
            let keep: HashSet<String> = matches(inv, expr)?.into_iter().collect();
            hosts.retain(|h| keep.contains(h));
        } else {
            let found = match inv.host(&term) {
                Some(h) => vec![h.name.clone()],
                None => matches(inv, &term)?,
            };
            for h in found {
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
        }
    }
    Ok(hosts)
}

/// The terms of a pattern. Commas separate; so do colons outside brackets, unless the
/// whole piece is an IPv6 address.
fn split(pattern: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for piece in pattern.split(',') {
        let piece = piece.trim();
        if piece
            .trim_start_matches(['!', '&'])
            .parse::<Ipv6Addr>()
            .is_ok()
        {
            terms.push(piece.to_string());
            continue;
        }
        let mut depth = 0i32;
        let mut current = String::new();
        for c in piece.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ => {}
            }
            if c == ':' && depth == 0 {
                terms.push(std::mem::take(&mut current));
            } else {
                current.push(c);
            }
        }
        terms.push(current);
    }
    terms
        .into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// A term `@FILE` (a retry file) stands for the lines of the file, each a pattern.
fn with_files(terms: Vec<String>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for term in terms {
        let Some(file) = term.strip_prefix('@') else {
            out.push(term);
            continue;
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow!("cannot read the limit file '{file}': {e}"))?;
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    Ok(out)
}

/// Unions, then intersections, then exclusions; `all` first when no union is given.
fn order(terms: Vec<String>) -> Vec<String> {
    let (mut ordered, rest): (Vec<String>, Vec<String>) =
        terms.into_iter().partition(|t| !t.starts_with(['!', '&']));
    let (and, not): (Vec<String>, Vec<String>) = rest.into_iter().partition(|t| t.starts_with('&'));
    if ordered.is_empty() && !(and.is_empty() && not.is_empty()) {
        ordered.push("all".to_string());
    }
    ordered.extend(and);
    ordered.extend(not);
    ordered
}

/// The hosts one term (without its prefix) names, in inventory order.
fn matches(inv: &Inventory, term: &str) -> Result<Vec<String>> {
    let (expr, subscript) = split_subscript(term)?;
    let matcher = compile(expr)?;

    let groups: Vec<&str> = inv
        .groups
        .iter()
        .map(|g| g.name.as_str())
        .filter(|n| matcher.is_match(n))
        .collect();
    let mut found: Vec<String> = Vec::new();
    for g in &groups {
        found.extend(inv.hosts_of_group(g));
    }
    let wild = expr.starts_with('~') || expr.contains(['.', '?', '*', '[']);
    if groups.is_empty() || wild {
        found.extend(
            inv.hosts
                .iter()
                .filter(|h| matcher.is_match(&h.name))
                .map(|h| h.name.clone()),
        );
    }
    if found.is_empty() && inv.is_implicit_localhost(expr) {
        found.push(expr.to_string());
    }
    if found.is_empty() && groups.is_empty() {
        warn_once(no_match(inv, expr));
        return Ok(Vec::new());
    }

    // In inventory order, each host once.
    let set: HashSet<&str> = found.iter().map(String::as_str).collect();
    let mut hosts: Vec<String> = inv
        .hosts
        .iter()
        .filter(|h| set.contains(h.name.as_str()))
        .map(|h| h.name.clone())
        .collect();
    if hosts.is_empty() {
        hosts = found;
    }
    match subscript {
        None => Ok(hosts),
        Some(s) => s.apply(term, hosts),
    }
}

/// The warning for a term that names no group or host, with the closest name.
fn no_match(inv: &Inventory, expr: &str) -> String {
    let names: Vec<&str> = inv
        .groups
        .iter()
        .map(|g| g.name.as_str())
        .chain(inv.hosts.iter().map(|h| h.name.as_str()))
        .collect();
    let hint = crate::suggest::did_you_mean(expr, &names)
        .map(|s| format!("; did you mean '{s}'?"))
        .unwrap_or_default();
    format!("Could not match supplied host pattern, ignoring: {expr}{hint}")
}

/// Each distinct warning once per run: a play's pattern is looked at more than once.
fn warn_once(text: String) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Mutex::default);
    let first = seen
        .lock()
        .map(|mut s| s.insert(text.clone()))
        .unwrap_or(true);
    if first {
        super::warn(&text);
    }
}

/// `[i]` (negative counts from the end) or `[start:end]` (inclusive; end optional).
#[derive(Debug, PartialEq)]
enum Subscript {
    Index(i64),
    Slice(usize, Option<usize>),
}

impl Subscript {
    fn apply(&self, term: &str, hosts: Vec<String>) -> Result<Vec<String>> {
        let len = hosts.len();
        match *self {
            Subscript::Index(i) => {
                let at = if i < 0 { len as i64 + i } else { i };
                usize::try_from(at)
                    .ok()
                    .and_then(|at| hosts.get(at).cloned())
                    .map(|h| vec![h])
                    .ok_or_else(|| {
                        anyhow!("pattern '{term}': index {i} is out of range ({len} hosts)")
                    })
            }
            Subscript::Slice(start, end) => {
                let end = end.map_or(len, |e| (e + 1).min(len));
                Ok(hosts.into_iter().take(end).skip(start).collect())
            }
        }
    }
}

fn split_subscript(term: &str) -> Result<(&str, Option<Subscript>)> {
    if term.starts_with('~') {
        return Ok((term, None));
    }
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        // A constant pattern, checked by the unit tests.
        Regex::new(r"^(.+?)\[(?:(-?[0-9]+)|([0-9]+):([0-9]+)?)\]$").expect("valid subscript regex")
    });
    let Some(caps) = re.captures(term) else {
        return Ok((term, None));
    };
    let expr = caps.get(1).map_or(term, |m| m.as_str());
    let number = |i: usize| caps.get(i).map(|m| m.as_str().parse::<i64>());
    let bad = |_| anyhow!("pattern '{term}': subscript is too large");
    let subscript = match number(2) {
        Some(n) => Subscript::Index(n.map_err(bad)?),
        None => {
            let start = number(3).transpose().map_err(bad)?.unwrap_or(0);
            let end = number(4).transpose().map_err(bad)?;
            Subscript::Slice(start as usize, end.map(|e| e as usize))
        }
    };
    Ok((expr, Some(subscript)))
}

/// A regex for a term: `~re` matches from the start of a name; anything else is a shell
/// glob over the whole name.
fn compile(expr: &str) -> Result<Regex> {
    let invalid = |e: regex::Error| anyhow!("invalid host pattern '{expr}': {e}");
    let source = match expr.strip_prefix('~') {
        Some(re) => {
            // Checked alone first, so that an error points into the user's own text.
            Regex::new(re).map_err(invalid)?;
            format!("^(?:{re})")
        }
        None => glob_regex(expr),
    };
    Regex::new(&source).map_err(invalid)
}

/// `*`, `?`, `[abc]` and `[!abc]` as in Python's fnmatch; everything else literal.
fn glob_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from("^");
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                // The class ends at the next ']' that is not its first character.
                let mut j = i + 1;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str(r"\[");
                } else {
                    let mut body: String = chars[i + 1..j].iter().collect();
                    if let Some(rest) = body.strip_prefix('!') {
                        body = format!("^{rest}");
                    }
                    out.push('[');
                    out.push_str(&body.replace('\\', r"\\").replace('[', r"\["));
                    out.push(']');
                    i = j;
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testdir::sample;
    use std::path::Path;

    #[test]
    fn splitting_and_order() {
        let cases: &[(&str, &[&str])] = &[
            ("all", &["all"]),
            ("web:db", &["web", "db"]),
            ("web, db", &["web", "db"]),
            ("!db:web:&prod", &["web", "&prod", "!db"]),
            ("!db", &["all", "!db"]),
            ("node[1:3]:db", &["node[1:3]", "db"]),
            ("fe80::1", &["fe80::1"]),
            ("", &[]),
        ];
        for (pattern, want) in cases {
            assert_eq!(order(split(pattern)), *want, "{pattern}");
        }
    }

    #[test]
    fn globs() {
        let cases = [
            ("web*", "web01", true),
            ("web*", "db01", false),
            ("calx?tu", "calxitu", true),
            ("calx?tu", "calxitu2", false),
            ("db[12]", "db2", true),
            ("db[!12]", "db2", false),
            ("db[!12]", "db3", true),
            ("a.b", "axb", false),
            ("a.b", "a.b", true),
        ];
        for (glob, name, want) in cases {
            assert_eq!(
                compile(glob).unwrap().is_match(name),
                want,
                "{glob} ~ {name}"
            );
        }
        assert!(!compile("~(web|db)").unwrap().is_match("xweb"));
        assert!(compile("~(web|db)").unwrap().is_match("db3"));
    }

    #[test]
    fn subscripts() {
        let cases = [
            ("web[0]", ("web", Some(Subscript::Index(0)))),
            ("web[-1]", ("web", Some(Subscript::Index(-1)))),
            ("web[1:]", ("web", Some(Subscript::Slice(1, None)))),
            ("web[0:2]", ("web", Some(Subscript::Slice(0, Some(2))))),
            ("web[ab]", ("web[ab]", None)),
            ("~web[0]", ("~web[0]", None)),
        ];
        for (term, want) in cases {
            assert_eq!(split_subscript(term).unwrap(), want, "{term}");
        }
    }

    #[test]
    fn patterns() {
        let (_tmp, inv) = sample();
        let cases: &[(&str, &[&str])] = &[
            (
                "all",
                &[
                    "lone1", "lone2", "web01", "web02", "web03", "db-8", "db-9", "db-10",
                ],
            ),
            (
                "*",
                &[
                    "lone1", "lone2", "web01", "web02", "web03", "db-8", "db-9", "db-10",
                ],
            ),
            ("db", &["db-8", "db-9", "db-10"]),
            ("web02", &["web02"]),
            ("web0*", &["web01", "web02", "web03"]),
            ("lone?", &["lone1", "lone2"]),
            ("~db-(8|10)", &["db-8", "db-10"]),
            ("db:lone1", &["db-8", "db-9", "db-10", "lone1"]),
            ("lone2,db-9", &["lone2", "db-9"]),
            ("web:&db", &["db-8", "db-9", "db-10"]),
            ("web:!db", &["web01", "web02", "web03"]),
            ("!db:web:&prod", &["web01", "web02", "web03"]),
            (
                "!ungrouped",
                &["web01", "web02", "web03", "db-8", "db-9", "db-10"],
            ),
            ("web[0]", &["web01"]),
            ("web[-1]", &["db-10"]),
            ("web[1:2]", &["web02", "web03"]),
            ("web[4:]", &["db-9", "db-10"]),
            ("ungrouped:&db", &[]),
            ("localhost", &["localhost"]),
            ("db:localhost", &["db-8", "db-9", "db-10", "localhost"]),
        ];
        for (pattern, want) in cases {
            assert_eq!(inv.select(pattern).unwrap(), *want, "{pattern}");
        }
    }

    #[test]
    fn unmatched_names_warn_with_the_closest_name() {
        let inv = Inventory::load(&[Path::new("inventory/lab.ini")]).unwrap();
        let cases: &[(&str, &[&str], &str)] = &[
            ("wrkers", &[], "wrkers; did you mean 'workers'?"),
            (
                "swarm:!manager",
                &["calxitu", "calxitu2"],
                "manager; did you mean 'managers'?",
            ),
            ("calxitu3", &[], "calxitu3; did you mean 'calxitu'?"),
            ("zzz*", &[], "zzz*"),
            ("nosuch:workers", &["calxitu2"], "nosuch"),
        ];
        for (pattern, hosts, warning) in cases {
            assert_eq!(inv.select(pattern).unwrap(), *hosts, "{pattern}");
            let term = warning.split(';').next().unwrap();
            assert_eq!(
                no_match(&inv, term),
                format!("Could not match supplied host pattern, ignoring: {warning}")
            );
        }
    }

    #[test]
    fn retry_files() {
        let tmp = crate::inventory::testdir::TempDir::new("retry");
        tmp.write("site.retry", "calxitu2\n\n  calxitu  \n");
        tmp.write("empty.retry", "");
        let inv = Inventory::load(&[Path::new("inventory/lab.ini")]).unwrap();
        let retry = format!("@{}", tmp.0.join("site.retry").display());
        let empty = format!("@{}", tmp.0.join("empty.retry").display());
        let cases: &[(&str, &[&str])] = &[
            (&retry, &["calxitu2", "calxitu"]),
            (&format!("{retry}:!workers"), &["calxitu"]),
            (&empty, &[]),
        ];
        for (pattern, want) in cases {
            assert_eq!(inv.select(pattern).unwrap(), *want, "{pattern}");
        }
        let missing = format!("@{}", tmp.0.join("none.retry").display());
        assert_eq!(
            inv.select(&missing).unwrap_err().to_string(),
            format!(
                "cannot read the limit file '{}': No such file or directory (os error 2)",
                &missing[1..]
            )
        );
        assert_eq!(
            inv.select_limit(&empty).unwrap_err().to_string(),
            format!("--limit '{empty}' matches no hosts of the inventory")
        );
        assert_eq!(inv.select_limit("managers").unwrap(), vec!["calxitu"]);
    }

    #[test]
    fn pattern_errors() {
        let inv = Inventory::load(&[Path::new("inventory/lab.ini")]).unwrap();
        let cases = [
            (
                "swarm[5]",
                "pattern 'swarm[5]': index 5 is out of range (2 hosts)",
            ),
            (
                "~(",
                "invalid host pattern '~(': regex parse error:\n    (\n    ^\nerror: \
                 unclosed group",
            ),
        ];
        for (pattern, want) in cases {
            assert_eq!(
                inv.select(pattern).unwrap_err().to_string(),
                want,
                "{pattern}"
            );
        }
    }
}
