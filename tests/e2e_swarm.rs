//! The main job end to end: the real binary runs playbooks/swarm.yml over real SSH against
//! the lab's real sshd and dockerd hosts, and the result is checked from outside the tool.
//!
//! Needs the lab (`lab/up.sh`, as root) and MESTRAL_LAB=1; scripts/test.sh does both.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lab_enabled() -> bool {
    if std::env::var_os("MESTRAL_LAB").is_none() {
        println!(
            "skipped: MESTRAL_LAB is not set (run scripts/test.sh as root to bring the lab up)"
        );
        return false;
    }
    true
}

/// Runs mestral with the lab inventory and the swarm playbook plus `extra` flags.
fn mestral(extra: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(repo())
        .args([
            "-i",
            "inventory/lab.ini",
            "playbooks/swarm.yml",
            "--color",
            "never",
        ])
        .args(extra)
        .output()
        .expect("mestral runs");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Runs a command inside a lab host, without SSH.
fn on_host(host: &str, cmd: &str) -> (i32, String) {
    let out = Command::new("bash")
        .current_dir(repo())
        .args(["lab/exec.sh", host, "sh", "-c", cmd])
        .output()
        .expect("lab/exec.sh runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
    )
}

fn lab(script: &str, args: &[&str]) {
    let status = Command::new("bash")
        .current_dir(repo())
        .arg(format!("lab/{script}"))
        .args(args)
        .status()
        .expect("lab script runs");
    assert!(status.success(), "lab/{script} {args:?} failed");
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The recap line of one host, as printed.
fn recap_line(text: &str, host: &str) -> String {
    let recap = text.split("PLAY RECAP").nth(1).expect("a PLAY RECAP");
    recap
        .lines()
        .find(|l| l.split_whitespace().next() == Some(host))
        .unwrap_or_else(|| panic!("no recap line for {host}"))
        .to_string()
}

fn recap_field(text: &str, host: &str, field: &str) -> u32 {
    let line = recap_line(text, host);
    let prefix = format!("{field}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {line:?}"))
}

/// Every host result line of a run: `ok: [calxitu]`, `changed: [calxitu2] => (item=...)`.
fn result_words(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            l.split(": [")
                .next()
                .filter(|w| !w.contains(' '))
                .map(str::to_string)
        })
        .filter(|w| ["ok", "changed", "skipping", "fatal", "failed"].contains(&w.as_str()))
        .collect()
}

#[test]
fn swarm_bootstrap_end_to_end() {
    if !lab_enabled() {
        return;
    }
    // Fresh hosts: no keys, no swarm, no image.
    lab("down.sh", &["calxitu", "calxitu2"]);
    lab("up.sh", &["calxitu", "calxitu2"]);
    let hosts_before = on_host("calxitu2", "cat /etc/hosts").1;

    // --check reports changes and changes nothing.
    let check = mestral(&["--check"]);
    assert_eq!(check.status.code(), Some(0), "check run exit code");
    let text = stdout(&check);
    assert!(recap_field(&text, "calxitu", "changed") > 0);
    assert!(recap_field(&text, "calxitu2", "changed") > 0);
    assert_eq!(recap_field(&text, "calxitu", "failed"), 0);
    assert_eq!(
        on_host("calxitu", "test -e /root/.ssh/id_ed25519").0,
        1,
        "no key made"
    );
    assert_eq!(
        on_host("calxitu2", "cat /etc/hosts").1,
        hosts_before,
        "/etc/hosts untouched"
    );
    assert_eq!(
        on_host(
            "calxitu",
            "docker info --format '{{.Swarm.LocalNodeState}}'"
        )
        .1,
        "inactive",
        "no swarm made in check mode"
    );
    assert_eq!(
        on_host("calxitu", "docker image ls -q mestral-app").1,
        "",
        "no image built"
    );

    // The real run.
    let first = mestral(&[]);
    assert_eq!(first.status.code(), Some(0), "first run exit code");
    let text = stdout(&first);
    for host in ["calxitu", "calxitu2"] {
        assert_eq!(recap_field(&text, host, "failed"), 0);
        assert_eq!(recap_field(&text, host, "unreachable"), 0);
        assert!(recap_field(&text, host, "changed") > 0);
    }

    // Checked from outside the tool.
    let nodes = on_host(
        "calxitu",
        "docker node ls --format '{{.Hostname}} {{.Status}}' | sort",
    )
    .1;
    assert_eq!(nodes, "calxitu Ready\ncalxitu2 Ready");
    let image_m = on_host(
        "calxitu",
        "docker image inspect -f '{{.Id}}' mestral-app:latest",
    )
    .1;
    let image_w = on_host(
        "calxitu2",
        "docker image inspect -f '{{.Id}}' mestral-app:latest",
    )
    .1;
    assert!(image_m.starts_with("sha256:"), "{image_m}");
    assert_eq!(image_m, image_w, "the worker holds the manager's image");
    let replicas = on_host(
        "calxitu",
        "docker service ls --filter name=mestral-app --format '{{.Name}} {{.Replicas}}'",
    )
    .1;
    assert_eq!(replicas, "mestral-app 2/2 (max 1 per node)");
    for addr in ["172.30.8.250", "172.30.8.249"] {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5", &format!("http://{addr}:3001/")])
            .output()
            .expect("curl runs");
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "HTTP on {addr}:3001");
        assert!(body.contains("mestral reference app"), "{addr}: {body}");
    }
    for host in ["calxitu", "calxitu2"] {
        let hosts = on_host(host, "grep -E 'calxitu2?$' /etc/hosts | sort").1;
        assert_eq!(
            hosts, "172.30.8.249\tcalxitu2\n172.30.8.250\tcalxitu",
            "{host}"
        );
    }
    // The host's own 127.0.1.1 line was replaced in place, the other host appended.
    let want = format!(
        "{}\n172.30.8.250\tcalxitu",
        hosts_before.replace("127.0.1.1\tcalxitu2", "172.30.8.249\tcalxitu2")
    );
    assert_eq!(on_host("calxitu2", "cat /etc/hosts").1, want);
    let login = on_host(
        "calxitu",
        "ssh -i /root/.ssh/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null root@172.30.8.249 hostname 2>/dev/null",
    );
    assert_eq!(
        login,
        (0, "calxitu2".to_string()),
        "calxitu's key logs in to calxitu2"
    );

    // The second run converges: nothing changes, every task ok or skipped.
    let second = mestral(&[]);
    assert_eq!(second.status.code(), Some(0), "second run exit code");
    let text = stdout(&second);
    for host in ["calxitu", "calxitu2"] {
        assert_eq!(
            recap_field(&text, host, "changed"),
            0,
            "{host} changed on the second run"
        );
        assert_eq!(recap_field(&text, host, "failed"), 0);
    }
    let words = result_words(&text);
    assert!(!words.is_empty());
    assert!(
        words.iter().all(|w| w == "ok" || w == "skipping"),
        "{words:?}"
    );

    // A host that is down is unreachable; the other goes on.
    lab("sshd.sh", &["calxitu2", "stop"]);
    let down = mestral(&[]);
    lab("sshd.sh", &["calxitu2", "start"]);
    let text = stdout(&down);
    assert_eq!(
        down.status.code(),
        Some(4),
        "exit code with an unreachable host"
    );
    assert_eq!(recap_field(&text, "calxitu2", "unreachable"), 1);
    assert_eq!(recap_field(&text, "calxitu", "failed"), 0);
    assert_eq!(recap_field(&text, "calxitu", "changed"), 0);
    assert!(recap_field(&text, "calxitu", "ok") > 0);
}
