//! `docker_image_copy` (mestral's own): copy an image from another inventory host into the
//! task's host without a registry. `docker save` on the source is streamed chunk by chunk
//! through the controller into `docker load` on the target (gzip on the wire by default);
//! the copy is skipped when the target already holds the same image Id.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, loose_u64};
use super::docker::{image_ref, inspect_or_null, with_pipefail, DOCKER};
use super::{ModuleCtx, ModuleOutput};
use tokio::time::timeout;

use crate::connection::{quote, Become, ExecOutput, Session, Unreachable};
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CopyArgs {
    name: String,
    source_host: String,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    compress: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    force: bool,
    /// Seconds without a byte moving after which the copy is given up.
    #[serde(default = "stall_default", deserialize_with = "loose_u64")]
    stall_timeout: u64,
}

fn yes() -> bool {
    true
}

/// The default `stall_timeout`: long enough for `docker save` of a big image, which may
/// export the whole image before its first byte.
fn stall_default() -> u64 {
    300
}

/// What to do, from the image Ids on both sides (`None` when absent).
#[derive(Debug, PartialEq)]
pub enum Decision {
    Keep,
    Copy,
    Fail(String),
}

pub fn decide(source_id: Option<&str>, target_id: Option<&str>, force: bool) -> Decision {
    match (source_id, target_id) {
        (None, _) => Decision::Fail("the image is not on the source host".into()),
        (Some(s), Some(t)) if s == t && !force => Decision::Keep,
        _ => Decision::Copy,
    }
}

/// Prints the image's Id, or `null` when the host does not have it.
pub fn id_probe(image: &str) -> String {
    inspect_or_null(&format!(
        "{DOCKER} image inspect --format '{{{{.Id}}}}' {}",
        quote(image)
    ))
}

/// The source side: the image as a tar on stdout.
pub fn save_command(image: &str, compress: bool) -> String {
    let save = format!("{DOCKER} save {}", quote(image));
    if compress {
        with_pipefail(&format!("{save} | gzip -1"))
    } else {
        save
    }
}

/// The target side: the tar from stdin into the daemon.
pub fn load_command(compress: bool) -> String {
    if compress {
        with_pipefail(&format!("gunzip | {DOCKER} load"))
    } else {
        format!("{DOCKER} load")
    }
}

fn parse_id(out: &ExecOutput) -> Option<String> {
    let text = out.stdout_text();
    let id = text.lines().next().unwrap_or("").trim();
    (!id.is_empty() && id != "null").then(|| id.to_string())
}

