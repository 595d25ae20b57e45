//! The connection layer against a real OpenSSH server on 127.0.0.1, started by each test
//! with its own host and client keys under /tmp/mestral-conn-test/: exec results, stdin,
//! concurrent channels, streaming, known_hosts handling and the unreachable errors.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use mestral::connection::{Become, ConnectSpec, Session, Unreachable};

const SSHD: &str = "/usr/sbin/sshd";

/// A test's folder, with a fake HOME (no ~/.ssh/config, no default keys) inside it.
struct Lab {
    dir: PathBuf,
    /// Tests with an sshd run one at a time: root's login shell here starts pyenv, whose
    /// messages on stderr would otherwise depend on what runs alongside.
    _serial: std::sync::MutexGuard<'static, ()>,
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Lab {
    fn new(name: &str) -> Option<Lab> {
        if !Path::new(SSHD).exists() {
            println!("skipped: {SSHD} is not installed");
            return None;
        }
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        isolate_env();
        let dir = PathBuf::from(format!(
            "/tmp/mestral-conn-test/{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            dir,
            _serial: serial,
        };
        for key in ["host_a", "host_b", "client", "wrong"] {
            lab.keygen(key, "");
        }
        std::fs::copy(lab.path("client.pub"), lab.path("authorized_keys")).unwrap();
        Some(lab)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn keygen(&self, name: &str, passphrase: &str) {
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", "", "-f"])
            .arg(self.path(name))
            .status()
            .unwrap();
        assert!(status.success(), "ssh-keygen {name}");
    }

    /// `algorithm base64` of a public key file.
    fn public(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.path(&format!("{name}.pub"))).unwrap();
        let fields: Vec<&str> = text.split_whitespace().collect();
        format!("{} {}", fields[0], fields[1])
    }

    fn spec(&self, port: u16, key: &str) -> ConnectSpec {
        ConnectSpec {
            name: "loop".into(),
            address: "127.0.0.1".into(),
            port: Some(port),
            user: Some("root".into()),
            private_key: Some(self.path(key)),
            connection: "ssh".into(),
            timeout_secs: 5,
            host_key_checking: "accept-new".into(),
            known_hosts: Some(self.path("known_hosts")),
            password: None,
            ssh_args: None,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A stand-in for sudo (this machine has none): it prompts with `-p` on stderr, reads the
/// password `good` from stdin (three tries), and refuses at once under `-n`.
const FAKE_SUDO: &str = r#"#!/bin/sh
while :; do
    case "$1" in
        -H|-S) shift ;;
        -n) nopass=1; shift ;;
        -p) prompt=$2; shift 2 ;;
        -u) user=$2; shift 2 ;;
        *) break ;;
    esac
done
if [ -n "$nopass" ]; then echo "sudo: a password is required" >&2; exit 1; fi
if [ "$user" = otp ]; then
    printf 'Verification code: ' >&2
    IFS= read -r code
    echo "sudo: no verification code" >&2
    exit 1
fi
tries=0
while :; do
    printf '%s' "$prompt" >&2
    IFS= read -r pw || exit 1
    [ "$pw" = good ] && break
    tries=$((tries + 1))
    echo "Sorry, try again." >&2
    [ $tries -ge 3 ] && { echo "sudo: 3 incorrect password attempts" >&2; exit 1; }
done
exec "$@"
"#;

/// No agent and a HOME without `.ssh`, so the methods tried are exactly the test's; the fake
/// sudo first on PATH.
fn isolate_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        remove_stale_homes();
        let home = PathBuf::from(format!(
            "/tmp/mestral-conn-test/{}-home",
            std::process::id()
        ));
        std::fs::create_dir_all(home.join("bin")).unwrap();
        let sudo = home.join("bin/sudo");
        std::fs::write(&sudo, FAKE_SUDO).unwrap();
        std::fs::set_permissions(&sudo, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let path = std::env::var("PATH").unwrap_or_default();
        std::env::set_var("PATH", format!("{}:{path}", home.join("bin").display()));
        std::env::set_var("HOME", &home);
        std::env::remove_var("SSH_AUTH_SOCK");
        std::env::remove_var("USER");
        std::env::set_var("LOGNAME", "root");
    });
}

