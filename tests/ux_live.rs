//! The live progress view, driven through tmux: while a task runs, one line per host with
//! its state is redrawn under the TASK banner; when the task ends the view is erased and the
//! screen holds the plain report. Local hosts always (when tmux is installed); the swarm
//! playbook against the lab with MESTRAL_LAB.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A detached tmux session running one command, killed when dropped.
struct Screen(String);

impl Screen {
    fn start(name: &str, dir: &Path, command: &str) -> Screen {
        let session = format!("{name}-{}", std::process::id());
        let status = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                "120",
                "-y",
                "50",
                "-c",
            ])
            .arg(dir)
            .arg(format!("{command}; echo EXIT=$?; sleep 60"))
            .status()
            .expect("tmux runs");
        assert!(status.success());
        Screen(session)
    }

    fn text(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen once `want` holds, or a failure naming the last screen after `limit`.
    fn wait_for(&self, limit: Duration, want: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self.text();
            if want(&text) {
                return text;
            }
            assert!(started.elapsed() < limit, "screen never matched:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

fn tmux_present() -> bool {
    let found = Command::new("tmux").arg("-V").output().is_ok();
    if !found {
        println!("skipped: tmux is not installed");
    }
    found
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
    );
    let mid = screen.wait_for(Duration::from_secs(10), |t| t.contains("TASK [command]"));
    assert!(!mid.contains("running"), "{mid}");
    let end = screen.wait_for(Duration::from_secs(20), |t| t.contains("EXIT="));
    assert!(!end.contains("total time"), "{end}");
    drop(screen);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A real run against the lab: while a slow task runs on both hosts over SSH, the live view
/// shows each host running with its elapsed time.
#[test]
fn lab_run_shows_every_host() {
    if std::env::var_os("MESTRAL_LAB").is_none() || !tmux_present() {
        println!("skipped: MESTRAL_LAB is not set");
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("mestral-live-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pb = dir.join("slow.yml");
    std::fs::write(
        &pb,
        "- hosts: swarm\n  gather_facts: false\n  tasks:\n    - name: slow\n      command: sleep 4\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_mestral");
    let screen = Screen::start(
        "mestral-lab-live",
        &repo,
        &format!("NO_COLOR=1 {bin} -i inventory/lab.ini {}", pb.display()),
    );
    let seen = screen.wait_for(Duration::from_secs(30), |t| {
        let t = no_times(t);
        ["calxitu  ", "calxitu2 "].iter().all(|h| {
            t.lines()
                .any(|l| l.starts_with(&format!("  {h}")) && l.trim_end().ends_with("running T"))
        })
    });
    assert!(seen.contains("TASK [slow]"), "{seen}");
    let end = screen.wait_for(Duration::from_secs(60), |t| t.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");
    assert!(
        end.contains("changed: [calxitu]\nchanged: [calxitu2]\n"),
        "{end}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
