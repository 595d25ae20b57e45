//! The differential harness: runs one playbook of `tests/conformance/` twice with Ansible's
//! `ansible-playbook -c local` and twice with mestral, each on its own scratch copy of the
//! playbook's fixture tree, and compares per-task statuses and the trees (bytes, kinds, modes,
//! owners, link targets, hard links, whether a file kept its fixture mtime) after each run.
//!
//! ansible-core is installed into a venv under `target/conformance-venv` on first use
//! (MESTRAL_ANSIBLE_VENV overrides the place); without pip the tests fail, never skip.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The ansible-core version the suite was written against.
pub const ANSIBLE_CORE: &str = "ansible-core==2.19.14";

/// Fixture files get this mtime, so a snapshot can tell a rewritten file from a kept one.
const FIXTURE_MTIME: i64 = 1_000_000_000;

const CONFORMANCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance");

/// The venv's folder: MESTRAL_ANSIBLE_VENV, else `target/conformance-venv`.
fn venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MESTRAL_ANSIBLE_VENV") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("conformance-venv")
}

/// `ansible-playbook` from the venv, installing ansible-core once per test binary if needed.
pub fn ansible_playbook() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let venv = venv_dir();
        let bin = venv.join("bin/ansible-playbook");
        if bin.exists() {
            return bin;
        }
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs (the conformance suite needs python3 with venv)");
        assert!(
            status.success(),
            "python3 -m venv {} failed",
            venv.display()
        );
        let status = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", ANSIBLE_CORE])
            .status()
            .expect("pip runs");
        assert!(
            status.success(),
            "pip install {ANSIBLE_CORE} into {} failed: the conformance suite needs PyPI",
            venv.display()
        );
        assert!(bin.exists(), "{} missing after install", bin.display());
        bin
    })
}

/// Which runner executes a playbook.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Runner {
    Ansible,
    Mestral,
}

/// One host line of a task: the task's name, the status word, the loop item if any.
pub type Status = (String, String, Option<String>);

/// What one run left behind.
#[derive(Debug, PartialEq)]
pub struct RunResult {
    pub statuses: Vec<Status>,
    pub tree: BTreeMap<String, Entry>,
    pub rc: i32,
}

/// One path of a snapshot.
#[derive(Debug, PartialEq)]
pub struct Entry {
    pub kind: &'static str,
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    /// File bytes as text (lossy), or the link's target.
    pub content: String,
    /// Files only: still carries the fixture's mtime (not rewritten, not touched).
    pub fixture_mtime: bool,
    /// Files only: the first path in the tree sharing this file's inode, if not itself.
    pub hardlink_of: Option<String>,
}

/// A scratch folder holding both runners' copies, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("MESTRAL_CONFORMANCE_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Copies `from` into `to` recursively, files 0644, folders 0755, files with FIXTURE_MTIME.
fn copy_tree(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).unwrap();
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).unwrap();
            set_mtime(&dest, FIXTURE_MTIME);
        }
    }
}

fn set_mtime(path: &Path, secs: i64) {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_times(
        std::fs::FileTimes::new()
            .set_modified(time)
            .set_accessed(time),
    )
    .unwrap();
}

/// Backup files carry a pid and a timestamp in their names: `f.123.2024-01-02@03:04:05~`.
fn normalise_name(rel: &str) -> String {
    let re = regex::Regex::new(r"\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$").unwrap();
    re.replace(rel, ".BACKUP~").into_owned()
}

/// The tree under `root`, by relative path; `root` itself in contents and link targets reads
/// `<root>`, so both runners' trees compare equal.
pub fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    let root_text = root.to_string_lossy().into_owned();
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let mut names: Vec<_> = std::fs::read_dir(root.join(&rel))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for name in names {
            let rel = rel.join(&name);
            let path = root.join(&rel);
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel_text = rel.to_string_lossy();
            let key =
                normalise_name(&rel_text.replace(root_text.trim_start_matches('/'), "<root>"));
            let (kind, content) = if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                let target = target.to_string_lossy().replace(&root_text, "<root>");
                ("link", target)
            } else if meta.is_dir() {
                todo.push(rel.clone());
                ("directory", String::new())
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes).replace(&root_text, "<root>");
                ("file", text)
            };
            let file = kind == "file";
            let hardlink_of = if file && meta.nlink() > 1 {
                let first = inodes
                    .entry((meta.dev(), meta.ino()))
                    .or_insert(key.clone());
                (first != &key).then(|| first.clone())
            } else {
                None
            };
            let entry = Entry {
                kind,
                mode: if kind == "link" {
                    String::new()
                } else {
                    format!("{:04o}", meta.mode() & 0o7777)
                },
                uid: meta.uid(),
                gid: meta.gid(),
                content,
                fixture_mtime: file && meta.mtime() == FIXTURE_MTIME,
                hardlink_of,
            };
            out.insert(key, entry);
        }
    }
    out
}

