//! Shared file plumbing for the file-managing modules: one shell snippet that reads a path's
//! state (kind, mode, owner, checksum, optionally content), its parser, the pure comparison
//! of wanted attributes with the current ones, and the snippet that writes a file atomically
//! (temp file beside the destination, attributes set, validated, then renamed over it).

use std::fmt::Write as _;

use anyhow::{anyhow, Result};
use sha2::{Digest, Sha256};

use super::mode::Mode;
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;

mod known;
mod oneshot;

pub use known::{forget, recall, remember, remember_held, Known};
pub use oneshot::{act, held_script, Acted, Action, Guard, OneShot, INLINE_MAX};

/// A failure the module diagnosed (bad argument, missing file, failed validation): reported
/// as a failed task, unlike a broken connection which stays an error.
#[derive(Debug)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// Shorthand for returning a `Failure`.
pub fn fail<T>(msg: impl Into<String>) -> Result<T> {
    Err(Failure(msg.into()).into())
}

/// Turns a module body's result into the module contract: a `Failure` becomes a failed task.
pub fn finish(result: Result<ModuleOutput>) -> Result<ModuleOutput> {
    match result {
        Err(e) => match e.downcast::<Failure>() {
            Ok(f) => Ok(ModuleOutput::failed(f.0)),
            Err(e) => Err(e),
        },
        ok => ok,
    }
}

/// What a path is on the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    #[default]
    Absent,
    File,
    Dir,
    Link,
    Other,
}

impl Kind {
    /// Ansible's word for the kind (`state` of the file module).
    pub fn word(self) -> &'static str {
        match self {
            Kind::Absent => "absent",
            Kind::File => "file",
            Kind::Dir => "directory",
            Kind::Link => "link",
            Kind::Other => "other",
        }
    }
}

/// A path's state as read from the host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileState {
    pub kind: Kind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub atime: i64,
    pub ctime: i64,
    /// `device:inode`, to tell whether two paths are one file.
    pub inode: String,
    pub nlink: u64,
    pub link_target: Option<String>,
    pub sha256: Option<String>,
    pub sha1: Option<String>,
    /// The file's bytes, when asked for (and small enough, with `Content::UpTo`).
    pub content: Option<Vec<u8>>,
}

impl FileState {
    pub fn exists(&self) -> bool {
        self.kind != Kind::Absent
    }

    /// Mode as Ansible prints it: four octal digits.
    pub fn mode_text(&self) -> String {
        format!("{:04o}", self.mode)
    }
}

/// Whether the read also returns the file's bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Content {
    #[default]
    No,
    Always,
    UpTo(u64),
}

/// What to read besides the attributes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOpts {
    pub sha256: bool,
    pub sha1: bool,
    pub content: Content,
    /// Describe the link's target rather than the link itself.
    pub follow: bool,
}

/// The POSIX sh snippet that prints the state of `path` for `parse_state`.
pub fn read_script(path: &str, opts: &ReadOpts) -> String {
    read_script_at(&quote(path), opts)
}

/// Line a module's own probe prints before `read_script_at`'s output.
pub const STATE_MARK: &str = "--state--";

/// Same as `read_script` for a path given as a shell word (`"$h"/.ssh/x`), so a module's
/// probe can compute the path on the host first.
pub fn read_script_at(path_word: &str, opts: &ReadOpts) -> String {
    let stat = if opts.follow { "stat -L" } else { "stat" };
    let mut s = format!("p={path_word}\n");
    s.push_str("if [ -L \"$p\" ] || [ -e \"$p\" ]; then\n");
    let _ = writeln!(
        s,
        "{stat} -c 'stat|%F|%a|%U|%G|%u|%g|%s|%Y|%X|%Z|%d:%i|%h' -- \"$p\" || exit 1"
    );
    s.push_str("if [ -L \"$p\" ]; then printf 'link|%s\\n' \"$(readlink -- \"$p\")\"; fi\n");
    s.push_str("if [ -f \"$p\" ]; then :\n");
    for (on, tool, tag) in [
        (opts.sha256, "sha256sum", "sha256"),
        (opts.sha1, "sha1sum", "sha1"),
    ] {
        if on {
            let _ = writeln!(
                s,
                "{tag}=$({tool} < \"$p\") || exit 1; printf '{tag}|%s\\n' \"${{{tag}%% *}}\""
            );
        }
    }
    match opts.content {
        Content::No => {}
        Content::Always => s.push_str("printf 'content\\n'; exec cat -- \"$p\"\n"),
        Content::UpTo(n) => {
            let _ = writeln!(
                s,
                "if [ \"$(stat -L -c %s -- \"$p\")\" -le {n} ]; then \
                 printf 'content\\n'; exec cat -- \"$p\"; fi"
            );
        }
    }
    s.push_str("fi\nelse echo absent\nfi\n");
    s
}