/// Runs `docker_image_copy` on the task's host (the target).
pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let a: CopyArgs = match args::parse("docker_image_copy", args) {
        Ok(a) => a,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let image = image_ref(&a.name, None);
    if a.source_host == ctx.host {
        return Ok(ModuleOutput::ok().with_msg("the source host is the task's host"));
    }
    let source = ctx.sessions.session(&a.source_host).await?;

    // Probe both sides.
    let probe = id_probe(&image);
    let src_out = source.exec(&probe, None, ctx.escalation).await?;
    if src_out.rc != 0 {
        return Ok(side_failure(
            "image inspect on the source",
            &a.source_host,
            &src_out,
        ));
    }
    let dst_out = ctx.exec(&probe).await?;
    if dst_out.rc != 0 {
        return Ok(side_failure(
            "image inspect on the target",
            ctx.host,
            &dst_out,
        ));
    }
    let (src_id, dst_id) = (parse_id(&src_out), parse_id(&dst_out));
    let values = |o: ModuleOutput| o.with("image", json!(image)).with("id", json!(src_id));
    match decide(src_id.as_deref(), dst_id.as_deref(), a.force) {
        Decision::Keep => return Ok(values(ModuleOutput::ok())),
        // In check mode the source's build may itself have been only simulated.
        Decision::Fail(_) if ctx.check && src_id.is_none() => {
            return Ok(ModuleOutput::changed(true).with_msg(format!(
                "{image} is not on {} yet; it would be copied once built",
                a.source_host
            )))
        }
        Decision::Fail(why) => {
            return Ok(ModuleOutput::failed(format!(
                "docker_image_copy: {image}: {why} ({})",
                a.source_host
            )))
        }
        Decision::Copy if ctx.check => return Ok(values(ModuleOutput::changed(true))),
        Decision::Copy => {}
    }

    let stall = Duration::from_secs(a.stall_timeout.max(1));
    let source_side = Side {
        name: &a.source_host,
        session: &source,
        command: save_command(&image, a.compress),
    };
    let target_side = Side {
        name: ctx.host,
        session: ctx.session,
        command: load_command(a.compress),
    };
    let started = Instant::now();
    let outcome = transfer(&source_side, &target_side, ctx.escalation, stall).await;
    let Transfer {
        bytes,
        broken,
        source_end: src_end,
        target_end: dst_end,
    } = match outcome {
        Ok(t) => t,
        Err(e) => match e.downcast::<Unreachable>() {
            Ok(Unreachable(why)) => {
                return Err(Unreachable(format!("docker_image_copy: {image}: {why}")).into())
            }
            Err(e) => return Err(e),
        },
    };
    let seconds = started.elapsed().as_secs_f64();
    let rate = if seconds > 0.0 {
        (bytes as f64 / seconds) as u64
    } else {
        bytes
    };
    let moved = |o: ModuleOutput| {
        o.with("bytes", json!(bytes))
            .with("seconds", json!(seconds))
            .with("rate", json!(rate))
    };
    if broken.is_some() || src_end.rc != 0 || dst_end.rc != 0 {
        let msg = format!(
            "docker_image_copy: {image} from {} failed{}: source rc {} ({}), target rc {} ({})",
            a.source_host,
            broken.map(|b| format!(" {b}")).unwrap_or_default(),
            src_end.rc,
            said(&src_end),
            dst_end.rc,
            said(&dst_end),
        );
        return Ok(moved(values(ModuleOutput::failed(msg))));
    }

    // Verify the loaded image is the source's.
    let after = ctx.exec(&probe).await?;
    let loaded = parse_id(&after);
    if loaded != src_id {
        let msg = format!(
            "docker_image_copy: after loading, {image} on {} has Id {} but the source's is {}",
            ctx.host,
            loaded.as_deref().unwrap_or("(none)"),
            src_id.as_deref().unwrap_or("(none)")
        );
        return Ok(moved(values(ModuleOutput::failed(msg))));
    }
    Ok(moved(values(ModuleOutput::changed(true))))
}

/// One end of a transfer: the host's inventory name, its session and the command there.
pub struct Side<'a> {
    pub name: &'a str,
    pub session: &'a Session,
    pub command: String,
}

/// What a transfer did. `broken` says why the stream stopped early, if it did; the ends are
/// each side's exit code and stderr (rc -1 and a note when not known).
#[derive(Debug)]
pub struct Transfer {
    pub bytes: u64,
    pub broken: Option<String>,
    pub source_end: ExecOutput,
    pub target_end: ExecOutput,
}

/// Which session ended under a step.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Lost {
    Source,
    Target,
}

