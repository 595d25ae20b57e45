//! One running command, whatever carries it (an SSH channel or a local child): the events it
//! produces, the sudo password exchange, output capped in memory, and the whole-output `exec`
//! and streaming `Stream` built on them. An `Echo` may watch a command's output as it
//! arrives (`-v` streaming).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

use super::sudo::{self, Mode};
use super::{local, ssh, ExecOutput};

/// Each of stdout and stderr is kept up to this size when collected whole.
pub(crate) const OUTPUT_CAP: usize = 64 * 1024 * 1024;
const TRUNCATED_NOTE: &[u8] = b"\n[output truncated after 64 MiB]\n";

/// How long sudo may sit on a prompt that is not mestral's before the run stops waiting:
/// sudo (Debian's has no `passwd_timeout`) would otherwise wait for ever.
const UNKNOWN_PROMPT_WAIT: Duration = Duration::from_secs(3);

/// Receives a command's own output as it arrives (not sudo's prompts), for showing it live.
pub trait Echo: Send + Sync {
    /// A chunk of stdout (`stderr` false) or stderr, cut wherever the transport cut it.
    fn output(&self, stderr: bool, data: &[u8]);
    /// The command is over: a last line without its newline can be shown now.
    fn end(&self);
}

/// Something the running command did.
#[derive(Debug)]
pub(crate) enum Event {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(i32),
    /// Killed by a signal (its name without `SIG`).
    Signal(String),
    /// No more events: the channel closed or the child's pipes and status are done.
    End,
}

/// The receiving half of a running command.
pub(crate) enum ReadSide {
    Ssh(ssh::ReadSide),
    Local(Box<local::ReadSide>),
}

impl ReadSide {
    /// The next event. Safe to cancel: an event is either returned or left for the next call.
    async fn next(&mut self) -> Result<Event> {
        match self {
            ReadSide::Ssh(side) => side.next().await,
            ReadSide::Local(side) => side.next().await,
        }
    }

    /// Sends SIGTERM to the command (its processes on the host), without waiting.
    fn stop(&mut self) {
        match self {
            ReadSide::Ssh(side) => side.stop(),
            ReadSide::Local(side) => side.stop(),
        }
    }
}

/// The stdin half of a running command.
pub(crate) enum WriteSide {
    Ssh(ssh::WriteSide),
    Local(local::WriteSide),
}

impl WriteSide {
    /// Sends `data`, waiting while the peer's window (or the pipe) is full.
    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<()> {
        match self {
            WriteSide::Ssh(side) => side.write(data).await,
            WriteSide::Local(side) => side.write(data).await,
        }
    }

    pub(crate) async fn eof(&mut self) -> Result<()> {
        match self {
            WriteSide::Ssh(side) => side.eof().await,
            WriteSide::Local(side) => side.eof().await,
        }
    }
}

/// Bytes kept up to `OUTPUT_CAP`, with a note when more arrived.
#[derive(Default)]
pub(crate) struct Capture {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Capture {
    pub(crate) fn push(&mut self, data: &[u8]) {
        let room = OUTPUT_CAP.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
        self.truncated |= data.len() > room;
    }

    pub(crate) fn into_bytes(mut self) -> Vec<u8> {
        if self.truncated {
            self.bytes.extend_from_slice(TRUNCATED_NOTE);
        }
        self.bytes
    }
}

/// Progress of the sudo exchange, watched by the stdin writer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Gate {
    /// Password prompts seen on stderr.
    prompts: u32,
    /// Bytes sudo printed on stderr so far (its output is growing while this changes).
    sudo_bytes: usize,
    /// sudo's stderr ends in an unfinished line that is not mestral's prompt: some other
    /// prompt (a PAM module's), waiting for an answer mestral does not have.
    other_prompt: bool,
    /// The command itself is running (its stdout has begun).
    started: bool,
    ended: bool,
}