/// The fake HOMEs of earlier test runs whose process is gone (a HOME is shared by all the
/// tests of one run, so no single test can remove its own).
fn remove_stale_homes() {
    let Ok(entries) = std::fs::read_dir("/tmp/mestral-conn-test") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_suffix("-home") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// A loopback sshd, killed when dropped.
struct Sshd {
    child: Child,
    port: u16,
}

impl Sshd {
    fn start(lab: &Lab, host_key: &str, port: u16) -> Sshd {
        // sshd refuses to start without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f", "/dev/null", "-p", &port.to_string()])
            .args(["-o", "ListenAddress=127.0.0.1", "-o", "PidFile=none"])
            .args(["-o", "StrictModes=no", "-o", "UsePAM=no"])
            .args([
                "-o",
                "PasswordAuthentication=no",
                "-o",
                "KbdInteractiveAuthentication=no",
            ])
            .arg("-o")
            .arg(format!(
                "AuthorizedKeysFile={}",
                lab.path("authorized_keys").display()
            ))
            .arg("-h")
            .arg(lab.path(host_key))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let sshd = Sshd { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Per-connection children first, while the listener is alive to reap them (orphans
        // would be left as zombies under an init that does not reap).
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status();
        std::thread::sleep(Duration::from_millis(100));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn unreachable_message(err: &anyhow::Error) -> String {
    match err.downcast_ref::<Unreachable>() {
        Some(u) => u.0.clone(),
        None => panic!("not Unreachable: {err:#}"),
    }
}

/// Peak resident memory of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_over_one_session() {
    let Some(lab) = Lab::new("exec") else { return };
    let sshd = Sshd::start(&lab, "host_a", free_port());
    let session = Session::connect(&lab.spec(sshd.port, "client"))
        .await
        .unwrap();
    assert_eq!(session.user(), "root");

    // rc, stdout and stderr exactly; the command runs under /bin/sh whatever the login shell.
    let out = session
        .exec("echo out; echo err >&2; printf 'a b'; exit 3", None, None)
        .await
        .unwrap();
    assert_eq!(
        (out.rc, out.stdout_text(), out.stderr_text()),
        (3, "out\na b".into(), "err\n".into())
    );

    // stdin is passed, and without stdin the command sees end of file at once.
    let out = session
        .exec("tr a-z A-Z", Some(b"hello\n"), None)
        .await
        .unwrap();
    assert_eq!((out.rc, out.stdout_text()), (0, "HELLO\n".into()));
    let out = session.exec("wc -c", None, None).await.unwrap();
    assert_eq!(out.stdout_text().trim(), "0");

    // Output that arrives after the exit status is still collected (read until close).
    let out = session
        .exec("(sleep 0.3; echo late) & exit 0", None, None)
        .await
        .unwrap();
    assert_eq!((out.rc, out.stdout_text()), (0, "late\n".into()));

    // A signal ends the command: 128 + its number, and its name in stderr.
    let out = session.exec("kill -TERM $$", None, None).await.unwrap();
    assert_eq!(
        (out.rc, out.stderr_text()),
        (143, "killed by signal TERM\n".into())
    );

    // Becoming the session's own user runs the command directly (no sudo on this host).
    let root = Become {
        user: "root".into(),
        password: None,
    };
    let out = session.exec("id -un", None, Some(&root)).await.unwrap();
    assert_eq!((out.rc, out.stdout_text()), (0, "root\n".into()));

    // Twenty commands at once on one session, each on its own channel.
    let runs = (0..20).map(|i| {
        let session = session.clone();
        tokio::spawn(async move {
            let cmd = format!("sleep 0.2; echo {i}");
            session.exec(&cmd, None, None).await.unwrap()
        })
    });
    let outputs = futures::future::join_all(runs).await;
    for (i, out) in outputs.into_iter().enumerate() {
        // Only stdout is compared: the login shell's rc files on this machine (pyenv) may
        // complain on stderr when many shells start at once.
        let out = out.unwrap();
        assert_eq!((out.rc, out.stdout_text()), (0, format!("{i}\n")));
    }

    // 50 MB out of the host through a stream, with memory staying bounded.
    let before = peak_rss();
    let mut stream = session
        .open("head -c 50000000 /dev/zero; echo done >&2", None)
        .await
        .unwrap();
    let mut total = 0usize;
    while let Some(chunk) = stream.read().await.unwrap() {
        assert!(chunk.iter().all(|&b| b == 0));
        total += chunk.len();
    }
    let end = stream.finish().await.unwrap();
    assert_eq!(
        (total, end.rc, end.stderr_text()),
        (50_000_000, 0, "done\n".into())
    );
    let growth = peak_rss().saturating_sub(before);
    assert!(
        growth < 30 * 1024 * 1024,
        "peak memory grew by {growth} bytes"
    );

    // 10 MB into the host through a stream's stdin.
    let mut stream = session.open("wc -c", None).await.unwrap();
    let chunk = vec![7u8; 100_000];
    for _ in 0..100 {
        stream.write(&chunk).await.unwrap();
    }
    stream.close_stdin().await.unwrap();
    let mut stdout = Vec::new();
    while let Some(part) = stream.read().await.unwrap() {
        stdout.extend_from_slice(&part);
    }
    assert_eq!(String::from_utf8(stdout).unwrap().trim(), "10000000");
    assert_eq!(stream.finish().await.unwrap().rc, 0);

    // A command that exits without reading a large stdin ends the exec, not a hang.
    let big = vec![b'x'; 10_000_000];
    let run = session.exec("exit 0", Some(&big), None);
    let out = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((out.rc, out.stdout_text()), (0, "".into()));

    // The session dying under a running command is reported as unreachable. $PPID is the
    // sshd process serving this connection.
    let err = session
        .exec("kill -KILL $PPID; sleep 5", None, None)
        .await
        .unwrap_err();
    assert_eq!(
        unreachable_message(&err),
        format!(
            "session to root@127.0.0.1:{} closed while a command ran",
            sshd.port
        )
    );
    let err = session.exec("true", None, None).await.unwrap_err();
    assert_eq!(
        unreachable_message(&err),
        format!("session to root@127.0.0.1:{} is closed", sshd.port)
    );
    drop(sshd);
}

#[tokio::test]
async fn known_hosts_are_learnt_then_enforced() {
    let Some(lab) = Lab::new("kh") else { return };
    let port = free_port();
    let known_hosts = lab.path("known_hosts");
    let spec = lab.spec(port, "client");
    let sshd = Sshd::start(&lab, "host_a", port);

    // Strict refuses a host it does not know, and records nothing.
    let strict = ConnectSpec {
        host_key_checking: "strict".into(),
        ..spec.clone()
    };
    let err = Session::connect(&strict).await.err().unwrap();
    assert_eq!(
        unreachable_message(&err),
        format!(
            "host key for [127.0.0.1]:{port} is not in known_hosts ({}, \
             /etc/ssh/ssh_known_hosts) and host key checking is strict",
            known_hosts.display()
        )
    );
    assert!(!known_hosts.exists());

    // First connection records the key, the second finds it.
    let first = Session::connect(&spec).await.unwrap();
    first.close().await;
    let recorded = format!("[127.0.0.1]:{port} {}\n", lab.public("host_a"));
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), recorded);
    let second = Session::connect(&strict).await.unwrap();
    assert_eq!(
        second
            .exec("echo ok", None, None)
            .await
            .unwrap()
            .stdout_text(),
        "ok\n"
    );
    second.close().await;
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), recorded);

    // The same address answering with another host key is refused.
    drop(sshd);
    let _sshd = Sshd::start(&lab, "host_b", port);
    let err = Session::connect(&spec).await.err().unwrap();
    assert_eq!(
        unreachable_message(&err),
        format!(
            "host key for [127.0.0.1]:{port} has changed (known_hosts {kh}:1); if this is \
             expected remove the line with: ssh-keygen -f {kh} -R '[127.0.0.1]:{port}'",
            kh = known_hosts.display()
        )
    );

    // Even with checking off a changed key is refused (issue 7), and the file is left alone.
    let off = ConnectSpec {
        host_key_checking: "off".into(),
        ..spec.clone()
    };
    let err = Session::connect(&off).await.err().unwrap();
    assert_eq!(
        unreachable_message(&err).split(';').next(),
        Some(
            format!(
                "host key for [127.0.0.1]:{port} has changed (known_hosts {}:1)",
                known_hosts.display()
            )
            .as_str()
        )
    );
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), recorded);
}

