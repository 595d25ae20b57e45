//! Helpers of tests/ssh_trust_lab.rs: the lab hosts of one test (brought up without Docker,
//! taken down at the end), runs of the binary with the test's own HOME, a tmux screen for
//! prompts, an ssh-agent, and readers of the report (recap lines, failure messages).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[path = "../common/tmux.rs"]
mod tmux;
pub use tmux::Screen;

pub const JUMP: &str = "j7-jump";
pub const JUMP_ADDR: &str = "172.30.8.215";
pub const A: &str = "j7-a";
const A_ADDR: &str = "172.30.8.216";
pub const B: &str = "j7-b";
const B_ADDR: &str = "172.30.8.217";
pub const C: &str = "j7-c";
pub const C_ADDR: &str = "172.30.8.218";
pub const D: &str = "j7-d";
pub const D_ADDR: &str = "172.30.8.219";

/// The tests share host names, so they run one at a time.
static HOSTS: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn lab_enabled() -> bool {
    if std::env::var_os("MESTRAL_LAB").is_none() {
        println!("skipped: MESTRAL_LAB is not set (run scripts/test.sh as root)");
        return false;
    }
    true
}

pub fn tmux_present() -> bool {
    let found = Command::new("tmux").arg("-V").output().is_ok();
    if !found {
        println!("skipped: tmux is not installed");
    }
    found
}

fn lab_script(script: &str, args: &[&str]) -> String {
    let out = Command::new("bash")
        .current_dir(repo())
        .arg(format!("lab/{script}"))
        .args(args)
        .env("LAB_DOCKER", "0")
        .stderr(Stdio::inherit())
        .output()
        .expect("lab script runs");
    assert!(out.status.success(), "lab/{script} {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn address(name: &str) -> &'static str {
    match name {
        JUMP => JUMP_ADDR,
        A => A_ADDR,
        B => B_ADDR,
        C => C_ADDR,
        D => D_ADDR,
        other => panic!("no address for {other}"),
    }
}

/// Runs a command inside a lab host, without SSH: exit code and trimmed stdout.
pub fn on_host(host: &str, cmd: &str) -> (i32, String) {
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

/// `ssh-ed25519 BASE64` of a lab host's persistent key.
pub fn host_key(name: &str) -> String {
    let path = format!("/var/lib/mestral-lab/hostkeys/{name}/ssh_host_ed25519_key.pub");
    let text = std::fs::read_to_string(&path).expect("lab host key");
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The known_hosts line mestral records for a host at `addr`.
pub fn known_line(name: &str, addr: &str) -> String {
    format!("{addr} {}\n", host_key(name))
}

/// A recap line for a host that was reached.
pub fn recap(host: &str, ok: u32, changed: u32) -> String {
    format!(
        "{host:<27}: ok={ok:<5}changed={changed:<5}unreachable=0    failed=0    skipped=0    \
         rescued=0    ignored=0   "
    )
}

pub fn unreachable_recap(host: &str) -> String {
    format!(
        "{host:<27}: ok=0    changed=0    unreachable=1    failed=0    skipped=0    \
         rescued=0    ignored=0   "
    )
}

/// The recap lines on a tmux screen, then the `EXIT=` line.
pub fn screen_recap(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("j7-") || l.starts_with("EXIT="))
        .map(|l| l.to_string())
        .collect()
}

/// One finished run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        println!("{}", run.stdout);
        eprintln!("{}", run.stderr);
        run
    }

    /// The PLAY RECAP lines, in order.
    pub fn recap(&self) -> Vec<String> {
        let Some((_, tail)) = self.stdout.split_once("PLAY RECAP") else {
            return Vec::new();
        };
        tail.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect()
    }

    /// The first stdout line starting with `prefix`.
    pub fn line_starting(&self, prefix: &str) -> String {
        self.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_default()
            .to_string()
    }

    /// `[host] msg` for each block of the FAILURES summary (on stderr), sorted.
    pub fn failure_msgs(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut host = String::new();
        for line in self.stderr.lines() {
            if let Some(rest) = line
                .strip_prefix("UNREACHABLE: ")
                .or_else(|| line.strip_prefix("FAILED: "))
            {
                host = rest.split(' ').next().unwrap_or_default().to_string();
            } else if let Some(msg) = line.strip_prefix("    msg: ") {
                found.push(format!("{host} {msg}"));
            }
        }
        found.sort();
        found
    }
}

/// The hosts of one test and its directory (HOME is `home/` inside it).
pub struct Lab {
    dir: PathBuf,
    names: Vec<&'static str>,
    _lock: std::sync::MutexGuard<'static, ()>,
}

