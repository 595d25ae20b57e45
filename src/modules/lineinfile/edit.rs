//! The pure edit behind `lineinfile`, with Ansible's rules: the last line matching `regexp`
//! (or `search_string`) is replaced, else the line is inserted after/before the last match of
//! `insertafter`/`insertbefore` or at the end; an exact copy already present is left alone.

use regex::Regex;

/// The edit a task asks for, independent of any host.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub regexp: Option<String>,
    pub search_string: Option<String>,
    pub line: String,
    pub present: bool,
    pub insertafter: Option<String>,
    pub insertbefore: Option<String>,
    pub backrefs: bool,
    pub firstmatch: bool,
}

/// The edited text and what happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub content: String,
    pub changed: bool,
    pub msg: String,
    /// Lines removed (state=absent).
    pub found: usize,
}

/// Compiles a Python-flavoured regular expression (`\Z` is Rust's `\z`).
fn compile(what: &str, pattern: &str) -> Result<Regex, String> {
    Regex::new(&pattern.replace(r"\Z", r"\z"))
        .map_err(|e| format!("{what} '{pattern}' is not a valid regular expression: {e}"))
}

/// Converts a Python replacement template (`\1`, `\g<name>`) into the `regex` crate's syntax.
pub fn python_template(template: &str) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut num = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        num.push(d);
                        chars.next();
                        if num.len() == 2 {
                            break;
                        }
                    }
                    out.push_str(&format!("${{{num}}}"));
                }
                Some('g') => {
                    chars.next();
                    let rest: String = chars.clone().collect();
                    match rest.strip_prefix('<').and_then(|r| r.split_once('>')) {
                        Some((name, _)) => {
                            out.push_str(&format!("${{{name}}}"));
                            (0..name.len() + 2).for_each(|_| {
                                chars.next();
                            });
                        }
                        None => out.push_str("\\g"),
                    }
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

/// A line without its terminator, as Python's `search` sees it before a trailing newline.
fn body(line: &str) -> &str {
    line.strip_suffix('\n').unwrap_or(line)
}

fn bare(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn ends_with_newline(lines: &[String]) -> bool {
    lines.last().is_none_or(|l| l.ends_with(['\n', '\r']))
}

/// Applies `rules` to `content`.
pub fn edit(content: &str, rules: &Rules) -> Result<Outcome, String> {
    let lines: Vec<String> = content.split_inclusive('\n').map(str::to_string).collect();
    if rules.present {
        present(lines, rules)
    } else {
        absent(lines, rules)
    }
}

/// The file's line ending, from its first line: `\r\n` for a CRLF file, else `\n`.
fn line_ending(lines: &[String]) -> &'static str {
    match lines.first() {
        Some(l) if l.ends_with("\r\n") => "\r\n",
        _ => "\n",
    }
}

fn present(mut lines: Vec<String>, r: &Rules) -> Result<Outcome, String> {
    let line = r.line.as_str();
    // Deliberately unlike Ansible, a CRLF file keeps CRLF on replaced and inserted lines.
    let nl = line_ending(&lines);
    let is_mark = |v: &Option<String>, m: &str| v.as_deref() == Some(m);
    let re = r
        .regexp
        .as_deref()
        .map(|p| compile("regexp", p))
        .transpose()?;
    let insert_re = if let Some(a) = r
        .insertafter
        .as_deref()
        .filter(|a| !["BOF", "EOF"].contains(a))
    {
        Some(compile("insertafter", a)?)
    } else if let Some(b) = r.insertbefore.as_deref().filter(|b| *b != "BOF") {
        Some(compile("insertbefore", b)?)
    } else {
        None
    };

    // 1. the line the regexp or search string picks: the last match, or the first one
    let mut found: Option<usize> = None;
    for (i, l) in lines.iter().enumerate() {
        let hit = match (&re, &r.search_string) {
            (Some(re), _) => re.is_match(body(l)),
            (None, Some(s)) => l.contains(s.as_str()),
            (None, None) => false,
        };
        if hit {
            found = Some(i);
            if r.firstmatch {
                break;
            }
        }
    }

    // 2. otherwise an exact copy of the line, and where an insert would go
    let mut index = found;
    let mut insert_at: Option<usize> = None;
    let mut insert_frozen = false;
    if found.is_none() {
        for (i, l) in lines.iter().enumerate() {
            if bare(l) == line {
                index = Some(i);
            } else if let Some(ins) = insert_re.as_ref().filter(|_| !insert_frozen) {
                if ins.is_match(body(l)) {
                    insert_at = Some(if r.insertafter.is_some() { i + 1 } else { i });
                    insert_frozen = r.firstmatch;
                }
            }
        }
    }

    let mut msg = String::new();
    if let Some(i) = index {
        let mut new_line = match (r.backrefs, found, &re) {
            (true, Some(_), Some(re)) => {
                // found is Some only when the regexp matched this line
                let caps = re
                    .captures(body(&lines[i]))
                    .ok_or("regexp stopped matching")?;
                let mut out = String::new();
                caps.expand(&python_template(line), &mut out);
                out
            }
            _ => line.to_string(),
        };
        if !new_line.ends_with('\n') {
            // the replaced line's own ending; a last line without one gets the file's
            let end = match &lines[i] {
                l if l.ends_with("\r\n") => "\r\n",
                l if l.ends_with('\n') => "\n",
                _ => nl,
            };
            new_line.push_str(end);
        }
        if lines[i] != new_line {
            lines[i] = new_line;
            msg = "line replaced".into();
        }
    } else if r.backrefs {
        // without a match there is nothing to fill the backreferences with
    } else if is_mark(&r.insertbefore, "BOF") || is_mark(&r.insertafter, "BOF") {
        lines.insert(0, format!("{line}{nl}"));
        msg = "line added".into();
    } else if is_mark(&r.insertafter, "EOF") || insert_at.is_none() {
        if !ends_with_newline(&lines) {
            lines.push(nl.into());
        }
        lines.push(format!("{line}{nl}"));
        msg = "line added".into();
    } else if let (Some(_), Some(at)) = (&r.insertafter, insert_at) {
        if at == lines.len() {
            if bare(&lines[at - 1]) != line {
                if !ends_with_newline(&lines) {
                    lines.push(nl.into());
                }
                lines.push(format!("{line}{nl}"));
                msg = "line added".into();
            }
        } else if bare(&lines[at]) != line {
            lines.insert(at, format!("{line}{nl}"));
            msg = "line added".into();
        }
    } else if let Some(at) = insert_at {
        lines.insert(at, format!("{line}{nl}"));
        msg = "line added".into();
    }
    Ok(Outcome {
        changed: !msg.is_empty(),
        content: lines.concat(),
        msg,
        found: 0,
    })
}

fn absent(lines: Vec<String>, r: &Rules) -> Result<Outcome, String> {
    let re = r
        .regexp
        .as_deref()
        .map(|p| compile("regexp", p))
        .transpose()?;
    let before = lines.len();
    let kept: Vec<String> = lines
        .into_iter()
        .filter(|l| {
            let hit = match (&re, &r.search_string) {
                (Some(re), _) => re.is_match(body(l)),
                (None, Some(s)) => l.contains(s.as_str()),
                (None, None) => bare(l) == r.line,
            };
            !hit
        })
        .collect();
    let found = before - kept.len();
    Ok(Outcome {
        content: kept.concat(),
        changed: found > 0,
        msg: if found > 0 {
            format!("{found} line(s) removed")
        } else {
            String::new()
        },
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(line: &str) -> Rules {
        Rules {
            line: line.into(),
            present: true,
            ..Rules::default()
        }
    }

    fn re(mut r: Rules, regexp: &str) -> Rules {
        r.regexp = Some(regexp.into());
        r
    }

    fn after(mut r: Rules, at: &str) -> Rules {
        r.insertafter = Some(at.into());
        r
    }

    fn before(mut r: Rules, at: &str) -> Rules {
        r.insertbefore = Some(at.into());
        r
    }

    fn first(mut r: Rules) -> Rules {
        r.firstmatch = true;
        r
    }

    fn backrefs(mut r: Rules) -> Rules {
        r.backrefs = true;
        r
    }

    #[test]
    fn present_cases() {
        let cases: Vec<(&str, &str, Rules, &str, &str)> = vec![
            ("append to empty", "", rules("a=1"), "a=1\n", "line added"),
            (
                "append at end",
                "x\ny\n",
                rules("a=1"),
                "x\ny\na=1\n",
                "line added",
            ),
            (
                "no newline at end",
                "x\ny",
                rules("a=1"),
                "x\ny\na=1\n",
                "line added",
            ),
            (
                "exact line kept",
                "x\na=1\ny\n",
                rules("a=1"),
                "x\na=1\ny\n",
                "",
            ),
            // unlike Ansible, which rewrites the line with `\n`: the file's ending is kept
            (
                "exact line with crlf is kept",
                "x\r\na=1\r\n",
                rules("a=1"),
                "x\r\na=1\r\n",
                "",
            ),
            (
                "crlf file: regexp replacement keeps crlf",
                "a=1\r\nb=2\r\n",
                re(rules("b=3"), "^b="),
                "a=1\r\nb=3\r\n",
                "line replaced",
            ),
            (
                "crlf file: appended line gets crlf",
                "a=1\r\nb=2\r\n",
                rules("c=3"),
                "a=1\r\nb=2\r\nc=3\r\n",
                "line added",
            ),
            (
                "regexp replaces last match",
                "a=1\nb\na=2\n",
                re(rules("a=3"), "^a="),
                "a=1\nb\na=3\n",
                "line replaced",
            ),
            (
                "firstmatch replaces first",
                "a=1\nb\na=2\n",
                first(re(rules("a=3"), "^a=")),
                "a=3\nb\na=2\n",
                "line replaced",
            ),
            (
                "regexp already right",
                "a=3\n",
                re(rules("a=3"), "^a="),
                "a=3\n",
                "",
            ),
            (
                "regexp no match appends",
                "x\n",
                re(rules("a=3"), "^a="),
                "x\na=3\n",
                "line added",
            ),
            (
                "regexp no match but line present",
                "a=3\nx\n",
                re(rules("a=3"), "^b="),
                "a=3\nx\n",
                "",
            ),
            (
                "regexp dollar anchors before newline",
                "port 22\n",
                re(rules("port 2222"), "^port 22$"),
                "port 2222\n",
                "line replaced",
            ),
            (
                "regexp match on last line without newline",
                "x\na=1",
                re(rules("a=2"), "^a="),
                "x\na=2\n",
                "line replaced",
            ),
            (
                "insertafter regex: after last match",
                "[s]\nk=1\n[s]\nk=2\n",
                after(rules("new"), r"^\[s\]"),
                "[s]\nk=1\n[s]\nnew\nk=2\n",
                "line added",
            ),
            (
                "insertafter firstmatch",
                "[s]\nk=1\n[s]\nk=2\n",
                first(after(rules("new"), r"^\[s\]")),
                "[s]\nnew\nk=1\n[s]\nk=2\n",
                "line added",
            ),
            (
                "insertafter already follows",
                "[s]\nnew\n",
                after(rules("new"), r"^\[s\]"),
                "[s]\nnew\n",
                "",
            ),
            (
                "insertafter match is the last line without newline",
                "a\n[s]",
                after(rules("new"), r"^\[s\]"),
                "a\n[s]\nnew\n",
                "line added",
            ),
            (
                "insertafter no match goes to EOF",
                "a\n",
                after(rules("new"), "^zzz"),
                "a\nnew\n",
                "line added",
            ),
            (
                "insertafter EOF",
                "a\n",
                after(rules("new"), "EOF"),
                "a\nnew\n",
                "line added",
            ),
            (
                "insertafter BOF",
                "a\n",
                after(rules("new"), "BOF"),
                "new\na\n",
                "line added",
            ),
            (
                "insertbefore BOF",
                "a\nb\n",
                before(rules("new"), "BOF"),
                "new\na\nb\n",
                "line added",
            ),
            (
                "insertbefore regex: before last match",
                "x\nend\nx\nend\n",
                before(rules("new"), "^end"),
                "x\nend\nx\nnew\nend\n",
                "line added",
            ),
            (
                "insertbefore firstmatch",
                "x\nend\nx\nend\n",
                first(before(rules("new"), "^end")),
                "x\nnew\nend\nx\nend\n",
                "line added",
            ),
            (
                "insertbefore no match goes to EOF",
                "a\n",
                before(rules("new"), "^zzz"),
                "a\nnew\n",
                "line added",
            ),
            (
                "regexp wins over insertafter",
                "a=1\n[s]\n",
                after(re(rules("a=2"), "^a="), r"^\[s\]"),
                "a=2\n[s]\n",
                "line replaced",
            ),
            (
                "regexp misses, insertafter used",
                "[s]\nx\n",
                after(re(rules("a=2"), "^a="), r"^\[s\]"),
                "[s]\na=2\nx\n",
                "line added",
            ),
            (
                "exact line elsewhere is not added twice (firstmatch)",
                "[s]\nx\nnew\n",
                first(after(rules("new"), r"^\[s\]")),
                "[s]\nx\nnew\n",
                "",
            ),
            (
                "backrefs expand groups",
                "ListenAddress 0.0.0.0:22\n",
                backrefs(re(
                    rules(r"ListenAddress \1:2222"),
                    r"^ListenAddress (.*):22$",
                )),
                "ListenAddress 0.0.0.0:2222\n",
                "line replaced",
            ),
            (
                "backrefs named group and dollar",
                "user=bob\n",
                backrefs(re(rules(r"owner=\g<name> cost=$5"), r"^user=(?P<name>\w+)")),
                "owner=bob cost=$5\n",
                "line replaced",
            ),
            (
                "backrefs without match does nothing",
                "x\n",
                backrefs(re(rules(r"y=\1"), "^y=(.*)")),
                "x\n",
                "",
            ),
        ];
        for (name, content, rules, want, msg) in cases {
            let got = edit(content, &rules).unwrap();
            assert_eq!(
                (got.content.as_str(), got.msg.as_str(), got.changed),
                (want, msg, !msg.is_empty()),
                "{name}"
            );
        }
    }

    #[test]
    fn search_string_cases() {
        let mut r = rules("Port 2222");
        r.search_string = Some("Port 22".into());
        let got = edit("#x\nPort 22\n", &r).unwrap();
        assert_eq!(got.content, "#x\nPort 2222\n");
        // a literal search string: regex characters mean themselves
        r.search_string = Some("a.b".into());
        let got = edit("axb\n", &r).unwrap();
        assert_eq!(got.content, "axb\nPort 2222\n");
    }

    #[test]
    fn absent_cases() {
        let gone = |r: Rules| Rules {
            present: false,
            ..r
        };
        let mut by_string = gone(rules(""));
        by_string.search_string = Some("tmp".into());
        let cases: Vec<(&str, Rules, &str, usize)> = vec![
            ("a\nb\na\n", gone(rules("a")), "b\n", 2),
            ("a\r\nb\n", gone(rules("a")), "b\n", 1),
            ("a\nb\n", gone(rules("c")), "a\nb\n", 0),
            ("a=1\nb\na=2", gone(re(rules(""), "^a=")), "b\n", 2),
            ("/tmp/x\n/var\n", by_string, "/var\n", 1),
        ];
        for (content, rules, want, found) in cases {
            let got = edit(content, &rules).unwrap();
            let msg = if found > 0 {
                format!("{found} line(s) removed")
            } else {
                String::new()
            };
            assert_eq!(
                got,
                Outcome {
                    content: want.into(),
                    changed: found > 0,
                    msg,
                    found
                },
                "{content:?}"
            );
        }
    }

    #[test]
    fn templates_and_bad_regex() {
        let cases = [
            (r"\1-\2", "${1}-${2}"),
            (r"\g<x>!", "${x}!"),
            (r"a$b\\c", r"a$$b\c"),
            (r"\12", "${12}"),
        ];
        for (py, want) in cases {
            assert_eq!(python_template(py), want, "{py}");
        }
        let err = edit("x\n", &re(rules("y"), "(")).unwrap_err();
        assert_eq!(
            err.lines().next().unwrap(),
            "regexp '(' is not a valid regular expression: regex parse error:"
        );
    }
}
