//! docs/json-output.md against real runs: its example is what the example playbook writes
//! (times aside), a run that does not load writes one `error` event, and `duration_ms` of a
//! failed task is its real time, as the doc says.

#[path = "module_tables/cli.rs"]
mod cli;

use cli::{stderr, stdout, Scratch};
use serde::Deserialize;
use serde_json::Value;

const DOC: &str = include_str!("../docs/json-output.md");

/// The body of the `n`th fenced block in the doc that opens with `fence`.
fn block(fence: &str, n: usize) -> &'static str {
    let start = DOC
        .match_indices(fence)
        .nth(n)
        .expect("the block is in the doc")
        .0;
    let body = &DOC[start + fence.len()..];
    &body[..body.find("```").expect("the block ends")]
}

/// The events of a JSON Lines text, with every `elapsed_ms` and `duration_ms` set to 0.
fn timeless(text: &str) -> Vec<Value> {
    fn zero(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if k == "elapsed_ms" || k == "duration_ms" {
                        *v = Value::from(0);
                    } else {
                        zero(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(zero),
            _ => {}
        }
    }
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("each line is JSON");
            zero(&mut v);
            v
        })
        .collect()
}

fn example_dir(name: &str) -> Scratch {
    let s = Scratch::new(name);
    s.write(
        "inv.ini",
        "alpha ansible_connection=local\nbeta ansible_connection=local\n",
    );
    s
}

#[test]
fn the_docs_example_is_what_the_example_playbook_writes() {
    let s = example_dir("jsonexample");
    s.write("pb.yml", block("```yaml\n", 0));
    let out = s.mestral(&["-i", "inv.ini", "--output", "json", "pb.yml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(timeless(&stdout(&out)), timeless(block("```json\n", 0)));
}

/// The `error` event as the doc's schema has it; unknown fields refused.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ErrorEvent {
    event: String,
    elapsed_ms: u64,
    msg: String,
}

#[test]
fn a_run_that_does_not_load_writes_one_error_event() {
    let s = example_dir("jsonerror");
    let rows = [
        (
            "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - cpoy: src=a dest=b\n",
            "pb.yml:4: unknown module 'cpoy'",
        ),
        (
            "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - copy:\n        dst: /tmp/x\n",
            "pb.yml:5:9: unknown parameter 'dst' for module 'copy'; did you mean 'dest'?\n\
             \x20           dst: /tmp/x\n            ^",
        ),
    ];
    for (play, msg) in rows {
        s.write("pb.yml", play);
        let out = s.mestral(&["-i", "inv.ini", "--output", "json", "pb.yml"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(stderr(&out), format!("ERROR! {msg}\n"));
        let text = stdout(&out);
        let events: Vec<ErrorEvent> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("an error event"))
            .collect();
        assert_eq!(events.len(), 1, "{text}");
        assert_eq!(
            (events[0].event.as_str(), events[0].msg.as_str()),
            ("error", msg)
        );
    }
    let documented: ErrorEvent = serde_json::from_str(block("```json\n", 1).trim()).unwrap();
    assert_eq!(documented.msg, rows[0].1);
}

/// A failed task's `duration_ms` is the time it took, as the doc says (not 0).
#[test]
fn a_failed_tasks_duration_is_its_time() {
    let s = example_dir("jsonduration");
    s.write(
        "pb.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n\
         \x20   - shell: sleep 0.3; exit 1\n",
    );
    let out = s.mestral(&["-i", "inv.ini", "--output", "json", "pb.yml"]);
    let events: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let result = events.iter().find(|e| e["event"] == "host_result").unwrap();
    assert_eq!(result["status"], "failed");
    let ms = result["duration_ms"].as_u64().unwrap();
    assert!((300..5000).contains(&ms), "{ms}");
}
