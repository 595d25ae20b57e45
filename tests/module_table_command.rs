//! command, shell and raw as a table, in-process over `connection: local`: (files present,
//! parameters) -> (rc, stdout, stderr, stdout_lines, changed, failed), each row run twice to
//! show that `creates`/`removes` make the second run change nothing. stat and slurp too.

#[path = "module_tables/bed.rs"]
mod bed;

use bed::Bed;
use serde_json::{json, Value};

/// What a command row must report.
struct Want {
    rc: i64,
    stdout: &'static str,
    stderr: &'static str,
    changed: bool,
    failed: bool,
}

const fn ran(stdout: &'static str) -> Want {
    Want {
        rc: 0,
        stdout,
        stderr: "",
        changed: true,
        failed: false,
    }
}

#[tokio::test]
async fn command_shell_raw_table() {
    let bed = Bed::new("cmd").await;
    std::fs::create_dir_all(bed.dir.join("sub")).unwrap();
    bed.put("sub/here.txt", b"", 0o644);
    let rows: Vec<(&str, &str, Value, Want)> = vec![
        (
            "command argv",
            "command",
            json!({"argv": ["printf", "%s|", "a b", "c"]}),
            ran("a b|c|"),
        ),
        (
            "command no shell",
            "command",
            json!({"cmd": "echo a|b * > x"}),
            ran("a|b * > x"),
        ),
        (
            "command chdir",
            "command",
            json!({"cmd": "ls", "chdir": "$D/sub"}),
            ran("here.txt"),
        ),
        (
            "command stdin",
            "command",
            json!({"cmd": "cat", "stdin": "in put"}),
            ran("in put"),
        ),
        (
            "command stdin no newline",
            "command",
            json!({"cmd": "od -c", "stdin": "ab", "stdin_add_newline": false}),
            ran("0000000   a   b\n0000002"),
        ),
        (
            "command fails with rc and stderr",
            "command",
            json!({"cmd": "sh -c 'echo out; echo err >&2; exit 3'"}),
            Want {
                rc: 3,
                stdout: "out",
                stderr: "err",
                changed: true,
                failed: true,
            },
        ),
        (
            "shell pipeline",
            "shell",
            json!({"cmd": "printf 'a\\nb\\n' | tr a-z A-Z"}),
            ran("A\nB"),
        ),
        (
            "shell first stage fails",
            "shell",
            json!({"cmd": "false | cat"}),
            Want {
                rc: 1,
                stdout: "",
                stderr: "",
                changed: true,
                failed: true,
            },
        ),
        (
            "shell middle stage fails",
            "shell",
            json!({"cmd": "echo x | (cat; exit 4) | cat"}),
            Want {
                rc: 4,
                stdout: "x",
                stderr: "",
                changed: true,
                failed: true,
            },
        ),
        (
            "shell executable",
            "shell",
            json!({"cmd": "echo ${BASH_VERSION:+bash}", "executable": "/bin/bash"}),
            ran("bash"),
        ),
        (
            "shell chdir relative",
            "shell",
            json!({"cmd": "cat here.txt; pwd", "chdir": "$D/sub"}),
            Want {
                rc: 0,
                stdout: "",
                stderr: "",
                changed: true,
                failed: false,
            },
        ),
        (
            "raw",
            "raw",
            json!({"_raw_params": "echo raw-out; echo raw-err >&2"}),
            Want {
                rc: 0,
                stdout: "raw-out\n",
                stderr: "raw-err\n",
                changed: true,
                failed: false,
            },
        ),
        (
            "raw failure",
            "raw",
            json!({"_raw_params": "exit 5"}),
            Want {
                rc: 5,
                stdout: "",
                stderr: "",
                changed: true,
                failed: true,
            },
        ),
    ];
    for (name, module, args, want) in rows {
        let out = bed.run(module, &args).await;
        let stdout = if name == "shell chdir relative" {
            format!("{}/sub", bed.dir.display())
        } else {
            want.stdout.to_string()
        };
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            (
                out.failed,
                out.changed,
                &out.values["rc"],
                &out.values["stdout"]
            ),
            (want.failed, want.changed, &json!(want.rc), &json!(stdout)),
            "{name}: {:?}",
            out.msg
        );
        assert_eq!(
            (&out.values["stderr"], &out.values["stdout_lines"]),
            (&json!(want.stderr), &json!(lines)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn creates_and_removes_make_the_second_run_a_no_op() {
    let bed = Bed::new("cmdgate").await;
    bed.put("gone.txt", b"", 0o644);
    let cases = [
        (
            "command",
            json!({"cmd": "touch made.txt", "chdir": "$D", "creates": "made.txt"}),
        ),
        (
            "shell",
            json!({"cmd": "echo > $D/glob.out", "creates": "$D/*.out"}),
        ),
        (
            "command",
            json!({"cmd": "rm gone.txt", "chdir": "$D", "removes": "gone.txt"}),
        ),
    ];
    for (module, args) in cases {
        let first = bed.run(module, &args).await;
        assert_eq!((first.failed, first.changed), (false, true), "{args}");
        let second = bed.run(module, &args).await;
        assert_eq!(
            (second.failed, second.changed, &second.values["rc"]),
            (false, false, &json!(0)),
            "{args}"
        );
    }
    assert_eq!(bed.names(""), ["files", "glob.out", "made.txt"]);
}

#[tokio::test]
async fn stat_and_slurp_report_without_changing() {
    let bed = Bed::new("stat").await;
    bed.put("data", b"hi\n", 0o604);
    std::os::unix::fs::symlink(bed.path("data"), bed.dir.join("link")).unwrap();
    let id = bed.identity("data");
    let rows = [
        (
            "data",
            json!({"exists": true, "isreg": true, "isdir": false, "islnk": false,
            "mode": "0604", "size": 3,
            "checksum": "55ca6286e3e4f4fba5d0448333fa99fc5a404a73"}),
        ),
        (
            "link",
            json!({"exists": true, "isreg": false, "isdir": false, "islnk": true,
            "mode": "0777"}),
        ),
        (
            "files",
            json!({"exists": true, "isreg": false, "isdir": true, "islnk": false}),
        ),
    ];
    for (rel, want) in rows {
        let out = bed.run("stat", &json!({"path": format!("$D/{rel}")})).await;
        assert_eq!((out.failed, out.changed), (false, false), "{rel}");
        for (key, value) in want.as_object().unwrap() {
            assert_eq!(&out.values["stat"][key], value, "{rel} {key}");
        }
    }
    let none = bed.run("stat", &json!({"path": "$D/nope"})).await;
    assert_eq!(none.values["stat"], json!({"exists": false}));

    let s = bed.run("slurp", &json!({"src": "$D/data"})).await;
    assert_eq!((s.changed, &s.values["content"]), (false, &json!("aGkK")));
    let gone = bed.run("slurp", &json!({"src": "$D/nope"})).await;
    assert_eq!(
        (gone.failed, gone.msg),
        (true, Some(format!("file not found: {}", bed.path("nope"))))
    );
    assert_eq!(bed.identity("data"), id);
}