/// Parses what `read_script` printed.
pub fn parse_state(out: &[u8]) -> Result<FileState> {
    let (state, extra) = parse_tagged(out)?;
    match extra.first() {
        Some((tag, value)) => Err(anyhow!("unexpected line in file state: \"{tag}|{value}\"")),
        None => Ok(state),
    }
}

/// Parses `read_script` lines mixed with lines of other tags (`tag|value`), which come back
/// in order; `content` ends the output.
pub fn parse_tagged(out: &[u8]) -> Result<(FileState, Vec<(String, String)>)> {
    let mut state = FileState::default();
    let mut extra = Vec::new();
    let mut absent = false;
    let mut rest = out;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = rest.get(end + 1..).unwrap_or(&[]);
        let (tag, value) = line.split_once('|').unwrap_or((line.as_str(), ""));
        match tag {
            "absent" => absent = true,
            "stat" => parse_stat(value, &mut state)?,
            "link" => state.link_target = Some(value.to_string()),
            "sha256" => state.sha256 = Some(value.to_string()),
            "sha1" => state.sha1 = Some(value.to_string()),
            "content" => {
                state.content = Some(rest.to_vec());
                break;
            }
            _ => extra.push((tag.to_string(), value.to_string())),
        }
    }
    if absent {
        return Ok((FileState::default(), extra));
    }
    if state.kind == Kind::Absent {
        return Err(anyhow!("file state output is empty"));
    }
    Ok((state, extra))
}

fn parse_stat(value: &str, state: &mut FileState) -> Result<()> {
    let f: Vec<&str> = value.split('|').collect();
    if f.len() != 12 {
        return Err(anyhow!("unexpected stat output: {value:?}"));
    }
    let num = |i: usize| -> Result<i64> {
        f[i].parse()
            .map_err(|_| anyhow!("unexpected number {:?} in stat output", f[i]))
    };
    state.kind = match f[0] {
        "regular file" | "regular empty file" => Kind::File,
        "directory" => Kind::Dir,
        "symbolic link" => Kind::Link,
        _ => Kind::Other,
    };
    state.mode = u32::from_str_radix(f[1], 8)
        .map_err(|_| anyhow!("unexpected mode {:?} in stat output", f[1]))?;
    state.owner = f[2].to_string();
    state.group = f[3].to_string();
    state.uid = num(4)? as u32;
    state.gid = num(5)? as u32;
    state.size = num(6)? as u64;
    state.mtime = num(7)?;
    state.atime = num(8)?;
    state.ctime = num(9)?;
    state.inode = f[10].to_string();
    state.nlink = num(11)? as u64;
    Ok(())
}

/// Splits a probe's output at `STATE_MARK`: the probe's own lines, then the file state.
pub fn split_probe(out: &[u8]) -> Result<(Vec<String>, FileState)> {
    let mark = format!("{STATE_MARK}\n");
    let at = out
        .windows(mark.len())
        .position(|w| w == mark.as_bytes())
        .ok_or_else(|| anyhow!("probe output lacks the state mark"))?;
    let head = String::from_utf8_lossy(&out[..at]);
    let lines = head.lines().map(str::to_string).collect();
    Ok((lines, parse_state(&out[at + mark.len()..])?))
}

/// Runs a probe (its own lines, `STATE_MARK`, then a `read_script_at`); a non-zero exit is a
/// failure carrying the probe's stderr.
pub async fn probe(ctx: &ModuleCtx<'_>, script: &str) -> Result<(Vec<String>, FileState)> {
    let out = ctx.exec(script).await?;
    if out.rc != 0 {
        return fail(out.stderr_text().trim_end().to_string());
    }
    split_probe(&out.stdout)
}

/// Runs the read on the host; a failing read (permission denied, a parent that is a file)
/// is a task failure naming the path.
pub async fn read(ctx: &ModuleCtx<'_>, path: &str, opts: &ReadOpts) -> Result<FileState> {
    let out = ctx.exec(&read_script(path, opts)).await?;
    if out.rc != 0 {
        return fail(format!(
            "cannot read {path}: {}",
            out.stderr_text().trim_end()
        ));
    }
    parse_state(&out.stdout)
}

