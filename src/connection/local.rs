//! `connection: local`: commands run on the controller through `/bin/sh -c`, with the same
//! events as an SSH channel (stdout and stderr chunks, exit status, end).

use std::process::Stdio;

use anyhow::{Context, Result};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use super::run::{signal_name, Event};

const CHUNK: usize = 32 * 1024;

/// Starts `line` under `/bin/sh -c` with all three pipes (`exec`, so that no extra shell
/// stands between us and the command).
pub(crate) fn start(line: &str) -> Result<(ReadSide, WriteSide)> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("exec {line}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so that an interrupt or a timeout stops the whole command.
        .process_group(0)
        .spawn()
        .context("cannot start /bin/sh on the controller")?;
    let write = WriteSide {
        stdin: child.stdin.take(),
    };
    let read = ReadSide {
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        child,
        exited: false,
        stopped: false,
    };
    Ok((read, write))
}

pub(crate) struct ReadSide {
    child: Child,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    exited: bool,
    /// Set once the command's group was sent SIGTERM (interrupt or task timeout).
    stopped: bool,
}

impl ReadSide {
    pub(crate) async fn next(&mut self) -> Result<Event> {
        loop {
            if self.stdout.is_none() && self.stderr.is_none() {
                if self.exited {
                    return Ok(Event::End);
                }
                self.exited = true;
                let status = self
                    .child
                    .wait()
                    .await
                    .context("waiting for a local command")?;
                return Ok(match status.code() {
                    Some(code) => Event::Exit(code),
                    None => {
                        use std::os::unix::process::ExitStatusExt;
                        Event::Signal(signal_name(status.signal().unwrap_or(0)))
                    }
                });
            }
            tokio::select! {
                chunk = read_chunk(&mut self.stdout), if self.stdout.is_some() => {
                    if let Some(data) = chunk? {
                        return Ok(Event::Stdout(data));
                    }
                }
                chunk = read_chunk(&mut self.stderr), if self.stderr.is_some() => {
                    if let Some(data) = chunk? {
                        return Ok(Event::Stderr(data));
                    }
                }
                _ = super::wait_interrupt(), if !self.stopped => {
                    self.stop();
                    let note = "interrupted: the command was sent SIGTERM\n";
                    return Ok(Event::Stderr(note.as_bytes().to_vec()));
                }
                _ = until(super::deadline()), if !self.stopped => {
                    self.stop();
                    let note = "the task's timeout ended: the command was sent SIGTERM\n";
                    return Ok(Event::Stderr(note.as_bytes().to_vec()));
                }
            }
        }
    }
}

impl ReadSide {
    /// Sends SIGTERM to the command's process group.
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", "--", &format!("-{pid}")])
                .status();
        }
    }
}

/// Resolves at `deadline`, never without one.
async fn until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Reads one chunk; at end of file closes the pipe (sets it to None) and returns None.
async fn read_chunk<R: AsyncRead + Unpin>(pipe: &mut Option<R>) -> Result<Option<Vec<u8>>> {
    let Some(reader) = pipe.as_mut() else {
        return Ok(None);
    };
    // Capacity, not zeroed bytes: `read_buf` fills the spare room without clearing it first.
    let mut buf = Vec::with_capacity(CHUNK);
    let n = reader
        .read_buf(&mut buf)
        .await
        .context("reading a local command's output")?;
    if n == 0 {
        *pipe = None;
        return Ok(None);
    }
    buf.shrink_to_fit();
    Ok(Some(buf))
}

pub(crate) struct WriteSide {
    stdin: Option<ChildStdin>,
}

impl WriteSide {
    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .context("stdin of the local command is already closed")?;
        stdin
            .write_all(data)
            .await
            .context("writing to a local command")?;
        Ok(())
    }

    pub(crate) async fn eof(&mut self) -> Result<()> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.shutdown().await;
        }
        Ok(())
    }
}
