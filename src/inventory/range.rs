//! Host names as inventories write them: `name:port`, IPv6 addresses (bare or `[addr]:port`)
//! and ranges (`node[01:03]`, `db-[8:10]`, `[a:c]`, `s[01:09:4]`), expanded in order.

use std::net::Ipv6Addr;

/// Splits `host:port`. A bare IPv6 address keeps its colons; `[addr]:port` gives the
/// address without brackets. Colons inside a range (`node[1:3]`) are not a port.
pub(super) fn split_port(token: &str) -> Result<(String, Option<u16>), String> {
    if token.parse::<Ipv6Addr>().is_ok() {
        return Ok((token.to_string(), None));
    }
    if let Some(rest) = token.strip_prefix('[') {
        if let Some((addr, after)) = rest.split_once(']') {
            if addr.parse::<Ipv6Addr>().is_ok() {
                let port = match after {
                    "" => None,
                    _ => match after.strip_prefix(':') {
                        Some(p) => Some(parse_port(p, token)?),
                        None => return Err(format!("unexpected text after ']' in '{token}'")),
                    },
                };
                return Ok((addr.to_string(), port));
            }
        }
    }

    // The last colon outside brackets separates the port.
    let mut depth = 0i32;
    let mut colon = None;
    for (i, c) in token.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => colon = Some(i),
            _ => {}
        }
    }
    match colon {
        Some(i) => Ok((
            token[..i].to_string(),
            Some(parse_port(&token[i + 1..], token)?),
        )),
        None => Ok((token.to_string(), None)),
    }
}

fn parse_port(text: &str, token: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(p) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!("invalid port '{text}' in '{token}'")),
    }
}

/// The most hosts one pattern may name: a typo such as `h[0:99999999]` is an error, not a
/// run out of memory (found by fuzzing, `fuzz/regressions/inventory_ini/ranges.ini`).
pub(super) const MAX_HOSTS: u64 = 100_000;

/// Expands every `[begin:end]` or `[begin:end:step]` in a host name. Numbers keep the
/// width of a zero-padded begin; single letters run through `a-zA-Z`.
pub(super) fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let Some(len) = pattern[open..].find(']') else {
        return Err(format!("host range '{pattern}' has no closing ']'"));
    };
    let head = &pattern[..open];
    let inner = &pattern[open + 1..open + len];
    let tail = &pattern[open + len + 1..];

    let items = range_items(inner).map_err(|e| format!("host range [{inner}]: {e}"))?;
    let tails = expand(tail)?;
    if (items.len() as u64).saturating_mul(tails.len() as u64) > MAX_HOSTS {
        return Err(format!(
            "host range '{pattern}' names more than {MAX_HOSTS} hosts"
        ));
    }
    let mut out = Vec::with_capacity(items.len() * tails.len());
    for item in &items {
        for t in &tails {
            out.push(format!("{head}{item}{t}"));
        }
    }
    Ok(out)
}

fn range_items(inner: &str) -> Result<Vec<String>, String> {
    let bounds: Vec<&str> = inner.split(':').collect();
    let (begin, end, step) = match bounds.as_slice() {
        [b, e] => (*b, *e, "1"),
        [b, e, s] => (*b, *e, *s),
        _ => return Err("must be begin:end or begin:end:step".into()),
    };
    let begin = if begin.is_empty() { "0" } else { begin };
    if end.is_empty() {
        return Err("must give an end value".into());
    }
    let step: usize = match step.parse() {
        Ok(s) if s > 0 => s,
        _ => return Err(format!("step '{step}' must be a positive whole number")),
    };

    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if numeric(begin) && numeric(end) {
        let width = if begin.len() > 1 && begin.starts_with('0') {
            if begin.len() != end.len() {
                return Err("zero-padded begin and end must have the same width".into());
            }
            begin.len()
        } else {
            0
        };
        let too_big = |_| "number is too large".to_string();
        let b: u64 = begin.parse().map_err(too_big)?;
        let e: u64 = end.parse().map_err(too_big)?;
        if b > e {
            return Err("begin must not be after end".into());
        }
        if (e - b) / step as u64 >= MAX_HOSTS {
            return Err(format!("more than {MAX_HOSTS} hosts"));
        }
        return Ok((b..=e)
            .step_by(step)
            .map(|n| format!("{n:0width$}"))
            .collect());
    }

    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let letter = |s: &str| match s.len() {
        1 => LETTERS.find(s),
        _ => None,
    };
    match (letter(begin), letter(end)) {
        (Some(b), Some(e)) if b <= e => Ok(LETTERS[b..=e]
            .chars()
            .step_by(step)
            .map(String::from)
            .collect()),
        (Some(_), Some(_)) => Err("begin must not be after end".into()),
        _ => Err("bounds must be two numbers or two single letters".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let cases: &[(&str, &[&str])] = &[
            ("web", &["web"]),
            ("node[01:03]", &["node01", "node02", "node03"]),
            ("db-[8:10]", &["db-8", "db-9", "db-10"]),
            ("[a:c].lab", &["a.lab", "b.lab", "c.lab"]),
            ("s[01:09:4]", &["s01", "s05", "s09"]),
            ("h[:2]", &["h0", "h1", "h2"]),
            ("r[1:2]c[a:b]", &["r1ca", "r1cb", "r2ca", "r2cb"]),
            ("x[y:B]", &["xy", "xz", "xA", "xB"]),
            ("n[001:100:50]", &["n001", "n051"]),
        ];
        for (pattern, want) in cases {
            assert_eq!(expand(pattern).unwrap(), *want, "{pattern}");
        }
    }

    #[test]
    fn bad_ranges() {
        let cases = [
            (
                "node[01:3]",
                "host range [01:3]: zero-padded begin and end must have the same width",
            ),
            ("node[3:1]", "host range [3:1]: begin must not be after end"),
            (
                "node[1]",
                "host range [1]: must be begin:end or begin:end:step",
            ),
            ("node[1:]", "host range [1:]: must give an end value"),
            (
                "node[1:3:0]",
                "host range [1:3:0]: step '0' must be a positive whole number",
            ),
            (
                "node[a:9]",
                "host range [a:9]: bounds must be two numbers or two single letters",
            ),
            ("node[1:3", "host range 'node[1:3' has no closing ']'"),
            (
                "h[0:99999999]",
                "host range [0:99999999]: more than 100000 hosts",
            ),
            (
                "x[a:z][0:9999]",
                "host range 'x[a:z][0:9999]' names more than 100000 hosts",
            ),
        ];
        for (pattern, want) in cases {
            assert_eq!(expand(pattern).unwrap_err(), want, "{pattern}");
        }
    }

    #[test]
    fn ports() {
        let cases: &[(&str, (&str, Option<u16>))] = &[
            ("web", ("web", None)),
            ("web:2222", ("web", Some(2222))),
            ("node[1:3]", ("node[1:3]", None)),
            ("node[1:3]:22", ("node[1:3]", Some(22))),
            ("fe80::1", ("fe80::1", None)),
            ("[fe80::1]:2200", ("fe80::1", Some(2200))),
            ("10.0.0.1:22", ("10.0.0.1", Some(22))),
        ];
        for (token, (host, port)) in cases {
            assert_eq!(
                split_port(token).unwrap(),
                (host.to_string(), *port),
                "{token}"
            );
        }
        assert_eq!(
            split_port("web:ssh").unwrap_err(),
            "invalid port 'ssh' in 'web:ssh'"
        );
        assert_eq!(
            split_port("web:99999").unwrap_err(),
            "invalid port '99999' in 'web:99999'"
        );
    }
}