/// Runs `script`, turning a non-zero exit into a failure that says what was being done.
pub async fn run_script(ctx: &ModuleCtx<'_>, what: &str, script: &str) -> Result<String> {
    let out = ctx.exec(script).await?;
    if out.rc != 0 {
        return fail(format!("{what}: {}", out.stderr_text().trim_end()));
    }
    Ok(out.stdout_text())
}

/// Owner, group and mode a task asks for; `None` leaves that attribute alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attrs {
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mode: Option<Mode>,
}

/// Which attributes must change: each `Some` is the value to set.
pub fn attr_changes(want: &Attrs, cur: &FileState) -> Attrs {
    let differs = |want: &Option<String>, name: &str, id: u32| match want {
        Some(w) if w.parse::<u32>().map_or(w != name, |n| n != id) => Some(w.clone()),
        _ => None,
    };
    Attrs {
        owner: differs(&want.owner, &cur.owner, cur.uid),
        group: differs(&want.group, &cur.group, cur.gid),
        mode: match &want.mode {
            // a symbolic mode that does not parse was refused with the parameters
            Some(m) => m
                .resolve(cur.mode, cur.kind == Kind::Dir)
                .ok()
                .filter(|m| *m != cur.mode & 0o7777)
                .map(Mode::Octal),
            None => None,
        },
    }
}

impl Attrs {
    pub fn is_empty(&self) -> bool {
        self.owner.is_none() && self.group.is_none() && self.mode.is_none()
    }

    /// Commands setting these attributes on the shell word `target` (already quoted or a
    /// `"$var"`); `recurse` applies them to a whole tree, `no_deref` to a link itself.
    pub fn commands(&self, target: &str, recurse: bool, no_deref: bool) -> String {
        let r = if recurse { "-R " } else { "" };
        let h = if no_deref { "-h " } else { "" };
        let mut s = String::new();
        // owner and group in one `chown OWNER:GROUP`: one program started instead of two
        match (&self.owner, &self.group) {
            (Some(o), Some(g)) => {
                let _ = writeln!(s, "chown {r}{h}{} -- {target}", quote(&format!("{o}:{g}")));
            }
            (Some(o), None) => {
                let _ = writeln!(s, "chown {r}{h}{} -- {target}", quote(o));
            }
            (None, Some(g)) => {
                let _ = writeln!(s, "chgrp {r}{h}{} -- {target}", quote(g));
            }
            (None, None) => {}
        }
        if let Some(m) = &self.mode {
            let _ = writeln!(s, "chmod {r}{} -- {target}", m.chmod_arg());
        }
        s
    }
}

/// How to write a file.
#[derive(Clone, Debug)]
pub struct WriteSpec<'a> {
    pub dest: &'a str,
    pub attrs: &'a Attrs,
    /// A command run on the temp file before the rename; `%s` stands for its path.
    pub validate: Option<&'a str>,
    /// Keep a copy of the file being replaced.
    pub backup: bool,
    /// Create missing parent directories first.
    pub mkdir: bool,
}

/// Exit code the write snippet uses when `validate` refused the new content.
pub const VALIDATE_FAILED: i32 = 97;

/// The POSIX sh snippet that writes its stdin to `spec.dest` atomically. A replaced file
/// keeps its mode and owner unless the spec sets them; a new one gets the umask's mode.
/// Prints `backup|PATH` when it kept a backup.
pub fn write_script(spec: &WriteSpec) -> String {
    let mut s = String::from("set -e\n");
    let _ = writeln!(s, "d={}", quote(spec.dest));
    s.push_str(&write_prepare(spec));
    s.push_str(WRITE_COMMIT);
    s
}

/// Renames the temp file of `write_prepare` over the destination.
pub const WRITE_COMMIT: &str = "mv -f -- \"$t\" \"$d\"\ntrap - EXIT HUP INT TERM\n";

