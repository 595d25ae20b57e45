//! The test bed the module tables share: a temp folder, a `connection: local` session and
//! the module runner, plus the row checks every table makes (final bytes and mode, changed,
//! the diff `--diff` would print, and a second run that changes nothing).

#![allow(dead_code)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::Result;
use mestral::connection::{ConnectSpec, Session};
use mestral::modules::{self, FileDiff, ModuleCtx, ModuleOutput, SessionLookup};
use mestral::template::Templar;
use mestral::vars::{Scope, Value};

/// No other hosts in these tests.
struct NoHosts;

impl SessionLookup for NoHosts {
    fn session<'a>(
        &'a self,
        host: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Session>> + Send + 'a>> {
        Box::pin(async move { anyhow::bail!("no session to {host} in this test") })
    }
}

/// A temp folder (with `files/` as the controller's search path) and a local session.
pub struct Bed {
    pub dir: PathBuf,
    session: Session,
    templar: Templar,
    scope: Scope,
    search: Vec<PathBuf>,
}

impl Bed {
    pub async fn new(name: &str) -> Bed {
        Bed::with_vars(name, Value::Object(Default::default())).await
    }

    /// A bed whose task variables are `vars` (an object).
    pub async fn with_vars(name: &str, vars: Value) -> Bed {
        let dir = std::env::temp_dir().join(format!("mestral-mt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("files")).unwrap();
        let spec = ConnectSpec {
            name: "localhost".into(),
            address: "localhost".into(),
            connection: "local".into(),
            ..ConnectSpec::default()
        };
        let session = Session::connect(&spec).await.unwrap();
        let Value::Object(vars) = vars else {
            panic!("vars must be an object")
        };
        Bed {
            search: vec![dir.join("files")],
            dir,
            session,
            templar: Templar::new(),
            scope: Scope::local(vars),
        }
    }

    /// The absolute path of `rel` inside the bed.
    pub fn path(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }

    /// `args` with every `$D` in its strings replaced by the bed's folder.
    pub fn args(&self, args: &Value) -> Value {
        let dir = self.dir.to_string_lossy();
        match args {
            Value::String(s) => Value::String(s.replace("$D", &dir)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.args(v)).collect()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), self.args(v))).collect())
            }
            other => other.clone(),
        }
    }

    pub async fn run_with(&self, module: &str, args: &Value, check: bool) -> ModuleOutput {
        let ctx = ModuleCtx {
            host: "localhost",
            session: &self.session,
            escalation: None,
            check,
            diff: true,
            templar: &self.templar,
            scope: &self.scope,
            search_paths: &self.search,
            sessions: &NoHosts,
            verbosity: 0,
            loop_pass: None,
        };
        modules::run(module, &self.args(args), &ctx).await.unwrap()
    }

    pub async fn run(&self, module: &str, args: &Value) -> ModuleOutput {
        self.run_with(module, args, false).await
    }

    /// Writes `bytes` at `rel` (parents made) with `mode`.
    pub fn put(&self, rel: &str, bytes: &[u8], mode: u32) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Bytes at `rel`, `None` when nothing is there.
    pub fn bytes(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(rel)).ok()
    }

    /// Text at `rel` (empty when absent).
    pub fn text(&self, rel: &str) -> String {
        String::from_utf8(self.bytes(rel).unwrap_or_default()).unwrap()
    }

    /// Permission bits at `rel`, not following a final link.
    pub fn mode(&self, rel: &str) -> u32 {
        std::fs::symlink_metadata(self.dir.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    /// (inode, mtime in ns) of `rel`: unchanged when the file was not rewritten.
    pub fn identity(&self, rel: &str) -> (u64, i64) {
        let m = std::fs::symlink_metadata(self.dir.join(rel)).unwrap();
        (m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec())
    }

    /// Names in folder `rel`, sorted.
    pub fn names(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Removes everything in the bed but `files/`, for the next row.
    pub fn reset(&self) {
        for name in self.names("") {
            if name != "files" {
                let p = self.dir.join(&name);
                match std::fs::symlink_metadata(&p) {
                    Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p).unwrap(),
                    _ => std::fs::remove_file(&p).unwrap(),
                }
            }
        }
    }

    /// Runs `args` twice: asserts the first run's `changed` and that the second run changes
    /// nothing. Returns the first run's output.
    pub async fn twice(
        &self,
        row: &str,
        module: &str,
        args: &Value,
        changed: bool,
    ) -> ModuleOutput {
        let first = self.run(module, args).await;
        assert_eq!(
            (first.failed, first.changed),
            (false, changed),
            "{row}: first run: {:?}",
            first.msg
        );
        let second = self.run(module, args).await;
        assert_eq!(
            (second.failed, second.changed, second.diffs.len()),
            (false, false, 0),
            "{row}: second run: {:?}",
            second.msg
        );
        first
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The unified diff `--diff` prints for a file change (three lines of context), uncoloured,
/// with the bed's folder written as `$D`.
pub fn diff_text(bed: &Bed, diff: &FileDiff) -> String {
    let (before, after) = match diff.path.as_str() {
        "" => ("before".to_string(), "after".to_string()),
        path => (format!("before: {path}"), format!("after: {path}")),
    };
    similar::TextDiff::from_lines(&diff.before, &diff.after)
        .unified_diff()
        .context_radius(3)
        .header(&before, &after)
        .to_string()
        .replace(&*bed.dir.to_string_lossy(), "$D")
}

/// All diffs of an output as one text.
pub fn diffs_text(bed: &Bed, out: &ModuleOutput) -> String {
    out.diffs.iter().map(|d| diff_text(bed, d)).collect()
}

/// One row of a file-editing table: the file `$D/f` before (`None`: absent; mode 0644), the
/// module's arguments, and the file after (bytes and mode), whether the run reports a change.
pub struct FileRow {
    pub name: &'static str,
    pub start: Option<&'static str>,
    pub args: Value,
    pub want: Option<&'static str>,
    pub mode: u32,
    pub changed: bool,
}

impl Bed {
    /// Checks one row from a clean bed: final bytes and mode, `changed`, the diff (exactly the
    /// before and after texts when the content changes, none otherwise), an untouched file
    /// (same inode and mtime) when nothing changed, and a second run that changes nothing.
    pub async fn file_row(&self, module: &str, row: &FileRow) -> ModuleOutput {
        self.file_row_from(module, row, 0o644).await
    }

    /// `file_row` with the starting file at `start_mode`.
    pub async fn file_row_from(
        &self,
        module: &str,
        row: &FileRow,
        start_mode: u32,
    ) -> ModuleOutput {
        self.reset();
        if let Some(start) = row.start {
            self.put("f", start.as_bytes(), start_mode);
        }
        let before = row.start.map(|_| self.identity("f"));
        let out = self.twice(row.name, module, &row.args, row.changed).await;
        let got = self.bytes("f").map(|b| String::from_utf8(b).unwrap());
        assert_eq!(got.as_deref(), row.want, "{}: bytes", row.name);
        if row.want.is_some() {
            assert_eq!(
                self.mode("f"),
                row.mode,
                "{}: mode {:o}",
                row.name,
                self.mode("f")
            );
        }
        let want_diffs = if row.start != row.want {
            vec![FileDiff {
                path: self.path("f"),
                before: row.start.unwrap_or("").to_string(),
                after: row.want.unwrap_or("").to_string(),
            }]
        } else {
            Vec::new()
        };
        // attribute diffs apart: a mode change on an existing file shows one, beside the
        // content's for lineinfile and blockinfile, alone for copy and template
        let (attrs, content): (Vec<FileDiff>, Vec<FileDiff>) = out
            .diffs
            .iter()
            .cloned()
            .partition(|d| d.path.is_empty() || d.path.ends_with(" (file attributes)"));
        assert_eq!(content, want_diffs, "{}: diff", row.name);
        let headed = matches!(module, "lineinfile" | "blockinfile");
        let moded = row.start.is_some() && row.want.is_some() && start_mode != row.mode;
        // authorized_key tightens the file's mode as Ansible does, without an attribute diff
        let shows_attrs = module != "authorized_key";
        let want_attrs = match shows_attrs && moded && (headed || row.start == row.want) {
            true => vec![self.mode_diff(headed, start_mode, row.mode)],
            false => Vec::new(),
        };
        assert_eq!(attrs, want_attrs, "{}: attribute diff", row.name);
        if row.start == row.want && row.want.is_some() {
            assert_eq!(
                Some(self.identity("f")),
                before,
                "{}: file rewritten",
                row.name
            );
        }
        out
    }

    /// The diff ansible-core shows for `$D/f`'s mode going from `from` to `to`: with the path
    /// and bare headers (file, copy, template), or `headed` with "(file attributes)".
    pub fn mode_diff(&self, headed: bool, from: u32, to: u32) -> FileDiff {
        self.mode_diff_of("f", headed, from, to)
    }

    /// `mode_diff` for the path `rel`.
    pub fn mode_diff_of(&self, rel: &str, headed: bool, from: u32, to: u32) -> FileDiff {
        let path = self.path(rel);
        let side = |mode: u32| match headed {
            true => format!("{{\n    \"mode\": \"0{mode:03o}\"\n}}\n"),
            false => format!("{{\n    \"mode\": \"0{mode:03o}\",\n    \"path\": \"{path}\"\n}}\n"),
        };
        FileDiff {
            path: match headed {
                true => format!("{path} (file attributes)"),
                false => String::new(),
            },
            before: side(from),
            after: side(to),
        }
    }

    /// A row that must fail with `msg` and leave `$D/f` as it was.
    pub async fn failing_row(&self, module: &str, start: Option<&str>, args: &Value, msg: &str) {
        self.reset();
        if let Some(start) = start {
            self.put("f", start.as_bytes(), 0o644);
        }
        let out = self.run(module, args).await;
        let msg = msg.replace("$D", &self.dir.to_string_lossy());
        assert_eq!(
            (out.failed, out.changed, out.msg.as_deref()),
            (true, false, Some(msg.as_str())),
            "{args}"
        );
        let got = self.bytes("f").map(|b| String::from_utf8(b).unwrap());
        assert_eq!(got.as_deref(), start, "{args}: file touched");
        assert_eq!(
            self.names(""),
            ["f", "files"][usize::from(start.is_none())..],
            "{args}"
        );
    }
}
