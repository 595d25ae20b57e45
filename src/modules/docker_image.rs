//! `docker_image`: make sure an image exists on the host, building it when asked. Besides
//! Ansible's `build.path` (a directory on the host), `build.context` names a directory on
//! the controller: it is packed as a tar and streamed to `docker build -`, and its
//! fingerprint, kept in the image label `org.mestral.context`, makes the build idempotent.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, text_opt};
use super::docker::{self, first_json, image_probe, image_ref, ImageInfo, DOCKER};
use super::docker_context;
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::{as_text, Value, Vars};

/// The image label holding the build context's fingerprint.
pub const CONTEXT_LABEL: &str = "org.mestral.context";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ImageArgs {
    name: String,
    #[serde(default, deserialize_with = "text_opt")]
    tag: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    source: Option<String>,
    #[serde(default)]
    build: Option<BuildArgs>,
    #[serde(default, deserialize_with = "loose_bool")]
    force_source: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    force_absent: bool,
    #[serde(default, deserialize_with = "text_opt")]
    state: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildArgs {
    #[serde(default, deserialize_with = "text_opt")]
    path: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    context: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    dockerfile: Option<String>,
    #[serde(default)]
    args: Option<Vars>,
    #[serde(default, deserialize_with = "loose_bool")]
    nocache: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    pull: bool,
    #[serde(default, deserialize_with = "text_opt")]
    network: Option<String>,
}

/// What to do with the image.
#[derive(Debug, PartialEq)]
pub enum Decision {
    Keep,
    Build,
    Remove,
    Fail(String),
}

/// Where the wanted image comes from.
#[derive(Debug, PartialEq)]
pub enum Source<'a> {
    /// A controller context with its fingerprint.
    Context(&'a str),
    /// A directory on the host.
    HostPath,
    Local,
}

/// Decides from the existing image (if any), the wanted source and `force_source`.
pub fn decide(
    absent: bool,
    source: &Source,
    existing: Option<&ImageInfo>,
    force: bool,
) -> Decision {
    match (absent, source, existing) {
        (true, _, Some(_)) => Decision::Remove,
        (true, _, None) => Decision::Keep,
        (false, Source::Local, Some(_)) => Decision::Keep,
        (false, Source::Local, None) => Decision::Fail("image not found on the host".into()),
        (false, _, _) if force => Decision::Build,
        (false, Source::HostPath, Some(_)) => Decision::Keep,
        (false, Source::Context(hash), Some(img)) if img.label(CONTEXT_LABEL) == Some(hash) => {
            Decision::Keep
        }
        (false, _, _) => Decision::Build,
    }
}

/// One `docker build` invocation.
#[derive(Debug, Default)]
pub struct BuildLine<'a> {
    pub image: &'a str,
    pub dockerfile: &'a str,
    /// `-` to read the context tar from stdin, else a directory on the host (quoted here).
    pub context: &'a str,
    pub label: Option<&'a str>,
    pub args: &'a [(String, String)],
    pub nocache: bool,
    pub pull: bool,
    pub network: Option<&'a str>,
}

impl BuildLine<'_> {
    /// The command line, always through the classic builder (the lab's daemon has no
    /// BuildKit).
    pub fn command(&self) -> String {
        let mut cmd = format!("DOCKER_BUILDKIT=0 {DOCKER} build -t {}", quote(self.image));
        if let Some(hash) = self.label {
            cmd.push_str(&format!(" --label {CONTEXT_LABEL}={}", quote(hash)));
        }
        cmd.push_str(&format!(" -f {}", quote(self.dockerfile)));
        for (k, v) in self.args {
            cmd.push_str(&format!(" --build-arg {}", quote(&format!("{k}={v}"))));
        }
        if self.nocache {
            cmd.push_str(" --no-cache");
        }
        if self.pull {
            cmd.push_str(" --pull");
        }
        if let Some(net) = self.network {
            cmd.push_str(&format!(" --network {}", quote(net)));
        }
        if self.context == "-" {
            cmd.push_str(" -");
        } else {
            cmd.push_str(&format!(" {}", quote(self.context)));
        }
        cmd
    }
}

