//! Helpers shared by the Docker modules: image references, probes that tell "absent" apart
//! from "the daemon is unreachable", JSON decoding of `--format '{{json .}}'` output and
//! failure messages that carry the command's stderr.

use serde::de::DeserializeOwned;

use super::ModuleOutput;
use crate::connection::{quote, ExecOutput};

pub use super::command::with_pipefail;

/// The Docker CLI on the host, found on its PATH.
pub const DOCKER: &str = "docker";

/// An image reference without its `@sha256:...` digest.
pub fn strip_digest(image: &str) -> &str {
    image.split_once('@').map_or(image, |(name, _)| name)
}

/// Whether the last path component of a reference carries a tag (`host:5000/app` has none).
fn has_tag(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    last.contains(':')
}

/// `name` with `tag` (or `latest`) when the name carries no tag; digests are dropped.
pub fn image_ref(name: &str, tag: Option<&str>) -> String {
    let name = strip_digest(name);
    if has_tag(name) {
        return name.to_string();
    }
    format!("{name}:{}", tag.unwrap_or("latest"))
}

/// Two image references name the same image, ignoring digests and a missing `:latest`.
pub fn same_image(a: &str, b: &str) -> bool {
    image_ref(a, None) == image_ref(b, None)
}

/// A probe that prints what `inspect` prints, or `null` when the object does not exist
/// (a failed inspect still prints an empty line, hence the capture). A daemon that cannot be
/// reached still fails (through `docker info`), with its stderr.
pub fn inspect_or_null(inspect: &str) -> String {
    format!(
        "if o=$({inspect} 2>/dev/null); then printf '%s\\n' \"$o\"; \
         else {DOCKER} info --format '{{{{.ID}}}}' >/dev/null && echo null; fi"
    )
}

/// The probe for one image: its whole inspect object, or `null`.
pub fn image_probe(image: &str) -> String {
    inspect_or_null(&format!(
        "{DOCKER} image inspect --format '{{{{json .}}}}' {}",
        quote(image)
    ))
}

/// Decodes the first line of a probe's stdout as JSON (`null` decodes to `None`).
pub fn first_json<T: DeserializeOwned>(out: &ExecOutput) -> Result<Option<T>, String> {
    let text = out.stdout_text();
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() || line == "null" {
        return Ok(None);
    }
    serde_json::from_str(line).map_err(|e| format!("cannot read docker's output ({e}): {line}"))
}

/// A failure naming what was attempted, with the command's rc and stderr (also as values).
pub fn failure(what: &str, out: &ExecOutput) -> ModuleOutput {
    let stderr = out.stderr_text();
    let detail = stderr.trim();
    let msg = if detail.is_empty() {
        format!("{what} failed (rc {})", out.rc)
    } else {
        format!("{what} failed (rc {}): {detail}", out.rc)
    };
    ModuleOutput::failed(msg).with_exec(out)
}

/// An image's identity as `docker image inspect` reports it.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInfo {
    pub id: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(default)]
    pub config: Option<ImageConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    #[serde(default)]
    pub labels: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ImageInfo {
    /// The value of label `key`, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.config.as_ref()?.labels.as_ref()?.get(key)?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let cases = [
            ("app", None, "app:latest"),
            ("app", Some("1.0"), "app:1.0"),
            ("app:2", Some("1.0"), "app:2"),
            ("localhost:5000/app", None, "localhost:5000/app:latest"),
            ("localhost:5000/app:3", None, "localhost:5000/app:3"),
            ("nginx:1@sha256:abcd", None, "nginx:1"),
            ("nginx@sha256:abcd", None, "nginx:latest"),
        ];
        for (name, tag, want) in cases {
            assert_eq!(image_ref(name, tag), want, "{name} {tag:?}");
        }
        assert!(same_image("calx-app", "calx-app:latest@sha256:00"));
        assert!(!same_image("calx-app:1", "calx-app:2"));
    }

    #[test]
    fn probe_line() {
        assert_eq!(
            image_probe("app:latest"),
            "if o=$(docker image inspect --format '{{json .}}' app:latest 2>/dev/null); \
             then printf '%s\\n' \"$o\"; \
             else docker info --format '{{.ID}}' >/dev/null && echo null; fi"
        );
    }

    #[test]
    fn reads_image_inspect() {
        let out = ExecOutput {
            rc: 0,
            stdout: concat!(
                r#"{"Id":"sha256:1f","RepoTags":["app:latest"],"#,
                r#""Config":{"Labels":{"org.mestral.context":"ab"}}}"#,
                "\n"
            )
            .as_bytes()
            .to_vec(),
            stderr: vec![],
        };
        let info: ImageInfo = first_json(&out).unwrap().unwrap();
        assert_eq!(info.id, "sha256:1f");
        assert_eq!(info.label("org.mestral.context"), Some("ab"));
        assert_eq!(info.label("other"), None);
        let null = ExecOutput {
            rc: 0,
            stdout: b"null\n".to_vec(),
            stderr: vec![],
        };
        assert_eq!(first_json::<ImageInfo>(&null).unwrap(), None);
    }

    #[test]
    fn failure_carries_stderr() {
        let out = ExecOutput {
            rc: 1,
            stdout: vec![],
            stderr: b"boom\n".to_vec(),
        };
        assert_eq!(
            failure("docker swarm init", &out).msg.unwrap(),
            "docker swarm init failed (rc 1): boom"
        );
    }
}
