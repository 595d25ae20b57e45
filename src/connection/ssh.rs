//! SSH sessions on russh: where to connect (inventory values over `~/.ssh/config`), the TCP
//! connection and handshake under a timeout, the host key check, and one channel per command
//! (at most `MAX_CHANNELS` at once). Authentication is in `auth`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use russh::client::{self, Handle};
use russh::keys::{PublicKey, PublicKeyBase64};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Disconnect};

use std::future::Future;
use std::pin::Pin;

use super::jump::{self, Hop};
use super::known_hosts::{self, HostKey, Policy};
use super::run::Event;
use super::ssh_config::{self, HostConfig, Tokens};
use super::{ConnectSpec, Unreachable};

/// Where and how to connect, once inventory values and `~/.ssh/config` are merged.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// IdentityFiles from `~/.ssh/config`, expanded.
    pub identity_files: Vec<PathBuf>,
    pub policy: Policy,
    /// known_hosts files read, in order; new keys go to the first.
    pub known_hosts: Vec<PathBuf>,
}

/// Merges: the spec (inventory) wins, then `~/.ssh/config`, then defaults.
pub(crate) fn resolve(
    spec: &ConnectSpec,
    config: &HostConfig,
    home: &Path,
    local_user: &str,
) -> Result<Target> {
    let host = match &config.hostname {
        Some(name) => name.replace("%h", &spec.address).replace("%%", "%"),
        None => spec.address.clone(),
    };
    let port = spec.port.or(config.port).unwrap_or(22);
    let user = spec
        .user
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| config.user.clone())
        .unwrap_or_else(|| local_user.to_string());
    let tokens = Tokens {
        home: home.to_path_buf(),
        local_user: local_user.to_string(),
        host: host.clone(),
        remote_user: user.clone(),
        port,
    };
    let policy = if spec.host_key_checking.is_empty() {
        Policy::parse(config.strict_host_key_checking.as_deref().unwrap_or(""))?
    } else {
        Policy::parse(&spec.host_key_checking)?
    };
    let mut known_hosts: Vec<PathBuf> = match &spec.known_hosts {
        Some(file) => vec![file.clone()],
        None if !config.user_known_hosts_files.is_empty() => config
            .user_known_hosts_files
            .iter()
            .map(|f| ssh_config::expand_path(f, &tokens))
            .collect(),
        None => vec![home.join(".ssh/known_hosts")],
    };
    known_hosts.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
    Ok(Target {
        identity_files: config
            .identity_files
            .iter()
            .map(|f| ssh_config::expand_path(f, &tokens))
            .collect(),
        host,
        port,
        user,
        policy,
        known_hosts,
    })
}

/// The local user name, for the default remote user.
pub(crate) fn local_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "root".to_string())
}

/// The russh event handler: only the host key check matters to us.
pub(crate) struct Client {
    target: Target,
    /// Why the host key was refused, for the error message.
    refusal: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let public = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            russh::keys::PublicKeyOrCertificate::Certificate(cert) => {
                PublicKey::new(cert.public_key().clone(), "")
            }
        };
        let key = HostKey {
            algorithm: public.algorithm().as_str().to_string(),
            base64: public.public_key_base64(),
        };
        let t = &self.target;
        match known_hosts::check(
            t.policy,
            &t.host,
            t.port,
            &key,
            &t.known_hosts,
            &t.known_hosts[0],
        ) {
            Ok(()) => Ok(true),
            Err(e) => {
                // A poisoned lock still holds a usable slot.
                *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{e:#}"));
                Ok(false)
            }
        }
    }
}

/// Channels open at once on one session. OpenSSH's sshd allows 10 (MaxSessions); more
/// commands wait for a free channel instead of failing.
const MAX_CHANNELS: usize = 8;

/// An authenticated SSH session.
pub(crate) struct SshSession {
    handle: Arc<Handle<Client>>,
    channels: Arc<tokio::sync::Semaphore>,
    pub user: String,
    /// `user@host:port`, for messages.
    pub label: String,
}

pub(crate) fn unreachable(message: String) -> anyhow::Error {
    anyhow::Error::new(Unreachable(message))
}

/// Connects (directly or through the ProxyJump route), checks the host key and
/// authenticates.
pub(crate) async fn connect(spec: &ConnectSpec) -> Result<SshSession> {
    let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("/"));
    let local_user = local_user();
    let config = ssh_config::load(&home.join(".ssh/config"), &spec.address)?;
    let target = resolve(spec, &config, &home, &local_user)?;
    let from_args = match &spec.ssh_args {
        Some(args) => jump::from_args(
            args,
            &format!("host {}: ansible_ssh_common_args", spec.name),
        )?,
        None => None,
    };
    let route = jump::parse_route(from_args.or(config.proxy_jump).as_deref().unwrap_or(""))
        .map_err(|e| anyhow!("host {}: {e:#}", spec.name))?;
    open(spec, target, route).await
}