/// Reads a running command's events, hiding sudo's part of the conversation.
pub(crate) struct Reader {
    raw: ReadSide,
    host: String,
    mode: Mode,
    marker: Vec<u8>,
    /// Stdout that arrived before the command's success marker was complete.
    early: Vec<u8>,
    stderr: Capture,
    /// Stderr before the command starts (sudo's own), whole so that a prompt split across
    /// chunks is still counted.
    sudo_stderr: Vec<u8>,
    rc: Option<i32>,
    signal: Option<String>,
    gate: watch::Sender<Gate>,
    done: bool,
    /// Shown the command's output as it comes, when set.
    echo: Option<Arc<dyn Echo>>,
    /// Set by the handshake when it stopped waiting on a prompt that is not mestral's.
    unanswered: Arc<AtomicBool>,
    /// The last unfinished line of sudo's stderr that was not mestral's prompt.
    other_prompt: Vec<u8>,
    /// When set: once the command has exited, its output is taken as over after this long
    /// without an event (a process it left behind may hold the output open for good).
    exit_grace: Option<Duration>,
}

impl Reader {
    pub(crate) fn new(raw: ReadSide, host: &str, mode: Mode) -> (Reader, watch::Receiver<Gate>) {
        let started = !matches!(mode, Mode::SudoPassword { .. });
        let marker = match &mode {
            Mode::SudoPassword { marker, .. } => format!("{marker}\n").into_bytes(),
            _ => Vec::new(),
        };
        let (gate, watcher) = watch::channel(Gate {
            started,
            ..Gate::default()
        });
        let reader = Reader {
            raw,
            host: host.to_string(),
            mode,
            marker,
            early: Vec::new(),
            stderr: Capture::default(),
            sudo_stderr: Vec::new(),
            rc: None,
            signal: None,
            gate,
            done: false,
            echo: None,
            unanswered: Arc::default(),
            other_prompt: Vec::new(),
            exit_grace: None,
        };
        (reader, watcher)
    }

    fn started(&self) -> bool {
        self.gate.borrow().started
    }