/// Streams the source command's stdout into the target command's stdin, chunk by chunk,
/// and returns both ends. Nothing waits forever while both sessions live: the target's
/// output is read while a write waits (see `Stream::write`), a source that exited is not
/// waited on for output a leftover process holds open, and when no byte moves for `stall`
/// (the source sends nothing, or the target takes nothing) the stuck side is sent SIGTERM
/// and the copy ends with both sides' messages. A session that ends is an `Unreachable`
/// error when it is the target's (its loader never sees the end of the stream, so it loads
/// nothing), and a broken copy when it is the source's.
pub async fn transfer(
    source: &Side<'_>,
    target: &Side<'_>,
    escalation: Option<&Become>,
    stall: Duration,
) -> Result<Transfer> {
    // The loader first, so it is ready for the first chunk.
    let started = Instant::now();
    let mut loader = target.session.open(&target.command, escalation).await?;
    let mut saver = source.session.open(&source.command, escalation).await?;
    let both = [
        (target.session, Lost::Target),
        (source.session, Lost::Source),
    ];
    let mut bytes: u64 = 0;
    let mut last_report = Instant::now();
    let mut broken: Option<String> = None;
    let mut lost = None;
    loop {
        let chunk = match watched(timeout(stall, saver.read()), &both).await {
            Ok(Ok(Ok(Some(chunk)))) => chunk,
            Ok(Ok(Ok(None))) => break,
            Ok(Ok(Err(e))) => {
                broken = Some(format!("reading from {}: {e:#}", source.name));
                break;
            }
            Ok(Err(_)) => {
                saver.stop();
                broken = Some(format!(
                    "no data from {} for {} s after {bytes} bytes (its command was sent \
                     SIGTERM)",
                    source.name,
                    stall.as_secs()
                ));
                break;
            }
            Err(side) => {
                lost = Some(side);
                break;
            }
        };
        bytes += chunk.len() as u64;
        match watched(timeout(stall, loader.write(&chunk)), &both).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                broken = Some(format!("writing to {}: {e:#}", target.name));
                break;
            }
            Ok(Err(_)) => {
                loader.stop();
                saver.stop();
                broken = Some(format!(
                    "{} took no data for {} s after {bytes} bytes (both commands were sent \
                     SIGTERM)",
                    target.name,
                    stall.as_secs()
                ));
                break;
            }
            Err(side) => {
                lost = Some(side);
                break;
            }
        }
        if last_report.elapsed() >= Duration::from_millis(500) {
            last_report = Instant::now();
            let rate = (bytes as f64 / started.elapsed().as_secs_f64()) as u64;
            crate::output::transfer_progress(target.name, bytes, rate);
            tracing::info!(
                target: "mestral::progress",
                host = target.name,
                bytes,
                rate,
                "copying image"
            );
        }
    }

    // A step that failed because its session ended is a lost side, whichever noticed first.
    if lost.is_none() && target.session.is_closed() {
        lost = Some(Lost::Target);
    }
    if lost.is_none() && source.session.is_closed() {
        lost = Some(Lost::Source);
    }
    let target_only = [(target.session, Lost::Target)];
    if lost == Some(Lost::Target) {
        return Err(Unreachable(format!(
            "the session to {} ended during the copy, after {bytes} bytes; nothing was \
             loaded there",
            target.name
        ))
        .into());
    }
    if lost == Some(Lost::Source) {
        broken = Some(format!(
            "the session to {} ended during the copy, after {bytes} bytes",
            source.name
        ));
    }
    if broken.is_some() {
        // The source may still be blocked on output nobody reads now: it is stopped, so that
        // it does not stay behind on its host.
        saver.stop();
    }
    if let Ok(Err(e)) = watched(loader.close_stdin(), &target_only).await {
        broken.get_or_insert(format!("closing the stream to {}: {e:#}", target.name));
    }
    let target_end = match watched(loader.finish(), &target_only).await {
        Ok(Ok(end)) => end,
        Ok(Err(e)) if !e.is::<Unreachable>() => ended(format!("{e:#}").as_bytes()),
        _ => {
            return Err(Unreachable(format!(
                "the session to {} ended at the end of the copy",
                target.name
            ))
            .into())
        }
    };
    let source_end = if lost.is_some() {
        ended(b"(the session ended)")
    } else {
        // Bounded: a stopped source that does not end is given up on (`STOP_GRACE`).
        match timeout(stall, saver.finish()).await {
            Ok(Ok(end)) => end,
            Ok(Err(e)) => ended(format!("{e:#}").as_bytes()),
            Err(_) => ended(b"(abandoned: no end after the target side stopped)"),
        }
    };
    Ok(Transfer {
        bytes,
        broken,
        source_end,
        target_end,
    })
}

