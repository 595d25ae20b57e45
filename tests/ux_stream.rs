//! Plain output (not a terminal) byte for byte through the real binary on a local host: a
//! whole small run, then the same run with `-v`, where a command's stdout and stderr lines
//! arrive on the pipe, prefixed with the host, while the command still runs. A `no_log`
//! command never streams, and a task that runs no command of its own prints as before.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mestral-stream-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A command that prints, waits, prints on stderr, waits two seconds, and ends its output
/// without a final newline.
const PLAYBOOK: &str = "- name: stream\n  hosts: alpha\n  gather_facts: false\n  tasks:\n\
    \x20   - name: talk\n      shell: \"echo first; sleep 0.3; echo warn >&2; sleep 2; printf second\"\n\
    \x20   - name: hidden\n      command: echo secret\n      no_log: true\n\
    \x20   - name: read\n      slurp:\n        src: f.txt\n";

fn setup(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("inv.ini"), "alpha ansible_connection=local\n").unwrap();
    std::fs::write(dir.join("pb.yml"), PLAYBOOK).unwrap();
    std::fs::write(dir.join("f.txt"), "hello\n").unwrap();
    dir
}

/// Runs mestral with stdout on a pipe; returns each stdout line with the time it arrived
/// (from the start), stderr, and the exit code.
fn run_timed(dir: &Path, extra: &[&str]) -> (Vec<(Duration, String)>, String, Option<i32>) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args(["-i", "inv.ini", "pb.yml", "--color", "never"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mestral starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).split(b'\n') {
        let line = line.expect("stdout reads");
        lines.push((started.elapsed(), String::from_utf8(line).expect("UTF-8")));
    }
    let out = child.wait_with_output().expect("mestral ends");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (lines, stderr, out.status.code())
}

fn joined(lines: &[(Duration, String)]) -> String {
    lines.iter().map(|(_, l)| format!("{l}\n")).collect()
}

const RECAP: &str =
    "\nPLAY RECAP *********************************************************************\n\
    alpha                      : ok=3    changed=2    unreachable=0    failed=0    skipped=0    \
    rescued=0    ignored=0   \n\n";

#[test]
fn plain_run_byte_for_byte() {
    let dir = setup("plain");
    let (lines, stderr, code) = run_timed(&dir, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(stderr, "");
    let want = format!(
        "\nPLAY [stream] ******************************************************************\n\
         \nTASK [talk] ********************************************************************\n\
         changed: [alpha]\n\
         \nTASK [hidden] ******************************************************************\n\
         changed: [alpha]\n\
         \nTASK [read] ********************************************************************\n\
         ok: [alpha]\n{RECAP}"
    );
    assert_eq!(joined(&lines), want);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verbose_streams_lines_while_the_command_runs() {
    let dir = setup("verbose");
    let (lines, stderr, code) = run_timed(&dir, &["-v"]);
    assert_eq!(code, Some(0));
    assert_eq!(stderr, "");
    let want = format!(
        "\nPLAY [stream] ******************************************************************\n\
         \nTASK [talk] ********************************************************************\n\
         alpha | first\n\
         alpha stderr | warn\n\
         alpha | second\n\
         changed: [alpha] => {{\n    \"rc\": 0,\n    \"stdout_lines\": [\n        \"first\",\n\
         \x20       \"second\"\n    ],\n    \"stderr_lines\": [\n        \"warn\"\n    ],\n\
         \x20   \"stdout\": \"first\\nsecond\",\n    \"stderr\": \"warn\",\n\
         \x20   \"cmd\": \"echo first; sleep 0.3; echo warn >&2; sleep 2; printf second\",\n\
         \x20   \"changed\": true\n}}\n\
         \nTASK [hidden] ******************************************************************\n\
         changed: [alpha] => {{\n    \"censored\": \"the output has been hidden due to the fact \
         that 'no_log: true' was specified for this result\"\n}}\n\
         \nTASK [read] ********************************************************************\n\
         ok: [alpha] => {{\n    \"content\": \"aGVsbG8K\",\n    \"encoding\": \"base64\",\n\
         \x20   \"source\": \"f.txt\",\n    \"changed\": false\n}}\n{RECAP}"
    );
    assert_eq!(joined(&lines), want);

    // The first lines came while the command was still sleeping: two seconds before the
    // last one and before the task's result.
    let at = |text: &str| {
        lines
            .iter()
            .find(|(_, l)| l == text)
            .map(|(t, _)| *t)
            .expect(text)
    };
    let first = at("alpha | first");
    let warn = at("alpha stderr | warn");
    let second = at("alpha | second");
    let result = at("changed: [alpha] => {");
    assert!(second >= first + Duration::from_millis(1500), "{lines:?}");
    assert!(second >= warn + Duration::from_millis(1500), "{lines:?}");
    assert!(result >= first + Duration::from_millis(1500), "{lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
