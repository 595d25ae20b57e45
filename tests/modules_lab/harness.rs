//! The lab for `modules_lab_e2e`: two hosts of this test binary's own, the real `mestral`
//! binary run on a playbook of this folder, and the host read from outside through
//! `lab/exec.sh`. Output helpers pick whole report lines (a task's line for one host, the
//! recap line) so assertions compare exact text.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub const A: &str = "m3-a";
pub const B: &str = "m3-b";
pub const A_ADDR: &str = "172.30.8.205";
pub const B_ADDR: &str = "172.30.8.206";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This folder: the playbooks and their files.
pub fn playbooks() -> PathBuf {
    repo().join("tests/modules_lab")
}

fn lab_script(script: &str, args: &[&str], env: &[(&str, &str)]) {
    let status = Command::new("bash")
        .current_dir(repo())
        .arg(format!("lab/{script}"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .status()
        .expect("lab script runs");
    assert!(status.success(), "lab/{script} {args:?} failed");
}

/// What one run of the binary printed and returned.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The recap line of `host`, with runs of spaces folded to one.
    pub fn recap(&self, host: &str) -> String {
        let recap = self
            .stdout
            .split("PLAY RECAP")
            .nth(1)
            .unwrap_or_else(|| panic!("no PLAY RECAP in:\n{}", self.stdout));
        recap
            .lines()
            .find(|l| l.split_whitespace().next() == Some(host))
            .unwrap_or_else(|| panic!("no recap line for {host}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The result lines of `host` under the task banner `task`, in order.
    pub fn results(&self, task: &str, host: &str) -> Vec<String> {
        let banner = format!("TASK [{task}] ");
        let after = self
            .stdout
            .split_once(&banner)
            .unwrap_or_else(|| panic!("no task {task} in:\n{}", self.stdout))
            .1;
        let section = after.split("\nTASK [").next().unwrap_or(after);
        let section = section.split("\nPLAY RECAP").next().unwrap_or(section);
        let tag = format!("[{host}]");
        let tag_to = format!("[{host} -> ");
        // a host's lines, and the `...ignoring` that follows an ignored failure
        let mut lines: Vec<String> = Vec::new();
        let mut kept = false;
        for line in section.lines() {
            kept = line.contains(&tag) || line.contains(&tag_to) || (kept && line == "...ignoring");
            if kept {
                lines.push(line.to_string());
            }
        }
        lines
    }

    /// The one result line of `host` for `task`.
    pub fn result(&self, task: &str, host: &str) -> String {
        let lines = self.results(task, host);
        assert_eq!(lines.len(), 1, "one result of {host} in {task}: {lines:?}");
        lines[0].clone()
    }
}

/// The counts of one host's recap line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recap {
    pub ok: u32,
    pub changed: u32,
    pub failed: u32,
    pub skipped: u32,
    pub ignored: u32,
}

impl Recap {
    /// The line as printed for `host` (spaces folded).
    pub fn line(&self, host: &str) -> String {
        format!(
            "{host} : ok={} changed={} unreachable=0 failed={} skipped={} rescued=0 ignored={}",
            self.ok, self.changed, self.failed, self.skipped, self.ignored
        )
    }
}

/// A recap of `ok` tasks of which `changed` changed, nothing else.
pub fn oc(ok: u32, changed: u32) -> Recap {
    Recap {
        ok,
        changed,
        ..Recap::default()
    }
}

/// The two hosts, up for the whole test binary.
pub struct Lab {
    pub dir: PathBuf,
    systemctl_sum: String,
}

impl Lab {
    pub fn up() -> Lab {
        lab_script("down.sh", &[A, B], &[]);
        lab_script(
            "up.sh",
            &[&format!("{A}={A_ADDR}"), &format!("{B}={B_ADDR}")],
            &[("LAB_DOCKER", "0")],
        );
        let dir = std::env::temp_dir().join(format!("mestral-m3-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let inventory = format!(
            "[a]\n{A} ansible_host={A_ADDR}\n\n[b]\n{B} ansible_host={B_ADDR}\n\n\
             [lab:children]\na\nb\n\n[lab:vars]\nansible_user=root\n\
             ansible_ssh_private_key_file=/var/lib/mestral-lab/id_ed25519\n"
        );
        std::fs::write(dir.join("inv.ini"), inventory).expect("inventory");
        Lab {
            dir,
            systemctl_sum: machine("sha256sum /usr/bin/systemctl"),
        }
    }

    /// Runs `playbook` (a file of this folder) with extra flags.
    pub fn run(&self, playbook: &str, extra: &[&str]) -> Run {
        let out: Output = Command::new(env!("CARGO_BIN_EXE_mestral"))
            .current_dir(&self.dir)
            .arg("-i")
            .arg(self.dir.join("inv.ini"))
            .arg(playbooks().join(playbook))
            .args(["--color", "never", "--no-progress"])
            .args(["-e", &format!("out_dir={}", self.dir.display())])
            .args(extra)
            .output()
            .expect("mestral runs");
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        println!("--- {playbook} {extra:?} -> {:?}\n{}", run.code, run.stdout);
        if !run.stderr.is_empty() {
            println!("stderr:\n{}", run.stderr);
        }
        run
    }

    /// Runs `playbook` twice; each run must exit 0 with the given recap of `host` (the
    /// second one normally `changed: 0`). Returns both runs.
    pub fn twice(&self, playbook: &str, host: &str, first: Recap, second: Recap) -> (Run, Run) {
        self.twice_with(playbook, &[], host, first, second)
    }

    /// `twice` with extra flags.
    pub fn twice_with(
        &self,
        playbook: &str,
        extra: &[&str],
        host: &str,
        first: Recap,
        second: Recap,
    ) -> (Run, Run) {
        let one = self.run(playbook, extra);
        assert_eq!(one.code, Some(0), "{playbook}: first run exit code");
        assert_eq!(
            one.recap(host),
            first.line(host),
            "{playbook}: first run recap"
        );
        let two = self.run(playbook, extra);
        assert_eq!(two.code, Some(0), "{playbook}: second run exit code");
        assert_eq!(
            two.recap(host),
            second.line(host),
            "{playbook}: second run recap"
        );
        (one, two)
    }

    /// A file the controller side of a playbook may write (fetch) or read.
    pub fn local(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Checks that nothing the scenarios did reached the machine itself: the lab shares
    /// `/usr` with it, while `/etc`, `/opt`, `/var` and `/root` are each host's own.
    pub fn check_machine_untouched(&self) {
        assert_eq!(machine("test -e /opt/mestral-dummy; echo $?"), "1");
        assert_eq!(machine("test -e /etc/mestral-dummy.conf; echo $?"), "1");
        assert_eq!(
            machine("dpkg-query -W mestral-dummy >/dev/null 2>&1; echo $?"),
            "1"
        );
        assert_eq!(machine("getent passwd m3user >/dev/null; echo $?"), "2");
        assert_eq!(machine("sha256sum /usr/bin/systemctl"), self.systemctl_sum);
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

/// Runs `cmd` with sh on the machine itself; trimmed stdout.
fn machine(cmd: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .expect("sh runs");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Runs `cmd` with sh inside lab host `host`, without SSH: (exit code, stdout with the
/// final newline removed).
pub fn on(host: &str, cmd: &str) -> (i32, String) {
    let out = on_stdin(host, cmd, &[]);
    (
        out.0,
        out.1.strip_suffix('\n').unwrap_or(&out.1).to_string(),
    )
}

/// Like `on`, feeding `stdin`; stdout kept whole.
pub fn on_stdin(host: &str, cmd: &str, stdin: &[u8]) -> (i32, String) {
    use std::io::Write;
    let mut child = Command::new("bash")
        .current_dir(repo())
        .args(["lab/exec.sh", host, "sh", "-c", cmd])
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("lab/exec.sh runs");
    let mut input = child.stdin.take().expect("stdin piped");
    input.write_all(stdin).expect("stdin written");
    drop(input);
    let out = child.wait_with_output().expect("lab/exec.sh ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `on` that must succeed; its stdout.
pub fn sh(host: &str, cmd: &str) -> String {
    let (code, out) = on(host, cmd);
    assert_eq!(code, 0, "on {host}: {cmd}");
    out
}

/// The bytes of a file on `host`, read from outside.
pub fn cat(host: &str, path: &str) -> String {
    let (code, out) = on_stdin(host, &format!("cat -- '{path}'"), &[]);
    assert_eq!(code, 0, "cat {path} on {host}");
    out
}

/// `mode owner:group` of a path on `host`, e.g. `644 root:root`.
pub fn attrs(host: &str, path: &str) -> String {
    sh(host, &format!("stat -c '%a %U:%G' -- '{path}'"))
}

/// Writes `bytes` to `path` on `host` (a starting state), creating its folder.
pub fn put(host: &str, path: &str, bytes: &str) {
    let cmd = format!("mkdir -p \"$(dirname -- '{path}')\" && cat > '{path}'");
    assert_eq!(on_stdin(host, &cmd, bytes.as_bytes()).0, 0, "write {path}");
}

/// Whether `path` exists on `host` (a dangling link counts).
pub fn exists(host: &str, path: &str) -> bool {
    on(host, &format!("test -e '{path}' || test -L '{path}'")).0 == 0
}
