//! `template`: renders a controller template with the task's variables (Ansible's settings:
//! trim_blocks, trailing newline kept) and puts the result on the host through `copy::put`.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, text_opt};
use super::copy::{self, PutOpts};
use super::mode::{mode_any, Mode};
use super::remote_file::{self as rf, fail, Attrs};
use super::{ModuleCtx, ModuleOutput};
use crate::vars::Value;

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Params {
    src: String,
    dest: String,
    #[serde(default, deserialize_with = "text_opt")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    group: Option<String>,
    #[serde(default, deserialize_with = "mode_any")]
    mode: Option<Mode>,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    force: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    backup: bool,
    #[serde(default)]
    validate: Option<String>,
}

pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    rf::finish(apply(args, ctx).await)
}

async fn apply(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let p: Params = args::parse("template", args).or_else(fail)?;
    let Some(local) = ctx.find_src(&p.src) else {
        return fail(format!(
            "Could not find or access '{}' on the controller",
            p.src
        ));
    };
    let source = std::fs::read_to_string(&local)
        .or_else(|e| fail(format!("cannot read template {}: {e}", local.display())))?;
    let name = local.display().to_string();
    let text = ctx
        .templar
        .render_file(&name, &source, ctx.scope)
        .or_else(|e| fail(format!("{name}: {e}")))?;
    let opts = PutOpts {
        attrs: Attrs {
            owner: p.owner,
            group: p.group,
            mode: p.mode.clone(),
        },
        force: p.force,
        backup: p.backup,
        validate: p.validate,
        mkdir: p.dest.ends_with('/'),
    };
    let (dest, inside) = copy::target(&p.dest, copy::basename(&p.src));
    let out = copy::put(ctx, &dest, inside, text.as_bytes(), &opts).await?;
    Ok(out.with("src", json!(p.src)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        let err =
            args::parse::<Params>("template", &json!({"src": "a.j2", "dets": "/x"})).unwrap_err();
        assert_eq!(
            err,
            "unknown parameter 'dets' for module 'template'; did you mean 'dest'?"
        );
        let p: Params = args::parse(
            "template",
            &json!({"src": "a.j2", "dest": "/x", "mode": "0600"}),
        )
        .unwrap();
        assert_eq!(
            (p.mode, p.force, p.backup),
            (Some(Mode::Octal(0o600)), true, false)
        );
    }
}