fn timeout_of(spec: &ConnectSpec) -> Duration {
    Duration::from_secs(if spec.timeout_secs == 0 {
        10
    } else {
        spec.timeout_secs
    })
}

/// Opens the session to `target`, through the last hop of `route` when there is one.
fn open(
    spec: &ConnectSpec,
    target: Target,
    route: Vec<Hop>,
) -> Pin<Box<dyn Future<Output = Result<SshSession>> + Send + '_>> {
    Box::pin(async move {
        let timeout = timeout_of(spec);
        let direct = format!("{}:{}", target.host, target.port);
        let started = Instant::now();
        if target.policy == Policy::Off {
            crate::inventory::warn(&format!(
                "host key checking is off for {} ({direct}): its identity is not verified",
                spec.name
            ));
        }
        let (handle, place) = match route.split_last() {
            None => {
                let socket = tcp(&direct, &target, timeout).await?;
                let socket = super::quickack::QuickAck::new(socket).map_err(|e| {
                    unreachable(format!("cannot set up the socket to {direct}: {e}"))
                })?;
                (handshake(socket, &target, &direct, timeout).await?, direct)
            }
            Some((last, before)) => {
                let (via, via_label) = jump_session(spec, last, before.to_vec()).await?;
                let place = format!("{direct} via {via_label}");
                let open = via.channel_open_direct_tcpip(
                    target.host.clone(),
                    u32::from(target.port),
                    "127.0.0.1",
                    0,
                );
                let channel = tokio::time::timeout(timeout, open)
                    .await
                    .map_err(|_| {
                        unreachable(format!(
                            "timed out after {}s: jump host {via_label} did not connect to \
                             {direct}",
                            timeout.as_secs()
                        ))
                    })?
                    .map_err(|e| {
                        unreachable(format!(
                            "jump host {via_label} could not connect to {direct}: {e}"
                        ))
                    })?;
                let stream = channel.into_stream();
                (handshake(stream, &target, &place, timeout).await?, place)
            }
        };
        tracing::debug!(%place, elapsed = ?started.elapsed(), "SSH handshake done");
        let mut handle = handle;

        let label = format!("{}@{place}", target.user);
        let auth = super::auth::authenticate(&mut handle, spec, &target);
        match tokio::time::timeout(timeout * 3, auth).await {
            Err(_) => Err(unreachable(format!(
                "timed out after {}s authenticating {label}",
                (timeout * 3).as_secs()
            ))),
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => {
                tracing::debug!(%label, elapsed = ?started.elapsed(), "authenticated");
                Ok(SshSession {
                    handle: Arc::new(handle),
                    channels: Arc::new(tokio::sync::Semaphore::new(MAX_CHANNELS)),
                    user: target.user,
                    label,
                })
            }
        }
    })
}

/// The shared session to `hop`, itself reached through `before`. The hop's settings come
/// from `~/.ssh/config` (except its own ProxyJump) under the hop's values; it uses the
/// host's key file, host key policy and known_hosts, never its password.
async fn jump_session(
    spec: &ConnectSpec,
    hop: &Hop,
    before: Vec<Hop>,
) -> Result<(Arc<Handle<Client>>, String)> {
    let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("/"));
    let hop_spec = ConnectSpec {
        name: format!("jump host {hop}"),
        address: hop.host.clone(),
        port: hop.port,
        user: hop.user.clone(),
        password: None,
        ssh_args: None,
        ..spec.clone()
    };
    let config = ssh_config::load(&home.join(".ssh/config"), &hop.host)?;
    let target = resolve(&hop_spec, &config, &home, &local_user())?;
    let label = format!("{}@{}:{}", target.user, target.host, target.port);
    let chain: Vec<String> = before.iter().map(Hop::to_string).collect();
    let key = format!(
        "{label} via [{}] key {:?} policy {:?} known_hosts {:?}",
        chain.join(","),
        spec.private_key,
        target.policy,
        target.known_hosts
    );
    let shared = jump::session(key, || async {
        match open(&hop_spec, target, before).await {
            Ok(session) => Ok(session.handle),
            Err(e) => Err(format!("{e:#}")),
        }
    })
    .await;
    match shared {
        Ok(handle) if !handle.is_closed() => Ok((handle, label)),
        Ok(_) => Err(unreachable(format!(
            "session to jump host {label} is closed"
        ))),
        Err(message) => Err(unreachable(format!("jump host {label}: {message}"))),
    }
}