    pub(crate) fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The flag the sudo handshake sets when it gives up on a prompt that is not mestral's.
    pub(crate) fn unanswered(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.unanswered)
    }

    /// Ends the output `grace` after the command's exit when nothing more comes.
    pub(crate) fn set_exit_grace(&mut self, grace: Duration) {
        self.exit_grace = Some(grace);
    }

    /// Sends SIGTERM to the command; its end is still read as usual.
    pub(crate) fn stop(&mut self) {
        self.raw.stop();
    }

    /// Whether the command's output is over.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The next chunk of the command's stdout; None once the command is over.
    pub(crate) async fn next_stdout(&mut self) -> Result<Option<Vec<u8>>> {
        while !self.done {
            if let Some(chunk) = self.step().await? {
                return Ok(Some(chunk));
            }
        }
        Ok(None)
    }

    /// Reads until the command itself runs (sudo is done) or ends; returns the stdout that
    /// came with it, if any.
    pub(crate) async fn wait_started(&mut self) -> Result<Option<Vec<u8>>> {
        let mut first: Option<Vec<u8>> = None;
        while !self.started() && !self.done {
            if let Some(chunk) = self.step().await? {
                first.get_or_insert_with(Vec::new).extend_from_slice(&chunk);
            }
        }
        Ok(first)
    }

    /// Handles one event; returns the command's stdout it carried. Safe to cancel.
    async fn step(&mut self) -> Result<Option<Vec<u8>>> {
        let exited = self.rc.is_some() || self.signal.is_some();
        let event = match self.exit_grace.filter(|_| exited) {
            Some(grace) => match tokio::time::timeout(grace, self.raw.next()).await {
                Ok(event) => event?,
                Err(_) => {
                    let note = format!(
                        "(the command exited, but its output was still open {} s later: \
                         not waiting for it)\n",
                        grace.as_secs()
                    );
                    self.stderr.push(note.as_bytes());
                    Event::End
                }
            },
            None => self.raw.next().await?,
        };
        match event {
            Event::Stdout(data) if self.started() => return Ok(Some(data)),
            Event::Stdout(data) => {
                self.early.extend_from_slice(&data);
                if self.early.len() >= self.marker.len() || !self.marker.starts_with(&self.early) {
                    let mut early = std::mem::take(&mut self.early);
                    if early.starts_with(&self.marker) {
                        early.drain(..self.marker.len());
                    }
                    self.gate.send_modify(|g| g.started = true);
                    return Ok((!early.is_empty()).then_some(early));
                }
            }
            Event::Stderr(data) if self.started() => {
                self.stderr.push(&data);
                if let Some(echo) = &self.echo {
                    echo.output(true, &data);
                }
            }
            Event::Stderr(data) => {
                // sudo's part (a lecture, its prompts): the command's stderr only if it
                // never starts, when it is sudo's refusal.
                self.sudo_stderr.extend_from_slice(&data);
                let prompts = sudo::count(&self.sudo_stderr, sudo::PROMPT.as_bytes());
                let other_prompt = prompts == 0 && !self.sudo_stderr.ends_with(b"\n");
                if other_prompt {
                    let line = self.sudo_stderr.rsplit(|&b| b == b'\n').next();
                    self.other_prompt = line.unwrap_or_default().to_vec();
                }
                let bytes = self.sudo_stderr.len();
                self.gate.send_modify(|g| {
                    g.prompts = prompts;
                    g.sudo_bytes = bytes;
                    g.other_prompt = other_prompt;
                });
            }
            Event::Exit(rc) => self.rc = Some(rc),
            Event::Signal(name) => self.signal = Some(name),
            Event::End => {
                self.done = true;
                self.gate.send_modify(|g| g.ended = true);
                let early = std::mem::take(&mut self.early);
                return Ok((!early.is_empty()).then_some(early));
            }
        }
        Ok(None)
    }

    /// Exit code and cleaned stderr; call after `next_stdout` returned None.
    pub(crate) fn finish(self) -> ExecOutput {
        let gate = *self.gate.borrow();
        let unanswered = self.unanswered.load(Ordering::Relaxed) && !gate.started;
        let mut stderr = match (&self.mode, gate.started) {
            _ if unanswered => sudo::unknown_prompt(&self.other_prompt, &self.host).into_bytes(),
            // sudo took the password and the command ran: its stderr is all the command's.
            (Mode::SudoPassword { .. }, true) => self.stderr.into_bytes(),
            (_, true) => sudo::clean_stderr(self.stderr.into_bytes(), &self.mode, 0, &self.host),
            (_, false) => {
                let mut refusal = Capture::default();
                refusal.push(&self.sudo_stderr);
                sudo::clean_stderr(refusal.into_bytes(), &self.mode, gate.prompts, &self.host)
            }
        };
        let rc = match (self.rc, &self.signal) {
            (Some(rc), _) => rc,
            (None, Some(name)) => {
                stderr.extend_from_slice(format!("killed by signal {name}\n").as_bytes());
                signal_rc(name)
            }
            (None, None) => -1,
        };
        ExecOutput {
            rc,
            stdout: Vec::new(),
            stderr,
        }
    }
}

/// Signals by their usual Linux numbers.
const SIGNALS: [(&str, i32); 13] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("ABRT", 6),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
];

/// 128 + the signal number, as a shell reports it; -1 for a signal without a usual number.
fn signal_rc(name: &str) -> i32 {
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(-1, |(_, number)| 128 + number)
}

/// The name of a signal number (`TERM`), or `SIG<n>` for one outside the table.
pub(crate) fn signal_name(number: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, n)| *n == number)
        .map_or_else(|| format!("SIG{number}"), |(name, _)| name.to_string())
}

