//! SIGTERM and SIGHUP stop a run as Ctrl-C does: the running command (its process group on
//! the local connection) is stopped, no later task runs, the recap is printed, and the exit
//! code is 128 + the signal's number.

mod playbook_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use playbook_support::*;

/// Whether a `sleep SECONDS` runs on this machine.
fn sleeping(seconds: &str) -> bool {
    let want = format!("sleep\0{seconds}\0").into_bytes();
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == want))
        })
        .unwrap_or(false)
}

#[test]
fn sigterm_and_sighup_stop_commands_and_print_the_recap() {
    let cases = [
        ("TERM", "318", 143, "Terminated by SIGTERM"),
        ("HUP", "319", 129, "Hung up (SIGHUP)"),
    ];
    for (signal, seconds, code, message) in cases {
        let s = Scratch::new(&format!("trial-sig-{signal}"));
        s.write("inv.ini", &inventory(&["alpha"]));
        s.write(
            "pb.yml",
            &format!(
                "- hosts: web\n  gather_facts: false\n  tasks:\n    - command: sleep {seconds}\n\
                 \x20   - debug: {{msg: after}}\n"
            ),
        );
        let child = Command::new(env!("CARGO_BIN_EXE_mestral"))
            .current_dir(&s.0)
            .args(["--color", "never", "-i", "inv.ini", "pb.yml"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mestral starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !sleeping(seconds) {
            assert!(Instant::now() < deadline, "sleep {seconds} never started");
            std::thread::sleep(Duration::from_millis(50));
        }
        let start = Instant::now();
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let out = child.wait_with_output().expect("mestral ends");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(out.status.code(), Some(code), "{signal}");
        assert!(!sleeping(seconds), "the command was stopped ({signal})");
        let stdout = text(&out);
        let fatal = format!(
            "fatal: [alpha]: FAILED! => {{\"rc\": 143, \"stdout_lines\": [], \"stderr_lines\": \
             [\"interrupted: the command was sent SIGTERM\", \"killed by signal TERM\"], \
             \"stdout\": \"\", \"stderr\": \"interrupted: the command was sent SIGTERM\\nkilled \
             by signal TERM\", \"cmd\": [\"sleep\", \"{seconds}\"], \"changed\": true, \"msg\": \
             \"non-zero return code\"}}\n"
        );
        let want = [
            banner("PLAY [web]"),
            task("command"),
            fatal,
            recap(&[stat("alpha", 0, 0, 1, 0)]),
        ]
        .concat();
        assert_eq!(stdout, want, "{signal}");
        let want = format!(
            "\n[ERROR]: {message}\n{}FAILED: [alpha] TASK [command] (pb.yml:4)\n    \
             cmd: sleep {seconds}\n    rc: 143\n    msg: non-zero return code\n    stderr:\n      \
             interrupted: the command was sent SIGTERM\n      killed by signal TERM\n",
            banner("FAILURES")
        );
        assert_eq!(errors(&out), want, "{signal}");
    }
}