/// The TCP connection to `target`, under the connection timeout.
async fn tcp(place: &str, target: &Target, timeout: Duration) -> Result<tokio::net::TcpStream> {
    let socket = tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    .map_err(|_| {
        unreachable(format!(
            "timed out after {}s connecting to {place}",
            timeout.as_secs()
        ))
    })?
    .map_err(|e| unreachable(format!("cannot connect to {place}: {e}")))?;
    // `Config::nodelay` applies only to sockets russh opens itself: without this, Nagle's
    // algorithm holds back each small channel request for a delayed ACK (~40 ms a command).
    socket
        .set_nodelay(true)
        .map_err(|e| unreachable(format!("cannot set TCP_NODELAY on {place}: {e}")))?;
    Ok(socket)
}

/// The SSH handshake over `stream`, with the host key checked against `target`'s policy.
async fn handshake<S>(
    stream: S,
    target: &Target,
    place: &str,
    timeout: Duration,
) -> Result<Handle<Client>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let config = Arc::new(client::Config {
        // A dead link is noticed after about four connection timeouts of silence.
        keepalive_interval: Some(timeout),
        keepalive_max: 3,
        // Also bounds russh's wait to write to the socket: with the link dead and the send
        // buffer full (a stream was being written), the keepalives alone never fire. A live
        // peer answers every keepalive, so a working session never meets this limit.
        inactivity_timeout: Some(timeout * 5),
        nodelay: true,
        ..Default::default()
    });
    let refusal = Arc::new(Mutex::new(None));
    let handler = Client {
        target: target.clone(),
        refusal: refusal.clone(),
    };
    let handshake = tokio::time::timeout(timeout, client::connect_stream(config, stream, handler));
    match handshake.await {
        Err(_) => Err(unreachable(format!(
            "timed out after {}s in the SSH handshake with {place}",
            timeout.as_secs()
        ))),
        Ok(Err(e)) => {
            let refused = refusal.lock().unwrap_or_else(|p| p.into_inner()).take();
            Err(unreachable(match refused {
                Some(message) => message,
                None => format!("SSH handshake with {place} failed: {e}"),
            }))
        }
        Ok(Ok(handle)) => Ok(handle),
    }
}

impl SshSession {
    /// Opens a new channel on the shared session and starts `line` there, without a PTY.
    /// `line` must carry `mark(&token)` inside its shell script (`Session::start` puts it
    /// there).
    pub(crate) async fn start(&self, line: &str, token: String) -> Result<(ReadSide, WriteSide)> {
        let lost = |e: russh::Error| {
            if self.handle.is_closed() {
                unreachable(format!("session to {} is closed", self.label))
            } else {
                unreachable(format!("session to {} lost: {e}", self.label))
            }
        };
        let permit = self
            .channels
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| unreachable(format!("session to {} closed", self.label)))?;
        let channel = self.handle.channel_open_session().await.map_err(lost)?;
        tracing::debug!(label = %self.label, channel = %channel.id(), "channel open");
        tracing::trace!(label = %self.label, channel = %channel.id(), command = %line);
        // `exec` so that the login shell does not linger as a parent (a signal then reaches
        // the command's own shell, and its status is the command's). The script exports the
        // variable that marks the command's processes, so that an interrupt can find and stop
        // them (no `env` in front: each program started on the host costs a millisecond or two).
        channel
            .exec(true, format!("exec {line}"))
            .await
            .map_err(lost)?;
        let (read, write) = channel.split();
        let write = Arc::new(write);
        let read = ReadSide {
            half: read,
            label: self.label.clone(),
            _permit: permit,
            signaller: write.clone(),
            stopping: None,
            handle: self.handle.clone(),
            token,
        };
        Ok((
            read,
            WriteSide {
                half: write,
                eof: false,
            },
        ))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    pub(crate) async fn close(&self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }
}

pub(crate) struct ReadSide {
    half: ChannelReadHalf,
    label: String,
    /// The channel's place among `MAX_CHANNELS`, given back when the command is done.
    _permit: tokio::sync::OwnedSemaphorePermit,
    /// The channel's sending half, shared with `WriteSide`, to send signals.
    signaller: Arc<ChannelWriteHalf<client::Msg>>,
    /// When the command was sent SIGTERM after an interrupt.
    stopping: Option<Instant>,
    /// The session, to run the command that stops this one.
    handle: Arc<Handle<Client>>,
    /// The value of `RUN_VAR` in the command's environment.
    token: String,
}