/// Sends the sudo password when sudo asks and waits for the command to start. Returns false
/// when stdin should not be written (the command ended, sudo refused the password, or it sat
/// on a prompt that is not mestral's, which sets `unanswered`).
pub(crate) async fn sudo_handshake(
    writer: &mut WriteSide,
    gate: &mut watch::Receiver<Gate>,
    mode: &Mode,
    unanswered: &AtomicBool,
) -> bool {
    let Mode::SudoPassword { password, .. } = mode else {
        return true;
    };
    let mut sent = false;
    loop {
        let state = *gate.borrow_and_update();
        if state.started {
            return true;
        }
        if state.ended {
            return false;
        }
        if state.prompts > 1 {
            // A second prompt means a wrong password: end sudo's wait instead of hanging.
            let _ = writer.eof().await;
            return false;
        }
        if state.prompts == 1 && !sent {
            let line = format!("{password}\n");
            if writer.write(line.as_bytes()).await.is_err() {
                return false;
            }
            sent = true;
        }
        if state.other_prompt {
            // Only a prompt that stays unanswered, unchanged, for a while: not a message
            // still being written.
            match tokio::time::timeout(UNKNOWN_PROMPT_WAIT, gate.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return false,
                Err(_) => {
                    unanswered.store(true, Ordering::Relaxed);
                    let _ = writer.eof().await;
                    return false;
                }
            }
        }
        if gate.changed().await.is_err() {
            return false;
        }
    }
}

/// Runs a started command to its end: feeds `stdin` (then end of file) while collecting
/// stdout and stderr, and showing them to `echo` as they come.
pub(crate) async fn collect(
    mut reader: Reader,
    mut gate: watch::Receiver<Gate>,
    mut writer: WriteSide,
    stdin: Option<&[u8]>,
    echo: Option<Arc<dyn Echo>>,
) -> Result<ExecOutput> {
    let mode = reader.mode.clone();
    let unanswered = reader.unanswered();
    reader.echo = echo.clone();
    let feed = async {
        if sudo_handshake(&mut writer, &mut gate, &mode, &unanswered).await {
            if let Some(data) = stdin {
                if let Err(e) = writer.write(data).await {
                    // A command that exits without reading its stdin is not an error.
                    tracing::debug!("stdin not fully written: {e:#}");
                }
            }
            let _ = writer.eof().await;
        }
    };
    let drain = async {
        let mut stdout = Capture::default();
        while let Some(chunk) = reader.next_stdout().await? {
            if let Some(echo) = &echo {
                echo.output(false, &chunk);
            }
            stdout.push(&chunk);
        }
        if let Some(echo) = &echo {
            echo.end();
        }
        Ok::<_, anyhow::Error>((reader, stdout))
    };
    // Once the output is over, a feed still waiting (for window space the closed channel will
    // never grant, or for a sudo prompt) is dropped.
    tokio::pin!(feed, drain);
    let mut fed = false;
    let drained = loop {
        tokio::select! {
            _ = &mut feed, if !fed => fed = true,
            drained = &mut drain => break drained,
        }
    };
    let (reader, stdout) = drained?;
    let mut output = reader.finish();
    output.stdout = stdout.into_bytes();
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_caps_and_notes() {
        let mut capture = Capture::default();
        capture.push(b"abc");
        assert_eq!(capture.into_bytes(), b"abc".to_vec());

        let mut capture = Capture::default();
        let chunk = vec![b'x'; OUTPUT_CAP - 1];
        capture.push(&chunk);
        capture.push(b"yz");
        let bytes = capture.into_bytes();
        assert_eq!(bytes.len(), OUTPUT_CAP + TRUNCATED_NOTE.len());
        assert_eq!(&bytes[OUTPUT_CAP - 2..OUTPUT_CAP], b"xy");
        assert_eq!(&bytes[OUTPUT_CAP..], TRUNCATED_NOTE);
    }

    #[test]
    fn signal_codes() {
        let cases = [("TERM", 143), ("KILL", 137), ("INT", 130), ("XCPU", -1)];
        for (name, rc) in cases {
            assert_eq!(signal_rc(name), rc, "{name}");
        }
        assert_eq!(signal_name(15), "TERM");
        assert_eq!(signal_name(24), "SIG24");
    }
}