#[tokio::test]
async fn unreachable_hosts_say_why() {
    let Some(lab) = Lab::new("auth") else { return };
    let sshd = Sshd::start(&lab, "host_a", free_port());
    let port = sshd.port;

    // A key the server does not accept: every method tried is listed.
    let err = Session::connect(&lab.spec(port, "wrong"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        unreachable_message(&err),
        format!(
            "authentication failed for root@127.0.0.1:{port}: tried key {} (refused), \
             agent (SSH_AUTH_SOCK not set), key ~/.ssh/id_ed25519 (not found), \
             key ~/.ssh/id_ecdsa (not found), key ~/.ssh/id_rsa (not found)",
            lab.path("wrong").display()
        )
    );

    // An encrypted key is not guessed at: the message says to use the agent.
    lab.keygen("locked", "secret words");
    let err = Session::connect(&lab.spec(port, "locked"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        unreachable_message(&err),
        format!(
            "authentication failed for root@127.0.0.1:{port}: tried key {} (encrypted: load \
             it into ssh-agent with ssh-add), agent (SSH_AUTH_SOCK not set), key ~/.ssh/id_ed25519 (not found), \
             key ~/.ssh/id_ecdsa (not found), key ~/.ssh/id_rsa (not found)",
            lab.path("locked").display()
        )
    );

    // A closed port is refused at once.
    drop(sshd);
    let started = Instant::now();
    let err = Session::connect(&lab.spec(port, "client"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        unreachable_message(&err),
        format!("cannot connect to 127.0.0.1:{port}: Connection refused (os error 111)")
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // A server that accepts but never speaks SSH runs into the handshake timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let spec = ConnectSpec {
        timeout_secs: 1,
        ..lab.spec(silent_port, "client")
    };
    let started = Instant::now();
    let err = Session::connect(&spec).await.err().unwrap();
    assert_eq!(
        unreachable_message(&err),
        format!("timed out after 1s in the SSH handshake with 127.0.0.1:{silent_port}")
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn local_sessions_behave_like_ssh_ones() {
    isolate_env();
    let spec = ConnectSpec {
        name: "localhost".into(),
        address: "localhost".into(),
        connection: "local".into(),
        ..Default::default()
    };
    let session = Session::connect(&spec).await.unwrap();
    let out = session
        .exec("echo out; echo err >&2; cat; exit 4", Some(b"in\n"), None)
        .await
        .unwrap();
    assert_eq!(
        (out.rc, out.stdout_text(), out.stderr_text()),
        (4, "out\nin\n".into(), "err\n".into())
    );
    let out = session.exec("kill -TERM $$", None, None).await.unwrap();
    assert_eq!(
        (out.rc, out.stderr_text()),
        (143, "killed by signal TERM\n".into())
    );

    let mut stream = session
        .open("head -c 3000000 /dev/zero", None)
        .await
        .unwrap();
    let mut total = 0;
    while let Some(chunk) = stream.read().await.unwrap() {
        total += chunk.len();
    }
    assert_eq!((total, stream.finish().await.unwrap().rc), (3_000_000, 0));
}

#[tokio::test]
async fn sudo_password_is_sent_only_when_asked() {
    isolate_env();
    let spec = ConnectSpec {
        name: "localhost".into(),
        address: "localhost".into(),
        connection: "local".into(),
        ..Default::default()
    };
    let session = Session::connect(&spec).await.unwrap();
    assert_eq!(session.user(), "root");
    let as_nobody = |password: Option<&str>| Become {
        user: "nobody".into(),
        password: password.map(String::from),
    };

    let out = session
        .exec("id -un", None, Some(&as_nobody(None)))
        .await
        .unwrap();
    assert_eq!(
        (out.rc, out.stdout_text(), out.stderr_text()),
        (
            1,
            "".into(),
            "sudo on localhost needs a password: run with -K / --ask-become-pass\n".into()
        )
    );

    // The password goes to sudo, the task's stdin to the command; no prompt in stderr.
    let good = as_nobody(Some("good"));
    let out = session
        .exec("cat; echo e >&2", Some(b"data\n"), Some(&good))
        .await
        .unwrap();
    assert_eq!(
        (out.rc, out.stdout_text(), out.stderr_text()),
        (0, "data\n".into(), "e\n".into())
    );

    // A wrong password ends at the second prompt instead of hanging.
    let out = session
        .exec("echo no", None, Some(&as_nobody(Some("bad"))))
        .await
        .unwrap();
    assert_eq!(
        (out.rc, out.stdout_text(), out.stderr_text()),
        (
            1,
            "".into(),
            "Incorrect sudo password: sudo on localhost refused the become password (-K or \
             ansible_become_password)\n"
                .into()
        )
    );

    // A prompt that is not mestral's is not answered: the run stops waiting after a while.
    let otp = Become {
        user: "otp".into(),
        password: Some("good".into()),
    };
    let started = std::time::Instant::now();
    let out = session.exec("echo no", None, Some(&otp)).await.unwrap();
    assert_eq!(
        (out.rc, out.stdout_text(), out.stderr_text()),
        (
            1,
            "".into(),
            "sudo on localhost asked \"Verification code:\" instead of for the password, and \
             mestral can only answer a password prompt\n"
                .into()
        )
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(6),
        "{waited:?}"
    );

    // Streams answer sudo before handing the stream out.
    let mut stream = session.open("echo start; cat", Some(&good)).await.unwrap();
    stream.write(b"abc").await.unwrap();
    stream.close_stdin().await.unwrap();
    let mut stdout = Vec::new();
    while let Some(part) = stream.read().await.unwrap() {
        stdout.extend_from_slice(&part);
    }
    assert_eq!(String::from_utf8(stdout).unwrap(), "start\nabc");
    let end = stream.finish().await.unwrap();
    assert_eq!((end.rc, end.stderr_text()), (0, "".into()));
}