/// The first part of `write_script`, for the path in `$d` (under `set -e`): stdin into a
/// temp file `$t` beside it, with its attributes, validated, the old file backed up.
pub fn write_prepare(spec: &WriteSpec) -> String {
    let mut s = temp_folder(spec.mkdir);
    let attrs = spec.attrs;
    match (&attrs.mode, &attrs.owner, &attrs.group) {
        // Mode and owner given outright: nothing is kept from the old file.
        (Some(Mode::Octal(m)), Some(o), Some(g)) => {
            s.push_str(&install_temp(*m, Some((&quote(o), &quote(g)))));
        }
        // A mode given outright: the owner is kept (or set) after.
        (Some(Mode::Octal(m)), owner, group) => {
            s.push_str(&install_temp(*m, None));
            s.push_str("if [ -e \"$d\" ]; then chown --reference=\"$d\" -- \"$t\" 2>/dev/null || true; fi\n");
            let ids = Attrs {
                owner: owner.clone(),
                group: group.clone(),
                mode: None,
            };
            s.push_str(&ids.commands("\"$t\"", false, false));
        }
        // A replaced file keeps its mode and owner, a new one gets the umask's mode, unless
        // the spec sets them (a symbolic mode still starts from the old or default one).
        _ => {
            s.push_str("t=$(mktemp \"$wd/.${wn##*/}.mestral.XXXXXX\")\n");
            s.push_str(TEMP_TRAPS);
            s.push_str("cat > \"$t\"\n");
            let both_ids = attrs.owner.is_some() && attrs.group.is_some();
            let keep_ids = if both_ids {
                ""
            } else {
                "chown --reference=\"$d\" -- \"$t\" 2>/dev/null || true; "
            };
            let _ = writeln!(
                s,
                "if [ -e \"$d\" ]; then chmod --reference=\"$d\" -- \"$t\"; {keep_ids}:; \
                 else chmod \"$(printf %o $((0666 & ~$(umask))))\" -- \"$t\"; fi"
            );
            s.push_str(&attrs.commands("\"$t\"", false, false));
        }
    }
    if let Some(v) = spec.validate {
        let cmd = v.replace("%s", "\"$t\"");
        let _ = writeln!(
            s,
            "if ! {{ {cmd} ; }} 1>&2; then exit {VALIDATE_FAILED}; fi"
        );
    }
    if spec.backup {
        s.push_str(
            "if [ -f \"$d\" ]; then b=\"$d.$$.$(date +%Y-%m-%d@%H:%M:%S)~\"; \
             cp -p -- \"$d\" \"$b\"; printf 'backup|%s\\n' \"$b\"; fi\n",
        );
    }
    s
}

/// Sets `$wn` (the path in `$d` without trailing slashes) and `$wd` (its folder), made
/// first when `mkdir`. Shell expansions, not `dirname`/`basename`: every program started on
/// the host costs about a millisecond or two, and they add up.
pub fn temp_folder(mkdir: bool) -> String {
    let mut s = String::from(
        "wn=${d%\"${d##*[!/]}\"}\ncase $wn in */*) wd=${wn%/*}; wd=${wd:-/};; *) wd=.;; esac\n",
    );
    if mkdir {
        s.push_str("[ -d \"$wd\" ] || mkdir -p -- \"$wd\"\n");
    }
    s
}

/// Removes the temp file when the script ends before the rename; a signal (Ctrl-C on the
/// controller stops the command) still runs the EXIT trap.
const TEMP_TRAPS: &str = "trap 'rm -f -- \"$t\"' EXIT\ntrap 'exit 143' HUP INT TERM\n";

/// Stdin into the temp file `$t` beside `$d` (after `temp_folder`) with mode `mode` and, when
/// given, the owner and group (shell words) — by `install`, one program instead of `mktemp`,
/// `cat`, `chmod` and `chown`. The name holds the shell's PID, unique on the host while the
/// script lives; `install` removes whatever is at that name and creates the file exclusively,
/// so a link planted there is never written through.
pub fn install_temp(mode: u32, ids: Option<(&str, &str)>) -> String {
    let ids = match ids {
        Some((owner, group)) => format!(" -o {owner} -g {group}"),
        None => String::new(),
    };
    format!(
        "t=\"$wd/.${{wn##*/}}.mestral.$$\"\n{TEMP_TRAPS}install -m {mode:04o}{ids} /dev/stdin \"$t\"\n"
    )
}

/// Writes `content` with `write_script`; returns the backup's path if one was kept.
pub async fn write(
    ctx: &ModuleCtx<'_>,
    spec: &WriteSpec<'_>,
    content: &[u8],
) -> Result<Option<String>> {
    write_after(ctx, "", spec, content).await
}

/// Ansible refuses a validate command that would not see the new file.
fn check_validate(spec: &WriteSpec<'_>) -> Result<()> {
    match spec.validate.filter(|v| !v.contains("%s")) {
        Some(v) => fail(format!("validate must contain %s: {v}")),
        None => Ok(()),
    }
}

