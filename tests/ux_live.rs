//! The live progress view, driven through tmux: while a task runs, one line per host with
//! its state is redrawn under the TASK banner; when the task ends the view is erased and the
//! screen holds the plain report; `-v` lines go above the view while a command runs. Local
//! hosts always (when tmux is installed); an image copy between two fresh lab hosts with
//! MESTRAL_LAB.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[path = "common/tmux.rs"]
mod tmux;
use tmux::Screen;

fn tmux_present() -> bool {
    let found = Command::new("tmux").arg("-V").output().is_ok();
    if !found {
        println!("skipped: tmux is not installed");
    }
    found
}

/// The screen's lines without trailing blanks (a terminal keeps none) and without the
/// empty rows under the last text.
fn screen_lines(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let used = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    lines[..used].iter().map(|l| format!("{l}\n")).collect()
}

/// Durations (`0.80s`, `12.3s`, `1m05s`) as `T`.
fn no_times(text: &str) -> String {
    let re = regex::Regex::new(r"\b(\d+m\d\ds|\d+\.\d+s)").unwrap();
    re.replace_all(text, "T").into_owned()
}

#[test]
fn local_hosts_show_running_and_waiting_then_the_plain_report() {
    if !tmux_present() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("mestral-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("inv.ini"),
        "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("pb.yml"),
        "- name: slow\n  hosts: web\n  gather_facts: false\n  tasks:\n\
         \x20   - name: nap\n      command: sleep 1.5\n      changed_when: false\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_mestral");
    let screen = Screen::start(
        "mestral-live",
        &dir,
        &format!("NO_COLOR=1 {bin} -i inv.ini pb.yml -f 1"),
        (120, 80),
    );

    // One fork: alpha runs while beta waits.
    let live = screen.wait_for(Duration::from_secs(10), |t| t.contains("running"));
    let banner = "TASK [nap] *********************************************************************";
    let view: Vec<String> = no_times(&live)
        .lines()
        .skip_while(|l| *l != banner)
        .take(3)
        .map(str::to_string)
        .collect();
    assert_eq!(
        view,
        [
            banner,
            "  alpha                      running T",
            "  beta                       waiting"
        ],
        "{live}"
    );

    // At the end only the plain report is left, the recap with wall times.
    let end = screen.wait_for(Duration::from_secs(20), |t| t.contains("EXIT="));
    let end = no_times(&end);
    let want = format!(
        "\nPLAY [slow] ********************************************************************\n\
         \n{banner}\nok: [alpha]\nok: [beta]\n\
         \nPLAY RECAP *********************************************************************\n"
    );
    assert!(end.starts_with(&want), "{end}");
    assert!(
        !end.contains("waiting") && !end.contains("running"),
        "{end}"
    );
    assert!(end.contains("\ntotal time: T\n"), "{end}");
    assert!(end.contains("\nEXIT=0\n"), "{end}");
    drop(screen);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--no-progress` on a terminal: append-only, no live lines at any time.
#[test]
fn no_progress_stays_plain_on_a_terminal() {
    if !tmux_present() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("mestral-plain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("inv.ini"), "h ansible_connection=local\n").unwrap();
    std::fs::write(
        dir.join("pb.yml"),
        "- hosts: h\n  gather_facts: false\n  tasks:\n    - command: sleep 1\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_mestral");
    let screen = Screen::start(
        "mestral-plain",
        &dir,
        &format!("NO_COLOR=1 {bin} -i inv.ini pb.yml --no-progress"),
        (120, 80),
    );
    let mid = screen.wait_for(Duration::from_secs(10), |t| t.contains("TASK [command]"));
    assert_eq!(
        screen_lines(&mid),
        "\nPLAY [h] ***********************************************************************\n\
         \nTASK [command] *****************************************************************\n",
    );
    let end = screen.wait_for(Duration::from_secs(20), |t| t.contains("EXIT="));
    assert_eq!(
        screen_lines(&end),
        "\nPLAY [h] ***********************************************************************\n\
         \nTASK [command] *****************************************************************\n\
         changed: [h]\n\
         \nPLAY RECAP *********************************************************************\n\
         h                          : ok=1    changed=1    unreachable=0    failed=0    \
         skipped=0    rescued=0    ignored=0\n\nEXIT=0\n"
    );
    drop(screen);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-v` on a terminal: a command's lines appear above the live view while it runs, the view
/// stays under them, and the end leaves the plain `-v` report.
#[test]
fn verbose_lines_go_above_the_live_view() {
    if !tmux_present() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("mestral-live-v-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("inv.ini"),
        "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("pb.yml"),
        "- name: talk\n  hosts: web\n  gather_facts: false\n  tasks:\n\
         \x20   - name: slow\n      shell: echo first; sleep 3; echo second\n\
         \x20     changed_when: false\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_mestral");
    let screen = Screen::start(
        "mestral-live-v",
        &dir,
        &format!("NO_COLOR=1 {bin} -i inv.ini pb.yml -f 1 -v"),
        (120, 80),
    );

    // One fork: alpha has printed its first line and sleeps; beta waits.
    let banner = "TASK [slow] ********************************************************************";
    let mid = screen.wait_for(Duration::from_secs(10), |t| {
        t.contains("alpha | first") && t.contains("waiting")
    });
    let view: Vec<String> = no_times(&screen_lines(&mid))
        .lines()
        .skip_while(|l| *l != banner)
        .map(str::to_string)
        .collect();
    assert_eq!(
        view,
        [
            banner,
            "alpha | first",
            "  alpha                      running T",
            "  beta                       waiting"
        ],
        "{mid}"
    );

    let end = screen.wait_for(Duration::from_secs(30), |t| t.contains("EXIT="));
    let result = |host: &str| {
        format!(
            "ok: [{host}] => {{\n    \"rc\": 0,\n    \"stdout_lines\": [\n        \"first\",\n\
             \x20       \"second\"\n    ],\n    \"stderr_lines\": [],\n\
             \x20   \"stdout\": \"first\\nsecond\",\n    \"stderr\": \"\",\n\
             \x20   \"cmd\": \"echo first; sleep 3; echo second\",\n    \"changed\": false\n}}\n"
        )
    };
    let want = format!(
        "\nPLAY [talk] ********************************************************************\n\
         \n{banner}\nalpha | first\nalpha | second\nbeta | first\nbeta | second\n{}{}\
         \nPLAY RECAP *********************************************************************\n\
         alpha                      : ok=1    changed=0    unreachable=0    failed=0    \
         skipped=0    rescued=0    ignored=0    time=T\n\
         beta                       : ok=1    changed=0    unreachable=0    failed=0    \
         skipped=0    rescued=0    ignored=0    time=T\n\
         total time: T\n\nEXIT=0\n",
        result("alpha"),
        result("beta")
    );
    assert_eq!(no_times(&screen_lines(&end)), want);
    drop(screen);
    let _ = std::fs::remove_dir_all(&dir);
}

const MANAGER: &str = "x8-m";
const WORKER: &str = "x8-w";
const MANAGER_ADDR: &str = "172.30.8.224";
const WORKER_ADDR: &str = "172.30.8.225";

fn lab_script(script: &str, args: &[&str]) {
    let status = Command::new("bash")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg(format!("lab/{script}"))
        .args(args)
        .status()
        .expect("lab script runs");
    assert!(status.success(), "lab/{script} {args:?} failed");
}

/// Two fresh lab hosts and a scratch folder, taken down when dropped, passed or not.
struct Lab(PathBuf);

impl Lab {
    fn up() -> Lab {
        lab_script("down.sh", &[MANAGER, WORKER]);
        lab_script(
            "up.sh",
            &[
                &format!("{MANAGER}={MANAGER_ADDR}"),
                &format!("{WORKER}={WORKER_ADDR}"),
            ],
        );
        let dir = std::env::temp_dir().join(format!("mestral-live-lab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Lab(dir)
    }

    /// The image's Id on `host`, read inside the host without mestral.
    fn image_id(host: &str, image: &str) -> String {
        let out = Command::new("bash")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["lab/exec.sh", host, "docker", "image", "inspect"])
            .args(["--format", "{{.Id}}", image])
            .output()
            .expect("lab/exec.sh runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["lab/down.sh", MANAGER, WORKER])
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The image copy's line of the live view: moved bytes in MiB, or None for another line.
fn copy_progress(screen: &str) -> Option<f64> {
    let re = regex::Regex::new(&format!(
        r"(?m)^  {WORKER:<26} running T  (\d+\.\d) MiB at \d+\.\d MiB/s$"
    ))
    .unwrap();
    let text = no_times(screen);
    let moved = re.captures(&text)?[1].parse().ok()?;
    Some(moved)
}

/// A real run on two fresh lab hosts: a 150 MB image built on the manager is streamed to
/// the worker. While it moves, the live view shows both hosts' states and the worker's
/// bytes, rate and elapsed time, growing; afterwards the totals and the recap.
#[test]
fn lab_image_copy_shows_bytes_rate_and_elapsed() {
    if std::env::var_os("MESTRAL_LAB").is_none() || !tmux_present() {
        println!("skipped: MESTRAL_LAB is not set");
        return;
    }
    let lab = Lab::up();
    std::fs::write(
        lab.0.join("inv.ini"),
        format!(
            "[managers]\n{MANAGER} ansible_host={MANAGER_ADDR}\n\
             [workers]\n{WORKER} ansible_host={WORKER_ADDR}\n\
             [all:vars]\nansible_user=root\n\
             ansible_ssh_private_key_file=/var/lib/mestral-lab/id_ed25519\n"
        ),
    )
    .unwrap();
    std::fs::write(
        lab.0.join("pb.yml"),
        format!(
            "- name: build\n  hosts: managers\n  gather_facts: false\n  tasks:\n\
             \x20   - name: image of random data\n      shell:\n        cmd: |\n\
             \x20         set -e; d=$(mktemp -d); cd \"$d\"\n\
             \x20         head -c 150000000 /dev/urandom > blob\n\
             \x20         printf 'FROM scratch\\nCOPY blob /blob\\n' > Dockerfile\n\
             \x20         DOCKER_BUILDKIT=0 docker build -q -t h8-big:1 . >/dev/null\n\
             \x20         cd / && rm -rf \"$d\"\n\
             - name: copy\n  hosts: all\n  gather_facts: false\n  tasks:\n\
             \x20   - name: image copied\n      docker_image_copy:\n\
             \x20       {{name: 'h8-big:1', source_host: {MANAGER}, compress: false}}\n"
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_mestral");
    let screen = Screen::start(
        "mestral-lab-copy",
        &lab.0,
        &format!("NO_COLOR=1 {bin} -i inv.ini pb.yml"),
        (120, 80),
    );

    // Mid-copy: the manager (its own source) is done, the worker is receiving.
    let banner = "TASK [image copied] ************************************************************";
    let first = screen.wait_for(Duration::from_secs(60), |t| copy_progress(t).is_some());
    let view: Vec<String> = no_times(&screen_lines(&first))
        .lines()
        .skip_while(|l| *l != banner)
        .map(str::to_string)
        .collect();
    assert_eq!(view.len(), 3, "{first}");
    assert_eq!(view[1], format!("  {MANAGER:<26} ok T"), "{first}");
    let moved = copy_progress(&first).unwrap_or_default();
    let later = screen.wait_for(Duration::from_secs(30), |t| {
        copy_progress(t).is_some_and(|m| m > moved)
    });
    assert!(later.contains(banner), "{later}");

    // Afterwards the plain report, the transfer's totals under the worker's result.
    let end = screen.wait_for(Duration::from_secs(60), |t| t.contains("EXIT="));
    let end = no_times(&screen_lines(&end));
    let copy = end.split(banner).nth(1).expect("the copy task");
    let totals = regex::Regex::new(
        r"^\nok: \[x8-m\]\nchanged: \[x8-w\]\n  transferred 143\.1 MiB in T, \d+\.\d MiB/s\n\n",
    )
    .unwrap();
    assert!(totals.is_match(copy), "{end}");
    let recap = copy.split("PLAY RECAP").nth(1).expect("a recap");
    assert_eq!(
        recap,
        " *********************************************************************\n\
         x8-m                       : ok=2    changed=1    unreachable=0    failed=0    \
         skipped=0    rescued=0    ignored=0    time=T\n\
         x8-w                       : ok=1    changed=1    unreachable=0    failed=0    \
         skipped=0    rescued=0    ignored=0    time=T\n\
         total time: T\n\nEXIT=0\n"
    );
    let id = Lab::image_id(MANAGER, "h8-big:1");
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(Lab::image_id(WORKER, "h8-big:1"), id);
}