impl Lab {
    /// Fresh hosts (without Docker) and an empty directory with `home/.ssh`.
    pub fn up(test: &str, names: &[&'static str]) -> Lab {
        let lock = HOSTS.lock().unwrap_or_else(|e| e.into_inner());
        lab_script("down.sh", names);
        let claims: Vec<String> = names
            .iter()
            .map(|n| format!("{n}={}", address(n)))
            .collect();
        let claims: Vec<&str> = claims.iter().map(String::as_str).collect();
        lab_script("up.sh", &claims);
        let dir = std::env::temp_dir().join(format!("mestral-trust-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home/.ssh")).expect("temp dir");
        Lab {
            dir,
            names: names.to_vec(),
            _lock: lock,
        }
    }

    /// Puts `name` behind `jump` (lab/hide.sh); returns its hidden address.
    pub fn hide(&self, name: &str, jump: &str) -> String {
        lab_script("hide.sh", &[name, jump]).trim().to_string()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Writes a file of the test directory and returns its path.
    pub fn file(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.join(rel);
        std::fs::write(&path, text).expect("test file");
        path
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).expect("test file")
    }

    pub fn inventory(&self, text: &str) {
        self.file("inv.ini", text);
    }

    /// A new key pair in the test directory (empty passphrase: unencrypted).
    pub fn keygen(&self, name: &str, passphrase: &str) -> PathBuf {
        let path = self.dir.join(name);
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-C", name, "-N", passphrase, "-f"])
            .arg(&path)
            .status()
            .expect("ssh-keygen runs");
        assert!(status.success());
        path
    }

    /// Restarts a host's sshd, so that it reads its changed configuration.
    pub fn restart_sshd(&self, name: &str) {
        lab_script("sshd.sh", &[name, "stop"]);
        lab_script("sshd.sh", &[name, "start"]);
    }

    /// How many logins a host's sshd has accepted so far.
    pub fn accepted_logins(&self, name: &str) -> usize {
        let (_, log) = on_host(name, "cat /var/log/sshd.log");
        log.lines()
            .filter(|l| l.contains("Accepted publickey"))
            .count()
    }

    fn command(&self, playbook: &Path, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mestral"));
        cmd.current_dir(&self.dir)
            .env("HOME", self.dir.join("home"))
            .env_remove("SSH_AUTH_SOCK")
            .arg("-i")
            .arg(self.dir.join("inv.ini"))
            .arg(playbook)
            .args(["--color", "never", "--no-progress"])
            .args(extra);
        cmd
    }

    pub fn run(&self, playbook: &Path, extra: &[&str]) -> Run {
        self.run_env(playbook, extra, &[])
    }

    pub fn run_env(&self, playbook: &Path, extra: &[&str], env: &[(&str, &OsStr)]) -> Run {
        let mut cmd = self.command(playbook, extra);
        cmd.envs(env.iter().copied()).stdin(Stdio::null());
        Run::from(cmd.output().expect("mestral runs"))
    }

    /// A run whose stdin stays open and silent until it ends (a prompt would hang it).
    pub fn run_with_open_stdin(&self, playbook: &Path, extra: &[&str]) -> Run {
        let child = self
            .command(playbook, extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mestral starts");
        Run::from(child.wait_with_output().expect("mestral ends"))
    }

    /// The binary in a tmux session on a terminal, `flag` added to its arguments.
    pub fn screen(&self, name: &str, playbook: &Path, flag: &str) -> Screen {
        let line = format!(
            "env -u SSH_AUTH_SOCK HOME={home} {bin} -i {inv} {pb} --color never \
             --no-progress {flag}",
            home = self.dir.join("home").display(),
            bin = env!("CARGO_BIN_EXE_mestral"),
            inv = self.dir.join("inv.ini").display(),
            pb = playbook.display(),
        );
        Screen::start(&format!("trust-{name}"), &self.dir, &line, (200, 50))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .current_dir(repo())
            .arg("lab/down.sh")
            .args(&self.names)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An ssh-agent started for one test, holding one key; stopped when dropped.
pub struct Agent {
    pub socket: PathBuf,
    child: Child,
}

impl Agent {
    /// Starts `ssh-agent -D` on a socket of the test directory and adds `key`, its
    /// passphrase given through SSH_ASKPASS.
    pub fn start(lab: &Lab, key: &Path, passphrase: &str) -> Agent {
        let socket = lab.path("agent.sock");
        let child = Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&socket)
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent starts");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent made no socket");
            std::thread::sleep(Duration::from_millis(50));
        }
        let askpass = lab.file("askpass.sh", &format!("#!/bin/sh\necho '{passphrase}'\n"));
        let status = Command::new("chmod").arg("0755").arg(&askpass).status();
        assert!(status.expect("chmod runs").success());
        let status = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &socket)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null())
            .status()
            .expect("ssh-add runs");
        assert!(status.success(), "ssh-add failed");
        Agent { socket, child }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
