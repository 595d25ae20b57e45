//! Faults injected against the lab (issue 7): sshd killed in the middle of a task, dockerd
//! stopped, Ctrl-C during a run, a command printing hundreds of megabytes, a failing image
//! copy, a dead link, an image transfer cut midway (its `docker save` killed, then the
//! target's link cut). Each test brings its own two hosts up and takes them down again.
//!
//! Needs the lab (as root) and MESTRAL_LAB=1; scripts/test.sh does both.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const A: &str = "f7-a";
const B: &str = "f7-b";
const A_ADDR: &str = "172.30.8.220";
const B_ADDR: &str = "172.30.8.221";

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

fn lab_script(script: &str, args: &[&str]) {
    let status = Command::new("bash")
        .current_dir(repo())
        .arg(format!("lab/{script}"))
        .args(args)
        .status()
        .expect("lab script runs");
    assert!(status.success(), "lab/{script} {args:?} failed");
}

/// Fresh hosts for one test, taken down when it ends, passed or not.
struct Lab {
    dir: PathBuf,
    _lock: std::sync::MutexGuard<'static, ()>,
}

impl Lab {
    fn up(name: &str) -> Lab {
        let lock = HOSTS.lock().unwrap_or_else(|e| e.into_inner());
        lab_script("down.sh", &[A, B]);
        lab_script(
            "up.sh",
            &[&format!("{A}={A_ADDR}"), &format!("{B}={B_ADDR}")],
        );
        let dir =
            std::env::temp_dir().join(format!("mestral-faults-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let inventory = format!(
            "[lab]\n{A} ansible_host={A_ADDR}\n{B} ansible_host={B_ADDR}\n\n[lab:vars]\n\
             ansible_user=root\nansible_ssh_private_key_file=/var/lib/mestral-lab/id_ed25519\n"
        );
        std::fs::write(dir.join("inv.ini"), inventory).expect("inventory");
        Lab { dir, _lock: lock }
    }

    fn playbook(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("playbook");
        path
    }

    fn command(&self, playbook: &Path, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mestral"));
        cmd.current_dir(&self.dir)
            .arg("-i")
            .arg(self.dir.join("inv.ini"))
            .arg(playbook)
            .args(["--color", "never", "--no-progress"])
            .args(extra);
        cmd
    }

    fn run(&self, playbook: &Path, extra: &[&str]) -> Output {
        let out = self
            .command(playbook, extra)
            .output()
            .expect("mestral runs");
        show(&out);
        out
    }

    fn spawn(&self, playbook: &Path, extra: &[&str]) -> Child {
        self.command(playbook, extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mestral starts")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .current_dir(repo())
            .args(["lab/down.sh", A, B])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn show(out: &Output) {
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
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

/// The processes of a lab host (those in its network namespace), as (pid, command line).
fn host_processes(host: &str) -> Vec<(u32, String)> {
    let out = Command::new("ip")
        .args(["netns", "pids", &format!("lab-{host}")])
        .output()
        .expect("ip netns pids runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            Some((pid, line.trim_end().to_string()))
        })
        .collect()
}

fn running(host: &str, cmdline: &str) -> bool {
    host_processes(host).iter().any(|(_, l)| l == cmdline)
}

/// Waits until `cmdline` runs on `host`, and returns its process id.
fn wait_running(host: &str, cmdline: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((pid, _)) = host_processes(host).into_iter().find(|(_, l)| l == cmdline) {
            return pid;
        }
        assert!(Instant::now() < deadline, "{cmdline:?} never ran on {host}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The recap line of one host, as printed.
fn recap_line(text: &str, host: &str) -> String {
    let recap = text.split("PLAY RECAP").nth(1).expect("a PLAY RECAP");
    recap
        .lines()
        .find(|l| l.split_whitespace().next() == Some(host))
        .unwrap_or_else(|| panic!("no recap line for {host}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn recap(ok: u32, changed: u32, unreachable: u32, failed: u32, host: &str) -> String {
    format!(
        "{host} : ok={ok} changed={changed} unreachable={unreachable} failed={failed} \
         skipped=0 rescued=0 ignored=0"
    )
}

/// The line of `host`'s result for the task whose banner is `task`.
fn result_line(text: &str, task: &str, host: &str) -> String {
    let banner = format!("TASK [{task}] ");
    let after = text
        .split_once(&banner)
        .unwrap_or_else(|| panic!("no task {task}"))
        .1;
    let section = after.split("\nTASK [").next().unwrap_or(after);
    let section = section.split("\nPLAY RECAP").next().unwrap_or(section);
    section
        .lines()
        .find(|l| l.contains(&format!("[{host}]")))
        .unwrap_or_else(|| panic!("no result of {host} in {task}"))
        .to_string()
}

/// The output of `child` once it ends; a run still going after `secs` is killed and fails the
/// test, so that a hang shows as a failure instead of a CI run that never ends.
fn ended(mut child: Child, secs: u64) -> Output {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().expect("mestral's status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("killed mestral ends");
            show(&out);
            panic!("mestral still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("mestral ends")
}

fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

const CONVERGE: &str = "\
- hosts: lab
  gather_facts: false
  tasks:
    - name: first file
      copy: {content: \"one\\n\", dest: /root/r7-one}
    - name: slow
      command: sleep 6
      changed_when: false
    - name: second file
      copy: {content: \"two\\n\", dest: /root/r7-two}
";

#[test]
fn sshd_killed_during_a_task() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("sshd");
    let pb = lab.playbook("converge.yml", CONVERGE);
    let child = lab.spawn(&pb, &[]);
    wait_running(B, "sleep 6");
    // Every sshd of the host, the listener and the session, dies at once.
    for (pid, line) in host_processes(B) {
        if line.starts_with("sshd") {
            kill(pid, "KILL");
        }
    }
    let out = ended(child, 300);
    show(&out);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "exit code: a host unreachable");
    assert_eq!(recap_line(&text, A), recap(3, 2, 0, 0, A));
    assert_eq!(recap_line(&text, B), recap(1, 1, 1, 0, B));
    assert!(
        result_line(&text, "slow", B).starts_with(&format!("fatal: [{B}]: UNREACHABLE! => ")),
        "{text}"
    );
    assert_eq!(on_host(A, "cat /root/r7-two"), (0, "two".to_string()));
    assert_eq!(on_host(B, "test -e /root/r7-two").0, 1);

    // sshd back: the next run completes the host, the one after changes nothing.
    lab_script("sshd.sh", &[B, "start"]);
    let again = lab.run(&pb, &[]);
    assert_eq!(again.status.code(), Some(0));
    let text = stdout(&again);
    assert_eq!(recap_line(&text, A), recap(3, 0, 0, 0, A));
    assert_eq!(recap_line(&text, B), recap(3, 1, 0, 0, B));
    let third = lab.run(&pb, &[]);
    assert_eq!(third.status.code(), Some(0));
    assert_eq!(recap_line(&stdout(&third), B), recap(3, 0, 0, 0, B));
    assert_eq!(on_host(B, "cat /root/r7-two"), (0, "two".to_string()));
}

#[test]
fn dockerd_stopped_on_a_worker() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("dockerd");
    assert_eq!(on_host(B, "/etc/init.d/docker stop >/dev/null 2>&1").0, 0);
    let pb = lab.playbook(
        "docker.yml",
        "- hosts: lab\n  gather_facts: false\n  tasks:\n    - name: no such image\n      \
         docker_image: {name: 'r7-none:latest', state: absent}\n",
    );
    let out = lab.run(&pb, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(result_line(&text, "no such image", A), format!("ok: [{A}]"));
    let fatal = result_line(&text, "no such image", B);
    let docker_says = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. \
                       Is the docker daemon running?";
    assert_eq!(
        fatal,
        format!(
            "fatal: [{B}]: FAILED! => {{\"rc\": 1, \"stdout_lines\": [], \"stderr_lines\": \
             [\"{docker_says}\"], \"stdout\": \"\", \"stderr\": \"{docker_says}\", \
             \"changed\": false, \"msg\": \"docker image inspect failed (rc 1): {docker_says}\"}}"
        )
    );
    assert_eq!(recap_line(&text, B), recap(0, 0, 0, 1, B));
}

/// Sends SIGINT to the running mestral, as Ctrl-C does.
fn interrupt(child: &Child) {
    kill(child.id(), "INT");
}

#[test]
fn ctrl_c_stops_remote_commands_and_prints_the_recap() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("ctrlc");
    let pb = lab.playbook(
        "sleep.yml",
        "- hosts: lab\n  gather_facts: false\n  tasks:\n    - name: long\n      \
         command: sleep 307\n    - name: never\n      command: touch /root/r7-never\n",
    );
    let child = lab.spawn(&pb, &[]);
    wait_running(A, "sleep 307");
    wait_running(B, "sleep 307");
    let start = Instant::now();
    interrupt(&child);
    let out = ended(child, 300);
    show(&out);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "stopped in {:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    let text = stdout(&out);
    for host in [A, B] {
        assert!(
            !running(host, "sleep 307"),
            "the remote command still runs on {host}"
        );
        assert_eq!(recap_line(&text, host), recap(0, 0, 0, 1, host));
        assert_eq!(
            on_host(host, "test -e /root/r7-never").0,
            1,
            "no task after Ctrl-C"
        );
    }
    assert!(!text.contains("TASK [never]"), "{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .find(|l| l.starts_with("[ERROR]")),
        Some("[ERROR]: User interrupted execution")
    );

    // A copy cut short leaves neither its temporary file nor a half-written destination.
    let big = lab.dir.join("big");
    let file = std::fs::File::create(&big).expect("big file");
    file.set_len(400 * 1024 * 1024).expect("400 MiB");
    let pb = lab.playbook(
        "copy.yml",
        &format!(
            "- hosts: lab\n  gather_facts: false\n  tasks:\n    - name: big copy\n      \
             copy: {{src: {}, dest: /root/r7-big}}\n",
            big.display()
        ),
    );
    let child = lab.spawn(&pb, &[]);
    let host_root = PathBuf::from(format!("/srv/mestral-lab/{A}/root"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let temp = |root: &Path| {
        std::fs::read_dir(root)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains(".mestral."))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    while temp(&host_root).is_empty() {
        assert!(Instant::now() < deadline, "the copy never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    interrupt(&child);
    let out = ended(child, 300);
    show(&out);
    assert_eq!(out.status.code(), Some(130));
    for host in [A, B] {
        let root = PathBuf::from(format!("/srv/mestral-lab/{host}/root"));
        assert_eq!(
            temp(&root),
            Vec::<String>::new(),
            "temporary files on {host}"
        );
        assert_eq!(
            on_host(host, "test -e /root/r7-big").0,
            1,
            "{host}: no destination"
        );
    }
}

/// The resident memory of a process in KiB, None once it is gone.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn huge_output_is_capped_in_bounded_memory() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("huge");
    // 1 GB on stdout, no newline; what is kept is the first 64 MiB and a note.
    let pb = lab.playbook(
        "huge.yml",
        "- hosts: f7-a\n  gather_facts: false\n  tasks:\n    - name: flood\n      \
         shell: head -c 1000000000 /dev/zero | tr -c x x\n      register: out\n    \
         - name: kept\n      debug:\n        msg: \"{{ out.stdout | length }} \
         {{ out.stdout[-36:] | replace('\\n', '|') }}\"\n",
    );
    let mut child = lab.spawn(&pb, &[]);
    let mut peak = 0;
    let mut status = None;
    while status.is_none() {
        if let Some(kib) = rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        std::thread::sleep(Duration::from_millis(20));
        status = child.try_wait().expect("mestral runs");
    }
    let out = ended(child, 300);
    show(&out);
    println!("peak RSS {peak} KiB");
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let text = stdout(&out);
    let kept = text.split_once("TASK [kept]").expect("kept task").1;
    assert_eq!(
        kept.lines().nth(2),
        Some("    \"msg\": \"67108896 xxxx|[output truncated after 64 MiB]\"")
    );
    // A fraction of what was printed: the output is not held whole.
    assert!(peak < 700 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn image_copy_failures_name_both_sides() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("imagecopy");
    let (rc, _) = on_host(
        A,
        "tar -C /work/main/app -cf - busybox | docker import - r7-img:1 >/dev/null",
    );
    assert_eq!(rc, 0, "an image on the source");
    // On the target, a `docker` first in PATH whose `load` reads the whole stream and fails.
    let fake = "#!/bin/sh\nif [ \"$1\" = load ]; then cat >/dev/null; \
                echo 'fake docker: load refused' >&2; exit 3; fi\nexec /usr/bin/docker \"$@\"\n";
    let fake_path = format!("/srv/mestral-lab/{B}/root/fakebin");
    std::fs::create_dir_all(&fake_path).expect("fakebin");
    std::fs::write(format!("{fake_path}/docker"), fake).expect("fake docker");
    assert_eq!(on_host(B, "chmod +x /root/fakebin/docker").0, 0);
    let pb = lab.playbook(
        "copy.yml",
        "- hosts: f7-b\n  gather_facts: false\n  tasks:\n    - name: missing\n      \
         docker_image_copy: {name: 'r7-missing:latest', source_host: f7-a}\n      \
         ignore_errors: true\n    - name: load fails\n      \
         docker_image_copy: {name: 'r7-img:1', source_host: f7-a}\n      \
         environment: {PATH: '/root/fakebin:/usr/bin:/bin'}\n",
    );
    let out = lab.run(&pb, &[]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert_eq!(
        result_line(&text, "missing", B),
        format!(
            "fatal: [{B}]: FAILED! => {{\"changed\": false, \"msg\": \"docker_image_copy: \
             r7-missing:latest: the image is not on the source host ({A})\"}}"
        )
    );
    let load = result_line(&text, "load fails", B);
    let msg = load.split("\"msg\": ").nth(1).expect("a msg");
    assert_eq!(
        msg,
        format!(
            "\"docker_image_copy: r7-img:1 from {A} failed: source rc 0 (), \
             target rc 3 (fake docker: load refused)\"}}"
        )
    );
    assert_eq!(
        on_host(B, "docker image ls -q r7-img:1"),
        (0, String::new())
    );
}

/// Sets the machine side of a lab host's link (`mlvN`) down or up.
fn link(addr: &str, state: &str) {
    let last = addr.rsplit('.').next().expect("an address");
    let status = Command::new("ip")
        .args(["link", "set", &format!("mlv{last}"), state])
        .status()
        .expect("ip runs");
    assert!(status.success(), "ip link set mlv{last} {state}");
}

#[test]
fn dead_link_is_unreachable_within_the_timeouts() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("link");
    let pb = lab.playbook("converge.yml", CONVERGE);
    // The link dies while a command runs: keepalives find out.
    let child = lab.spawn(&pb, &["-T", "3"]);
    wait_running(B, "sleep 6");
    let start = Instant::now();
    link(B_ADDR, "down");
    let out = ended(child, 300);
    show(&out);
    let waited = start.elapsed();
    assert!(waited < Duration::from_secs(20), "noticed after {waited:?}");
    assert_eq!(out.status.code(), Some(4));
    let text = stdout(&out);
    assert_eq!(recap_line(&text, A), recap(3, 2, 0, 0, A));
    assert_eq!(recap_line(&text, B), recap(1, 1, 1, 0, B));
    assert_eq!(
        result_line(&text, "slow", B),
        format!(
            "fatal: [{B}]: UNREACHABLE! => {{\"changed\": false, \"msg\": \"session to \
             root@{B_ADDR}:22 closed while a command ran\", \"unreachable\": true}}"
        )
    );

    // Still down: the connection times out.
    let start = Instant::now();
    let out = lab.run(&pb, &["-T", "3"]);
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(4));
    let text = stdout(&out);
    assert_eq!(
        result_line(&text, "first file", B),
        format!(
            "fatal: [{B}]: UNREACHABLE! => {{\"changed\": false, \"msg\": \"timed out after 3s \
             connecting to {B_ADDR}:22\", \"unreachable\": true}}"
        )
    );

    // Link back: the run completes.
    link(B_ADDR, "up");
    let out = lab.run(&pb, &["-T", "3"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(recap_line(&stdout(&out), B), recap(3, 1, 0, 0, B));
}

#[test]
fn task_timeout_ends_the_remote_process() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("timeout");
    let pb = lab.playbook(
        "timeout.yml",
        "- hosts: lab\n  gather_facts: false\n  tasks:\n    - name: too long\n      \
         command: sleep 309\n      timeout: 2\n",
    );
    let start = Instant::now();
    let out = lab.run(&pb, &[]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    for host in [A, B] {
        assert_eq!(
            result_line(&text, "too long", host),
            format!(
                "fatal: [{host}]: FAILED! => {{\"changed\": false, \"msg\": \"the task timed \
                 out after 2 s\"}}"
            )
        );
        assert!(
            !running(host, "sleep 309"),
            "the command still runs on {host}"
        );
    }
}

/// Builds on `host` an image of 300 MB of random data: gzip cannot shrink it, so a copy
/// lasts several seconds.
fn big_image(host: &str, tag: &str) -> String {
    let build = format!(
        "mkdir -p /tmp/big && head -c 300000000 /dev/urandom >/tmp/big/blob && \
         tar -C /tmp/big -cf - blob | docker import - {tag} >/dev/null && rm -rf /tmp/big && \
         docker image inspect --format '{{{{.Id}}}}' {tag}"
    );
    let (rc, id) = on_host(host, &build);
    assert_eq!(rc, 0, "building {tag} on {host}");
    id
}

/// The image Ids on a host, dangling layers included.
fn all_images(host: &str) -> (i32, String) {
    on_host(host, "docker image ls -a -q --no-trunc")
}

#[test]
fn image_transfer_cut_midway() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("transfer");
    let id = big_image(A, "f7-big:1");
    let pb = lab.playbook(
        "copy.yml",
        "- hosts: f7-b\n  gather_facts: false\n  tasks:\n    - name: big copy\n      \
         docker_image_copy: {name: 'f7-big:1', source_host: f7-a}\n",
    );

    // `docker save` on the source killed mid-stream: both sides' ends are in the message.
    let child = lab.spawn(&pb, &["-T", "3"]);
    let saver = wait_running(A, "docker save f7-big:1");
    std::thread::sleep(Duration::from_secs(1));
    // KILL, not TERM: the docker client may take a TERM as "cancel the request" and then
    // wait on, which is Docker's behaviour, not the one under test.
    kill(saver, "KILL");
    let out = ended(child, 300);
    show(&out);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    let fatal = result_line(&text, "big copy", B);
    let msg = fatal.split("\"msg\": ").nth(1).expect("a msg");
    // The source's part is bash's notice of the killed pipeline (its process ids vary);
    // Docker's own words for the short tar depend on where it was cut (a layer's data, or
    // before the index files): the target part is its rc and a message of its own.
    let (source, target) = msg
        .strip_prefix("\"docker_image_copy: f7-big:1 from f7-a failed: source rc 137 (")
        .and_then(|rest| rest.strip_suffix(")\"}"))
        .and_then(|rest| rest.split_once("), target rc 1 ("))
        .unwrap_or_else(|| panic!("{msg}"));
    let words: Vec<&str> = source
        .split_whitespace()
        .map(|w| {
            if w.bytes().all(|b| b.is_ascii_digit()) {
                "PID"
            } else {
                w
            }
        })
        .collect();
    assert_eq!(
        words.join(" "),
        "bash: line 1: PID Killed docker save f7-big:1\\n PID Done | gzip -1",
        "{msg}"
    );
    assert!(!target.is_empty(), "docker load said nothing: {msg}");
    assert_eq!(recap_line(&text, B), recap(0, 0, 0, 1, B));
    assert_eq!(all_images(B), (0, String::new()), "nothing loaded");

    // The target's link cut while the image streams: unreachable within the keepalives
    // (3 x 3 s), and the half-sent image is not loaded.
    let child = lab.spawn(&pb, &["-T", "3"]);
    wait_running(B, "docker load");
    // Cut once the image is on its way (docker save may take seconds for its first byte).
    let deadline = Instant::now() + Duration::from_secs(60);
    while on_host(B, "du -sk /var/lib/docker/tmp | cut -f1")
        .1
        .parse::<u64>()
        .unwrap_or(0)
        < 4096
    {
        assert!(Instant::now() < deadline, "no data reached {B}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let start = Instant::now();
    link(B_ADDR, "down");
    let out = ended(child, 300);
    show(&out);
    let waited = start.elapsed();
    link(B_ADDR, "up");
    assert!(waited < Duration::from_secs(20), "noticed after {waited:?}");
    assert_eq!(out.status.code(), Some(4));
    let text = stdout(&out);
    let line = result_line(&text, "big copy", B);
    let head = format!(
        "fatal: [{B}]: UNREACHABLE! => {{\"changed\": false, \"msg\": \"docker_image_copy: \
         f7-big:1: the session to {B} ended during the copy, after "
    );
    let tail = " bytes; nothing was loaded there\", \"unreachable\": true}";
    let sent = line
        .strip_prefix(&head)
        .and_then(|rest| rest.strip_suffix(tail))
        .unwrap_or_else(|| panic!("{line}"));
    let sent: u64 = sent.parse().expect("a byte count");
    assert!(sent > 0 && sent < 300_000_000, "{sent} bytes sent");
    assert_eq!(recap_line(&text, B), recap(0, 0, 1, 0, B));
    assert_eq!(all_images(B), (0, String::new()), "nothing loaded");

    // Link back: the next run completes the copy, the one after changes nothing.
    let again = lab.run(&pb, &["-T", "3"]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(recap_line(&stdout(&again), B), recap(1, 1, 0, 0, B));
    assert_eq!(all_images(B), (0, id.clone()));
    let third = lab.run(&pb, &["-T", "3"]);
    assert_eq!(third.status.code(), Some(0));
    assert_eq!(recap_line(&stdout(&third), B), recap(1, 0, 0, 0, B));
    assert_eq!(all_images(B), (0, id));
}
