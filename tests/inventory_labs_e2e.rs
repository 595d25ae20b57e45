//! Two lab groups of inventory/labs.yml at once: the real binary runs playbooks/swarm.yml on
//! lab01 and lab02 (four lab hosts) and must give two separate swarms, each with its own
//! manager and token, then converge on a second run. Checked from outside the tool.
//!
//! Needs root and MESTRAL_LAB=1 (scripts/test.sh). The test brings its own hosts up at the
//! addresses labs.yml computes and takes only those down again.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The hosts of lab01 and lab02 with the addresses inventory/labs.yml gives them.
const HOSTS: &[(&str, &str)] = &[
    ("lab01-calxitu", "172.30.8.201"),
    ("lab01-calxitu2", "172.30.8.202"),
    ("lab02-calxitu", "172.30.8.203"),
    ("lab02-calxitu2", "172.30.8.204"),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lab(script: &str, args: &[String]) {
    let status = Command::new("bash")
        .current_dir(repo())
        .arg(format!("lab/{script}"))
        .args(args)
        .status()
        .expect("lab script runs");
    assert!(status.success(), "lab/{script} {args:?} failed");
}

/// Takes this test's hosts down when the test ends, however it ends.
struct Hosts;

impl Hosts {
    fn up() -> Hosts {
        let _ = Command::new("bash")
            .current_dir(repo())
            .arg("lab/down.sh")
            .args(HOSTS.iter().map(|(n, _)| *n))
            .status();
        let args: Vec<String> = HOSTS.iter().map(|(n, a)| format!("{n}={a}")).collect();
        lab("up.sh", &args);
        Hosts
    }
}

impl Drop for Hosts {
    /// Tries twice: a teardown racing another lab script can fail once.
    fn drop(&mut self) {
        let down = || {
            Command::new("bash")
                .current_dir(repo())
                .arg("lab/down.sh")
                .args(HOSTS.iter().map(|(n, _)| *n))
                .status()
                .is_ok_and(|s| s.success())
        };
        if !down() && !down() {
            panic!("lab/down.sh {HOSTS:?} failed twice");
        }
    }
}

fn mestral() -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(repo())
        .args(["-i", "inventory/labs.yml", "playbooks/swarm.yml"])
        .args(["--limit", "lab01:lab02", "--color", "never"])
        .output()
        .expect("mestral runs");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Runs a command inside a lab host, without SSH; its trimmed output.
fn on_host(host: &str, cmd: &str) -> String {
    let out = Command::new("bash")
        .current_dir(repo())
        .args(["lab/exec.sh", host, "sh", "-c", cmd])
        .output()
        .expect("lab/exec.sh runs");
    assert!(out.status.success(), "{host}: {cmd} failed");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// `changed=N` of each host's recap line, in HOSTS order.
fn changed_counts(text: &str) -> Vec<u32> {
    let recap = text.split("PLAY RECAP").nth(1).expect("a PLAY RECAP");
    HOSTS
        .iter()
        .map(|(host, _)| {
            let line = recap
                .lines()
                .find(|l| l.split_whitespace().next() == Some(host))
                .unwrap_or_else(|| panic!("no recap line for {host}"));
            let field = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("changed="))
                .expect("a changed= field");
            field.parse().expect("a number")
        })
        .collect()
}

#[test]
fn two_lab_groups_two_swarms() {
    if std::env::var_os("MESTRAL_LAB").is_none() {
        println!("skipped: MESTRAL_LAB is not set (scripts/test.sh runs it as root)");
        return;
    }
    let _hosts = Hosts::up();

    let first = mestral();
    assert_eq!(first.status.code(), Some(0));
    let first_text = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(changed_counts(&first_text).iter().all(|&n| n > 0));

    // Each manager leads its own swarm of its own two nodes.
    let mut clusters = Vec::new();
    let mut tokens = Vec::new();
    for lab in ["lab01", "lab02"] {
        let manager = format!("{lab}-calxitu");
        let nodes = on_host(
            &manager,
            "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' | sort",
        );
        assert_eq!(
            nodes,
            format!("{lab}-calxitu Ready Leader\n{lab}-calxitu2 Ready")
        );
        let services = on_host(
            &manager,
            "docker service ls --format '{{.Name}} {{.Replicas}}'",
        );
        assert_eq!(services, "mestral-app 2/2 (max 1 per node)");
        clusters.push(on_host(
            &manager,
            "docker info --format '{{.Swarm.Cluster.ID}}'",
        ));
        tokens.push(on_host(&manager, "docker swarm join-token -q worker"));
    }
    assert_ne!(clusters[0], clusters[1]);
    assert_ne!(tokens[0], tokens[1]);
    let cases = [
        ("lab01-calxitu2", "172.30.8.201:2377"),
        ("lab02-calxitu2", "172.30.8.203:2377"),
    ];
    for (worker, manager) in cases {
        let managers = on_host(
            worker,
            "docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}}{{end}}'",
        );
        assert_eq!(managers, manager, "{worker}");
    }

    let second = mestral();
    assert_eq!(second.status.code(), Some(0));
    let second_text = String::from_utf8_lossy(&second.stdout).into_owned();
    assert_eq!(changed_counts(&second_text), [0, 0, 0, 0]);
}
