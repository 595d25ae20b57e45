//! The benchmark's floor: the simplest client that runs the same number of remote commands as a
//! playbook run, over one russh session per host, one exec channel per command, commands of a
//! host one after the other, hosts at once. No inventory, no templates, no host key check, no
//! output but the time; what it measures is what SSH itself costs. Its socket has
//! `TCP_NODELAY`; `FLOOR_QUICKACK=1` adds what mestral's socket also has, `TCP_QUICKACK` after
//! each read (about 40 ms less per host and run: see BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release --example floor -- KEY USER COMMANDS HOST...
//! ```
//!
//! Prints `floor: H hosts x C commands in S s` and exits non-zero if a host failed. The command
//! is `true` unless `FLOOR_CMD` says otherwise.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskCx, Poll};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use russh::client::{self, Handle};
use russh::keys::{load_secret_key, PrivateKeyWithHashAlg};
use russh::ChannelMsg;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Accepts any host key: the floor pays for no check.
struct AnyKey;

impl client::Handler for AnyKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// With `FLOOR_QUICKACK=1`, a socket that acknowledges what it reads at once, as mestral's
/// (`TCP_QUICKACK` again after each read): sshd's first channel confirmation otherwise waits
/// 40 ms for a delayed ACK. Without it, a plain socket: the simplest client.
struct QuickAck {
    stream: tokio::net::TcpStream,
    /// The same socket, for the option; None: a plain socket (the default).
    twin: Option<std::net::TcpStream>,
}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskCx<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let (true, Some(twin)) = (polled.is_ready(), &self.twin) {
            use std::os::linux::net::TcpStreamExt;
            let _ = twin.set_quickack(true);
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskCx<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

async fn connect(
    host: &str,
    user: &str,
    key: Arc<russh::keys::PrivateKey>,
) -> Result<Handle<AnyKey>> {
    let config = Arc::new(client::Config {
        nodelay: true,
        ..Default::default()
    });
    let socket = tokio::net::TcpStream::connect((host, 22))
        .await
        .with_context(|| format!("connecting to {host}:22"))?;
    socket.set_nodelay(true)?;
    let socket = socket.into_std()?;
    let twin = match std::env::var("FLOOR_QUICKACK").as_deref() {
        Ok("1") => Some(socket.try_clone()?),
        _ => None,
    };
    let stream = QuickAck {
        stream: tokio::net::TcpStream::from_std(socket)?,
        twin,
    };
    let mut handle = client::connect_stream(config, stream, AnyKey)
        .await
        .with_context(|| format!("connecting to {host}:22"))?;
    let auth = handle
        .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, None))
        .await
        .with_context(|| format!("authenticating {user}@{host}"))?;
    if !auth.success() {
        bail!("{user}@{host}: public key refused");
    }
    Ok(handle)
}

/// Runs `command` on a fresh channel and waits for its exit status.
async fn run(handle: &Handle<AnyKey>, command: &str) -> Result<u32> {
    let mut channel = handle.channel_open_session().await?;
    channel.exec(true, command).await?;
    let mut status = None;
    while let Some(msg) = channel.wait().await {
        if let ChannelMsg::ExitStatus { exit_status } = msg {
            status = Some(exit_status);
        }
    }
    status.context("the channel closed without an exit status")
}

async fn host(
    host: String,
    user: String,
    key: Arc<russh::keys::PrivateKey>,
    n: usize,
    cmd: String,
) -> Result<()> {
    let handle = connect(&host, &user, key).await?;
    for i in 0..n {
        let rc = run(&handle, &cmd)
            .await
            .with_context(|| format!("{host}: command {i}"))?;
        if rc != 0 {
            bail!("{host}: command {i} exited {rc}");
        }
    }
    handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await
        .ok();
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        bail!("usage: floor KEY USER COMMANDS HOST...");
    }
    let key =
        Arc::new(load_secret_key(&args[0], None).with_context(|| format!("key {}", args[0]))?);
    let user = args[1].clone();
    let n: usize = args[2]
        .parse()
        .with_context(|| format!("COMMANDS '{}'", args[2]))?;
    let cmd = std::env::var("FLOOR_CMD").unwrap_or_else(|_| "true".into());
    let hosts = &args[3..];
    let started = Instant::now();
    let tasks: Vec<_> = hosts
        .iter()
        .map(|h| tokio::spawn(host(h.clone(), user.clone(), key.clone(), n, cmd.clone())))
        .collect();
    let mut failed = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("floor: {e:#}");
                failed += 1;
            }
            Err(e) => {
                eprintln!("floor: {e}");
                failed += 1;
            }
        }
    }
    println!(
        "floor: {} hosts x {n} commands in {:.3} s",
        hosts.len(),
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        bail!("{failed} host(s) failed");
    }
    Ok(())
}
