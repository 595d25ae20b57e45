//! The file modules run for real against `connection: local`, in temp folders: exact bytes,
//! modes and `changed` flags on a first run, an idempotent second run, and check mode.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use mestral::connection::{ConnectSpec, Session};
use mestral::modules::{self, ModuleCtx, ModuleOutput, SessionLookup};
use mestral::template::Templar;
use mestral::vars::{Scope, Value};
use serde_json::json;

/// No other hosts in these tests.
struct NoHosts;

impl SessionLookup for NoHosts {
    fn session<'a>(
        &'a self,
        host: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Session>> + Send + 'a>> {
        Box::pin(async move { anyhow::bail!("no session to {host} in this test") })
    }
}

/// A temp folder, a local session and the run options of one test.
struct Bed {
    dir: PathBuf,
    session: Session,
    templar: Templar,
    scope: Scope,
    search: Vec<PathBuf>,
}

impl Bed {
    async fn new(name: &str) -> Bed {
        let dir = std::env::temp_dir().join(format!("mestral-ml-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("files")).unwrap();
        let spec = ConnectSpec {
            name: "localhost".into(),
            address: "localhost".into(),
            connection: "local".into(),
            ..ConnectSpec::default()
        };
        let session = Session::connect(&spec).await.unwrap();
        let mut vars = serde_json::Map::new();
        vars.insert("greeting".into(), json!("hello"));
        Bed {
            search: vec![dir.join("files")],
            dir,
            session,
            templar: Templar::new(),
            scope: Scope::local(vars),
        }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }

    async fn run_with(&self, module: &str, args: Value, check: bool) -> ModuleOutput {
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
            loop_pass: None,
        };
        modules::run(module, &args, &ctx).await.unwrap()
    }

    async fn run(&self, module: &str, args: Value) -> ModuleOutput {
        self.run_with(module, args, false).await
    }

    /// Runs twice: the first run must report `changed`, the second must not.
    async fn converge(&self, module: &str, args: Value) -> ModuleOutput {
        let first = self.run(module, args.clone()).await;
        assert_eq!(
            (first.failed, first.changed),
            (false, true),
            "{module} first: {:?}",
            first.msg
        );
        let second = self.run(module, args).await;
        assert_eq!(
            (second.failed, second.changed),
            (false, false),
            "{module} again: {:?}",
            second.msg
        );
        first
    }

    /// Names in the folder, to show no temp file was left behind.
    fn names(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn mode(path: &str) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn copy_content_converges_and_check_mode_changes_nothing() {
    let bed = Bed::new("copy").await;
    let dest = bed.path("out.conf");
    let args = json!({"content": "a=1\n", "dest": dest, "mode": "0640"});
    let first = bed.converge("copy", args).await;
    assert_eq!(read(&dest), "a=1\n");
    assert_eq!(mode(&dest), 0o640);
    assert_eq!(
        first.values.get("checksum"),
        Some(&json!(mestral::modules::remote_file::sha256_hex(b"a=1\n")))
    );
    assert_eq!(first.diffs.len(), 1);
    assert_eq!(
        (
            first.diffs[0].before.as_str(),
            first.diffs[0].after.as_str()
        ),
        ("", "a=1\n")
    );

    // check mode reports the change and leaves the file alone
    let checked = bed
        .run_with(
            "copy",
            json!({"content": "a=2\n", "dest": dest, "mode": "0640"}),
            true,
        )
        .await;
    assert!(checked.changed);
    assert_eq!(read(&dest), "a=1\n");

    // attribute drift alone is fixed without rewriting
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
    let fixed = bed
        .run(
            "copy",
            json!({"content": "a=1\n", "dest": dest, "mode": "0640"}),
        )
        .await;
    let attrs = |m: &str| format!("{{\n    \"mode\": \"{m}\",\n    \"path\": \"{dest}\"\n}}\n");
    let diffs: Vec<_> = fixed
        .diffs
        .iter()
        .map(|d| (d.before.clone(), d.after.clone()))
        .collect();
    assert_eq!(
        (fixed.changed, mode(&dest), diffs),
        (true, 0o640, vec![(attrs("0600"), attrs("0640"))])
    );

    // force=no keeps a differing file
    let kept = bed
        .run(
            "copy",
            json!({"content": "zzz\n", "dest": dest, "force": "no"}),
        )
        .await;
    assert_eq!((kept.changed, read(&dest).as_str()), (false, "a=1\n"));

    // a refused validation leaves the old file and no temp file
    let bad = bed
        .run(
            "copy",
            json!({"content": "broken\n", "dest": dest, "validate": "grep -q a= %s"}),
        )
        .await;
    assert_eq!((bad.failed, read(&dest).as_str()), (true, "a=1\n"));
    assert_eq!(bad.msg.as_deref(), Some("failed to validate"));
    assert_eq!(bed.names(""), vec!["files".to_string(), "out.conf".into()]);

    // backup keeps the replaced bytes beside the file
    let backed = bed
        .run(
            "copy",
            json!({"content": "a=3\n", "dest": dest, "backup": true}),
        )
        .await;
    let backup = backed.values["backup_file"].as_str().unwrap().to_string();
    assert_eq!(
        (read(&dest), read(&backup)),
        ("a=3\n".to_string(), "a=1\n".to_string())
    );
    assert_eq!(mode(&dest), 0o640);
}

#[tokio::test]
async fn copy_src_file_and_directories() {
    let bed = Bed::new("copysrc").await;
    std::fs::create_dir_all(bed.dir.join("files/tree/sub")).unwrap();
    std::fs::write(bed.dir.join("files/one.txt"), "one\n").unwrap();
    std::fs::write(bed.dir.join("files/tree/a"), "A").unwrap();
    std::fs::write(bed.dir.join("files/tree/sub/b"), "B").unwrap();

    let out = bed.path("out");
    bed.converge("copy", json!({"src": "one.txt", "dest": format!("{out}/")}))
        .await;
    assert_eq!(read(&format!("{out}/one.txt")), "one\n");

    bed.converge("copy", json!({"src": "tree", "dest": out}))
        .await;
    assert_eq!(read(&format!("{out}/tree/a")), "A");
    assert_eq!(read(&format!("{out}/tree/sub/b")), "B");

    let flat = bed.path("flat");
    bed.converge("copy", json!({"src": "tree/", "dest": flat}))
        .await;
    assert_eq!(bed.names("flat"), vec!["a".to_string(), "sub".into()]);

    let missing = bed.run("copy", json!({"src": "nope", "dest": out})).await;
    assert_eq!(
        missing.msg.as_deref(),
        Some("Could not find or access 'nope' on the controller")
    );
    let typo = bed.run("copy", json!({"content": "x", "dst": out})).await;
    assert_eq!(
        typo.msg.as_deref(),
        Some("unknown parameter 'dst' for module 'copy'; did you mean 'dest'?")
    );
}

#[tokio::test]
async fn template_renders_with_scope() {
    let bed = Bed::new("template").await;
    std::fs::write(bed.dir.join("files/motd.j2"), "{{ greeting }} world\n").unwrap();
    let dest = bed.path("motd");
    bed.converge(
        "template",
        json!({"src": "motd.j2", "dest": dest, "mode": "0644"}),
    )
    .await;
    assert_eq!(read(&dest), "hello world\n");
    assert_eq!(mode(&dest), 0o644);
}

#[tokio::test]
async fn file_states() {
    let bed = Bed::new("file").await;
    let d = bed.path("a/b");
    bed.converge(
        "file",
        json!({"path": d, "state": "directory", "mode": "0750"}),
    )
    .await;
    assert_eq!(mode(&d), 0o750);

    let t = bed.path("a/b/t");
    let touched = bed
        .run("file", json!({"path": t, "state": "touch", "mode": "0600"}))
        .await;
    assert_eq!(
        (touched.changed, mode(&t), read(&t).as_str()),
        (true, 0o600, "")
    );

    bed.converge(
        "file",
        json!({"path": bed.path("a"), "state": "directory", "recurse": true, "mode": "0700"}),
    )
    .await;
    assert_eq!((mode(&d), mode(&t)), (0o700, 0o700));

    let l = bed.path("link");
    bed.converge("file", json!({"dest": l, "state": "link", "src": t}))
        .await;
    assert_eq!(std::fs::read_link(&l).unwrap(), PathBuf::from(&t));

    let h = bed.path("hard");
    bed.converge("file", json!({"name": h, "state": "hard", "src": t}))
        .await;
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&h).unwrap().ino(),
        std::fs::metadata(&t).unwrap().ino()
    );

    let refused = bed
        .run("file", json!({"path": h, "state": "link", "src": t}))
        .await;
    assert_eq!(
        refused.msg.as_deref(),
        Some(format!("refusing to convert from file to symlink for {h}").as_str())
    );

    let checked = bed
        .run_with(
            "file",
            json!({"path": bed.path("a"), "state": "absent"}),
            true,
        )
        .await;
    assert_eq!((checked.changed, Path::new(&d).exists()), (true, true));
    bed.converge("file", json!({"path": bed.path("a"), "state": "absent"}))
        .await;
    assert!(!Path::new(&d).exists());
}

#[tokio::test]
async fn lineinfile_edits() {
    let bed = Bed::new("lineinfile").await;
    let f = bed.path("sshd_config");
    std::fs::write(&f, "# comment\nPort 22\nPermitRootLogin yes\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();

    let out = bed
        .converge(
            "lineinfile",
            json!({"path": f, "regexp": "^Port ", "line": "Port 2222"}),
        )
        .await;
    assert_eq!(out.msg.as_deref(), Some("line replaced"));
    assert_eq!(read(&f), "# comment\nPort 2222\nPermitRootLogin yes\n");
    assert_eq!(mode(&f), 0o640);

    let checked = bed
        .run_with("lineinfile", json!({"dest": f, "line": "UseDNS no"}), true)
        .await;
    assert_eq!((checked.changed, checked.diffs.len()), (true, 1));
    assert_eq!(read(&f), "# comment\nPort 2222\nPermitRootLogin yes\n");

    bed.converge(
        "lineinfile",
        json!({"dest": f, "line": "UseDNS no", "insertbefore": "BOF"}),
    )
    .await;
    bed.converge(
        "lineinfile",
        json!({"path": f, "regexp": "^PermitRootLogin", "state": "absent"}),
    )
    .await;
    assert_eq!(read(&f), "UseDNS no\n# comment\nPort 2222\n");

    let n = bed.path("new/conf");
    let missing = bed.run("lineinfile", json!({"path": n, "line": "x"})).await;
    assert_eq!(
        missing.msg.as_deref(),
        Some(format!("Destination {n} does not exist !").as_str())
    );
    bed.converge(
        "lineinfile",
        json!({"path": n, "line": "x", "create": "yes", "mode": "0600"}),
    )
    .await;
    assert_eq!((read(&n).as_str(), mode(&n)), ("x\n", 0o600));
}

fn me() -> String {
    std::process::Command::new("id")
        .arg("-un")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap()
}

#[tokio::test]
async fn authorized_key_by_blob() {
    let bed = Bed::new("akey").await;
    let keys = bed.path("ssh/authorized_keys");
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 alice@example";
    let args = json!({"user": me(), "key": key, "path": keys});
    bed.converge("authorized_key", args).await;
    assert_eq!(read(&keys), format!("{key}\n"));
    assert_eq!((mode(&keys), mode(&bed.path("ssh"))), (0o600, 0o700));

    // a new comment does not make it another key
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 renamed";
    let out = bed
        .run(
            "authorized_key",
            json!({"user": me(), "key": other, "path": keys}),
        )
        .await;
    assert_eq!((out.changed, read(&keys)), (true, format!("{other}\n")));

    bed.converge(
        "authorized_key",
        json!({"user": me(), "key": key, "path": keys, "state": "absent"}),
    )
    .await;
    assert_eq!(read(&keys), "");

    let nobody = bed
        .run(
            "authorized_key",
            json!({"user": "no-such-user-x", "key": key}),
        )
        .await;
    assert_eq!(
        nobody.msg.as_deref(),
        Some("user no-such-user-x does not exist")
    );
}

#[tokio::test]
async fn slurp_and_stat() {
    let bed = Bed::new("slurp").await;
    let f = bed.path("data");
    std::fs::write(&f, "hi\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o604)).unwrap();

    let s = bed.run("slurp", json!({"src": f})).await;
    assert_eq!(
        Value::Object(s.values),
        json!({"content": "aGkK", "encoding": "base64", "source": f})
    );
    let gone = bed.run("slurp", json!({"src": bed.path("nope")})).await;
    assert_eq!(
        gone.msg,
        Some(format!("file not found: {}", bed.path("nope")))
    );

    let st = bed.run("stat", json!({"path": f})).await;
    let stat = &st.values["stat"];
    assert_eq!(
        (
            &stat["exists"],
            &stat["mode"],
            &stat["isreg"],
            &stat["size"],
            &stat["checksum"]
        ),
        (
            &json!(true),
            &json!("0604"),
            &json!(true),
            &json!(3),
            &json!("55ca6286e3e4f4fba5d0448333fa99fc5a404a73")
        )
    );
    assert!(!st.changed);
    let none = bed.run("stat", json!({"path": bed.path("nope")})).await;
    assert_eq!(none.values["stat"], json!({"exists": false}));
}

#[tokio::test]
async fn openssh_keypair_generates_once() {
    let bed = Bed::new("keypair").await;
    let path = bed.path("keys/id_ed25519");
    let args = json!({"path": path, "type": "ed25519", "comment": "deploy@test"});
    let first = bed.converge("openssh_keypair", args.clone()).await;
    assert_eq!(mode(&bed.path("keys")), 0o700);
    assert_eq!(mode(&path), 0o600);
    let public = read(&format!("{path}.pub"));
    let type_blob: Vec<&str> = public.split_whitespace().take(2).collect();
    assert_eq!(first.values["public_key"], json!(type_blob.join(" ")));
    assert_eq!(first.values["comment"], json!("deploy@test"));
    assert_eq!(first.values["size"], json!(256));

    // a lost public half comes back from the private key, the same key
    std::fs::remove_file(format!("{path}.pub")).unwrap();
    let restored = bed.run("openssh_keypair", args.clone()).await;
    assert!(restored.changed);
    assert_eq!(restored.values["public_key"], first.values["public_key"]);

    bed.converge("openssh_keypair", json!({"path": path, "state": "absent"}))
        .await;
    assert!(!Path::new(&path).exists());
}
