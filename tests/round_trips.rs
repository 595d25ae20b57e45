//! Round trips per task, counted: each file module runs against a `connection: local`
//! session and the number of commands it started (each one an SSH channel on a real host)
//! must be exactly the figure in the table, for the first run that changes the host, the
//! converged run, and check mode. The files' bytes and the changed flags are checked too, so
//! a module cannot save a round trip by skipping work.

use std::path::PathBuf;

use anyhow::Result;
use mestral::connection::{ConnectSpec, Session};
use mestral::modules::{self, ModuleCtx, ModuleOutput, SessionLookup};
use mestral::template::Templar;
use mestral::vars::{Scope, Value};
use serde_json::json;

struct NoHosts;

impl SessionLookup for NoHosts {
    fn session<'a>(
        &'a self,
        host: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Session>> + Send + 'a>> {
        Box::pin(async move { anyhow::bail!("no session to {host} in this test") })
    }
}

/// A temp folder and a local session whose commands are counted.
struct Bed {
    dir: PathBuf,
    session: Session,
    templar: Templar,
    scope: Scope,
    search: Vec<PathBuf>,
}

impl Bed {
    async fn new(name: &str) -> Bed {
        let dir = std::env::temp_dir().join(format!("mestral-rt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("files")).unwrap();
        std::fs::write(dir.join("files/motd.j2"), "{{ greeting }} world\n").unwrap();
        std::fs::write(dir.join("files/app.env"), "A=1\n").unwrap();
        let spec = ConnectSpec {
            name: "localhost".into(),
            address: "localhost".into(),
            connection: "local".into(),
            ..ConnectSpec::default()
        };
        let mut vars = serde_json::Map::new();
        vars.insert("greeting".into(), json!("hello"));
        Bed {
            search: vec![dir.join("files")],
            session: Session::connect(&spec).await.unwrap(),
            templar: Templar::new(),
            scope: Scope::local(vars),
            dir,
        }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }

    /// Runs one task; returns its result and the commands it started.
    async fn count(&self, module: &str, args: &Value, check: bool) -> (ModuleOutput, u64) {
        self.count_as(module, args, check, None).await
    }

    /// The context of one task on the bed's session.
    fn ctx(&self, check: bool, diff: bool, loop_pass: Option<u64>) -> ModuleCtx<'_> {
        ModuleCtx {
            host: "localhost",
            session: &self.session,
            escalation: None,
            check,
            diff,
            templar: &self.templar,
            scope: &self.scope,
            search_paths: &self.search,
            sessions: &NoHosts,
            verbosity: 0,
            loop_pass,
        }
    }

    /// `count`, as an item of the pass `loop_pass` over a loop runs (writes may be held).
    async fn count_as(
        &self,
        module: &str,
        args: &Value,
        check: bool,
        loop_pass: Option<u64>,
    ) -> (ModuleOutput, u64) {
        let ctx = self.ctx(check, true, loop_pass);
        let before = self.session.commands_started();
        let out = modules::run(module, args, &ctx).await.unwrap();
        assert!(!out.failed, "{module}: {:?}", out.msg);
        (out, self.session.commands_started() - before)
    }

    /// `count`, for a task that may fail: its commands and result fields as one row.
    async fn outcome(&self, module: &str, args: &Value, check: bool) -> Outcome {
        let ctx = self.ctx(check, false, None);
        let before = self.session.commands_started();
        let out = modules::run(module, args, &ctx).await.unwrap();
        let n = self.session.commands_started() - before;
        let field = |k: &str| out.values.get(k).cloned().unwrap_or(Value::Null);
        (
            n,
            out.changed,
            out.failed,
            out.msg.clone(),
            field("rc"),
            field("stdout"),
            field("stderr"),
        )
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Commands started, changed, failed, msg, rc, stdout, stderr.
type Outcome = (u64, bool, bool, Option<String>, Value, Value, Value);

/// One row: module, arguments (`@` stands for the bed's folder, `USER` for the user running
/// the test, `KEY` for a public key), a setup run before it (shell, same substitutions), the
/// commands started by check mode, by the first run and by the converged run, and a shell
/// probe with what it must print after the first run.
struct Row {
    module: &'static str,
    args: &'static str,
    setup: &'static str,
    check: u64,
    first: u64,
    again: u64,
    probe: &'static str,
    shows: &'static str,
}

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 alice@example";

const ROWS: &[Row] = &[
    Row {
        module: "copy",
        args: r#"{"content": "a=1\n", "dest": "@/c.conf", "mode": "0640"}"#,
        setup: "",
        check: 1,
        first: 1,
        again: 1,
        probe: "stat -c %a @/c.conf; cat @/c.conf",
        shows: "640\na=1\n",
    },
    Row {
        module: "copy",
        args: r#"{"content": "a=2\n", "dest": "@/c.conf", "backup": true}"#,
        setup: "printf 'a=1\\n' > @/c.conf",
        check: 1,
        first: 1,
        again: 1,
        probe: "cat @/c.conf @/c.conf.*~",
        shows: "a=2\na=1\n",
    },
    Row {
        module: "copy",
        args: r#"{"content": "a=1\n", "dest": "@/c.conf", "mode": "0600"}"#,
        setup: "printf 'a=1\\n' > @/c.conf; chmod 0644 @/c.conf",
        check: 1,
        first: 2,
        again: 1,
        probe: "stat -c %a @/c.conf",
        shows: "600\n",
    },
    Row {
        module: "copy",
        args: r#"{"src": "app.env", "dest": "@/etc", "mode": "0600"}"#,
        setup: "mkdir @/etc",
        check: 1,
        first: 1,
        again: 1,
        probe: "stat -c %a @/etc/app.env; cat @/etc/app.env",
        shows: "600\nA=1\n",
    },
    Row {
        module: "template",
        args: r#"{"src": "motd.j2", "dest": "@/motd", "mode": "0644"}"#,
        setup: "",
        check: 1,
        first: 1,
        again: 1,
        probe: "cat @/motd",
        shows: "hello world\n",
    },
    Row {
        module: "template",
        args: r#"{"src": "motd.j2", "dest": "@/motd"}"#,
        setup: "printf 'old\\n' > @/motd",
        check: 1,
        first: 1,
        again: 1,
        probe: "cat @/motd",
        shows: "hello world\n",
    },
    Row {
        module: "file",
        args: r#"{"path": "@/a/b", "state": "directory", "mode": "0750"}"#,
        setup: "",
        check: 1,
        first: 1,
        again: 1,
        probe: "stat -c '%F %a' @/a @/a/b",
        shows: "directory 750\ndirectory 750\n",
    },
    Row {
        module: "file",
        args: r#"{"path": "@/d", "state": "directory", "mode": "0700"}"#,
        setup: "mkdir -m 0755 @/d",
        check: 1,
        first: 2,
        again: 1,
        probe: "stat -c '%F %a' @/d",
        shows: "directory 700\n",
    },
    Row {
        module: "file",
        args: r#"{"path": "@/n/a/b c", "state": "directory", "mode": "0750", "owner": "USER"}"#,
        setup: "mkdir -m 0711 @/n",
        check: 1,
        first: 1,
        again: 1,
        probe: "stat -c '%F %a %U' @/n @/n/a '@/n/a/b c'",
        shows: "directory 711 USER\ndirectory 750 USER\ndirectory 750 USER\n",
    },
    Row {
        module: "file",
        args: r#"{"src": "/tmp", "dest": "@/current", "state": "link"}"#,
        setup: "",
        check: 1,
        first: 1,
        again: 1,
        probe: "readlink @/current",
        shows: "/tmp\n",
    },
    Row {
        module: "file",
        args: r#"{"path": "@/gone", "state": "absent"}"#,
        setup: "mkdir @/gone",
        check: 1,
        first: 2,
        again: 1,
        probe: "ls @",
        shows: "files\n",
    },
    Row {
        module: "lineinfile",
        args: r#"{"path": "@/node.env", "create": true, "mode": "0640",
                  "regexp": "^NAME=", "line": "NAME=n1"}"#,
        setup: "",
        check: 1,
        first: 1,
        again: 1,
        probe: "stat -c %a @/node.env; cat @/node.env",
        shows: "640\nNAME=n1\n",
    },
    Row {
        module: "lineinfile",
        args: r#"{"path": "@/hosts", "regexp": "\\sn1$", "line": "10.0.0.1\tn1"}"#,
        setup: "printf '127.0.0.1\\tlocalhost\\n' > @/hosts",
        check: 1,
        first: 2,
        again: 1,
        probe: "cat @/hosts",
        shows: "127.0.0.1\tlocalhost\n10.0.0.1\tn1\n",
    },
    Row {
        module: "blockinfile",
        args: r#"{"path": "@/b.conf", "create": true, "block": "x=1"}"#,
        setup: "",
        check: 1,
        first: 1,
        again: 1,
        probe: "cat @/b.conf",
        shows: "# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\n",
    },
    Row {
        module: "blockinfile",
        args: r#"{"path": "@/b.conf", "block": "x=2"}"#,
        setup: "printf 'top\\n' > @/b.conf",
        check: 1,
        first: 2,
        again: 1,
        probe: "cat @/b.conf",
        shows: "top\n# BEGIN ANSIBLE MANAGED BLOCK\nx=2\n# END ANSIBLE MANAGED BLOCK\n",
    },
    Row {
        module: "authorized_key",
        args: r#"{"user": "USER", "key": "KEY", "path": "@/ssh/authorized_keys"}"#,
        setup: "",
        check: 1,
        first: 1,
        again: 1,
        probe: "stat -c %a @/ssh @/ssh/authorized_keys; cat @/ssh/authorized_keys",
        shows: "700\n600\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 alice@example\n",
    },
];

/// The user running the test, for `authorized_key`.
fn me() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sh(script: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fill(text: &str, dir: &str) -> String {
    text.replace('@', dir)
        .replace("USER", &me())
        .replace("KEY", KEY)
}

#[tokio::test]
async fn commands_per_task() {
    let mut failures = Vec::new();
    for (i, row) in ROWS.iter().enumerate() {
        let bed = Bed::new(&format!("{}{i}", row.module)).await;
        let dir = bed.path("");
        let dir = dir.trim_end_matches('/');
        sh(&fill(row.setup, dir));
        let args: Value = serde_json::from_str(&fill(row.args, dir)).unwrap();
        let (checked, check) = bed.count(row.module, &args, true).await;
        let (first, n1) = bed.count(row.module, &args, false).await;
        let (again, n2) = bed.count(row.module, &args, false).await;
        let shows = sh(&fill(row.probe, dir));
        let got = (
            check,
            n1,
            n2,
            checked.changed,
            first.changed,
            again.changed,
            shows,
        );
        let want = (
            row.check,
            row.first,
            row.again,
            true,
            true,
            false,
            row.shows.replace("USER", &me()),
        );
        if got != want {
            failures.push(format!(
                "row {i} {} {}: got {got:?}, want {want:?}",
                row.module, row.args
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `lineinfile` over one existing file, item after item as in a loop: the first edit reads
/// then writes (2 commands), the next ones are planned on the text just written and sent with
/// a checksum guard (1 command). A file changed behind the run's back fails the guard and
/// takes 2 commands, with the edit made on its real text.
#[tokio::test]
async fn lineinfile_items_after_the_first() {
    let bed = Bed::new("lineinfile-items").await;
    let hosts = bed.path("hosts");
    std::fs::write(&hosts, "127.0.0.1\tlocalhost\n127.0.1.1\tn1\n").unwrap();
    let item = |name: &str, addr: &str| json!({"path": hosts, "regexp": format!("\\s{name}$"), "line": format!("{addr}\t{name}")});
    // (item, what is done to the file before it, changed, commands, the file after)
    let rows: [(Value, Option<&str>, bool, u64, &str); 5] = [
        (
            item("n1", "10.0.0.1"),
            None,
            true,
            2,
            "127.0.0.1\tlocalhost\n10.0.0.1\tn1\n",
        ),
        (
            item("n2", "10.0.0.2"),
            None,
            true,
            1,
            "127.0.0.1\tlocalhost\n10.0.0.1\tn1\n10.0.0.2\tn2\n",
        ),
        (
            item("n3", "10.0.0.3"),
            Some("# edited elsewhere\n"),
            true,
            2,
            "# edited elsewhere\n10.0.0.3\tn3\n",
        ),
        (
            item("n3", "10.0.0.3"),
            None,
            false,
            1,
            "# edited elsewhere\n10.0.0.3\tn3\n",
        ),
        (
            item("n4", "10.0.0.4"),
            None,
            true,
            1,
            "# edited elsewhere\n10.0.0.3\tn3\n10.0.0.4\tn4\n",
        ),
    ];
    let mut got = Vec::new();
    let mut want = Vec::new();
    for (args, meddle, changed, commands, after) in rows {
        if let Some(text) = meddle {
            std::fs::write(&hosts, text).unwrap();
        }
        let (out, n) = bed.count("lineinfile", &args, false).await;
        got.push((out.changed, n, std::fs::read_to_string(&hosts).unwrap()));
        want.push((changed, commands, after.to_string()));
    }
    assert_eq!(got, want);
}

/// `lineinfile` as loop items (writes may be held): the first item reads the file (1
/// command) and holds its write; the items after it in the same pass over the loop, planned
/// on that text with nothing run on the host since, start no command at all; the flush writes
/// the file once. Any other command runs the held write first. What another pass learned is
/// checked on the host. A file changed behind the run's back before the flush is not
/// overwritten: the flush fails naming it, and the next edit starts again from the real text.
#[tokio::test]
async fn lineinfile_loop_items_hold_one_write() {
    let bed = Bed::new("lineinfile-held").await;
    let hosts = bed.path("hosts");
    let start = "127.0.0.1\tlocalhost\n127.0.1.1\tn1\n";
    std::fs::write(&hosts, start).unwrap();
    let item = |name: &str, addr: &str| json!({"path": hosts, "regexp": format!("\\s{name}$"), "line": format!("{addr}\t{name}")});
    let two = "127.0.0.1\tlocalhost\n10.0.0.1\tn1\n10.0.0.2\tn2\n";
    let four = format!("{two}10.0.0.3\tn3\n10.0.0.4\tn4\n");
    let nine = four.replace("10.0.0.1\tn1", "10.0.0.9\tn1");
    let meddled = "# edited elsewhere\n";
    enum Step {
        Item(u64, Value),
        Flush,
        Meddle,
        Cat,
    }
    use Step::*;
    // (step, changed, commands, the file on disk after it)
    let steps: Vec<(Step, bool, u64, String)> = vec![
        (Item(1, item("n1", "10.0.0.1")), true, 1, start.into()),
        (Item(1, item("n2", "10.0.0.2")), true, 0, start.into()),
        (Item(1, item("n2", "10.0.0.2")), false, 0, start.into()),
        (Flush, false, 1, two.into()),
        (Flush, false, 0, two.into()),
        // the flush ran a command: the next item checks the text on the host as it writes
        (
            Item(1, item("n3", "10.0.0.3")),
            true,
            1,
            format!("{two}10.0.0.3\tn3\n"),
        ),
        (
            Item(1, item("n4", "10.0.0.4")),
            true,
            0,
            format!("{two}10.0.0.3\tn3\n"),
        ),
        (Cat, false, 2, four.clone()),
        // another pass (the next task) does not trust what this one saw
        (Item(2, item("n3", "10.0.0.3")), false, 1, four.clone()),
        (Item(3, item("n1", "10.0.0.9")), true, 1, nine.clone()),
        (Item(3, item("n6", "10.0.0.6")), true, 0, nine.clone()),
        (Meddle, false, 0, meddled.into()),
        (Flush, false, 1, meddled.into()),
        // the guard fails, the real text comes back; the edit made on it is held in turn
        (Item(3, item("n5", "10.0.0.5")), true, 1, meddled.into()),
        (Flush, false, 1, format!("{meddled}10.0.0.5\tn5\n")),
    ];
    let mut got = Vec::new();
    let mut want = Vec::new();
    let mut errors = Vec::new();
    for (step, changed, commands, after) in steps {
        let before = bed.session.commands_started();
        let did_change = match step {
            Item(pass, args) => {
                let out = bed.count_as("lineinfile", &args, false, Some(pass)).await;
                out.0.changed
            }
            Flush => {
                if let Err(e) = bed.session.flush_held().await {
                    errors.push(format!("{e:#}"));
                }
                false
            }
            Meddle => {
                std::fs::write(&hosts, meddled).unwrap();
                false
            }
            Cat => {
                let args = json!({"cmd": format!("cat {hosts}")});
                let out = bed.count("command", &args, false).await.0;
                assert_eq!(out.values["stdout"], json!(after.trim_end()));
                false
            }
        };
        let n = bed.session.commands_started() - before;
        got.push((did_change, n, std::fs::read_to_string(&hosts).unwrap()));
        want.push((changed, commands, after));
    }
    assert_eq!(got, want);
    assert_eq!(
        errors,
        vec![format!(
            "cannot write {hosts} (the edits of the loop items before): {hosts} changed on the \
             host since it was read; not written"
        )]
    );
}

/// `command`/`shell` with `creates`/`removes`: the test of the paths and the command share one
/// channel, first run, converged run and check mode alike, with Ansible's results. Commands
/// that print a marker of another nonce, or exit with the status of a failed `chdir`, are
/// reported as the commands they are. (`@` stands for the bed's folder.)
#[tokio::test]
async fn creates_and_removes_share_the_command_channel() {
    let ran = |stdout: &str, stderr: &str| -> Outcome {
        (1, true, false, None, json!(0), json!(stdout), json!(stderr))
    };
    let skipped = |check: bool, path: &str, why: &str| -> Outcome {
        let shoulda = if check { "Would" } else { "Did" };
        (
            1,
            false,
            false,
            Some(format!("{shoulda} not run command since '{path}' {why}")),
            json!(0),
            json!(format!("skipped, since {path} {why}")),
            json!(""),
        )
    };
    let would: Outcome = (
        1,
        true,
        false,
        Some("Command would have run if not in check mode".into()),
        Value::Null,
        Value::Null,
        Value::Null,
    );
    // (module, args, setup, [check, first, again, check again])
    let rows: Vec<(&str, &str, &str, [Outcome; 4])> = vec![
        (
            "command",
            r#"{"cmd": "sh -c 'echo made > out.txt; echo done; echo warn >&2'", "chdir": "@",
                "creates": "out.txt"}"#,
            "",
            [
                would.clone(),
                ran("done", "warn"),
                skipped(false, "out.txt", "exists"),
                skipped(true, "out.txt", "exists"),
            ],
        ),
        (
            "shell",
            r#"{"cmd": "rm *.log && echo gone", "chdir": "@", "removes": "*.log"}"#,
            "touch @/a.log @/b.log",
            [
                would.clone(),
                ran("gone", ""),
                skipped(false, "*.log", "does not exist"),
                skipped(true, "*.log", "does not exist"),
            ],
        ),
        (
            "command",
            r#"{"cmd": "tee @/in.txt", "stdin": "abc", "creates": "@/in.txt",
                "removes": "@"}"#,
            "",
            [
                would.clone(),
                ran("abc", ""),
                skipped(false, "@/in.txt", "exists"),
                skipped(true, "@/in.txt", "exists"),
            ],
        ),
        (
            "shell",
            r#"{"cmd": "echo mestral-gate-0000000000000000:creates; exit 2",
                "creates": "@/never"}"#,
            "",
            [
                would.clone(),
                (
                    1,
                    true,
                    true,
                    Some("non-zero return code".into()),
                    json!(2),
                    json!("mestral-gate-0000000000000000:creates"),
                    json!(""),
                ),
                (
                    1,
                    true,
                    true,
                    Some("non-zero return code".into()),
                    json!(2),
                    json!("mestral-gate-0000000000000000:creates"),
                    json!(""),
                ),
                would.clone(),
            ],
        ),
    ];
    let mut got = Vec::new();
    let mut want = Vec::new();
    for (i, (module, args, setup, outcomes)) in rows.into_iter().enumerate() {
        let bed = Bed::new(&format!("gate{i}")).await;
        let dir = bed.path("");
        let dir = dir.trim_end_matches('/');
        sh(&fill(setup, dir));
        let args: Value = serde_json::from_str(&fill(args, dir)).unwrap();
        let fix = |o: Outcome| -> Outcome {
            let text = |v: Value| match v {
                Value::String(s) => json!(fill(&s, dir)),
                v => v,
            };
            (
                o.0,
                o.1,
                o.2,
                o.3.map(|m| fill(&m, dir)),
                o.4,
                text(o.5),
                text(o.6),
            )
        };
        for (run, (check, outcome)) in [true, false, false, true]
            .into_iter()
            .zip(outcomes)
            .enumerate()
        {
            got.push((i, run, bed.outcome(module, &args, check).await));
            want.push((i, run, fix(outcome)));
        }
    }
    assert_eq!(got, want);

    // chdir that cannot be entered: Ansible's message, the shell's status, nothing run.
    let bed = Bed::new("gate-chdir").await;
    let nope = bed.path("nope");
    let args = json!({"cmd": "touch x", "chdir": nope, "creates": "x"});
    for check in [false, true] {
        let o = bed.outcome("command", &args, check).await;
        assert_eq!(
            (o.0, o.1, o.2, o.3, o.4, o.5),
            (
                1,
                false,
                true,
                Some(format!(
                    "Unable to change directory before execution: {nope}"
                )),
                json!(2),
                json!("")
            ),
            "check {check}"
        );
    }
}