/// `write`, with the shell snippet `before` run first in the same command (under `set -e`).
pub async fn write_after(
    ctx: &ModuleCtx<'_>,
    before: &str,
    spec: &WriteSpec<'_>,
    content: &[u8],
) -> Result<Option<String>> {
    check_validate(spec)?;
    let script = format!("set -e\n{before}{}", write_script(spec));
    let out = ctx.exec_stdin(&script, content).await?;
    let stderr = out.stderr_text();
    if out.rc == VALIDATE_FAILED && spec.validate.is_some() {
        let detail = stderr.trim_end();
        if detail.is_empty() {
            return fail("failed to validate");
        }
        return fail(format!("failed to validate: {detail}"));
    }
    if out.rc != 0 {
        return fail(format!("cannot write {}: {}", spec.dest, stderr.trim_end()));
    }
    Ok(out
        .stdout_text()
        .lines()
        .find_map(|l| l.strip_prefix("backup|"))
        .map(str::to_string))
}

/// Lower-case hex SHA-256 of `data`, as `sha256sum` prints it.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The text shown by `--diff` for content, or None for binary or large content.
pub fn diff_text(data: &[u8]) -> Option<String> {
    const LIMIT: usize = 1 << 20;
    if data.len() > LIMIT || data.contains(&0) {
        return None;
    }
    String::from_utf8(data.to_vec()).ok()
}

