//! How commands reach a host: one SSH session per host (russh), one channel per command,
//! or the controller itself for `connection: local`. Privilege escalation (`become`) wraps
//! the command here, so modules only ever write plain shell commands.
//!
//! The types and signatures below are the contract modules and the executor rely on; the
//! work is done in `ssh` (russh sessions), `auth`, `local`, `run` (one running command), `become`
//! (sudo), `known_hosts` and `ssh_config`.

mod auth;
mod behind;
mod jump;
mod known_hosts;
mod local;
mod quickack;
mod run;
mod ssh;
mod ssh_config;
mod sudo;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

/// Ctrl-C: set once for the whole process; every running remote command watches it and is
/// sent SIGTERM (its whole process group on OpenSSH), and the executor starts no new task.
static STOP: std::sync::OnceLock<tokio::sync::watch::Sender<bool>> = std::sync::OnceLock::new();

fn stop_sender() -> &'static tokio::sync::watch::Sender<bool> {
    STOP.get_or_init(|| tokio::sync::watch::channel(false).0)
}

/// Asks every running command to stop, and the run to end after the current task.
pub fn interrupt() {
    stop_sender().send_replace(true);
}

/// Whether `interrupt` was called.
pub fn interrupted() -> bool {
    *stop_sender().borrow()
}

/// Resolves once `interrupt` is called (at once if it already was).
pub(crate) async fn wait_interrupt() {
    let mut watcher = stop_sender().subscribe();
    // The sender lives in a static, so the channel never closes.
    let _ = watcher.wait_for(|stop| *stop).await;
}

pub use behind::Held;
pub use run::Echo;

tokio::task_local! {
    /// Where commands run with `Session::exec_echoed` show their output as it comes (`-v`).
    static ECHO: Arc<dyn Echo>;
}

/// Runs `fut` with `echo` (when given) watching the output of its `exec_echoed` commands.
pub async fn with_echo<F: std::future::Future>(echo: Option<Arc<dyn Echo>>, fut: F) -> F::Output {
    match echo {
        Some(echo) => ECHO.scope(echo, fut).await,
        None => fut.await,
    }
}

/// The echo `with_echo` set for the running task, if any (a module may wrap it).
pub fn current_echo() -> Option<Arc<dyn Echo>> {
    ECHO.try_with(Arc::clone).ok()
}

tokio::task_local! {
    /// When the current task's `timeout` ends: running commands are then stopped.
    static DEADLINE: std::time::Instant;
}

/// Runs `fut` with a deadline after which its remote commands are sent SIGTERM.
pub async fn with_deadline<F: std::future::Future>(at: std::time::Instant, fut: F) -> F::Output {
    DEADLINE.scope(at, fut).await
}

/// The current task's deadline, if it has one.
pub(crate) fn deadline() -> Option<std::time::Instant> {
    DEADLINE.try_with(|at| *at).ok()
}

/// Everything needed to reach one host, resolved from inventory variables, the command line
/// and `~/.ssh/config` (the executor fills what it knows; `~/.ssh/config` fills the rest).
#[derive(Clone, Debug, Default)]
pub struct ConnectSpec {
    /// Inventory name, used in messages.
    pub name: String,
    /// `ansible_host`, or the inventory name.
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub private_key: Option<PathBuf>,
    /// `ansible_connection`: "ssh" (default) or "local".
    pub connection: String,
    /// Seconds to wait for the TCP connection and the SSH handshake.
    pub timeout_secs: u64,
    /// known_hosts policy: "accept-new", "strict" or "off"; empty: `StrictHostKeyChecking` of
    /// `~/.ssh/config`, else accept-new.
    pub host_key_checking: String,
    /// known_hosts file; `~/.ssh/known_hosts` when None.
    pub known_hosts: Option<PathBuf>,
    pub password: Option<String>,
    /// Extra ssh command line arguments (`ansible_ssh_common_args`, `ansible_ssh_extra_args`):
    /// only `-J hop` and `-o ProxyJump=hop` are read.
    pub ssh_args: Option<String>,
}

/// How to escalate privileges for a command.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Become {
    /// `become_user`, root by default.
    pub user: String,
    /// `become_password` / `-K`.
    pub password: Option<String>,
}

/// The result of a finished remote command.
#[derive(Clone, Debug, Default)]
pub struct ExecOutput {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// The host could not be reached or the session broke: the executor reports the host as
/// unreachable rather than failed.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// An open session to one host. Cheap to clone; every clone shares the one session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
    /// Variables exported before every command of this handle (a task's `environment`).
    env: Arc<Vec<(String, String)>>,
}

struct Inner {
    /// Inventory name, for messages.
    name: String,
    transport: Transport,
    /// Commands started on this session (one SSH channel each), for round-trip accounting;
    /// also tells a module whether anything ran on the host since it last looked.
    started: std::sync::atomic::AtomicU64,
    /// Commands held back to run before the next one (`behind.rs`).
    held: behind::Queue,
}

