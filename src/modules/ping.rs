//! `ping`: proves the host answers commands over its session; returns `ping: pong` (or the
//! `data` given). Changes nothing, so check mode runs it as usual.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, text_opt};
use super::{ModuleCtx, ModuleOutput};
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PingArgs {
    #[serde(default, deserialize_with = "text_opt")]
    data: Option<String>,
}

/// What the host's answer means.
pub fn verdict(stdout: &str, rc: i32, data: &str) -> ModuleOutput {
    if rc == 0 && stdout.trim_end() == "pong" {
        return ModuleOutput::ok().with("ping", json!(data));
    }
    ModuleOutput::failed(format!(
        "ping: the host answered {stdout:?} with rc {rc}, not pong"
    ))
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let a: PingArgs = match args::parse("ping", args) {
        Ok(a) => a,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let data = a.data.unwrap_or_else(|| "pong".into());
    if data == "crash" {
        return Ok(ModuleOutput::failed("boom"));
    }
    let out = ctx.exec("echo pong").await?;
    Ok(verdict(&out.stdout_text(), out.rc, &data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let ok = verdict("pong\n", 0, "pong");
        assert!(!ok.failed && !ok.changed);
        assert_eq!(ok.values["ping"], json!("pong"));
        assert_eq!(verdict("pong\n", 0, "hi").values["ping"], json!("hi"));
        let bad = verdict("", 127, "pong");
        assert!(bad.failed);
        assert_eq!(
            bad.msg.unwrap(),
            "ping: the host answered \"\" with rc 127, not pong"
        );
    }
}
