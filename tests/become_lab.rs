//! become with a password through a real sudo (issue 7): the non-root user `lab` logs in to
//! two lab hosts whose sudo wants its password. The password from the inventory and from
//! `-K` on a terminal, root and non-root targets, a wrong password, and a sudo whose
//! sudoers prints a lecture and overrides the prompt text. The password never shows.
//!
//! Needs the lab (as root) and MESTRAL_LAB=1; scripts/test.sh does both. The hosts (without
//! Docker) are brought up and taken down by each test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[path = "common/tmux.rs"]
mod tmux;
use tmux::Screen;

const A: &str = "s14-a";
const A_ADDR: &str = "172.30.8.228";
const B: &str = "s14-b";
const B_ADDR: &str = "172.30.8.229";
const KEY: &str = "/var/lib/mestral-lab/id_ed25519";

/// lab's password on both hosts: what sudo asks for.
const PASSWORD: &str = "lab-sudo-Pw7q";

/// The tests share the two hosts, so they run one at a time.
static HOSTS: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lab_enabled() -> bool {
    if std::env::var_os("MESTRAL_LAB").is_none() {
        println!("skipped: MESTRAL_LAB is not set (run scripts/test.sh as root)");
        return false;
    }
    true
}

fn tmux_present() -> bool {
    let found = Command::new("tmux").arg("-V").output().is_ok();
    if !found {
        println!("skipped: tmux is not installed");
    }
    found
}

fn lab_script(script: &str, args: &[&str]) {
    let status = Command::new("bash")
        .current_dir(repo())
        .arg(format!("lab/{script}"))
        .args(args)
        .env("LAB_DOCKER", "0")
        .stdout(Stdio::null())
        .status()
        .expect("lab script runs");
    assert!(status.success(), "lab/{script} {args:?} failed");
}

/// Runs a shell command inside a lab host, without SSH: exit code and trimmed stdout.
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

/// A recap line of a host that was reached.
fn recap(host: &str, ok: u32, changed: u32, failed: u32) -> String {
    format!(
        "{host:<27}: ok={ok:<5}changed={changed:<5}unreachable=0    failed={failed:<5}\
         skipped=0    rescued=0    ignored=0   "
    )
}

/// One finished run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    fn from(out: Output, took: Duration) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            took,
        };
        println!("{}", run.stdout);
        eprintln!("{}", run.stderr);
        run
    }

    /// The PLAY RECAP lines, in order.
    fn recap(&self) -> Vec<String> {
        let Some((_, tail)) = self.stdout.split_once("PLAY RECAP") else {
            return Vec::new();
        };
        tail.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect()
    }

    /// The stdout lines starting with `prefix`, in order.
    fn lines_starting(&self, prefix: &str) -> Vec<String> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(String::from)
            .collect()
    }
}

/// The two hosts, lab's password and sudoers rule on each, and a test directory (HOME is
/// `home/` inside it).
struct Lab {
    dir: PathBuf,
    _lock: std::sync::MutexGuard<'static, ()>,
}

impl Lab {
    /// Fresh hosts where lab may run anything through sudo with its password; `sudoers`
    /// is added to lab's rule on host A only.
    fn up(test: &str, sudoers: &str) -> Lab {
        let lock = HOSTS.lock().unwrap_or_else(|e| e.into_inner());
        lab_script("down.sh", &[A, B]);
        lab_script(
            "up.sh",
            &[&format!("{A}={A_ADDR}"), &format!("{B}={B_ADDR}")],
        );
        for (host, extra) in [(A, sudoers), (B, "")] {
            let rule = format!("lab ALL=(ALL:ALL) ALL\n{extra}");
            let (code, _) = on_host(
                host,
                &format!(
                    "echo 'lab:{PASSWORD}' | chpasswd && printf '%s' '{rule}' \
                     >/etc/sudoers.d/lab && chmod 0440 /etc/sudoers.d/lab && visudo -c -q"
                ),
            );
            assert_eq!(code, 0, "sudoers on {host}");
        }
        let dir =
            std::env::temp_dir().join(format!("mestral-become-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home/.ssh")).expect("temp dir");
        Lab { dir, _lock: lock }
    }

    /// Writes a file of the test directory and returns its path.
    fn file(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.join(rel);
        std::fs::write(&path, text).expect("test file");
        path
    }

    /// The inventory: lab on both hosts, `a_vars` and `b_vars` added to each host's line.
    fn inventory(&self, a_vars: &str, b_vars: &str) {
        self.file(
            "inv.ini",
            &format!(
                "{A} ansible_host={A_ADDR} {a_vars}\n{B} ansible_host={B_ADDR} {b_vars}\n\n\
                 [all:vars]\nansible_user=lab\nansible_ssh_private_key_file={KEY}\n"
            ),
        );
    }