/// The parent directory of a host path, `.` for a bare name.
pub fn parent(path: &str) -> &str {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/",
        Some((dir, _)) => dir,
        None => ".",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(kind: Kind, mode: u32, owner: &str, uid: u32) -> FileState {
        FileState {
            kind,
            mode,
            owner: owner.into(),
            group: owner.into(),
            uid,
            gid: uid,
            ..FileState::default()
        }
    }

    #[test]
    fn parses_file_state_with_content() {
        let out = b"stat|regular file|644|root|adm|0|4|6|1700000000|1700000001|1700000002|\
2049:77|1\nsha256|abc\nsha1|def\ncontent\nline1\nline2\n";
        let got = parse_state(out).unwrap();
        let want = FileState {
            kind: Kind::File,
            mode: 0o644,
            owner: "root".into(),
            group: "adm".into(),
            uid: 0,
            gid: 4,
            size: 6,
            mtime: 1_700_000_000,
            atime: 1_700_000_001,
            ctime: 1_700_000_002,
            inode: "2049:77".into(),
            nlink: 1,
            link_target: None,
            sha256: Some("abc".into()),
            sha1: Some("def".into()),
            content: Some(b"line1\nline2\n".to_vec()),
        };
        assert_eq!(got, want);
    }

    #[test]
    fn parses_absent_link_and_garbage() {
        assert_eq!(parse_state(b"absent\n").unwrap(), FileState::default());
        let link =
            parse_state(b"stat|symbolic link|777|a|b|1|2|3|4|5|6|7:8|1\nlink|/x y\n").unwrap();
        assert_eq!(
            (link.kind, link.link_target.as_deref()),
            (Kind::Link, Some("/x y"))
        );
        assert_eq!(
            parse_state(b"").unwrap_err().to_string(),
            "file state output is empty"
        );
        assert_eq!(
            parse_state(b"stat|directory|7x5|a|b|1|2|3|4|5|6|7:8|1\n")
                .unwrap_err()
                .to_string(),
            "unexpected mode \"7x5\" in stat output"
        );
    }

    #[test]
    fn splits_probe_output() {
        let (lines, st) = split_probe(b"home|/h|1|2\nx\n--state--\nabsent\n").unwrap();
        assert_eq!(
            (lines, st.kind),
            (vec!["home|/h|1|2".to_string(), "x".into()], Kind::Absent)
        );
        assert_eq!(
            split_probe(b"absent\n").unwrap_err().to_string(),
            "probe output lacks the state mark"
        );
    }

    #[test]
    fn attribute_changes() {
        let cur = state(Kind::File, 0o644, "alice", 1000);
        let cases = [
            (Attrs::default(), Attrs::default()),
            (
                Attrs {
                    owner: Some("alice".into()),
                    group: Some("1000".into()),
                    mode: Some(Mode::Octal(0o644)),
                },
                Attrs::default(),
            ),
            (
                Attrs {
                    owner: Some("bob".into()),
                    group: Some("0".into()),
                    mode: Some(Mode::Octal(0o600)),
                },
                Attrs {
                    owner: Some("bob".into()),
                    group: Some("0".into()),
                    mode: Some(Mode::Octal(0o600)),
                },
            ),
            (
                Attrs {
                    owner: Some("1000".into()),
                    group: None,
                    mode: Some(Mode::Octal(0o4755)),
                },
                Attrs {
                    owner: None,
                    group: None,
                    mode: Some(Mode::Octal(0o4755)),
                },
            ),
        ];
        for (want, expect) in cases {
            assert_eq!(attr_changes(&want, &cur), expect, "{want:?}");
        }
    }

    #[test]
    fn attribute_commands() {
        let a = Attrs {
            owner: Some("a b".into()),
            group: Some("g".into()),
            mode: Some(Mode::Octal(0o600)),
        };
        assert_eq!(
            a.commands("\"$t\"", true, true),
            "chown -R -h 'a b:g' -- \"$t\"\nchmod -R 0600 -- \"$t\"\n"
        );
        let group_only = Attrs {
            group: Some("g".into()),
            ..Attrs::default()
        };
        assert_eq!(group_only.commands("x", false, false), "chgrp g -- x\n");
    }

    /// The write's folder and name, from shell expansions, agree with `dirname`/`basename`.
    #[test]
    fn write_folder_and_name_as_dirname_and_basename() {
        let spec = WriteSpec {
            dest: "",
            attrs: &Attrs::default(),
            validate: None,
            backup: false,
            mkdir: false,
        };
        let head: String = write_prepare(&spec)
            .lines()
            .take(2)
            .collect::<Vec<_>>()
            .join("\n");
        for d in ["/a/b", "/a", "a", "a/b/", "a//b", "/a/b//", "./x"] {
            let script = format!(
                "d={}\n{head}\nprintf '%s|%s\\n' \"$(cd / && realpath -m -- \"$wd\")\" \"${{wn##*/}}\"\n\
                 printf '%s|%s\\n' \"$(cd / && realpath -m -- \"$(dirname -- \"$d\")\")\" \
                 \"$(basename -- \"$d\")\"",
                quote(d)
            );
            let out = std::process::Command::new("sh")
                .args(["-c", &script])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 2, "{d}: {text}");
            assert_eq!(lines[0], lines[1], "{d}");
        }
    }

    #[test]
    fn paths_and_digests() {
        assert_eq!(parent("/etc/hosts"), "/etc");
        assert_eq!(parent("/hosts"), "/");
        assert_eq!(parent("hosts"), ".");
        assert_eq!(parent("/a/b/"), "/a");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(diff_text(b"a\n"), Some("a\n".to_string()));
        assert_eq!(diff_text(b"a\0"), None);
    }

    /// The scripts run under a real `sh` here: the read of a missing path, a file, and an
    /// atomic write with validation that refuses, then accepts.
    #[test]
    fn scripts_run_under_sh() {
        let dir = std::env::temp_dir().join(format!("mestral-rf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("f.txt");
        let dest_s = dest.to_str().unwrap();
        let sh = |script: &str, stdin: &[u8]| {
            use std::io::Write;
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(stdin).unwrap();
            child.wait_with_output().unwrap()
        };
        let opts = ReadOpts {
            sha256: true,
            content: Content::Always,
            ..ReadOpts::default()
        };
        let out = sh(&read_script(dest_s, &opts), b"");
        assert_eq!(parse_state(&out.stdout).unwrap().kind, Kind::Absent);

        let attrs = Attrs {
            mode: Some(Mode::Octal(0o640)),
            ..Attrs::default()
        };
        let spec = WriteSpec {
            dest: dest_s,
            attrs: &attrs,
            validate: Some("grep -q ok %s"),
            backup: false,
            mkdir: false,
        };
        let out = sh(&write_script(&spec), b"bad\n");
        assert_eq!(out.status.code(), Some(VALIDATE_FAILED));
        assert!(!dest.exists());
        let out = sh(&write_script(&spec), b"ok\n");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let out = sh(&read_script(dest_s, &opts), b"");
        let st = parse_state(&out.stdout).unwrap();
        assert_eq!(
            (
                st.kind,
                st.mode,
                st.size,
                st.sha256.clone(),
                st.content.clone()
            ),
            (
                Kind::File,
                0o640,
                3,
                Some(sha256_hex(b"ok\n")),
                Some(b"ok\n".to_vec())
            )
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("f.txt")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
