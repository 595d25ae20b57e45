//! The text report's pieces as strings: banners, host result lines, unified diffs and the
//! recap, in ansible-playbook's layout. Colour goes through `console`, which the reporter
//! switches on or off once for the whole process.

use std::collections::BTreeMap;
use std::time::Duration;

use console::{style, Style};
use serde_json::Value;

use super::{Stats, Status};
use crate::modules::FileDiff;

/// Ansible's banner: the text, a space, and stars up to column 80 (at least three).
pub fn banner_line(text: &str) -> String {
    let stars = 79usize.saturating_sub(text.chars().count()).max(3);
    format!("{text} {}", "*".repeat(stars))
}

/// One host's result line and its newline, for example
/// `changed: [calxitu2 -> calxitu] => (item=x)`. `detail` is the JSON shown after `=>`.
pub fn result_line(
    status: Status,
    host: &str,
    delegated: Option<&str>,
    item: Option<&str>,
    detail: Option<&Value>,
) -> String {
    let target = match delegated {
        Some(d) if d != host => format!("[{host} -> {d}]"),
        _ => format!("[{host}]"),
    };
    let mut line = match status {
        Status::Failed if item.is_none() => format!("fatal: {target}: FAILED!"),
        Status::Unreachable => format!("fatal: {target}: UNREACHABLE!"),
        _ => format!("{}: {target}", status.word()),
    };
    match (item, status) {
        // Ansible: `failed: [h] (item=x) => {...}` but `ok: [h] => (item=x)`.
        (Some(item), Status::Failed) => line.push_str(&format!(" (item={item})")),
        // A skipped item's line ends in a space in ansible-playbook's output.
        (Some(item), Status::Skipped) => line.push_str(&format!(" => (item={item}) ")),
        (Some(item), _) => line.push_str(&format!(" => (item={item})")),
        (None, _) => {}
    }
    if let Some(detail) = detail {
        let json = if matches!(status, Status::Failed | Status::Unreachable) {
            one_line(detail)
        } else {
            pretty(detail)
        };
        line.push_str(&format!(" => {json}"));
    }
    format!("{}\n", status.style().apply_to(line))
}

/// A unified diff of one file, three lines of context, as `--diff` shows it.
pub fn diff_text(diff: &FileDiff) -> String {
    let text = similar::TextDiff::from_lines(&diff.before, &diff.after);
    let mut body = String::new();
    // an attributes diff of file, copy or template names no path, as in Ansible
    let (before, after) = match diff.path.as_str() {
        "" => ("before".to_string(), "after".to_string()),
        path => (format!("before: {path}"), format!("after: {path}")),
    };
    for line in text
        .unified_diff()
        .context_radius(3)
        .header(&before, &after)
        .to_string()
        .lines()
    {
        let styled = if line.starts_with('+') && !line.starts_with("+++") {
            style(line).green().to_string()
        } else if line.starts_with('-') && !line.starts_with("---") {
            style(line).red().to_string()
        } else if line.starts_with("@@") {
            style(line).cyan().to_string()
        } else {
            line.to_string()
        };
        body.push_str(&styled);
        body.push('\n');
    }
    body
}

/// Wall times for the recap: each host's, and the whole run's.
pub struct RecapTimes<'a> {
    pub hosts: &'a BTreeMap<String, Duration>,
    pub total: Duration,
}

/// The PLAY RECAP block, one line per host in the order given; with `times`, each line ends
/// with the host's wall time and a total line follows.
pub fn recap_text(hosts: &[(String, Stats)], times: Option<&RecapTimes>) -> String {
    let mut text = format!("\n{}\n", banner_line("PLAY RECAP"));
    for (host, s) in hosts {
        let host_style = if s.failed > 0 || s.unreachable > 0 {
            Style::new().red()
        } else if s.changed > 0 {
            Style::new().yellow()
        } else {
            Style::new().green()
        };
        let field = |name: &str, n: u32, st: Style| {
            let cell = format!("{name}={n:<4}");
            if n > 0 {
                st.apply_to(cell).to_string()
            } else {
                cell
            }
        };
        text.push_str(&format!(
            "{} : {} {} {} {} {} {} {}",
            host_style.apply_to(format!("{host:<26}")),
            field("ok", s.ok, Style::new().green()),
            field("changed", s.changed, Style::new().yellow()),
            field("unreachable", s.unreachable, Style::new().red()),
            field("failed", s.failed, Style::new().red()),
            field("skipped", s.skipped, Style::new().cyan()),
            field("rescued", s.rescued, Style::new().magenta()),
            field("ignored", s.ignored, Style::new().magenta()),
        ));
        if let Some(t) = times {
            let spent = t.hosts.get(host).copied().unwrap_or_default();
            text.push_str(&format!(" time={}", seconds(spent)));
        }
        text.push('\n');
    }
    if let Some(t) = times {
        text.push_str(&format!("total time: {}\n", seconds(t.total)));
    }
    text.push('\n');
    text
}

