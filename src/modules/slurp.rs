//! `slurp`: fetches a file from the host as base64, for registering and decoding with
//! `b64decode`. Reads only; never changes the host.

use anyhow::Result;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use super::args;
use super::remote_file::{self as rf, fail};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    #[serde(alias = "path")]
    src: String,
}

/// Exit codes of the read snippet that mean the path is missing or a directory.
const MISSING: i32 = 3;
const IS_DIR: i32 = 4;

fn script(src: &str) -> String {
    let q = quote(src);
    format!(
        "if [ -d {q} ]; then exit {IS_DIR}; fi\nif [ ! -e {q} ]; then exit {MISSING}; fi\n\
         exec cat -- {q}"
    )
}

/// The module's result for the bytes read.
fn output(src: &str, data: &[u8]) -> ModuleOutput {
    ModuleOutput::ok()
        .with(
            "content",
            json!(base64::engine::general_purpose::STANDARD.encode(data)),
        )
        .with("encoding", json!("base64"))
        .with("source", json!(src))
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("slurp", args).or_else(fail)?;
    let out = ctx.exec(&script(&p.src)).await?;
    match out.rc {
        0 => Ok(output(&p.src, &out.stdout)),
        MISSING => fail(format!("file not found: {}", p.src)),
        IS_DIR => fail(format!(
            "source is a directory and must be a file: {}",
            p.src
        )),
        _ => fail(format!(
            "cannot read {}: {}",
            p.src,
            out.stderr_text().trim_end()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes() {
        let out = output("/etc/x", b"hi\n\0");
        assert_eq!(
            Value::Object(out.values),
            json!({"content": "aGkKAA==", "encoding": "base64", "source": "/etc/x"})
        );
        assert!(!out.changed);
        assert_eq!(
            script("/a b"),
            "if [ -d '/a b' ]; then exit 4; fi\nif [ ! -e '/a b' ]; then exit 3; fi\n\
             exec cat -- '/a b'"
        );
    }
}
