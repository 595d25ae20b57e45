//! `docker_image_copy` (mestral's own): copy an image from another inventory host into the
//! task's host without a registry. `docker save` on the source is streamed chunk by chunk
//! through the controller into `docker load` on the target (gzip on the wire by default);
//! the copy is skipped when the target already holds the same image Id.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool};
use super::docker::{image_ref, inspect_or_null, with_pipefail, DOCKER};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::{quote, ExecOutput, Session, Unreachable};
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
}

fn yes() -> bool {
    true
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

    // Stream: the loader first, so it is ready for the first chunk.
    let started = Instant::now();
    let mut target = ctx
        .session
        .open(&load_command(a.compress), ctx.escalation)
        .await?;
    let mut saver = source
        .open(&save_command(&image, a.compress), ctx.escalation)
        .await?;
    let both = [(ctx.session, Side::Target), (&source, Side::Source)];
    let mut bytes: u64 = 0;
    let mut last_report = Instant::now();
    let mut broken: Option<String> = None;
    let mut lost = None;
    loop {
        let chunk = match watched(saver.read(), &both).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => break,
            Ok(Err(e)) => {
                broken = Some(format!("reading from {}: {e:#}", a.source_host));
                break;
            }
            Err(side) => {
                lost = Some(side);
                break;
            }
        };
        bytes += chunk.len() as u64;
        match watched(target.write(&chunk), &both).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                broken = Some(format!("writing to {}: {e:#}", ctx.host));
                break;
            }
            Err(side) => {
                lost = Some(side);
                break;
            }
        }
        if last_report.elapsed() >= Duration::from_millis(500) {
            last_report = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            crate::output::transfer_progress(ctx.host, bytes, (bytes as f64 / secs) as u64);
            tracing::info!(
                target: "mestral::progress",
                host = ctx.host,
                image = %image,
                bytes,
                rate = (bytes as f64 / secs) as u64,
                "copying image"
            );
        }
    }

    // A dead link to the target: that host is unreachable, and its loader never sees the
    // end of a stream, so it loads nothing.
    let target_only = [(ctx.session, Side::Target)];
    if lost == Some(Side::Target) {
        return Err(Unreachable(format!(
            "docker_image_copy: {image}: the session to {} ended during the copy, after {bytes} \
             bytes; nothing was loaded there",
            ctx.host
        ))
        .into());
    }
    if lost == Some(Side::Source) {
        broken = Some(format!(
            "the session to {} ended during the copy, after {bytes} bytes",
            a.source_host
        ));
    }
    if let Ok(Err(e)) = watched(target.close_stdin(), &target_only).await {
        broken.get_or_insert(format!("closing the stream to {}: {e:#}", ctx.host));
    }
    let dst_end = match watched(target.finish(), &target_only).await {
        Ok(end) => end?,
        Err(_) => {
            return Err(Unreachable(format!(
                "docker_image_copy: {image}: the session to {} ended at the end of the copy",
                ctx.host
            ))
            .into())
        }
    };
    // After a broken copy the saver may be blocked on output nobody reads: bound the wait.
    let src_end = if lost.is_some() {
        ended(b"(the session ended)")
    } else {
        match tokio::time::timeout(Duration::from_secs(10), saver.finish()).await {
            Ok(r) => r?,
            Err(_) => ended(b"(abandoned: no end after the target side stopped)"),
        }
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

/// One end of the copy.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Source,
    Target,
}

/// Awaits `step` unless one of the `sessions` ends first. A write to a host whose link died
/// waits for window space forever: the keepalives close the session but do not wake the
/// writer, so the sessions are looked at every 250 ms.
async fn watched<T>(
    step: impl std::future::Future<Output = T>,
    sessions: &[(&Session, Side)],
) -> Result<T, Side> {
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