    fn args(&self, playbook: &Path) -> Vec<String> {
        vec![
            "-i".into(),
            self.dir.join("inv.ini").display().to_string(),
            playbook.display().to_string(),
            "--color".into(),
            "never".into(),
            "--no-progress".into(),
        ]
    }

    fn run(&self, playbook: &Path, extra: &[&str]) -> Run {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_mestral"))
            .current_dir(&self.dir)
            .env("HOME", self.dir.join("home"))
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("MESTRAL_LOG")
            .args(self.args(playbook))
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("mestral runs");
        Run::from(out, started.elapsed())
    }

    /// The binary in a tmux session on a terminal, `flag` added to its arguments.
    fn screen(&self, name: &str, playbook: &Path, flag: &str) -> Screen {
        let line = format!(
            "env -u SSH_AUTH_SOCK HOME={home} {bin} {args} {flag}",
            home = self.dir.join("home").display(),
            bin = env!("CARGO_BIN_EXE_mestral"),
            args = self.args(playbook).join(" "),
        );
        Screen::start(&format!("become-{name}"), &self.dir, &line, (200, 50))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .current_dir(repo())
            .args(["lab/down.sh", A, B])
            .stdout(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// From outside: lab's sudo on `host` does want a password.
fn assert_sudo_wants_a_password(host: &str) {
    let (code, sudo) = on_host(host, "cd / && su lab -c 'sudo -n true' 2>&1");
    assert_eq!((code, sudo.as_str()), (1, "sudo: a password is required"));
}

const AS_ROOT: &str = r#"- hosts: all
  gather_facts: false
  become: true
  tasks:
    - name: who
      command: id -u
      register: who
      changed_when: false
    - name: uid
      debug: var=who.stdout
    - name: the password, if it were shown
      debug: var=ansible_become_password
    - name: a file only root may read
      copy:
        dest: /root/become.txt
        content: "written through sudo\n"
        owner: root
        mode: "0600"
"#;

#[test]
fn become_with_the_inventory_password_runs_as_root_and_never_shows_it() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("root", "");
    assert_sudo_wants_a_password(A);
    let vars = format!("ansible_become_password={PASSWORD}");
    lab.inventory(&vars, &vars);
    let pb = lab.file("root.yml", AS_ROOT);

    // First run: root's uid, the file written; at -vvv the password shows nowhere.
    let out = lab.run(&pb, &["-vvv"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.recap(), [recap(A, 4, 1, 0), recap(B, 4, 1, 0)]);
    let mut shown = out.lines_starting("    \"who.stdout\"");
    shown.extend(out.lines_starting("    \"ansible_become_password\""));
    assert_eq!(
        shown,
        [
            "    \"who.stdout\": \"0\"",
            "    \"who.stdout\": \"0\"",
            "    \"ansible_become_password\": \"********\"",
            "    \"ansible_become_password\": \"********\"",
        ]
    );
    assert!(!out.stdout.contains(PASSWORD), "password on stdout");
    assert!(!out.stderr.contains(PASSWORD), "password on stderr");
    for host in [A, B] {
        assert_eq!(
            on_host(
                host,
                "stat -c '%U %G %a' /root/become.txt && cat /root/become.txt"
            ),
            (0, "root root 600\nwritten through sudo".into())
        );
    }

    // Second run: nothing to change; the JSON events show the password masked.
    let out = lab.run(&pb, &["--output", "json"]);
    assert_eq!(out.code, 0);
    assert!(!out.stdout.contains(PASSWORD), "password in JSON");
    assert!(!out.stderr.contains(PASSWORD), "password on stderr (JSON)");
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON event"))
        .collect();
    let shown: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "host_result")
        .filter(|e| e["task"] == "uid" || e["task"] == "the password, if it were shown")
        .map(|e| e["result"].to_string())
        .collect();
    let uid = r#"{"who.stdout":"0","changed":false}"#;
    let masked = r#"{"ansible_become_password":"********","changed":false}"#;
    assert_eq!(shown, [uid, uid, masked, masked]);
    let recap = events.last().expect("a recap event");
    for host in [A, B] {
        assert_eq!(
            (
                &recap["hosts"][host]["ok"],
                &recap["hosts"][host]["changed"]
            ),
            (&serde_json::json!(4), &serde_json::json!(0)),
            "{host}"
        );
    }
}

#[test]
fn become_password_typed_at_the_prompt() {
    if !lab_enabled() || !tmux_present() {
        return;
    }
    let lab = Lab::up("ask", "");
    lab.inventory("", "");
    let pb = lab.file("root.yml", AS_ROOT);
    let screen = lab.screen("ask", &pb, "-K");
    screen.wait_for(Duration::from_secs(20), |s| s.contains("BECOME password: "));
    screen.send(PASSWORD);
    let text = screen.wait_for(Duration::from_secs(60), |s| s.contains("EXIT="));
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("s14-") || l.starts_with("EXIT=") || l.starts_with("BECOME"))
        .collect();
    let want = [
        "BECOME password: ".to_string(),
        recap(A, 4, 1, 0),
        recap(B, 4, 1, 0),
        "EXIT=0".to_string(),
    ];
    assert_eq!(lines, want);
    assert!(!text.contains(PASSWORD), "the typed password is not echoed");
    assert_eq!(
        on_host(A, "stat -c '%U %a' /root/become.txt"),
        (0, "root 600".into())
    );
}

const WHO: &str = r#"- hosts: all
  gather_facts: false
  become: true
  tasks:
    - name: who
      command: whoami
      register: who
      changed_when: false
    - name: name
      debug: var=who.stdout
"#;

#[test]
fn a_wrong_become_password_fails_fast_and_says_so() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("wrong", "");
    lab.inventory(
        "ansible_become_password=not-the-password",
        &format!("ansible_become_password={PASSWORD}"),
    );
    let pb = lab.file("who.yml", WHO);
    let out = lab.run(&pb, &[]);
    assert!(out.took < Duration::from_secs(10), "{:?}", out.took);
    assert_eq!(out.code, 2);
    assert_eq!(out.recap(), [recap(A, 0, 0, 1), recap(B, 2, 0, 0)]);
    assert_eq!(
        out.lines_starting("fatal: "),
        [format!(
            "fatal: [{A}]: FAILED! => {{\"changed\": false, \"msg\": \"Incorrect sudo \
             password: sudo on {A} refused the become password (-K or ansible_become_password)\"}}"
        )]
    );
    assert_eq!(
        out.lines_starting("    \""),
        ["    \"who.stdout\": \"root\""]
    );
    assert!(!out.stdout.contains("not-the-password"));
    assert!(!out.stderr.contains("not-the-password"));
}