/// Runs `docker_image`.
pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let a: ImageArgs = match args::parse("docker_image", args) {
        Ok(a) => a,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let image = image_ref(&a.name, a.tag.as_deref());
    let absent = match a.state.as_deref().unwrap_or("present") {
        "present" => false,
        "absent" => true,
        other => {
            return Ok(ModuleOutput::failed(format!(
                "docker_image: state '{other}' is not one of present, absent"
            )))
        }
    };
    let build = a.build.unwrap_or_default();
    let source_name =
        a.source
            .as_deref()
            .unwrap_or(if build.path.is_some() || build.context.is_some() {
                "build"
            } else {
                "local"
            });
    let build_args: Vec<(String, String)> = build
        .args
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), as_text(v)))
        .collect();
    let dockerfile = build
        .dockerfile
        .clone()
        .unwrap_or_else(|| "Dockerfile".into());

    // A controller context is read now: its fingerprint is part of the decision.
    let mut context = None;
    let hash;
    let source = match (source_name, &build.context, &build.path) {
        (_, _, _) if absent => Source::Local,
        ("local", _, _) => Source::Local,
        ("build", Some(dir), None) => {
            let Some(root) = ctx.find_src(dir).filter(|p| p.is_dir()) else {
                return Ok(ModuleOutput::failed(format!(
                    "docker_image: build context directory '{dir}' was not found on the controller"
                )));
            };
            let entries = match docker_context::read(&root) {
                Ok(e) => e,
                Err(e) => return Ok(ModuleOutput::failed(format!("docker_image: {e:#}"))),
            };
            hash = docker_context::fingerprint(&entries, &dockerfile, &build_args);
            context = Some(entries);
            Source::Context(&hash)
        }
        ("build", None, Some(_)) => Source::HostPath,
        ("build", _, _) => {
            return Ok(ModuleOutput::failed(
                "docker_image: source 'build' needs exactly one of build.path or build.context",
            ))
        }
        (other, _, _) => {
            return Ok(ModuleOutput::failed(format!(
                "docker_image: source '{other}' is not supported (build or local)"
            )))
        }
    };

    let probe = ctx.exec(&image_probe(&image)).await?;
    if probe.rc != 0 {
        return Ok(docker::failure("docker image inspect", &probe));
    }
    let existing: Option<ImageInfo> = match first_json(&probe) {
        Ok(v) => v,
        Err(e) => return Ok(ModuleOutput::failed(format!("docker_image: {e}"))),
    };
    let decision = decide(absent, &source, existing.as_ref(), a.force_source);
    let raw_image = || {
        first_json::<Value>(&probe)
            .ok()
            .flatten()
            .unwrap_or(Value::Null)
    };
    match decision {
        Decision::Keep => return Ok(ModuleOutput::ok().with("image", raw_image())),
        Decision::Fail(why) => {
            return Ok(ModuleOutput::failed(format!(
                "docker_image: {image}: {why}"
            )))
        }
        _ if ctx.check => return Ok(ModuleOutput::changed(true).with("image", raw_image())),
        Decision::Remove => {
            let force = if a.force_absent { " -f" } else { "" };
            let out = ctx
                .exec(&format!("{DOCKER} image rm{force} {}", quote(&image)))
                .await?;
            if out.rc != 0 {
                return Ok(docker::failure("docker image rm", &out));
            }
            return Ok(ModuleOutput::changed(true).with("image", json!({})));
        }
        Decision::Build => {}
    }

    // Build: from the streamed context, or from the host's directory.
    let mut line = BuildLine {
        image: &image,
        dockerfile: &dockerfile,
        context: "-",
        label: None,
        args: &build_args,
        nocache: build.nocache,
        pull: build.pull,
        network: build.network.as_deref(),
    };
    let host_file;
    let out = match (&context, &build.path) {
        (Some(entries), _) => {
            let tar = match docker_context::tar(entries) {
                Ok(t) => t,
                Err(e) => return Ok(ModuleOutput::failed(format!("docker_image: {e:#}"))),
            };
            if let Source::Context(h) = &source {
                line.label = Some(h);
            }
            ctx.exec_stdin(&line.command(), &tar).await?
        }
        (None, Some(path)) => {
            // Ansible reads a relative Dockerfile name from inside build.path.
            host_file = if dockerfile.starts_with('/') {
                dockerfile.clone()
            } else {
                format!("{}/{dockerfile}", path.trim_end_matches('/'))
            };
            line.dockerfile = &host_file;
            line.context = path;
            ctx.exec(&line.command()).await?
        }
        (None, None) => {
            return Ok(ModuleOutput::failed("docker_image: nothing to build from"));
        }
    };
    if out.rc != 0 {
        return Ok(docker::failure("docker build", &out));
    }

    let after = ctx.exec(&image_probe(&image)).await?;
    let info: Option<ImageInfo> = first_json(&after).ok().flatten();
    let raw_after = first_json::<Value>(&after)
        .ok()
        .flatten()
        .unwrap_or(Value::Null);
    let changed = match (&existing, &info) {
        (Some(before), Some(now)) => before.id != now.id,
        _ => true,
    };
    Ok(ModuleOutput::changed(changed)
        .with("image", raw_after)
        .with("stdout", json!(out.stdout_text())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(hash: &str) -> ImageInfo {
        serde_json::from_value(json!({
            "Id": "sha256:aa", "RepoTags": ["app:latest"],
            "Config": {"Labels": {CONTEXT_LABEL: hash}}
        }))
        .unwrap()
    }

    #[test]
    fn decisions() {
        let img = labelled("h1");
        let plain = ImageInfo {
            id: "sha256:bb".into(),
            ..ImageInfo::default()
        };
        let cases = [
            (
                false,
                Source::Context("h1"),
                Some(&img),
                false,
                Decision::Keep,
            ),
            (
                false,
                Source::Context("h2"),
                Some(&img),
                false,
                Decision::Build,
            ),
            (
                false,
                Source::Context("h1"),
                Some(&plain),
                false,
                Decision::Build,
            ),
            (false, Source::Context("h1"), None, false, Decision::Build),
            (
                false,
                Source::Context("h1"),
                Some(&img),
                true,
                Decision::Build,
            ),
            (false, Source::HostPath, Some(&plain), false, Decision::Keep),
            (false, Source::HostPath, Some(&plain), true, Decision::Build),
            (false, Source::HostPath, None, false, Decision::Build),
            (false, Source::Local, Some(&plain), false, Decision::Keep),
            (
                false,
                Source::Local,
                None,
                false,
                Decision::Fail("image not found on the host".into()),
            ),
            (true, Source::Local, Some(&plain), false, Decision::Remove),
            (true, Source::Local, None, false, Decision::Keep),
        ];
        for (absent, source, existing, force, want) in cases {
            assert_eq!(
                decide(absent, &source, existing, force),
                want,
                "{absent} {source:?} {existing:?} {force}"
            );
        }
    }

    #[test]
    fn build_lines() {
        let args = [("VER".to_string(), "0.1".to_string())];
        let streamed = BuildLine {
            image: "calx-app:latest",
            dockerfile: "Dockerfile",
            context: "-",
            label: Some("ab12"),
            args: &args,
            ..BuildLine::default()
        };
        assert_eq!(
            streamed.command(),
            "DOCKER_BUILDKIT=0 docker build -t calx-app:latest --label org.mestral.context=ab12 \
             -f Dockerfile --build-arg VER=0.1 -"
        );
        let on_host = BuildLine {
            image: "app:1",
            dockerfile: "/srv/my app/Dockerfile",
            context: "/srv/my app",
            nocache: true,
            pull: true,
            network: Some("host"),
            ..BuildLine::default()
        };
        assert_eq!(
            on_host.command(),
            "DOCKER_BUILDKIT=0 docker build -t app:1 -f '/srv/my app/Dockerfile' --no-cache \
             --pull --network host '/srv/my app'"
        );
    }
}
