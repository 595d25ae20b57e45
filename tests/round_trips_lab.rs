//! Round trips of `group` and `user` against a real lab host (they change accounts, so not
//! on the controller): each task's commands (SSH channels) counted, with its whole result,
//! in check mode, on the first run and on the converged run (changed=0), and the programs it
//! started on the host, listed: every account tool the scripts call is found through `PATH`,
//! where a shim logs its command line before running the real one. The accounts are checked
//! on the host afterwards. The host is brought up fresh and taken down at the end.
//!
//! Needs the lab (as root) and MESTRAL_LAB=1; scripts/test.sh does both.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;
use mestral::connection::{ConnectSpec, Session};
use mestral::modules::{self, ModuleCtx, SessionLookup};
use mestral::template::Templar;
use mestral::vars::{Scope, Value};
use serde_json::json;

const HOST: &str = "u20b";
const ADDR: &str = "172.30.8.244";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lab_script(script: &str, args: &[&str]) {
    let status = Command::new("bash")
        .current_dir(repo())
        .arg(format!("lab/{script}"))
        .args(args)
        .status()
        .expect("lab script runs");
    assert!(status.success(), "lab/{script} {args:?} failed");
}

/// The host, fresh, taken down when the test ends, passed or not.
struct Lab;

impl Lab {
    fn up() -> Lab {
        lab_script("down.sh", &[HOST]);
        std::env::set_var("LAB_DOCKER", "0");
        lab_script("up.sh", &[&format!("{HOST}={ADDR}")]);
        Lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .current_dir(repo())
            .args(["lab/down.sh", HOST])
            .status();
    }
}

struct NoHosts;

impl SessionLookup for NoHosts {
    fn session<'a>(
        &'a self,
        host: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Session>> + Send + 'a>> {
        Box::pin(async move { anyhow::bail!("no session to {host} in this test") })
    }
}

struct Host {
    /// The modules' session: the shims first in `PATH`.
    session: Session,
    /// For the test's own look at the host, past the shims.
    plain: Session,
    templar: Templar,
    scope: Scope,
}

/// Commands started, changed, failed, the result's values, programs started on the host.
type Step = (u64, bool, bool, Value, Vec<String>);

/// The programs the shims log; everything else the scripts use is a shell builtin.
const SHIMMED: &str = "getent cut id useradd usermod userdel groupadd groupmod groupdel";

impl Host {
    async fn connect() -> Host {
        let spec = ConnectSpec {
            name: HOST.into(),
            address: ADDR.into(),
            user: Some("root".into()),
            private_key: Some("/var/lib/mestral-lab/id_ed25519".into()),
            connection: "ssh".into(),
            timeout_secs: 10,
            host_key_checking: "strict".into(),
            known_hosts: Some("/var/lib/mestral-lab/known_hosts".into()),
            ..ConnectSpec::default()
        };
        let session = Session::connect(&spec).await.expect("lab host reachable");
        let shims = format!(
            "mkdir -p /root/shims && for p in {SHIMMED}; do r=$(command -v $p) || exit 1; \
             printf '#!/bin/sh\\necho \"%s $*\" >> /root/shims.log\\nexec %s \"$@\"\\n' \
             $p $r > /root/shims/$p && chmod 755 /root/shims/$p || exit 1; done"
        );
        let made = session.exec(&shims, None, None).await.expect("shims");
        assert_eq!(made.rc, 0, "{}", made.stderr_text());
        let path = "/root/shims:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        Host {
            session: session.with_env(vec![("PATH".into(), path.into())]),
            plain: session,
            templar: Templar::new(),
            scope: Scope::local(serde_json::Map::new()),
        }
    }

    async fn step(&self, module: &str, args: Value, check: bool) -> Step {
        let ctx = ModuleCtx {
            host: HOST,
            session: &self.session,
            escalation: None,
            check,
            diff: false,
            templar: &self.templar,
            scope: &self.scope,
            search_paths: &[],
            sessions: &NoHosts,
            verbosity: 0,
            loop_pass: None,
        };
        let before = self.session.commands_started();
        let out = modules::run(module, &args, &ctx)
            .await
            .expect("module runs");
        let n = self.session.commands_started() - before;
        let log = self
            .sh("cat /root/shims.log 2>/dev/null; rm -f /root/shims.log")
            .await;
        let programs = log.lines().map(str::to_string).collect();
        (
            n,
            out.changed,
            out.failed,
            Value::Object(out.values),
            programs,
        )
    }

    /// A shell command's stdout on the host, not counted in any step.
    async fn sh(&self, command: &str) -> String {
        let out = self.plain.exec(command, None, None).await.expect("runs");
        out.stdout_text().trim_end().to_string()
    }

    /// `getent passwd NAME` as the user module reports it (uid, group, comment, home, shell).
    async fn account(&self, name: &str) -> Value {
        let line = self.sh(&format!("getent passwd {name}")).await;
        let f: Vec<&str> = line.split(':').collect();
        assert_eq!(f.len(), 7, "{line}");
        let num = |s: &str| s.parse::<u32>().expect("a number");
        json!({"name": name, "state": "present", "uid": num(f[2]), "group": num(f[3]),
               "comment": f[4], "home": f[5], "shell": f[6]})
    }
}