/// Per-task host lines of an ansible-playbook style report (both runners print the same
/// format): `changed: [h]`, `ok: [h] => (item=x)`, `fatal: [h]: FAILED! => ...`,
/// `failed: [h] (item=x) => ...`, `skipping: [h]`.
pub fn parse_statuses(report: &str) -> Vec<Status> {
    let banner = regex::Regex::new(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$").unwrap();
    let line = regex::Regex::new(concat!(
        r"^(ok|changed|skipping|fatal|failed): \[[^\]]+\](?::? ?(?:FAILED!)?)?",
        r"(?: \(item=(.*?)\))?(?: => \(item=(.*)\))?",
    ))
    .unwrap();
    let mut task = String::new();
    let mut out = Vec::new();
    for text in report.lines() {
        if let Some(c) = banner.captures(text) {
            task = c[1].to_string();
        } else if let Some(c) = line.captures(text) {
            let word = match &c[1] {
                "fatal" | "failed" => "failed",
                "skipping" => "skipped",
                other => other,
            };
            let item = c.get(2).or(c.get(3)).map(|m| m.as_str().to_string());
            out.push((task.clone(), word.to_string(), item));
        }
    }
    out
}

/// Prepares `scratch/run/`: the playbook, `files/`, `templates/` and the fixture tree. Both
/// runners work in this same folder in turn, so paths they write into files are the same.
fn prepare(scratch: &Path, case: &str) -> PathBuf {
    let dir = scratch.join("run");
    let src = Path::new(CONFORMANCE_DIR);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(src.join(format!("{case}.yml")), dir.join("pb.yml")).unwrap();
    for sub in ["files", "templates"] {
        copy_tree(&src.join(sub), &dir.join(sub));
    }
    copy_tree(&src.join("trees").join(case), &dir.join("tree"));
    std::fs::write(dir.join("inv.ini"), "localhost ansible_connection=local\n").unwrap();
    dir
}

/// Runs the prepared playbook once.
fn run_once(dir: &Path, runner: Runner, extra: &[(&str, &str)]) -> RunResult {
    let root = dir.join("tree");
    let mut cmd = match runner {
        Runner::Ansible => {
            let bin = ansible_playbook();
            let mut cmd = Command::new(bin);
            let python = bin.with_file_name("python");
            cmd.arg("-e")
                .arg(format!("ansible_python_interpreter={}", python.display()))
                .env("ANSIBLE_HOME", dir.join(".ansible"))
                .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible/tmp"))
                .env("ANSIBLE_NOCOLOR", "1")
                .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
                .env("ANSIBLE_LOCALHOST_WARNING", "0")
                .env("ANSIBLE_DEPRECATION_WARNINGS", "0");
            cmd
        }
        Runner::Mestral => {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_mestral"));
            cmd.args(["--color", "never", "--no-progress"])
                .env("NO_COLOR", "1");
            cmd
        }
    };
    cmd.current_dir(dir)
        .args(["-i", "inv.ini", "pb.yml", "-e"])
        .arg(format!("root={}", root.display()));
    for (k, v) in extra {
        cmd.arg("-e").arg(format!("{k}={v}"));
    }
    let out = cmd.output().expect("the runner starts");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    if std::env::var_os("MESTRAL_CONFORMANCE_VERBOSE").is_some() {
        eprintln!(
            "--- {runner:?} ---\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    RunResult {
        statuses: parse_statuses(&report),
        tree: snapshot(&root),
        rc: out.status.code().unwrap_or(-1),
    }
}

/// Runs `tests/conformance/<case>.yml` twice with mestral only, for modules ansible-core
/// lacks (they live in collections that are not on PyPI on their own).
pub fn mestral_only(case: &str, extra: &[(&str, &str)]) -> [RunResult; 2] {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("mestral-conf1-{case}-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    let dir = prepare(&scratch.0, case);
    [
        run_once(&dir, Runner::Mestral, extra),
        run_once(&dir, Runner::Mestral, extra),
    ]
}

/// Runs `tests/conformance/<case>.yml` twice with each runner and asserts the same statuses,
/// exit codes and trees after each run. Returns mestral's two runs for extra checks.
pub fn differential(case: &str, extra: &[(&str, &str)]) -> [RunResult; 2] {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("mestral-conf-{case}-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    let mut results = Vec::new();
    for runner in [Runner::Ansible, Runner::Mestral] {
        let dir = prepare(&scratch.0, case);
        let first = run_once(&dir, runner, extra);
        let second = run_once(&dir, runner, extra);
        results.push([first, second]);
        let done = scratch.0.join(format!("{runner:?}").to_lowercase());
        std::fs::rename(&dir, done).unwrap();
    }
    let mestral = results.pop().unwrap();
    let ansible = results.pop().unwrap();
    for (run, (a, m)) in ansible.iter().zip(mestral.iter()).enumerate() {
        let run = run + 1;
        assert!(
            !a.statuses.is_empty(),
            "{case} run {run}: ansible printed no task lines"
        );
        assert_eq!(
            m.statuses, a.statuses,
            "{case} run {run}: task statuses differ"
        );
        for (path, want) in &a.tree {
            assert_eq!(
                m.tree.get(path),
                Some(want),
                "{case} run {run}: {path} differs"
            );
        }
        let extra: Vec<_> = m.tree.keys().filter(|k| !a.tree.contains_key(*k)).collect();
        assert!(
            extra.is_empty(),
            "{case} run {run}: only mestral made {extra:?}"
        );
        assert_eq!(m.rc, a.rc, "{case} run {run}: exit codes differ");
    }
    mestral
}
