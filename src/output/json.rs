//! `--output json`: the run as JSON Lines, one event per line, flushed as it happens. The
//! schema is docs/json-output.md; every event has `event` and `elapsed_ms` (since the run
//! started), and the recap comes last.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{HostReport, Stats, Status};

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

pub fn play_start(play: &str, elapsed: Duration) -> Value {
    json!({"event": "play_start", "elapsed_ms": ms(elapsed), "play": play})
}

pub fn task_start(
    play: &str,
    task: &str,
    origin: Option<&str>,
    handler: bool,
    hosts: &[String],
    elapsed: Duration,
) -> Value {
    json!({
        "event": "task_start",
        "elapsed_ms": ms(elapsed),
        "play": play,
        "task": task,
        "path": origin,
        "handler": handler,
        "hosts": hosts,
    })
}

/// A run that stopped before or outside any task (a playbook that does not load, an unknown
/// module or parameter, a bad inventory): the message `ERROR!` prints on stderr, already
/// redacted. The last event of such a run; no recap follows.
pub fn error(msg: &str, elapsed: Duration) -> Value {
    json!({"event": "error", "elapsed_ms": ms(elapsed), "msg": msg})
}

pub fn host_result(play: &str, task: &str, r: &HostReport, elapsed: Duration) -> Value {
    let items: Vec<Value> = r
        .lines
        .iter()
        .filter_map(|l| {
            l.item
                .map(|item| json!({"item": item, "status": l.status.json_word()}))
        })
        .collect();
    let diff: Vec<Value> = r
        .lines
        .iter()
        .flat_map(|l| l.diffs.iter())
        .map(|d| json!({"path": d.path, "before": d.before, "after": d.after}))
        .collect();
    let changed = matches!(r.result["changed"], Value::Bool(true));
    json!({
        "event": "host_result",
        "elapsed_ms": ms(elapsed),
        "play": play,
        "task": task,
        "host": r.host,
        "delegated_to": r.delegated.filter(|d| *d != r.host),
        "status": r.status.json_word(),
        "changed": changed || r.status == Status::Changed,
        "ignored": r.ignored,
        "rc": r.result["rc"].as_i64(),
        "msg": r.result["msg"].as_str(),
        "duration_ms": ms(r.duration),
        "diff": diff,
        "items": items,
        "result": r.result,
    })
}

pub fn recap(
    hosts: &[(String, Stats)],
    times: &BTreeMap<String, Duration>,
    total: Duration,
) -> Value {
    let mut per_host = Map::new();
    for (host, s) in hosts {
        per_host.insert(
            host.clone(),
            json!({
                "ok": s.ok,
                "changed": s.changed,
                "unreachable": s.unreachable,
                "failed": s.failed,
                "skipped": s.skipped,
                "rescued": s.rescued,
                "ignored": s.ignored,
                "duration_ms": ms(times.get(host).copied().unwrap_or_default()),
            }),
        );
    }
    json!({
        "event": "recap",
        "elapsed_ms": ms(total),
        "hosts": per_host,
        "duration_ms": ms(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::FileDiff;
    use crate::output::ResultLine;

    #[test]
    fn host_result_carries_rc_diff_items_and_duration() {
        let diffs = vec![FileDiff {
            path: "/etc/x".into(),
            before: "a\n".into(),
            after: "b\n".into(),
        }];
        let result = json!({"changed": true, "rc": 0, "msg": "done"});
        let report = HostReport {
            host: "h",
            delegated: Some("m"),
            status: Status::Changed,
            ignored: false,
            lines: vec![ResultLine {
                status: Status::Changed,
                item: Some("one"),
                detail: None,
                diffs: &diffs,
            }],
            summary: None,
            result: &result,
            duration: Duration::from_millis(1500),
        };
        let event = host_result("p", "t", &report, Duration::from_secs(2));
        assert_eq!(
            event,
            json!({"event": "host_result", "elapsed_ms": 2000, "play": "p", "task": "t",
                "host": "h", "delegated_to": "m", "status": "changed", "changed": true,
                "ignored": false, "rc": 0, "msg": "done", "duration_ms": 1500,
                "diff": [{"path": "/etc/x", "before": "a\n", "after": "b\n"}],
                "items": [{"item": "one", "status": "changed"}], "result": result})
        );
    }

    #[test]
    fn error_event() {
        assert_eq!(
            error("pb.yml:3: unknown module 'cpoy'", Duration::from_millis(7)),
            json!({"event": "error", "elapsed_ms": 7, "msg": "pb.yml:3: unknown module 'cpoy'"})
        );
    }

    #[test]
    fn recap_counts_and_times() {
        let hosts = vec![(
            "h".to_string(),
            Stats {
                ok: 3,
                skipped: 1,
                ..Stats::default()
            },
        )];
        let mut times = BTreeMap::new();
        times.insert("h".to_string(), Duration::from_millis(40));
        assert_eq!(
            recap(&hosts, &times, Duration::from_millis(90)),
            json!({"event": "recap", "elapsed_ms": 90, "duration_ms": 90, "hosts": {"h": {
                "ok": 3, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 1,
                "rescued": 0, "ignored": 0, "duration_ms": 40}}})
        );
    }
}
