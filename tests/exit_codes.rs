//! Every documented exit code through the real binary (issue 7): 0 all went well, 1 bad
//! input (usage, parse error, missing file), 2 a task failed, 4 a host unreachable and none
//! failed, 130 interrupted. On the controller itself and on a closed loopback port.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INVENTORY: &str = "[ok]\nalpha ansible_connection=local\n\n[dead]\n\
                         gone ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody\n";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mestral-exit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    std::fs::write(dir.join("inv.ini"), INVENTORY).expect("inventory");
    dir
}

fn playbook(dir: &Path, name: &str, hosts: &str, task: &str) -> String {
    let text = format!("- hosts: {hosts}\n  gather_facts: false\n  tasks:\n    - {task}\n");
    std::fs::write(dir.join(name), text).expect("playbook");
    name.to_string()
}

fn mestral(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mestral"));
    cmd.current_dir(dir)
        .args(["--color", "never", "-T", "3"])
        .args(args)
        .env("NO_COLOR", "1");
    cmd
}

#[test]
fn each_outcome_has_its_exit_code() {
    let dir = scratch("codes");
    let ok = playbook(&dir, "ok.yml", "ok", "command: 'true'");
    let failing = playbook(&dir, "fail.yml", "ok", "command: 'false'");
    let dead = playbook(&dir, "dead.yml", "dead", "command: 'true'");
    let both = playbook(&dir, "both.yml", "all", "command: 'false'");
    std::fs::write(dir.join("bad.yml"), "- hosts: ok\n  tasks: [\n").expect("bad yaml");
    let cases: &[(&str, &[&str], i32)] = &[
        ("success", &["-i", "inv.ini", &ok], 0),
        ("a task failed", &["-i", "inv.ini", &failing], 2),
        ("a host unreachable", &["-i", "inv.ini", &dead], 4),
        ("failed beats unreachable", &["-i", "inv.ini", &both], 2),
        ("YAML parse error", &["-i", "inv.ini", "bad.yml"], 1),
        (
            "syntax check of a parse error",
            &["-i", "inv.ini", "bad.yml", "--syntax-check"],
            1,
        ),
        ("missing playbook", &["-i", "inv.ini", "nowhere.yml"], 1),
        ("unknown flag", &["-i", "inv.ini", &ok, "--no-such-flag"], 1),
        (
            "bad flag value",
            &["-i", "inv.ini", &ok, "--forks", "many"],
            1,
        ),
        ("no playbook given", &["-i", "inv.ini"], 1),
        ("bad -e", &["-i", "inv.ini", &ok, "-e", "{unclosed"], 1),
        ("--help", &["--help"], 0),
        ("--version", &["--version"], 0),
    ];
    let mut wrong = Vec::new();
    for (what, args, want) in cases {
        let out = mestral(&dir, args).output().expect("mestral runs");
        if out.status.code() != Some(*want) {
            wrong.push(format!("{what}: {:?}, want {want}", out.status.code()));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(wrong, Vec::<String>::new());
}

#[test]
fn interrupted_is_130() {
    let dir = scratch("int");
    let pb = playbook(&dir, "sleep.yml", "ok", "command: sleep 311");
    let child = mestral(&dir, &["-i", "inv.ini", &pb])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mestral starts");
    // Wait until the command runs, then Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sleeping() {
        assert!(Instant::now() < deadline, "sleep 311 never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let start = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let out = child.wait_with_output().expect("mestral ends");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    assert!(!sleeping(), "the command was stopped");
}

/// Whether a `sleep 311` runs on this machine.
fn sleeping() -> bool {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()).any(|e| {
                std::fs::read(e.path().join("cmdline"))
                    .map(|c| c == b"sleep\x00311\x00")
                    .unwrap_or(false)
            })
        })
        .unwrap_or(false)
}