/// Awaits `step` unless one of the `sessions` ends first. A write to a host whose link died
/// waits for window space forever: the keepalives close the session but do not wake the
/// writer, so the sessions are looked at every 250 ms.
async fn watched<T>(
    step: impl std::future::Future<Output = T>,
    sessions: &[(&Session, Lost)],
) -> Result<T, Lost> {
    tokio::pin!(step);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            out = &mut step => return Ok(out),
            _ = tick.tick() => {
                if let Some((_, side)) = sessions.iter().find(|(s, _)| s.is_closed()) {
                    return Err(*side);
                }
            }
        }
    }
}

/// What a side said: its stderr, or the signal that ended it when it said nothing.
fn said(out: &ExecOutput) -> String {
    let text = out.stderr_text().trim().to_string();
    if text.is_empty() && out.rc > 128 {
        format!("killed by signal {}", out.rc - 128)
    } else {
        text
    }
}

/// The end of a side whose status is not known, with why.
fn ended(why: &[u8]) -> ExecOutput {
    ExecOutput {
        rc: -1,
        stdout: vec![],
        stderr: why.to_vec(),
    }
}

fn side_failure(what: &str, host: &str, out: &ExecOutput) -> ModuleOutput {
    ModuleOutput::failed(format!(
        "docker_image_copy: {what} ({host}) failed (rc {}): {}",
        out.rc,
        out.stderr_text().trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let cases = [
            (Some("sha256:a"), Some("sha256:a"), false, Decision::Keep),
            (Some("sha256:a"), Some("sha256:a"), true, Decision::Copy),
            (Some("sha256:a"), Some("sha256:b"), false, Decision::Copy),
            (Some("sha256:a"), None, false, Decision::Copy),
            (
                None,
                Some("sha256:a"),
                false,
                Decision::Fail("the image is not on the source host".into()),
            ),
        ];
        for (s, t, force, want) in cases {
            assert_eq!(decide(s, t, force), want, "{s:?} {t:?} {force}");
        }
    }

    #[test]
    fn stream_commands() {
        assert_eq!(
            save_command("calx-app:latest", true),
            "if command -v bash >/dev/null 2>&1; then exec bash -o pipefail -c \
             'docker save calx-app:latest | gzip -1'; else exec /bin/sh -c \
             'docker save calx-app:latest | gzip -1'; fi"
        );
        assert_eq!(
            save_command("calx-app:latest", false),
            "docker save calx-app:latest"
        );
        assert_eq!(
            load_command(true),
            "if command -v bash >/dev/null 2>&1; then exec bash -o pipefail -c \
             'gunzip | docker load'; else exec /bin/sh -c 'gunzip | docker load'; fi"
        );
        assert_eq!(load_command(false), "docker load");
        assert_eq!(
            id_probe("app:latest"),
            "if o=$(docker image inspect --format '{{.Id}}' app:latest 2>/dev/null); \
             then printf '%s\\n' \"$o\"; \
             else docker info --format '{{.ID}}' >/dev/null && echo null; fi"
        );
    }

    #[test]
    fn what_a_side_said() {
        let end = |rc: i32, err: &str| ExecOutput {
            rc,
            stdout: vec![],
            stderr: err.as_bytes().to_vec(),
        };
        let cases = [
            (end(143, ""), "killed by signal 15"),
            (end(143, "Terminated\n"), "Terminated"),
            (end(1, " unexpected EOF\n"), "unexpected EOF"),
            (end(0, ""), ""),
        ];
        for (out, want) in cases {
            assert_eq!(said(&out), want, "rc {}", out.rc);
        }
    }

    #[test]
    fn reads_ids() {
        let out = |s: &str| ExecOutput {
            rc: 0,
            stdout: s.as_bytes().to_vec(),
            stderr: vec![],
        };
        assert_eq!(parse_id(&out("sha256:ab\n")), Some("sha256:ab".into()));
        assert_eq!(parse_id(&out("null\n")), None);
        assert_eq!(parse_id(&out("")), None);
    }
}
