//! Actions that run on the controller and act on the run itself rather than on a host:
//! `debug`, `set_fact`, `fail`, `assert`, `include_vars` and `meta`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use serde_json::json;

use crate::modules::ModuleOutput;
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
    let empty = Vars::new();
    let map = args.as_object().unwrap_or(&empty);
    match name {
        "debug" => debug(map, scope, templar),
        "set_fact" => {
            let mut facts = map.clone();
            facts.remove("cacheable");
            let mut out = ModuleOutput::ok();
            out.values.insert("_set_fact".into(), json!(true));
            out.values
                .insert("ansible_facts".into(), Value::Object(facts.clone()));
            out.facts = Some(facts);
            Ok(out)
        }
        "fail" => {
            let msg = map
                .get("msg")
                .map(as_text)
                .unwrap_or_else(|| "Failed as requested from task".into());
            Ok(ModuleOutput::failed(msg))
        }
        "assert" => assert(map, scope, templar),
        "include_vars" => {
            let file = map
                .get("file")
                .or_else(|| map.get("_raw_params"))
                .map(as_text)
                .ok_or_else(|| anyhow!("include_vars needs a file"))?;
            let path = find_file(&file, search)
                .ok_or_else(|| anyhow!("include_vars: could not find '{file}'"))?;
            let mut vars = read_vars_file(&path)?;
            if let Some(name) = map.get("name") {
                let mut wrapped = Vars::new();
                wrapped.insert(as_text(name), Value::Object(vars));
                vars = wrapped;
            }
            let mut out = ModuleOutput::ok();
            out.values.insert("_set_fact".into(), json!(true));
            out.values
                .insert("ansible_facts".into(), Value::Object(vars.clone()));
            out.facts = Some(vars);
            Ok(out)
        }
        "meta" => {
            let what = map.get("_raw_params").map(as_text).unwrap_or_default();
            match what.as_str() {
                "noop" | "flush_handlers" | "refresh_inventory" | "clear_facts" => {
                    Ok(ModuleOutput::ok().with("_skip_report", json!(true)))
                }
                other => bail!("meta: '{other}' is not supported"),
            }
        }
        other => bail!("'{other}' is not an executor action"),
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

/// `debug: msg=...` prints the message; `debug: var=x` prints the variable's value.
fn debug(map: &Vars, scope: &Scope, templar: &Templar) -> Result<ModuleOutput> {
    let mut out = ModuleOutput::ok().with("_show", json!(true));
    if let Some(var) = map.get("var") {
        let name = as_text(var);
        let value = templar
            .eval(&name, scope)
            .unwrap_or_else(|_| json!(format!("VARIABLE IS NOT DEFINED!")));
        out.values.insert(name, value);
    } else {
        let msg = map
            .get("msg")
            .cloned()
            .unwrap_or_else(|| json!("Hello world!"));
        out.values.insert("msg".into(), msg);
    }
    Ok(out)
}

/// `assert: that=[...]` fails with `fail_msg` (or the first false condition) when any
/// condition is false.
fn assert(map: &Vars, scope: &Scope, templar: &Templar) -> Result<ModuleOutput> {
    let conditions: Vec<String> = match map.get("that") {
        Some(Value::Array(list)) => list.iter().map(as_text).collect(),
        Some(v) => vec![as_text(v)],
        None => bail!("assert needs 'that'"),
    };
    for cond in &conditions {
        let ok = match templar.eval(cond, scope) {
            Ok(v) => as_bool(&v).unwrap_or(!v.is_null()),
            Err(e) => bail!("assert: '{cond}': {e}"),
        };
        if !ok {
            let msg = map
                .get("fail_msg")
                .or_else(|| map.get("msg"))
                .map(as_text)
                .unwrap_or_else(|| "Assertion failed".into());
            return Ok(ModuleOutput::failed(msg)
                .with("assertion", json!(cond))
                .with("evaluated_to", json!(false)));
        }
    }
    let msg = map
        .get("success_msg")
        .map(as_text)
        .unwrap_or_else(|| "All assertions passed".into());
    Ok(ModuleOutput::ok().with_msg(msg))
}
