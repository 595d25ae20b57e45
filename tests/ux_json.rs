//! `--output json`: whole runs of the real binary decoded into the schema of
//! docs/json-output.md, unknown fields refused; on local hosts always, and the swarm
//! playbook against the lab when MESTRAL_LAB is set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PlayStart {
    event: String,
    elapsed_ms: u64,
    play: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct TaskStart {
    event: String,
    elapsed_ms: u64,
    play: String,
    task: String,
    path: Option<String>,
    handler: bool,
    hosts: Vec<String>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct FileDiff {
    path: String,
    before: String,
    after: String,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Item {
    item: String,
    status: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct HostResult {
    event: String,
    elapsed_ms: u64,
    play: String,
    task: String,
    host: String,
    delegated_to: Option<String>,
    status: String,
    changed: bool,
    ignored: bool,
    rc: Option<i64>,
    msg: Option<String>,
    duration_ms: u64,
    diff: Vec<FileDiff>,
    items: Vec<Item>,
    result: serde_json::Map<String, Value>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct HostRecap {
    ok: u32,
    changed: u32,
    unreachable: u32,
    failed: u32,
    skipped: u32,
    rescued: u32,
    ignored: u32,
    duration_ms: u64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Recap {
    event: String,
    elapsed_ms: u64,
    hosts: BTreeMap<String, HostRecap>,
    duration_ms: u64,
}

#[derive(Debug)]
enum Event {
    Play(PlayStart),
    Task(TaskStart),
    Host(HostResult),
    Recap(Recap),
}

/// Decodes every stdout line into an event of the schema; anything else fails the test.
fn decode(stdout: &[u8]) -> Vec<Event> {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    assert!(
        text.ends_with('\n'),
        "the last event ends its line: {text:?}"
    );
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let kind = v["event"].as_str().unwrap_or_default().to_string();
            let parsed = match kind.as_str() {
                "play_start" => serde_json::from_value(v).map(Event::Play),
                "task_start" => serde_json::from_value(v).map(Event::Task),
                "host_result" => serde_json::from_value(v).map(Event::Host),
                "recap" => serde_json::from_value(v).map(Event::Recap),
                other => panic!("unknown event {other:?}: {line}"),
            };
            parsed.unwrap_or_else(|e| panic!("{e}: {line}"))
        })
        .collect()
}

/// Checks what holds for every run: the order of events, elapsed times that never go back,
/// results only for the task just started and its hosts, and the recap last.
fn check_shape(events: &[Event]) -> &Recap {
    let mut last_elapsed = 0;
    let mut task: Option<&TaskStart> = None;
    let mut play = None;
    for (i, e) in events.iter().enumerate() {
        let (kind, elapsed) = match e {
            Event::Play(p) => {
                play = Some(p.play.clone());
                task = None;
                (&p.event, p.elapsed_ms)
            }
            Event::Task(t) => {
                assert_eq!(Some(&t.play), play.as_ref(), "task of the current play");
                task = Some(t);
                (&t.event, t.elapsed_ms)
            }
            Event::Host(h) => {
                let t = task.unwrap_or_else(|| panic!("result before any task: {h:?}"));
                assert_eq!((&h.play, &h.task), (&t.play, &t.task));
                assert!(t.hosts.contains(&h.host), "{} not in {:?}", h.host, t.hosts);
                assert!(h.duration_ms <= h.elapsed_ms);
                (&h.event, h.elapsed_ms)
            }
            Event::Recap(r) => {
                assert_eq!(i, events.len() - 1, "the recap is the last event");
                assert_eq!(r.elapsed_ms, r.duration_ms);
                (&r.event, r.elapsed_ms)
            }
        };
        assert!(!kind.is_empty());
        assert!(elapsed >= last_elapsed, "elapsed_ms went back at event {i}");
        last_elapsed = elapsed;
    }
    match events.last() {
        Some(Event::Recap(r)) => r,
        other => panic!("the run does not end with a recap: {other:?}"),
    }
}

fn mestral(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("mestral runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mestral-ux-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn local_run_decodes_into_the_schema() {
    let dir = scratch("json");
    std::fs::write(
        dir.join("inv.ini"),
        "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n",
    )
    .unwrap();
    let out_file = dir.join("out-{{ inventory_hostname }}.txt");
    std::fs::write(
        dir.join("pb.yml"),
        format!(
            "- name: demo\n  hosts: web\n  gather_facts: false\n  tasks:\n\
             \x20   - name: write\n      copy:\n        content: \"hi {{{{ inventory_hostname }}}}\\n\"\n\
             \x20       dest: \"{}\"\n\
             \x20   - name: fail on beta\n      command: sh -c 'echo oops >&2; exit 3'\n\
             \x20     when: inventory_hostname == 'beta'\n\
             \x20   - name: loop\n      debug: msg=\"{{{{ item }}}}\"\n      loop: [a, b]\n",
            out_file.display()
        ),
    )
    .unwrap();
    let out = mestral(&dir, &["-i", "inv.ini", "pb.yml", "--output", "json", "-D"]);
    assert_eq!(out.status.code(), Some(2), "beta failed");
    let events = decode(&out.stdout);
    let recap = check_shape(&events);

    // The sequence, as (event, task, host, status).
    let seq: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::Play(p) => format!("play {}", p.play),
            Event::Task(t) if t.handler => format!("handler {}", t.task),
            Event::Task(t) => format!("task {} {:?} {:?}", t.task, t.path, t.hosts),
            Event::Host(h) => format!("host {} {} {}", h.task, h.host, h.status),
            Event::Recap(_) => "recap".into(),
        })
        .collect();
    assert_eq!(
        seq,
        [
            "play demo",
            "task write Some(\"pb.yml:5\") [\"alpha\", \"beta\"]",
            "host write alpha changed",
            "host write beta changed",
            "task fail on beta Some(\"pb.yml:9\") [\"alpha\", \"beta\"]",
            "host fail on beta alpha skipped",
            "host fail on beta beta failed",
            "task loop Some(\"pb.yml:12\") [\"alpha\"]",
            "host loop alpha ok",
            "recap",
        ]
    );

    let results: Vec<&HostResult> = events
        .iter()
        .filter_map(|e| match e {
            Event::Host(h) => Some(h),
            _ => None,
        })
        .collect();
    let alpha_dest = dir.join("out-alpha.txt").display().to_string();
    assert_eq!(
        results[0].diff,
        [FileDiff {
            path: alpha_dest,
            before: String::new(),
            after: "hi alpha\n".into(),
        }]
    );
    assert!(results[0].changed && !results[0].ignored);
    assert_eq!(results[0].delegated_to, None);

    let failed = results[3];
    assert_eq!(
        (failed.rc, failed.msg.as_deref(), failed.changed),
        (Some(3), Some("non-zero return code"), true)
    );
    assert_eq!(failed.result["stderr"], json!("oops"));
    assert_eq!(
        failed.result["cmd"],
        json!(["sh", "-c", "echo oops >&2; exit 3"])
    );

    let looped = results[4];
    assert_eq!(
        looped.items,
        [
            Item {
                item: "a".into(),
                status: "ok".into()
            },
            Item {
                item: "b".into(),
                status: "ok".into()
            },
        ]
    );
    assert_eq!(looped.msg.as_deref(), Some("All items completed"));

    let counts: Vec<(&str, [u32; 7])> = recap
        .hosts
        .iter()
        .map(|(h, r)| {
            let c = [
                r.ok,
                r.changed,
                r.unreachable,
                r.failed,
                r.skipped,
                r.rescued,
                r.ignored,
            ];
            (h.as_str(), c)
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("alpha", [2, 1, 0, 0, 1, 0, 0]),
            ("beta", [1, 1, 0, 1, 0, 0, 0])
        ]
    );
    // Hosts' times are the sums of their results' durations.
    let alpha_ms: u64 = results
        .iter()
        .filter(|r| r.host == "alpha")
        .map(|r| r.duration_ms)
        .sum();
    assert!(
        recap.hosts["alpha"].duration_ms >= alpha_ms.saturating_sub(3)
            && recap.hosts["alpha"].duration_ms <= alpha_ms + 3
    );
    assert!(recap.duration_ms >= recap.hosts["alpha"].duration_ms);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The swarm playbook against the lab, decoded whole (idempotent; needs the lab up).
#[test]
fn swarm_run_decodes_into_the_schema() {
    if std::env::var_os("MESTRAL_LAB").is_none() {
        println!("skipped: MESTRAL_LAB is not set");
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = mestral(
        &repo,
        &[
            "-i",
            "inventory/lab.ini",
            "playbooks/swarm.yml",
            "--output",
            "json",
        ],
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
    let events = decode(&out.stdout);
    let recap = check_shape(&events);
    let hosts: Vec<&str> = recap.hosts.keys().map(String::as_str).collect();
    assert_eq!(hosts, ["calxitu", "calxitu2"]);
    for (host, r) in &recap.hosts {
        assert_eq!((r.failed, r.unreachable), (0, 0), "{host}");
        let results = events
            .iter()
            .filter(|e| matches!(e, Event::Host(h) if &h.host == host))
            .count() as u32;
        assert_eq!(
            r.ok + r.skipped,
            results,
            "{host}: one result per counted task"
        );
    }
    let plays = events
        .iter()
        .filter(|e| matches!(e, Event::Play(_)))
        .count();
    assert!(plays >= 1);
}
