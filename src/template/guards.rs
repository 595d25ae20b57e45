//! Which top-level names a condition guards against being undefined: a name whose chain
//! (`a.b['c']`) is tested with `is defined`/`is undefined`, or piped into `default`, `d` or
//! `mandatory`. Read from the expression's tokens, so a name that merely contains the word
//! (`app_defined_port`) or a string literal (`'defined'`) guards nothing.

use std::collections::HashSet;

/// One token of a Jinja expression, as far as guard detection needs.
#[derive(Debug, PartialEq)]
enum Tok {
    Name(String),
    /// A string or number literal; its text does not matter here.
    Literal,
    Punct(char),
}

/// Splits an expression into names, literals and single-character punctuation.
fn tokens(expr: &str) -> Vec<Tok> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            // A quoted literal, with backslash escapes; an unclosed one runs to the end.
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(Tok::Literal);
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            // A decimal part, not an attribute access.
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                    i += 1;
                }
            }
            out.push(Tok::Literal);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Name(chars[start..i].iter().collect()));
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// The index just past a balanced group opened at `open` (a `(` or `[`).
fn skip_group(toks: &[Tok], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while i < toks.len() {
        match toks[i] {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    toks.len()
}

fn is_name(tok: Option<&Tok>, want: &str) -> bool {
    matches!(tok, Some(Tok::Name(n)) if n == want)
}

/// Whether the chain ending before `at` is followed by a definedness test or a filter
/// chain that reaches `default`, `d` or `mandatory`.
fn guarded_after(toks: &[Tok], mut at: usize) -> bool {
    if is_name(toks.get(at), "is") {
        let mut test = at + 1;
        if is_name(toks.get(test), "not") {
            test += 1;
        }
        return is_name(toks.get(test), "defined") || is_name(toks.get(test), "undefined");
    }
    while toks.get(at) == Some(&Tok::Punct('|')) {
        let Some(Tok::Name(filter)) = toks.get(at + 1) else {
            return false;
        };
        if matches!(filter.as_str(), "default" | "d" | "mandatory") {
            return true;
        }
        at += 2;
        if toks.get(at) == Some(&Tok::Punct('(')) {
            at = skip_group(toks, at);
        }
    }
    false
}

/// The top-level names that `expr` guards, as described in the file header.
pub fn guarded_names(expr: &str) -> HashSet<String> {
    let toks = tokens(expr);
    let mut guarded = HashSet::new();
    for (start, tok) in toks.iter().enumerate() {
        let Tok::Name(name) = tok else { continue };
        // Only roots: not an attribute (`.x`), a filter (`| x`) or a test (`is x`).
        let before = start.checked_sub(1).and_then(|b| toks.get(b));
        if matches!(before, Some(Tok::Punct('.' | '|'))) || is_name(before, "is") {
            continue;
        }
        if is_name(before, "not") && start >= 2 && is_name(toks.get(start - 2), "is") {
            continue;
        }
        let mut end = start + 1;
        loop {
            match (toks.get(end), toks.get(end + 1)) {
                (Some(Tok::Punct('.')), Some(Tok::Name(_))) => end += 2,
                (Some(Tok::Punct('[')), _) => end = skip_group(&toks, end),
                _ => break,
            }
        }
        if guarded_after(&toks, end) {
            guarded.insert(name.clone());
        }
    }
    guarded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_are_read_from_tokens_not_substrings() {
        let cases: [(&str, &[&str]); 18] = [
            ("app_defined_port == 80", &[]),
            ("undefined_x == 1", &[]),
            ("notdefined == 1", &[]),
            ("default_port == 80", &[]),
            ("mandatory_x and d_x", &[]),
            ("'defined' in x", &[]),
            ("x == \"is defined\"", &[]),
            ("x is defined", &["x"]),
            ("x is not defined", &["x"]),
            ("x is undefined or y == 1", &["x"]),
            ("not x is defined", &["x"]),
            ("x.a['b'].c is defined and x.a.b.c", &["x"]),
            ("x | default(1) == 1", &["x"]),
            ("x | d(1) == 1", &["x"]),
            ("x.y | lower | default('a') == 'a'", &["x"]),
            ("(y | mandatory) and z", &["y"]),
            ("x | int > 1 and y is defined", &["y"]),
            ("x[k] is defined", &["x"]),
        ];
        for (expr, want) in cases {
            let mut got: Vec<String> = guarded_names(expr).into_iter().collect();
            got.sort();
            assert_eq!(got, want, "{expr}");
        }
    }
}
