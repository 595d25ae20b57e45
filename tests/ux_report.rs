//! The text report's extras through the real binary on local hosts: the failure summary
//! (stderr, above the recap), `--timing` (hosts' wall times, total, slowest tasks) and
//! `--retry-file` (failed hosts, one per line).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mestral-ux-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mestral(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args(["--color", "never"])
        .args(args)
        .output()
        .expect("mestral runs")
}

/// Replaces every duration (`0.01s`, `12.3s`, `1m05s`) with `T`.
fn no_times(text: &str) -> String {
    let re = regex::Regex::new(r"\b(\d+m\d\ds|\d+\.\d+s)").unwrap();
    re.replace_all(text, "T").into_owned()
}

const PLAYBOOK: &str = "- name: p\n  hosts: web\n  gather_facts: false\n  tasks:\n\
    \x20   - name: fail on beta\n      command: sh -c 'sleep 0.3; printf \"a\\nb\\n\" >&2; exit 3'\n\
    \x20     when: inventory_hostname == 'beta'\n\
    \x20   - name: after\n      command: \"true\"\n      changed_when: false\n";

fn setup(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(
        dir.join("inv.ini"),
        "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n",
    )
    .unwrap();
    std::fs::write(dir.join("pb.yml"), PLAYBOOK).unwrap();
    dir
}

#[test]
fn failure_summary_timing_and_retry_file() {
    let dir = setup("timing");
    let out = mestral(
        &dir,
        &[
            "-i",
            "inv.ini",
            "pb.yml",
            "--timing",
            "--retry-file",
            "pb.retry",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let recap = stdout.split("\nPLAY RECAP").nth(1).expect("a recap");
    assert_eq!(
        no_times(recap),
        " *********************************************************************\n\
         alpha                      : ok=1    changed=0    unreachable=0    failed=0    \
         skipped=1    rescued=0    ignored=0    time=T\n\
         beta                       : ok=0    changed=0    unreachable=0    failed=1    \
         skipped=0    rescued=0    ignored=0    time=T\n\
         total time: T\n\n\
         SLOWEST TASKS ******************************************************************\n\
         \x20  T  fail on beta (pb.yml:5)\n\
         \x20  T  after (pb.yml:8)\n\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "\nFAILURES ***********************************************************************\n\
         FAILED: [beta] TASK [fail on beta] (pb.yml:5)\n\
         \x20   cmd: sh -c 'sleep 0.3; printf \"a\\nb\\n\" >&2; exit 3'\n    rc: 3\n\
         \x20   msg: non-zero return code\n    stderr:\n      a\n      b\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("pb.retry")).unwrap(),
        "beta\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn retry_file_is_empty_when_nothing_failed() {
    let dir = setup("retry");
    std::fs::write(dir.join("pb.retry"), "stale\n").unwrap();
    let out = mestral(
        &dir,
        &[
            "-i",
            "inv.ini",
            "pb.yml",
            "-l",
            "alpha",
            "--retry-file",
            "pb.retry",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(dir.join("pb.retry")).unwrap(), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let _ = std::fs::remove_dir_all(&dir);
}