enum Transport {
    Local { user: String },
    Ssh(ssh::SshSession),
}

impl Session {
    /// Opens the session (SSH handshake and authentication, or nothing for local).
    /// Errors that mean "cannot reach" are `Unreachable`.
    pub async fn connect(spec: &ConnectSpec) -> Result<Session> {
        let transport = if spec.connection == "local" {
            Transport::Local {
                user: ssh::local_user(),
            }
        } else {
            Transport::Ssh(ssh::connect(spec).await?)
        };
        let name = if spec.name.is_empty() {
            spec.address.clone()
        } else {
            spec.name.clone()
        };
        Ok(Session {
            inner: Arc::new(Inner {
                name,
                transport,
                started: std::sync::atomic::AtomicU64::new(0),
                held: behind::Queue::default(),
            }),
            env: Arc::new(Vec::new()),
        })
    }

    /// The same session, with `env` exported before each command run through this handle.
    pub fn with_env(&self, env: Vec<(String, String)>) -> Session {
        Session {
            inner: self.inner.clone(),
            env: Arc::new(env),
        }
    }

    /// How many commands (channels) this session has started so far, across all handles.
    pub fn commands_started(&self) -> u64 {
        self.inner
            .started
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The remote user the session logged in as.
    pub fn user(&self) -> String {
        match &self.inner.transport {
            Transport::Local { user } => user.clone(),
            Transport::Ssh(session) => session.user.clone(),
        }
    }

    /// Runs `command` through `/bin/sh -c` on the host, with stdin at end of file unless
    /// `stdin` is given, escalated with sudo when `escalation` is set (and the session user is not
    /// already the target user). Output is collected whole.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        escalation: Option<&Become>,
    ) -> Result<ExecOutput> {
        self.flush_held().await?;
        self.exec_now(command, stdin, escalation).await
    }

    /// `exec` without running the held commands first (they are what is running).
    async fn exec_now(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        escalation: Option<&Become>,
    ) -> Result<ExecOutput> {
        let (reader, gate, writer) = self.start_now(command, escalation).await?;
        run::collect(reader, gate, writer, stdin, None).await
    }

    /// `exec`, with the output also shown as it comes to the echo of `with_echo`, if any.
    pub async fn exec_echoed(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        escalation: Option<&Become>,
    ) -> Result<ExecOutput> {
        let echo = ECHO.try_with(Arc::clone).ok();
        let (reader, gate, writer) = self.start(command, escalation).await?;
        run::collect(reader, gate, writer, stdin, echo).await
    }

    /// Starts `command` and returns a handle to stream its stdin and stdout, for piping one
    /// host's output into another host's input (the image copy).
    pub async fn open(&self, command: &str, escalation: Option<&Become>) -> Result<Stream> {
        let (mut reader, mut gate, mut writer) = self.start(command, escalation).await?;
        let mode = reader.mode().clone();
        let mut first = None;
        if matches!(mode, sudo::Mode::SudoPassword { .. }) {
            // Answer sudo before handing the stream out; keep stdout that came with the start.
            let unanswered = reader.unanswered();
            let handshake = run::sudo_handshake(&mut writer, &mut gate, &mode, &unanswered);
            let started = reader.wait_started();
            tokio::pin!(handshake, started);
            let mut answered = false;
            let started = loop {
                tokio::select! {
                    _ = &mut handshake, if !answered => answered = true,
                    started = &mut started => break started,
                }
            };
            first = started?;
        }
        Ok(Stream::new(reader, writer, first))
    }

    /// Starts `command` once the held commands have run.
    async fn start(&self, command: &str, escalation: Option<&Become>) -> Result<Started> {
        self.flush_held().await?;
        self.start_now(command, escalation).await
    }

    async fn start_now(&self, command: &str, escalation: Option<&Become>) -> Result<Started> {
        let exported;
        let command = if self.env.is_empty() {
            command
        } else {
            let mut text = String::new();
            for (k, v) in self.env.iter() {
                text.push_str(&format!("export {k}={}; ", quote(v)));
            }
            text.push_str(command);
            exported = text;
            exported.as_str()
        };
        self.inner
            .started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = ssh::run_token();
        let marked;
        let command = match &self.inner.transport {
            Transport::Local { .. } => command,
            Transport::Ssh(_) => {
                marked = format!("{}{command}", ssh::mark(&token));
                marked.as_str()
            }
        };
        let line = sudo::command_line(command, &self.user(), escalation, sudo::success_marker());
        let (read, write) = match &self.inner.transport {
            Transport::Local { .. } => {
                let (read, write) = local::start(&line.line)?;
                (
                    run::ReadSide::Local(Box::new(read)),
                    run::WriteSide::Local(write),
                )
            }
            Transport::Ssh(session) => {
                let (read, write) = session.start(&line.line, token).await?;
                (run::ReadSide::Ssh(read), run::WriteSide::Ssh(write))
            }
        };
        let (reader, gate) = run::Reader::new(read, &self.inner.name, line.mode);
        Ok((reader, gate, write))
    }