#[test]
fn become_user_other_than_root_with_a_password() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("nobody", "");
    let vars = format!("ansible_become_password={PASSWORD}");
    lab.inventory(&vars, &vars);
    let pb = lab.file(
        "who.yml",
        &WHO.replace("become: true\n", "become: true\n  become_user: nobody\n"),
    );
    let out = lab.run(&pb, &[]);
    assert_eq!(out.code, 0);
    assert_eq!(out.recap(), [recap(A, 2, 0, 0), recap(B, 2, 0, 0)]);
    assert_eq!(
        out.lines_starting("    \""),
        ["    \"who.stdout\": \"nobody\""; 2]
    );
}

#[test]
fn a_lecture_and_a_custom_prompt_do_not_get_in_the_way() {
    if !lab_enabled() {
        return;
    }
    // A: the lecture on every sudo, the prompt text forced by sudoers, insults on a refusal.
    let lab = Lab::up(
        "lecture",
        "Defaults:lab lecture=always, passprompt_override, passprompt=\"Passwort bitte: \"\n",
    );
    assert_sudo_wants_a_password(A);
    let vars = format!("ansible_become_password={PASSWORD}");
    lab.inventory(&vars, &vars);
    let pb = lab.file(
        "streams.yml",
        r#"- hosts: all
  gather_facts: false
  become: true
  tasks:
    - name: both streams
      shell: id -un; echo to-stderr >&2
      register: streams
      changed_when: false
    - name: streams
      debug: msg="{{ streams.stdout }}|{{ streams.stderr }}"
"#,
    );
    for _ in 0..2 {
        let out = lab.run(&pb, &[]);
        assert!(out.took < Duration::from_secs(20), "{:?}", out.took);
        assert_eq!(out.code, 0);
        assert_eq!(out.recap(), [recap(A, 2, 0, 0), recap(B, 2, 0, 0)]);
        assert_eq!(
            out.lines_starting("    \"msg\""),
            ["    \"msg\": \"root|to-stderr\""; 2]
        );
    }

    // The lecture really is printed by this sudo, before its prompt.
    let (_, lecture) = on_host(
        A,
        &format!("cd / && echo {PASSWORD} | su lab -c 'sudo -S true' 2>&1"),
    );
    let want = "\nWe trust you have received the usual lecture from the local System\n\
                Administrator. It usually boils down to these three things:\n\n    \
                #1) Respect the privacy of others.\n    #2) Think before you type.\n    \
                #3) With great power comes great responsibility.\n\nFor security reasons, \
                the password you type will not be visible.\n\nPasswort bitte:";
    assert_eq!(lecture, want, "(trailing space trimmed)");
}