/// Resolves at `deadline`, never without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The environment variable that marks the processes of one command.
const RUN_VAR: &str = "MESTRAL_RUN";

/// The start of a command's script that marks its processes with `token`: its children
/// carry `RUN_VAR` in their environment, the shell itself has the text in its command line.
pub(crate) fn mark(token: &str) -> String {
    format!("{RUN_VAR}={token}; export {RUN_VAR}; ")
}

/// A value of `RUN_VAR` unique to one command of this controller process.
pub(crate) fn run_token() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}-{n}", std::process::id())
}

/// Shell that sends SIGTERM to every process carrying `RUN_VAR=token` and to its process
/// group: the signal request of SSH is refused by OpenSSH for root logins (no privilege
/// separation child), so the processes are found through /proc instead.
/// The command's own shell is found by `mark` in its command line (the pattern `[e]xport`
/// keeps this script from finding itself).
fn stop_script(token: &str) -> String {
    format!(
        "for f in /proc/[0-9]*/environ; do \
         if grep -qzx '{RUN_VAR}={token}' \"$f\" 2>/dev/null || \
         grep -qa '{RUN_VAR}={token}; [e]xport {RUN_VAR}; ' \"${{f%/environ}}/cmdline\" 2>/dev/null; \
         then p=${{f#/proc/}}; p=${{p%/environ}}; \
         g=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -d' ' -f3); \
         [ -n \"$g\" ] && kill -TERM -- -\"$g\" 2>/dev/null; kill -TERM \"$p\" 2>/dev/null; \
         fi; done; true"
    )
}

impl ReadSide {
    /// Sends SIGTERM to the command: by the SSH signal request, and by the marked processes
    /// found on the host. The work runs on its own task (the second command waits at most
    /// `STOP_GRACE`), so that `next` stays safe to cancel: a caller may give up waiting for an
    /// event at any point without losing one.
    pub(crate) fn stop(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(Instant::now());
        let signaller = self.signaller.clone();
        let handle = self.handle.clone();
        let script = stop_script(&self.token);
        tokio::spawn(async move {
            let _ = signaller.signal(russh::Sig::TERM).await;
            let Ok(mut channel) = handle.channel_open_session().await else {
                return;
            };
            if channel.exec(true, script).await.is_err() {
                return;
            }
            let _ = tokio::time::timeout(STOP_GRACE, async {
                while let Some(message) = channel.wait().await {
                    if matches!(message, ChannelMsg::Close | ChannelMsg::ExitStatus { .. }) {
                        break;
                    }
                }
            })
            .await;
        });
    }
}

/// How long a command sent SIGTERM may take to end before the wait is given up.
const STOP_GRACE: Duration = Duration::from_secs(5);

impl ReadSide {
    pub(crate) async fn next(&mut self) -> Result<Event> {
        loop {
            let message = match self.stopping {
                Some(since) => {
                    let wait =
                        tokio::time::timeout_at((since + STOP_GRACE).into(), self.half.wait());
                    wait.await.map_err(|_| {
                        anyhow!(
                            "the command on {} did not end within {} s of SIGTERM",
                            self.label,
                            STOP_GRACE.as_secs()
                        )
                    })?
                }
                None => tokio::select! {
                    message = self.half.wait() => message,
                    _ = super::wait_interrupt() => {
                        self.stop();
                        let note = "interrupted: the command was sent SIGTERM\n";
                        return Ok(Event::Stderr(note.as_bytes().to_vec()));
                    }
                    _ = until(super::deadline()) => {
                        self.stop();
                        let note = "the task's timeout ended: the command was sent SIGTERM\n";
                        return Ok(Event::Stderr(note.as_bytes().to_vec()));
                    }
                },
            };
            let Some(message) = message else {
                return Err(unreachable(format!(
                    "session to {} closed while a command ran",
                    self.label
                )));
            };
            return Ok(match message {
                ChannelMsg::Data { data } => Event::Stdout(data.to_vec()),
                ChannelMsg::ExtendedData { data, .. } => Event::Stderr(data.to_vec()),
                ChannelMsg::ExitStatus { exit_status } => Event::Exit(exit_status as i32),
                ChannelMsg::ExitSignal { signal_name, .. } => Event::Signal(sig_name(&signal_name)),
                ChannelMsg::Failure => Event::Stderr(
                    format!("{} refused to run the command\n", self.label).into_bytes(),
                ),
                ChannelMsg::Close => Event::End,
                _ => continue,
            });
        }
    }
}

