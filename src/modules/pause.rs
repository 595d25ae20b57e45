//! `pause`: waits a number of seconds or minutes on the controller. mestral runs unattended,
//! so a pause without a duration (Ansible's "press enter" prompt) is refused.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, text_opt};
use super::{ModuleCtx, ModuleOutput};
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(default, deserialize_with = "text_opt")]
    seconds: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    minutes: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    prompt: Option<String>,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    echo: bool,
}

fn yes() -> bool {
    true
}

/// The pause's length in seconds from the parameters, or why it cannot be used.
pub fn duration(seconds: Option<&str>, minutes: Option<&str>) -> Result<f64, String> {
    let num = |what: &str, v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|n| *n >= 0.0 && n.is_finite())
            .ok_or_else(|| format!("{what} '{v}' is not a non-negative number"))
    };
    match (seconds, minutes) {
        (Some(_), Some(_)) => Err("parameters are mutually exclusive: minutes|seconds".into()),
        (Some(s), None) => num("seconds", s),
        (None, Some(m)) => Ok(num("minutes", m)? * 60.0),
        (None, None) => Err("pause needs seconds or minutes: mestral does not prompt".into()),
    }
}

pub async fn run(args: &Value, _ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = match args::parse("pause", args) {
        Ok(p) => p,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let secs = match duration(p.seconds.as_deref(), p.minutes.as_deref()) {
        Ok(s) => s,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let start = std::time::Instant::now();
    tokio::time::sleep(std::time::Duration::from_secs_f64(secs)).await;
    let delta = start.elapsed().as_secs();
    Ok(ModuleOutput::ok()
        .with_msg(format!("Paused for {secs} seconds"))
        .with("delta", json!(delta))
        .with("echo", json!(p.echo))
        .with("user_input", json!(""))
        .with("stdout", json!(format!("Paused for {secs} seconds")))
        .with("prompt", json!(p.prompt)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(Some("2"), None), Ok(2.0));
        assert_eq!(duration(None, Some("0.5")), Ok(30.0));
        assert_eq!(
            duration(Some("1"), Some("1")).unwrap_err(),
            "parameters are mutually exclusive: minutes|seconds"
        );
        assert_eq!(
            duration(Some("-1"), None).unwrap_err(),
            "seconds '-1' is not a non-negative number"
        );
        assert_eq!(
            duration(None, None).unwrap_err(),
            "pause needs seconds or minutes: mestral does not prompt"
        );
    }
}
