//! The streaming behind `docker_image_copy` (issue 7, "nothing hangs"): `transfer` pipes one
//! command's stdout into another's stdin through the controller, with commands that used to
//! make it wait forever. On `connection: local` (pipes) always; over SSH against two lab hosts
//! with MESTRAL_LAB=1, where one undrained channel stops a whole russh session.

use std::process::Command;
use std::time::{Duration, Instant};

use mestral::connection::{ConnectSpec, Session};
use mestral::modules::docker_image_copy::{transfer, Side, Transfer};

/// Runs one transfer under a watchdog: a hang fails the test instead of stalling the suite.
async fn run(
    source: (&str, &Session, &str),
    target: (&str, &Session, &str),
    stall: u64,
) -> (Transfer, Duration) {
    let source = Side {
        name: source.0,
        session: source.1,
        command: source.2.to_string(),
    };
    let target = Side {
        name: target.0,
        session: target.1,
        command: target.2.to_string(),
    };
    let started = Instant::now();
    let moved = transfer(&source, &target, None, Duration::from_secs(stall));
    let moved = tokio::time::timeout(Duration::from_secs(120), moved)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} -> {}: still waiting after 120 s",
                source.command, target.command
            )
        })
        .expect("transfer");
    (moved, started.elapsed())
}

async fn local() -> Session {
    Session::connect(&ConnectSpec {
        name: "local".into(),
        address: "localhost".into(),
        connection: "local".into(),
        ..Default::default()
    })
    .await
    .expect("a local session")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// 30 MB through a target that prints 5 MB on stderr before it reads its stdin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_target_that_talks_before_it_reads() {
    let (src, dst) = (local().await, local().await);
    let (moved, _) = run(
        ("src", &src, "head -c 30000000 /dev/zero"),
        ("dst", &dst, "yes | head -c 5000000 >&2; wc -c"),
        60,
    )
    .await;
    assert_eq!(moved.bytes, 30_000_000);
    assert_eq!(moved.broken, None);
    assert_eq!(
        (moved.source_end.rc, text(&moved.source_end.stderr)),
        (0, String::new())
    );
    assert_eq!(moved.target_end.rc, 0);
    assert_eq!(moved.target_end.stderr.len(), 5_000_000);
}

/// A source that sends 3 bytes, then nothing while it lives: stopped after the stall limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_source_that_stalls() {
    let (src, dst) = (local().await, local().await);
    let (moved, took) = run(
        ("src", &src, "printf abc; exec sleep 600"),
        ("dst", &dst, "wc -c >&2"),
        2,
    )
    .await;
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(moved.bytes, 3);
    assert_eq!(
        moved.broken.as_deref(),
        Some("no data from src for 2 s after 3 bytes (its command was sent SIGTERM)")
    );
    assert_eq!(
        (moved.source_end.rc, text(&moved.source_end.stderr)),
        (143, "killed by signal TERM\n".to_string())
    );
    assert_eq!(
        (moved.target_end.rc, text(&moved.target_end.stderr)),
        (0, "3\n".into())
    );
}

// ---- over SSH, against two lab hosts ----

const A: (&str, &str) = ("q12-a", "172.30.8.234");
const B: (&str, &str) = ("q12-b", "172.30.8.235");

fn lab(script: &str, args: &[&str]) {
    let status = Command::new("bash")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LAB_DOCKER", "0")
        .arg(format!("lab/{script}"))
        .args(args)
        .status()
        .expect("lab script runs");
    assert!(status.success(), "lab/{script} {args:?}");
}

/// The two hosts, up for the test and down after it.
struct Hosts;

impl Hosts {
    fn up() -> Hosts {
        lab("down.sh", &[A.0, B.0]);
        let (a, b) = (format!("{}={}", A.0, A.1), format!("{}={}", B.0, B.1));
        lab("up.sh", &[&a, &b]);
        Hosts
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["lab/down.sh", A.0, B.0])
            .status();
    }
}

async fn ssh((name, address): (&str, &str)) -> Session {
    Session::connect(&ConnectSpec {
        name: name.into(),
        address: address.into(),
        user: Some("root".into()),
        private_key: Some("/var/lib/mestral-lab/id_ed25519".into()),
        connection: "ssh".into(),
        timeout_secs: 3,
        host_key_checking: "strict".into(),
        known_hosts: Some("/var/lib/mestral-lab/known_hosts".into()),
        ..Default::default()
    })
    .await
    .expect("a lab session")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_transfers_that_used_to_hang() {
    if std::env::var_os("MESTRAL_LAB").is_none() {
        println!("skipped: MESTRAL_LAB is not set (run scripts/test.sh as root)");
        return;
    }
    let _hosts = Hosts::up();
    let (a, b) = (ssh(A).await, ssh(B).await);

    // One line on stderr after 20 MB: by then the loader's window adjustments fill its
    // channel's queue, and the line stopped the whole session (no more window for the writer).
    let (moved, _) = run(
        (A.0, &a, "head -c 60000000 /dev/zero"),
        (B.0, &b, "head -c 20000000 >/dev/null; echo mid >&2; wc -c"),
        30,
    )
    .await;
    assert_eq!((moved.bytes, moved.broken), (60_000_000, None));
    assert_eq!((moved.source_end.rc, moved.target_end.rc), (0, 0));
    assert_eq!(text(&moved.target_end.stderr), "mid\n");

    // A loader that prints 5 MB on stderr before it reads.
    let (moved, _) = run(
        (A.0, &a, "head -c 30000000 /dev/zero"),
        (B.0, &b, "yes | head -c 5000000 >&2; wc -c >&2"),
        30,
    )
    .await;
    assert_eq!((moved.bytes, moved.broken), (30_000_000, None));
    assert_eq!((moved.source_end.rc, moved.target_end.rc), (0, 0));
    let said = moved.target_end.stderr;
    assert_eq!(said.len(), 5_000_000 + "30000000\n".len());
    assert_eq!(text(&said[said.len() - 11..]), "y\n30000000\n");

    // A source that exits while a process it left behind holds its output open.
    let (moved, took) = run(
        (A.0, &a, "printf abc; sleep 60 & exit 3"),
        (B.0, &b, "wc -c >&2"),
        30,
    )
    .await;
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!((moved.bytes, moved.broken), (3, None));
    assert_eq!(
        (moved.source_end.rc, text(&moved.source_end.stderr)),
        (
            3,
            "(the command exited, but its output was still open 5 s later: not waiting for \
             it)\n"
                .to_string()
        )
    );
    assert_eq!(
        (moved.target_end.rc, text(&moved.target_end.stderr)),
        (0, "3\n".into())
    );

    // A source that stays alive and silent: stopped after the stall limit.
    let (moved, took) = run(
        (A.0, &a, "printf abc; exec sleep 600"),
        (B.0, &b, "wc -c >&2"),
        3,
    )
    .await;
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(
        (moved.bytes, moved.broken.as_deref()),
        (
            3,
            Some("no data from q12-a for 3 s after 3 bytes (its command was sent SIGTERM)")
        )
    );
    assert_eq!(
        (moved.source_end.rc, text(&moved.source_end.stderr)),
        (143, "killed by signal TERM\n".to_string())
    );
    assert_eq!(
        (moved.target_end.rc, text(&moved.target_end.stderr)),
        (0, "3\n".into())
    );
}