    /// Whether the session has ended: closed by the peer, or given up after its keepalives
    /// went unanswered. A local session never ends.
    pub fn is_closed(&self) -> bool {
        match &self.inner.transport {
            Transport::Local { .. } => false,
            Transport::Ssh(session) => session.is_closed(),
        }
    }

    /// Closes the session politely.
    pub async fn close(&self) {
        if let Transport::Ssh(session) = &self.inner.transport {
            session.close().await;
        }
    }
}

/// A command just started: its output, the gate telling how it is going, and its stdin.
type Started = (
    run::Reader,
    tokio::sync::watch::Receiver<run::Gate>,
    run::WriteSide,
);

/// A running command with its stdin and stdout open.
pub struct Stream {
    reader: run::Reader,
    writer: run::WriteSide,
    /// Stdout read while answering sudo or while a write waited, handed out first.
    pending: std::collections::VecDeque<Vec<u8>>,
    /// Bytes in `pending`, kept up to `run::OUTPUT_CAP` (more is dropped).
    pending_bytes: usize,
}

/// How long a streamed command's output may stay open after the command exited (a process
/// it left behind may hold it): then its output is taken as over.
pub const STREAM_EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

impl Stream {
    fn new(reader: run::Reader, writer: run::WriteSide, first: Option<Vec<u8>>) -> Stream {
        let mut stream = Stream {
            reader,
            writer,
            pending: Default::default(),
            pending_bytes: 0,
        };
        stream.reader.set_exit_grace(STREAM_EXIT_GRACE);
        if let Some(chunk) = first {
            stream.pending_bytes = chunk.len();
            stream.pending.push_back(chunk);
        }
        stream
    }

    /// Writes a chunk to the command's stdin, waiting while the remote window (or the pipe)
    /// is full. The command's output is read meanwhile: a command that prints while its
    /// input waits would otherwise wait on us as we wait on it (over SSH, one undrained
    /// channel also stops the session from taking the window adjustments the write needs).
    /// Stdout read here is handed out by later `read` calls (up to 64 MiB is kept).
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        let write = self.writer.write(data);
        draining(
            &mut self.reader,
            &mut self.pending,
            &mut self.pending_bytes,
            write,
        )
        .await
    }

    /// Closes the command's stdin (sends EOF), reading its output meanwhile as `write` does;
    /// nothing to do once the command has ended.
    pub async fn close_stdin(&mut self) -> Result<()> {
        if self.reader.is_done() {
            return Ok(());
        }
        let eof = self.writer.eof();
        draining(
            &mut self.reader,
            &mut self.pending,
            &mut self.pending_bytes,
            eof,
        )
        .await
    }

    /// Next chunk of stdout; None at end of output. Stderr is kept for `finish`. Safe to
    /// cancel (a chunk is never lost to a dropped call).
    pub async fn read(&mut self) -> Result<Option<Vec<u8>>> {
        if let Some(chunk) = self.pending.pop_front() {
            self.pending_bytes -= chunk.len();
            return Ok(Some(chunk));
        }
        self.reader.next_stdout().await
    }

    /// Sends SIGTERM to the command (all its processes on the host) and returns at once; its
    /// end is then read by `read` or `finish` as usual.
    pub fn stop(&mut self) {
        self.reader.stop();
    }

    /// Waits for the command to end and returns its exit code and the stderr collected.
    /// Stdout not read yet is discarded. Once the command has exited, its output is taken as
    /// over after `STREAM_EXIT_GRACE` without news.
    pub async fn finish(mut self) -> Result<ExecOutput> {
        let _ = self.close_stdin().await;
        while self.reader.next_stdout().await?.is_some() {}
        Ok(self.reader.finish())
    }
}

/// Awaits `step` (a write or the EOF of a stream's stdin) while reading the stream's output
/// into `pending` (up to `run::OUTPUT_CAP` bytes; more stdout is dropped, stderr is kept by
/// the reader). Once the command's output is over, a step that still waits (for window space
/// an ended channel never grants) is given up with an error.
async fn draining<T>(
    reader: &mut run::Reader,
    pending: &mut std::collections::VecDeque<Vec<u8>>,
    pending_bytes: &mut usize,
    step: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::pin!(step);
    loop {
        tokio::select! {
            biased;
            done = &mut step => return done,
            chunk = reader.next_stdout(), if !reader.is_done() => {
                if let Some(chunk) = chunk? {
                    if chunk.len() <= run::OUTPUT_CAP.saturating_sub(*pending_bytes) {
                        *pending_bytes += chunk.len();
                        pending.push_back(chunk);
                    }
                }
            }
            _ = std::future::ready(()), if reader.is_done() => {
                anyhow::bail!("the command has ended: its input is not read any more");
            }
        }
    }
}

/// Quotes a string for a POSIX shell: `'...'` with embedded quotes escaped.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@+%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting() {
        assert_eq!(quote("abc/d.e"), "abc/d.e");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("a b"), "'a b'");
    }
}