/// A duration as people read it: `0.42s`, `12.3s`, `3m05s`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2}s")
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// A byte count with a binary unit: `512 B`, `1.5 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The totals of a finished transfer, from a result with `bytes`, `seconds` and `rate` (the
/// image copy's): `  transferred 114.5 MiB in 5.97s, 19.2 MiB/s`.
pub fn transfer_totals(result: &Value) -> Option<String> {
    let moved = result.get("bytes")?.as_u64()?;
    let secs = result.get("seconds")?.as_f64()?;
    let rate = result.get("rate")?.as_u64()?;
    let took = Duration::try_from_secs_f64(secs).ok()?;
    Some(format!(
        "  transferred {} in {}, {}/s\n",
        bytes(moved),
        seconds(took),
        bytes(rate)
    ))
}

/// JSON on one line as Python's `json.dumps` writes it (`{"a": 1, "b": [2, 3]}`), which is
/// how Ansible prints failures.
pub fn one_line(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), one_line(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(list) => {
            let items: Vec<String> = list.iter().map(one_line).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// JSON as Ansible's default callback prints results: indented by four spaces.
pub fn pretty(value: &Value) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // Serializing a Value into memory cannot fail.
    serde::Serialize::serialize(value, &mut ser).expect("JSON value serializes");
    String::from_utf8_lossy(&buf).into_owned()
}

/// One host's result as the `ansible` command prints it: command-like results as
/// `host | CHANGED | rc=0 >>` followed by their output, others as `host | SUCCESS => {...}`
/// with the result's keys sorted and indented by four.
pub fn adhoc_result(r: &super::HostReport) -> String {
    let result = r.result;
    let get = |k: &str| result.get(k).and_then(Value::as_str).unwrap_or_default();
    let changed = result
        .get("changed")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let host = r.host;
    let line = match r.status {
        Status::Unreachable => format!("{host} | UNREACHABLE! => {}", sorted_pretty(result)),
        Status::Skipped => format!("{host} | SKIPPED"),
        _ if result.get("rc").is_some() && result.get("cmd").is_some() => {
            let caption = match (r.status, changed) {
                (Status::Failed, _) => "FAILED",
                (_, true) => "CHANGED",
                _ => "SUCCESS",
            };
            let rc = result.get("rc").and_then(Value::as_i64).unwrap_or(-1);
            let msg = if r.status == Status::Failed {
                get("msg")
            } else {
                ""
            };
            format!(
                "{host} | {caption} | rc={rc} >>\n{}{}{msg}",
                get("stdout"),
                get("stderr")
            )
        }
        Status::Failed => {
            // Ansible's dump leaves out the `failed` flag the caption already says.
            let mut shown = result.clone();
            if let Some(map) = shown.as_object_mut() {
                map.remove("failed");
            }
            format!("{host} | FAILED! => {}", sorted_pretty(&shown))
        }
        _ => {
            let caption = if changed { "CHANGED" } else { "SUCCESS" };
            format!("{host} | {caption} => {}", sorted_pretty(result))
        }
    };
    let status = if changed && r.status == Status::Ok {
        Status::Changed
    } else {
        r.status
    };
    format!("{}\n", status.style().apply_to(line))
}

/// Pretty JSON with sorted keys, as Ansible dumps results.
fn sorted_pretty(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(list) => Value::Array(list.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    pretty(&sorted(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_is_eighty_columns() {
        let line = banner_line("TASK [Gathering Facts]");
        assert_eq!(
            line,
            "TASK [Gathering Facts] *********************************************************"
        );
        assert_eq!(line.len(), 80);
        assert!(banner_line(&"x".repeat(100)).ends_with(" ***"));
    }

    #[test]
    fn one_line_spaces_like_python() {
        let v = serde_json::json!({"changed": false, "msg": "a \"b\"", "rc": [1, 2]});
        assert_eq!(
            one_line(&v),
            r#"{"changed": false, "msg": "a \"b\"", "rc": [1, 2]}"#
        );
    }

    /// Each expected text is what `ansible localhost -c local -m ... -a ...` (2.19) printed.
    #[test]
    fn adhoc_results_like_ansible() {
        use serde_json::json;
        console::set_colors_enabled(false);
        let rows = [
            (
                Status::Failed,
                json!({"changed": true, "cmd": ["sh"], "rc": 3, "stdout": "out", "stderr": "err",
                       "failed": true, "msg": "non-zero return code"}),
                "localhost | FAILED | rc=3 >>\nouterrnon-zero return code\n",
            ),
            (
                Status::Ok,
                json!({"changed": true, "cmd": ["echo", "hi"], "rc": 0, "stdout": "hi",
                       "stderr": ""}),
                "localhost | CHANGED | rc=0 >>\nhi\n",
            ),
            (
                Status::Failed,
                json!({"changed": false, "failed": true, "path": "/nonexist/x",
                       "msg": "file (/nonexist/x) is absent, cannot continue"}),
                "localhost | FAILED! => {\n    \"changed\": false,\n    \"msg\": \"file \
                 (/nonexist/x) is absent, cannot continue\",\n    \"path\": \"/nonexist/x\"\n}\n",
            ),
            (
                Status::Ok,
                json!({"changed": false, "ping": "pong"}),
                "localhost | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}\n",
            ),
        ];
        for (status, result, want) in rows {
            let report = super::super::HostReport::single("localhost", status, &result, None);
            assert_eq!(adhoc_result(&report), want);
        }
    }

    #[test]
    fn pretty_indents_four() {
        let v = serde_json::json!({"msg": "hi"});
        assert_eq!(pretty(&v), "{\n    \"msg\": \"hi\"\n}");
    }

    #[test]
    fn result_lines_like_ansible() {
        console::set_colors_enabled(false);
        let fail = serde_json::json!({"msg": "x"});
        type Case<'a> = (
            Status,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a Value>,
            &'a str,
        );
        let cases: [Case; 6] = [
            (Status::Ok, None, None, None, "ok: [h]\n"),
            (
                Status::Changed,
                Some("d"),
                Some("i"),
                None,
                "changed: [h -> d] => (item=i)\n",
            ),
            (Status::Skipped, Some("h"), None, None, "skipping: [h]\n"),
            (
                Status::Skipped,
                None,
                Some("i"),
                None,
                "skipping: [h] => (item=i) \n",
            ),
            (
                Status::Failed,
                None,
                Some("i"),
                Some(&fail),
                "failed: [h] (item=i) => {\"msg\": \"x\"}\n",
            ),
            (
                Status::Unreachable,
                None,
                None,
                Some(&fail),
                "fatal: [h]: UNREACHABLE! => {\"msg\": \"x\"}\n",
            ),
        ];
        for (status, delegated, item, detail, want) in cases {
            assert_eq!(result_line(status, "h", delegated, item, detail), want);
        }
    }

    #[test]
    fn recap_with_and_without_times() {
        console::set_colors_enabled(false);
        let stats = Stats {
            ok: 2,
            changed: 1,
            ..Stats::default()
        };
        let hosts = vec![("alpha".to_string(), stats)];
        let line = "alpha                      : ok=2    changed=1    unreachable=0    \
                    failed=0    skipped=0    rescued=0    ignored=0   ";
        let head = format!("\n{}\n", banner_line("PLAY RECAP"));
        assert_eq!(recap_text(&hosts, None), format!("{head}{line}\n\n"));
        let mut per_host = BTreeMap::new();
        per_host.insert("alpha".to_string(), Duration::from_millis(1250));
        let times = RecapTimes {
            hosts: &per_host,
            total: Duration::from_secs(75),
        };
        assert_eq!(
            recap_text(&hosts, Some(&times)),
            format!("{head}{line} time=1.25s\ntotal time: 1m15s\n\n")
        );
    }

    #[test]
    fn transfer_totals_need_all_three_numbers() {
        let cases = [
            (
                serde_json::json!({"bytes": 120022192, "seconds": 5.968, "rate": 20109973}),
                Some("  transferred 114.5 MiB in 5.97s, 19.2 MiB/s\n"),
            ),
            (serde_json::json!({"bytes": 10, "seconds": 0.5}), None),
            (
                serde_json::json!({"bytes": "10", "seconds": 0.5, "rate": 20}),
                None,
            ),
            (serde_json::json!("text"), None),
        ];
        for (result, want) in cases {
            assert_eq!(transfer_totals(&result).as_deref(), want, "{result}");
        }
    }

    #[test]
    fn units() {
        let cases = [
            (512, "512 B"),
            (1536, "1.5 KiB"),
            (3 * 1024 * 1024, "3.0 MiB"),
        ];
        for (n, want) in cases {
            assert_eq!(bytes(n), want);
        }
        assert_eq!(seconds(Duration::from_millis(420)), "0.42s");
        assert_eq!(seconds(Duration::from_millis(12_340)), "12.3s");
    }
}
