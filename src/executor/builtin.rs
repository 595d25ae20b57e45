//! Actions that run on the controller and act on the run itself rather than on a host:
//! `debug`, `set_fact`, `fail`, `assert`, `include_vars` and `meta`. Their arguments are
//! typed (`modules::actions`): an unknown or mistyped one fails the task as a module's would.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use serde_json::json;

use crate::modules::{actions, args, ModuleOutput};
use crate::playbook::read_vars_file;
use crate::template::Templar;
use crate::vars::{as_bool, as_text, Scope, Value, Vars};

pub fn run(
    name: &str,
    args: &Value,
    scope: &Scope,
    templar: &Templar,
    search: &[PathBuf],
) -> Result<ModuleOutput> {
    match name {
        "debug" => typed(name, args, |a| debug(a, scope, templar)),
        "set_fact" => {
            if let Err(e) = actions::set_fact(args) {
                return Ok(ModuleOutput::failed(e));
            }
            let mut facts = args.as_object().cloned().unwrap_or_default();
            facts.remove("cacheable");
            let mut out = ModuleOutput::ok();
            out.values.insert("_set_fact".into(), json!(true));
            out.values
                .insert("ansible_facts".into(), Value::Object(facts.clone()));
            out.facts = Some(facts);
            Ok(out)
        }
        "fail" => typed(name, args, |a: actions::Fail| {
            let msg = a
                .msg
                .as_ref()
                .map(as_text)
                .unwrap_or_else(|| "Failed as requested from task".into());
            Ok(ModuleOutput::failed(msg))
        }),
        "assert" => typed(name, args, |a| assert(a, scope, templar)),
        "include_vars" => typed(name, args, |a: actions::IncludeVars| {
            let file = a
                .file
                .or(a.raw)
                .ok_or_else(|| anyhow!("include_vars needs a file"))?;
            let path = find_file(&file, search)
                .ok_or_else(|| anyhow!("include_vars: could not find '{file}'"))?;
            let mut vars = read_vars_file(&path)?;
            if let Some(name) = a.name {
                let mut wrapped = Vars::new();
                wrapped.insert(name, Value::Object(vars));
                vars = wrapped;
            }
            let mut out = ModuleOutput::ok();
            out.values.insert("_set_fact".into(), json!(true));
            out.values
                .insert("ansible_facts".into(), Value::Object(vars.clone()));
            out.facts = Some(vars);
            Ok(out)
        }),
        "meta" => typed(name, args, |a: actions::Meta| {
            let what = a.raw.unwrap_or_default();
            match what.as_str() {
                "noop" | "flush_handlers" | "refresh_inventory" | "clear_facts" => {
                    Ok(ModuleOutput::ok().with("_skip_report", json!(true)))
                }
                other => bail!("meta: '{other}' is not supported"),
            }
        }),
        other => bail!("'{other}' is not an executor action"),
    }
}

/// Parses the action's arguments into `T` and runs `act`; bad arguments fail the task with
/// the module parser's message.
fn typed<T: serde::de::DeserializeOwned>(
    name: &str,
    raw: &Value,
    act: impl FnOnce(T) -> Result<ModuleOutput>,
) -> Result<ModuleOutput> {
    match args::parse::<T>(name, raw) {
        Ok(a) => act(a),
        Err(e) => Ok(ModuleOutput::failed(e)),
    }
}

/// A controller file: absolute, or the first of the search folders that holds it.
fn find_file(name: &str, search: &[PathBuf]) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    search.iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// `debug: msg=...` prints the message; `debug: var=x` prints the variable's value; with
/// `verbosity: N` only from `-v` N times on (skipped below that, as Ansible does).
fn debug(a: actions::Debug, scope: &Scope, templar: &Templar) -> Result<ModuleOutput> {
    if a.msg.is_some() && a.var.is_some() {
        return Ok(ModuleOutput::failed(
            "parameters are mutually exclusive: msg|var (module 'debug')",
        ));
    }
    let shown = scope.vars.get("ansible_verbosity").and_then(Value::as_u64);
    if a.verbosity > shown.unwrap_or(0) {
        let mut out =
            ModuleOutput::ok().with("skipped_reason", json!("Verbosity threshold not met."));
        out.skipped = true;
        return Ok(out);
    }
    let mut out = ModuleOutput::ok().with("_show", json!(true));
    if let Some(name) = a.var {
        let value = templar
            .eval(&name, scope)
            .unwrap_or_else(|_| json!("VARIABLE IS NOT DEFINED!"));
        out.values.insert(name, value);
    } else {
        let msg = a.msg.unwrap_or_else(|| json!("Hello world!"));
        out.values.insert("msg".into(), msg);
    }
    Ok(out)
}

/// `assert: that=[...]` fails with `fail_msg` (or `msg`) when any condition is false.
/// `quiet` is accepted: mestral never prints the success message without `-v`.
fn assert(a: actions::Assert, scope: &Scope, templar: &Templar) -> Result<ModuleOutput> {
    let conditions: Vec<String> = match &a.that {
        Value::Array(list) => list.iter().map(as_text).collect(),
        v => vec![as_text(v)],
    };
    for cond in &conditions {
        let ok = match templar.eval(cond, scope) {
            Ok(v) => as_bool(&v).unwrap_or(!v.is_null()),
            Err(e) => bail!("assert: '{cond}': {e}"),
        };
        if !ok {
            let msg = a
                .fail_msg
                .as_ref()
                .map(as_text)
                .unwrap_or_else(|| "Assertion failed".into());
            return Ok(ModuleOutput::failed(msg)
                .with("assertion", json!(cond))
                .with("evaluated_to", json!(false)));
        }
    }
    let msg = a
        .success_msg
        .as_ref()
        .map(as_text)
        .unwrap_or_else(|| "All assertions passed".into());
    Ok(ModuleOutput::ok().with_msg(msg))
}
