//! The four swarm playbooks against lab hosts of this test's own (so it never disturbs the
//! hosts other tests use): bootstrap, scale, update, teardown, then bootstrap again; each
//! run verified from outside the tool, and each second run changes nothing.
//!
//! Needs the lab tools (as root) and MESTRAL_LAB=1; scripts/test.sh sets it.

use std::path::{Path, PathBuf};
use std::process::Command;

const MANAGER: &str = "lc-calxitu";
const WORKER: &str = "lc-calxitu2";
const UP: [&str; 2] = ["lc-calxitu=172.30.8.232", "lc-calxitu2=172.30.8.233"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lab(script: &str, args: &[&str]) {
    let status = Command::new("bash")
        .current_dir(repo())
        .arg(format!("lab/{script}"))
        .args(args)
        .status()
        .expect("lab script runs");
    assert!(status.success(), "lab/{script} {args:?}");
}

/// A command inside a lab host, without SSH: its trimmed stdout.
fn on_host(host: &str, cmd: &str) -> String {
    let out = Command::new("bash")
        .current_dir(repo())
        .args(["lab/exec.sh", host, "sh", "-c", cmd])
        .output()
        .expect("lab/exec.sh runs");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Runs a playbook; returns the `changed=` count of each host from the recap.
fn play(inventory: &Path, playbook: &str, extra: &[&str]) -> Vec<(String, u32)> {
    let out = Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(repo())
        .args(["--color", "never", "-i"])
        .arg(inventory)
        .arg(playbook)
        .args(extra)
        .output()
        .expect("mestral runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{playbook} {extra:?}");
    let recap = text.split("PLAY RECAP").nth(1).expect("a recap");
    recap
        .lines()
        .filter(|l| l.contains(" : ok="))
        .map(|l| {
            let host = l.split_whitespace().next().unwrap_or_default().to_string();
            let changed = l
                .split("changed=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .expect("changed count");
            (host, changed)
        })
        .collect()
}

/// Runs a playbook twice: the first run changes something, the second nothing.
fn converges(inventory: &Path, playbook: &str, extra: &[&str]) {
    let first = play(inventory, playbook, extra);
    assert!(first.iter().any(|(_, c)| *c > 0), "{playbook}: {first:?}");
    let second = play(inventory, playbook, extra);
    assert!(
        second.iter().all(|(_, c)| *c == 0),
        "{playbook} again: {second:?}"
    );
}

fn replicas() -> String {
    on_host(
        MANAGER,
        "docker service ls --format '{{.Name}} {{.Replicas}}'",
    )
}

fn image_id(host: &str) -> String {
    on_host(
        host,
        "docker image inspect --format '{{.Id}}' mestral-app:latest",
    )
}

#[test]
fn bootstrap_scale_update_teardown_bootstrap() {
    if std::env::var_os("MESTRAL_LAB").is_none() {
        println!("skipped: MESTRAL_LAB is not set");
        return;
    }
    lab("down.sh", &[MANAGER, WORKER]);
    lab("up.sh", &UP);
    let dir = std::env::temp_dir().join(format!("mestral-lifecycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inventory = dir.join("inv.ini");
    std::fs::write(
        &inventory,
        format!(
            "[managers]\n{MANAGER} ansible_host=172.30.8.232\n\n[workers]\n\
             {WORKER} ansible_host=172.30.8.233\n\n[swarm:children]\nmanagers\nworkers\n\n\
             [swarm:vars]\nansible_user=root\n\
             ansible_ssh_private_key_file=/var/lib/mestral-lab/id_ed25519\n\
             swarm_publish_mode=host\n"
        ),
    )
    .unwrap();
    let nodes = || {
        on_host(
            MANAGER,
            "docker node ls --format '{{.Hostname}} {{.Status}}' | sort",
        )
    };
    let swarm_state = |h: &str| on_host(h, "docker info --format '{{.Swarm.LocalNodeState}}'");

    converges(&inventory, "playbooks/swarm.yml", &[]);
    assert_eq!(nodes(), format!("{MANAGER} Ready\n{WORKER} Ready"));
    assert_eq!(replicas(), "mestral-app 2/2 (max 1 per node)");

    converges(&inventory, "playbooks/scale.yml", &["-e", "app_replicas=1"]);
    assert_eq!(replicas(), "mestral-app 1/1 (max 1 per node)");
    converges(&inventory, "playbooks/scale.yml", &["-e", "app_replicas=2"]);
    assert_eq!(replicas(), "mestral-app 2/2 (max 1 per node)");

    // A changed build context: a new image on both nodes, served by both replicas.
    let context = dir.join("app");
    let copied = Command::new("cp")
        .args(["-a", "app"])
        .arg(&context)
        .current_dir(repo())
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::write(context.join("www/version.txt"), "two\n").unwrap();
    let before = image_id(MANAGER);
    let arg = format!("app_build_context={}", context.display());
    converges(&inventory, "playbooks/update.yml", &["-e", &arg]);
    let after = image_id(MANAGER);
    assert_ne!(after, before);
    assert_eq!(image_id(WORKER), after);
    assert_eq!(replicas(), "mestral-app 2/2 (max 1 per node)");
    for host in [MANAGER, WORKER] {
        let page = on_host(host, "wget -qO- http://127.0.0.1:3001/version.txt");
        assert_eq!(page, "two", "{host}");
    }

    converges(&inventory, "playbooks/teardown.yml", &[]);
    assert_eq!(swarm_state(MANAGER), "inactive");
    assert_eq!(swarm_state(WORKER), "inactive");

    converges(&inventory, "playbooks/swarm.yml", &[]);
    assert_eq!(nodes(), format!("{MANAGER} Ready\n{WORKER} Ready"));
    assert_eq!(replicas(), "mestral-app 2/2 (max 1 per node)");

    let _ = std::fs::remove_dir_all(&dir);
    lab("down.sh", &[MANAGER, WORKER]);
}
