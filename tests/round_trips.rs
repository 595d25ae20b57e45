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
        let ctx = ModuleCtx {
            host: "localhost",
            session: &self.session,
            escalation: None,
            check,
            diff: true,
            templar: &self.templar,
            scope: &self.scope,
            search_paths: &self.search,
            sessions: &NoHosts,
            verbosity: 0,
        };
        let before = self.session.commands_started();
        let out = modules::run(module, args, &ctx).await.unwrap();
        assert!(!out.failed, "{module}: {:?}", out.msg);
        (out, self.session.commands_started() - before)
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One row: module, arguments (`@` stands for the bed's folder), a setup run before it (shell
/// text, same substitution), the commands of check mode, of the first run, of the converged
/// run, and the file (relative to the bed) with its bytes after the first run.
struct Row {
    module: &'static str,
    args: &'static str,
    setup: &'static str,
    check: u64,
    first: u64,
    again: u64,
    file: &'static str,
    bytes: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        module: "copy",
        args: r#"{"content": "a=1\n", "dest": "@/c.conf", "mode": "0640"}"#,
        setup: "",
        check: 1,
        first: 1,
        again: 1,
        file: "c.conf",
        bytes: "a=1\n",
    },
    Row {
        module: "copy",
        args: r#"{"content": "a=2\n", "dest": "@/c.conf", "backup": true}"#,
        setup: "printf 'a=1\\n' > @/c.conf",
        check: 1,
        first: 1,
        again: 1,
        file: "c.conf",
        bytes: "a=2\n",
    },
    Row {
        module: "copy",
        args: r#"{"src": "app.env", "dest": "@/etc", "mode": "0600"}"#,
        setup: "mkdir @/etc",
        check: 1,
        first: 1,
        again: 1,
        file: "etc/app.env",
        bytes: "A=1\n",
    },
    Row {
        module: "template",
        args: r#"{"src": "motd.j2", "dest": "@/motd", "mode": "0644"}"#,
        setup: "",
        check: 1,
        first: 1,
        again: 1,
        file: "motd",
        bytes: "hello world\n",
    },
];

fn fill(text: &str, dir: &str) -> String {
    text.replace('@', dir)
}

#[tokio::test]
async fn commands_per_task() {
    let mut failures = Vec::new();
    for (i, row) in ROWS.iter().enumerate() {
        let bed = Bed::new(&format!("{}{i}", row.module)).await;
        let dir = bed.path("");
        let dir = dir.trim_end_matches('/');
        if !row.setup.is_empty() {
            let ok = std::process::Command::new("sh")
                .arg("-c")
                .arg(fill(row.setup, dir))
                .status()
                .unwrap()
                .success();
            assert!(ok, "setup of row {i}");
        }
        let args: Value = serde_json::from_str(&fill(row.args, dir)).unwrap();
        let (checked, check) = bed.count(row.module, &args, true).await;
        let (first, n1) = bed.count(row.module, &args, false).await;
        let (again, n2) = bed.count(row.module, &args, false).await;
        let bytes = std::fs::read_to_string(bed.path(row.file)).unwrap_or_default();
        let got = (check, n1, n2, checked.changed, first.changed, again.changed, bytes);
        let want = (row.check, row.first, row.again, true, true, false, row.bytes.to_string());
        if got != want {
            failures.push(format!("row {i} {} {}: got {got:?}, want {want:?}", row.module, row.args));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