fn with(mut v: Value, extra: Value) -> Value {
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

fn lab_enabled() -> bool {
    if std::env::var_os("MESTRAL_LAB").is_none() {
        println!("skipped: MESTRAL_LAB is not set (run scripts/test.sh as root)");
        return false;
    }
    true
}

fn progs(list: &[&str]) -> Vec<String> {
    list.iter().map(|p| p.to_string()).collect()
}

#[tokio::test]
async fn accounts_take_one_channel_each() {
    if !lab_enabled() {
        return;
    }
    let _lab = Lab::up();
    let host = Host::connect().await;
    let mut got: Vec<(&str, Step)> = Vec::new();
    let mut want: Vec<(&str, Step)> = Vec::new();

    // group: the bench's system group
    let calx = json!({"name": "calx", "system": true});
    got.push(("group check", host.step("group", calx.clone(), true).await));
    let unknown = json!({"name": "calx", "state": "present", "gid": null, "system": true});
    want.push((
        "group check",
        (1, true, false, unknown, progs(&["getent group calx"])),
    ));
    got.push(("group first", host.step("group", calx.clone(), false).await));
    got.push(("group again", host.step("group", calx.clone(), false).await));
    let gid: u32 = host
        .sh("getent group calx | cut -d: -f3")
        .await
        .parse()
        .unwrap();
    assert!(gid < 1000, "system gid {gid}");
    let calx_group = json!({"name": "calx", "state": "present", "gid": gid, "system": true});
    let made = progs(&["getent group calx", "groupadd -r calx", "getent group calx"]);
    want.push(("group first", (1, true, false, calx_group.clone(), made)));
    let read = progs(&["getent group calx"]);
    want.push(("group again", (1, false, false, calx_group, read)));

    // group with a gid, then moved to another gid (groupmod)
    let read = "getent group m6g";
    for (label, g, changed, change) in [
        ("gid first", 3100, true, Some("groupadd -g 3100 m6g")),
        ("gid again", 3100, false, None),
        ("gid moved", 3101, true, Some("groupmod -g 3101 m6g")),
        ("gid moved again", 3101, false, None),
    ] {
        let args = json!({"name": "m6g", "gid": g});
        got.push((label, host.step("group", args, false).await));
        let values = json!({"name": "m6g", "state": "present", "gid": g, "system": false});
        let ran = match change {
            Some(change) => progs(&[read, change, read]),
            None => progs(&[read]),
        };
        want.push((label, (1, changed, false, values, ran)));
    }
    let moved = json!({"name": "m6g", "gid": 3102});
    let kept = json!({"name": "m6g", "state": "present", "gid": 3101, "system": false});
    got.push(("gid check", host.step("group", moved, true).await));
    want.push(("gid check", (1, true, false, kept, progs(&[read]))));

    // user: the bench's system user
    let args = json!({"name": "calx", "group": "calx", "system": true,
                      "shell": "/usr/sbin/nologin", "create_home": false});
    let check = host.step("user", args.clone(), true).await;
    got.push(("user check", check));
    let unknown = json!({"name": "calx", "state": "present", "uid": null, "group": null,
                         "comment": "", "home": "", "shell": "/usr/sbin/nologin",
                         "system": true, "create_home": false});
    let looked = progs(&["getent passwd calx", "getent group calx"]);
    want.push(("user check", (1, true, false, unknown, looked)));
    got.push(("user first", host.step("user", args.clone(), false).await));
    got.push(("user again", host.step("user", args.clone(), false).await));
    let acct = host.account("calx").await;
    assert_eq!(acct["group"], json!(gid));
    let created = json!({"system": true, "create_home": false});
    let kept = json!({"append": false, "move_home": false});
    let made = progs(&[
        "getent passwd calx",
        "getent group calx",
        "useradd -g calx -s /usr/sbin/nologin -r -M calx",
        "getent passwd calx",
    ]);
    want.push((
        "user first",
        (1, true, false, with(acct.clone(), created), made),
    ));
    let read = vec![
        "getent passwd calx".to_string(),
        format!("getent group {gid}"),
    ];
    want.push((
        "user again",
        (1, false, false, with(acct, kept.clone()), read),
    ));

    // user with supplementary groups and a comment; then its shell changed (usermod: two)
    let args = json!({"name": "m6u", "group": "m6g", "groups": ["lab"], "comment": "M6 U",
                      "shell": "/bin/sh"});
    got.push(("groups first", host.step("user", args.clone(), false).await));
    got.push(("groups again", host.step("user", args.clone(), false).await));
    let acct = host.account("m6u").await;
    let created = json!({"system": false, "create_home": true});
    let made = progs(&[
        "getent passwd m6u",
        "getent group m6g",
        "useradd -g m6g -G lab -c M6 U -s /bin/sh -m m6u",
        "getent passwd m6u",
    ]);
    let read = ["getent passwd m6u", "id -Gn m6u"];
    let modify = |usermod: &str| progs(&[read[0], read[1], usermod, "getent passwd m6u"]);
    want.push((
        "groups first",
        (1, true, false, with(acct.clone(), created), made),
    ));
    let again = (
        1,
        false,
        false,
        with(acct.clone(), kept.clone()),
        progs(&read),
    );
    want.push(("groups again", again));
    let bash = with(args.clone(), json!({"shell": "/bin/bash"}));
    got.push((
        "shell changed",
        host.step("user", bash.clone(), false).await,
    ));
    got.push(("shell again", host.step("user", bash, false).await));
    let acct = with(acct, json!({"shell": "/bin/bash"}));
    let changed = with(acct.clone(), kept.clone());
    let usermod = modify("usermod -s /bin/bash m6u");
    want.push(("shell changed", (2, true, false, changed, usermod)));
    let again = (1, false, false, with(acct, kept.clone()), progs(&read));
    want.push(("shell again", again));
    let more = with(
        args,
        json!({"groups": ["lab", "calx"], "shell": "/bin/bash"}),
    );
    got.push(("groups added", host.step("user", more.clone(), false).await));
    got.push(("groups added again", host.step("user", more, false).await));
    let acct = host.account("m6u").await;
    let changed = with(acct.clone(), kept.clone());
    let usermod = modify("usermod -G lab,calx m6u");
    want.push(("groups added", (2, true, false, changed, usermod)));
    let again = (1, false, false, with(acct, kept.clone()), progs(&read));
    want.push(("groups added again", again));

    // a password hash: compared with the stored one, never shown
    let hash = "$6$m6salt$Q0m6n2k4b8uQJ0r6xJ3c9wW5tZcYzZg0Yb3a1c2d3e4f5g6h7i8j9k0l1m2n3o4p5";
    let other = "$6$other$x";
    let read = ["getent passwd m6p", "getent shadow m6p"];
    let made = [
        "getent passwd m6p",
        "getent group m6p",
        &format!("useradd -p {hash} -M m6p"),
        "getent passwd m6p",
    ]
    .map(str::to_string)
    .to_vec();
    let usermod = [
        read[0],
        read[1],
        &format!("usermod -p {other} m6p"),
        "getent passwd m6p",
    ]
    .map(str::to_string)
    .to_vec();
    for (label, h, n, changed, ran) in [
        ("hash first", hash, 1, true, made),
        ("hash again", hash, 1, false, progs(&read)),
        ("hash changed", other, 2, true, usermod),
        ("hash changed again", other, 1, false, progs(&read)),
    ] {
        let args = json!({"name": "m6p", "password": h, "create_home": false});
        got.push((label, host.step("user", args, false).await));
        let acct = host.account("m6p").await;
        let extra = match changed && n == 1 {
            true => json!({"password": "NOT_LOGGING_PASSWORD", "system": false,
                           "create_home": false}),
            false => json!({"password": "NOT_LOGGING_PASSWORD", "append": false,
                            "move_home": false}),
        };
        want.push((label, (n, changed, false, with(acct, extra), ran)));
    }
    assert_eq!(
        host.sh("getent shadow m6p | cut -d: -f2").await,
        other,
        "the new hash is stored"
    );

    // absent
    let gone = json!({"name": "m6p", "state": "absent"});
    let user_gone = json!({"name": "m6p", "state": "absent", "force": false, "remove": false});
    let rows = [
        (
            "user gone",
            "user",
            gone.clone(),
            true,
            user_gone.clone(),
            progs(&["getent passwd m6p", "userdel m6p"]),
        ),
        (
            "user gone again",
            "user",
            gone,
            false,
            user_gone,
            progs(&["getent passwd m6p"]),
        ),
        (
            "group gone",
            "group",
            json!({"name": "m6x", "state": "absent"}),
            false,
            json!({"name": "m6x", "state": "absent"}),
            progs(&["getent group m6x"]),
        ),
    ];
    for (label, module, args, changed, values, ran) in rows {
        got.push((label, host.step(module, args, false).await));
        want.push((label, (1, changed, false, values, ran)));
    }
    assert_eq!(got, want);
    assert_eq!(host.sh("id -Gn m6u").await, "m6g lab calx");
}