fn sig_name(signal: &russh::Sig) -> String {
    use russh::Sig;
    let name = match signal {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(other) => other,
    };
    name.to_string()
}

pub(crate) struct WriteSide {
    half: Arc<ChannelWriteHalf<client::Msg>>,
    eof: bool,
}

impl WriteSide {
    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.half
            .data_bytes(data.to_vec())
            .await
            .map_err(|e| anyhow!("cannot write to the command's stdin: {e}"))
    }

    pub(crate) async fn eof(&mut self) -> Result<()> {
        if !self.eof {
            self.eof = true;
            self.half
                .eof()
                .await
                .map_err(|e| anyhow!("cannot close the command's stdin: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_script_ends_the_marked_process_group() {
        let token = run_token();
        assert_ne!(token, run_token(), "tokens are unique");
        // In a session of its own, as sshd starts a command: the group is signalled.
        let mut marked = std::process::Command::new("setsid")
            .args([
                "env",
                &format!("{RUN_VAR}={token}"),
                "sh",
                "-c",
                "sleep 30; true",
            ])
            .spawn()
            .expect("setsid runs");
        let mut scripted = std::process::Command::new("setsid")
            .args(["sh", "-c", &format!("{}while :; do :; done", mark(&token))])
            .spawn()
            .expect("setsid runs");
        let mut other = std::process::Command::new("setsid")
            .args(["env", &format!("{RUN_VAR}={token}x"), "sleep", "30"])
            .spawn()
            .expect("setsid runs");
        std::thread::sleep(Duration::from_millis(200));
        let status = std::process::Command::new("sh")
            .args(["-c", &stop_script(&token)])
            .status()
            .expect("sh runs");
        assert!(status.success());
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(marked.wait().expect("marked ends").signal(), Some(15));
        assert_eq!(scripted.wait().expect("scripted ends").signal(), Some(15));
        assert_eq!(
            other.try_wait().expect("other runs"),
            None,
            "another token is spared"
        );
        other.kill().expect("kill other");
        let _ = other.wait();
    }

    #[test]
    fn spec_wins_over_ssh_config() {
        let config = HostConfig {
            hostname: Some("%h.internal".into()),
            user: Some("deploy".into()),
            port: Some(2222),
            identity_files: vec!["~/.ssh/id_%r".into()],
            strict_host_key_checking: Some("yes".into()),
            user_known_hosts_files: vec!["~/kh".into(), "/etc/kh2".into()],
            proxy_jump: None,
        };
        let home = Path::new("/home/me");
        let bare = ConnectSpec {
            address: "web1".into(),
            ..Default::default()
        };
        let target = resolve(&bare, &config, home, "me").unwrap();
        assert_eq!(
            target,
            Target {
                host: "web1.internal".into(),
                port: 2222,
                user: "deploy".into(),
                identity_files: vec![PathBuf::from("/home/me/.ssh/id_deploy")],
                policy: Policy::Strict,
                known_hosts: ["/home/me/kh", "/etc/kh2", "/etc/ssh/ssh_known_hosts"]
                    .map(PathBuf::from)
                    .to_vec(),
            }
        );

        let full = ConnectSpec {
            address: "web1".into(),
            port: Some(22),
            user: Some("root".into()),
            host_key_checking: "off".into(),
            known_hosts: Some(PathBuf::from("/tmp/kh")),
            ..Default::default()
        };
        let target = resolve(&full, &config, home, "me").unwrap();
        assert_eq!((target.port, target.user.as_str()), (22, "root"));
        assert_eq!(target.policy, Policy::Off);
        assert_eq!(
            target.known_hosts,
            ["/tmp/kh", "/etc/ssh/ssh_known_hosts"]
                .map(PathBuf::from)
                .to_vec()
        );
    }

    #[test]
    fn defaults_without_ssh_config() {
        let spec = ConnectSpec {
            address: "172.30.8.250".into(),
            ..Default::default()
        };
        let target = resolve(&spec, &HostConfig::default(), Path::new("/root"), "root").unwrap();
        assert_eq!(
            target,
            Target {
                host: "172.30.8.250".into(),
                port: 22,
                user: "root".into(),
                identity_files: Vec::new(),
                policy: Policy::AcceptNew,
                known_hosts: ["/root/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"]
                    .map(PathBuf::from)
                    .to_vec(),
            }
        );
    }
}
