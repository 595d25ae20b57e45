//! `lookup()`, `query()` and `q()`: Ansible's lookup plugins that read from the controller
//! (`env`, `file`, `template`, `pipe`, `vars`, `first_found`, `items`/`list`, `dict`).

use std::path::{Path, PathBuf};
use std::process::Command;

use minijinja::value::{Kwargs, Rest, Value as MjValue};
use minijinja::{Error, ErrorKind, State};

use super::scope::{RenderCtx, CTX_VAR};

/// `lookup(name, terms..., wantlist=false, ...)`: the results joined with "," when they are
/// all strings, as Ansible does; a list when asked with `wantlist=True`.
pub fn lookup(state: &State, name: &str, args: Rest<MjValue>) -> Result<MjValue, Error> {
    let (terms, kwargs) = split_kwargs(args.0)?;
    let wantlist = kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(false);
    let results = run(state, name, &terms, &kwargs)?;
    if wantlist {
        return Ok(MjValue::from(results));
    }
    if results.iter().all(|r| r.as_str().is_some()) {
        let texts: Vec<&str> = results.iter().filter_map(|r| r.as_str()).collect();
        return Ok(MjValue::from(texts.join(",")));
    }
    Ok(match results.len() {
        1 => results.into_iter().next().unwrap_or_default(),
        _ => MjValue::from(results),
    })
}

/// `query(name, terms...)` and `q(...)`: always a list.
pub fn query(state: &State, name: &str, args: Rest<MjValue>) -> Result<MjValue, Error> {
    let (terms, kwargs) = split_kwargs(args.0)?;
    Ok(MjValue::from(run(state, name, &terms, &kwargs)?))
}

fn split_kwargs(mut args: Vec<MjValue>) -> Result<(Vec<MjValue>, Kwargs), Error> {
    let kwargs = match args.last() {
        Some(last) if last.is_kwargs() => Kwargs::try_from(args.pop().unwrap_or_default())?,
        _ => Kwargs::from_iter(std::iter::empty::<(&str, MjValue)>()),
    };
    Ok((args, kwargs))
}

fn fail(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

fn text(term: &MjValue) -> String {
    match term.as_str() {
        Some(s) => s.to_string(),
        None => term.to_string(),
    }
}

fn run(
    state: &State,
    name: &str,
    terms: &[MjValue],
    kwargs: &Kwargs,
) -> Result<Vec<MjValue>, Error> {
    let base_dir = state.lookup(CTX_VAR).and_then(|ctx| {
        ctx.downcast_object_ref::<RenderCtx>()
            .and_then(|c| c.base_dir.clone())
    });
    match name {
        "env" => {
            let default = kwargs.get::<Option<String>>("default")?.unwrap_or_default();
            Ok(terms
                .iter()
                .map(|t| MjValue::from(std::env::var(text(t)).unwrap_or_else(|_| default.clone())))
                .collect())
        }
        "file" => {
            let rstrip = kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true);
            let lstrip = kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false);
            terms
                .iter()
                .map(|t| {
                    let path = resolve(base_dir.as_deref(), &text(t));
                    let contents = std::fs::read_to_string(&path).map_err(|e| {
                        fail(format!(
                            "could not read file '{}' in lookup: {e}",
                            path.display()
                        ))
                    })?;
                    let contents = if rstrip {
                        contents.trim_end()
                    } else {
                        &contents
                    };
                    let contents = if lstrip {
                        contents.trim_start()
                    } else {
                        contents
                    };
                    Ok(MjValue::from(contents))
                })
                .collect()
        }
        // The file is looked for as given, then in `templates/`, and rendered in the
        // current scope with the template module's settings.
        "template" => {
            let ctx = state
                .lookup(CTX_VAR)
                .and_then(|c| c.downcast_object_ref::<RenderCtx>().map(|c| c.env.clone()))
                .ok_or_else(|| fail("lookup('template') outside a render".to_string()))?;
            let root = state
                .lookup("vars")
                .ok_or_else(|| fail("lookup('template') has no variables".to_string()))?;
            terms
                .iter()
                .map(|t| {
                    let name = text(t);
                    let mut path = resolve(base_dir.as_deref(), &name);
                    if !path.exists() {
                        path = resolve(base_dir.as_deref(), &format!("templates/{name}"));
                    }
                    let source = std::fs::read_to_string(&path).map_err(|e| {
                        fail(format!(
                            "could not read template '{}' in lookup: {e}",
                            path.display()
                        ))
                    })?;
                    super::render::render_text(&ctx, &source, &root).map(MjValue::from)
                })
                .collect()
        }
        "pipe" => terms
            .iter()
            .map(|t| pipe(base_dir.as_deref(), &text(t)))
            .collect(),
        "vars" => {
            let default = kwargs.get::<Option<MjValue>>("default")?;
            terms
                .iter()
                .map(|t| match state.lookup(&text(t)) {
                    Some(v) if !v.is_undefined() => Ok(v),
                    _ => default.clone().ok_or_else(|| {
                        fail(format!("No variable found with this name: {}", text(t)))
                    }),
                })
                .collect()
        }
        "first_found" => {
            let files = flatten(terms);
            for f in &files {
                let path = resolve(base_dir.as_deref(), &text(f));
                if path.exists() {
                    return Ok(vec![MjValue::from(path.display().to_string())]);
                }
            }
            Err(fail(
                "No file was found when using first_found.".to_string(),
            ))
        }
        "items" | "flattened" => Ok(flatten(terms)),
        "list" => Ok(terms.to_vec()),
        "dict" => {
            let mut out = Vec::new();
            for t in terms {
                for key in t.try_iter()? {
                    let value = t.get_item(&key)?;
                    out.push(MjValue::from_pairs([("key", key), ("value", value)]));
                }
            }
            Ok(out)
        }
        other => Err(fail(format!("lookup plugin '{other}' is not supported"))),
    }
}

fn flatten(terms: &[MjValue]) -> Vec<MjValue> {
    let mut out = Vec::new();
    for t in terms {
        match t.kind() {
            minijinja::value::ValueKind::Seq => out.extend(t.try_iter().into_iter().flatten()),
            _ => out.push(t.clone()),
        }
    }
    out
}

/// A path as given when absolute, else under the base directory (or the process's CWD).
fn resolve(base_dir: Option<&Path>, path: &str) -> PathBuf {
    let path = Path::new(path);
    match base_dir {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    }
}

fn pipe(base_dir: Option<&Path>, command: &str) -> Result<MjValue, Error> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    if let Some(dir) = base_dir {
        cmd.current_dir(dir);
    }
    let output = cmd
        .output()
        .map_err(|e| fail(format!("lookup('pipe', {command:?}): {e}")))?;
    if !output.status.success() {
        let code = output.status.code().unwrap_or(-1);
        return Err(fail(format!("lookup('pipe', {command:?}) returned {code}")));
    }
    Ok(MjValue::from(
        String::from_utf8_lossy(&output.stdout).trim_end(),
    ))
}

#[cfg(test)]
mod tests {
    use crate::template::Templar;
    use crate::vars::Scope;
    use serde_json::json;

    #[test]
    fn lookups_read_the_controller() {
        let dir = std::env::temp_dir().join(format!("mestral-template-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("motd.txt"), "hello file\n\n").unwrap();
        let t = Templar::new().with_base_dir(&dir);
        let scope = Scope::local(serde_json::Map::from_iter([("s".to_string(), json!("x"))]));
        let path = std::env::var("PATH").unwrap();
        let abs = dir.join("motd.txt").display().to_string();
        let cases = [
            ("{{ lookup('env', 'PATH') }}".to_string(), json!(path)),
            (
                "{{ lookup('env', 'MESTRAL_SURELY_UNSET_VAR') }}".to_string(),
                json!(""),
            ),
            (
                "{{ lookup('file', 'motd.txt') }}".to_string(),
                json!("hello file"),
            ),
            (
                format!("{{{{ lookup('file', '{abs}') }}}}"),
                json!("hello file"),
            ),
            (
                "{{ lookup('pipe', 'echo hi; echo there') }}".to_string(),
                json!("hi\nthere"),
            ),
            (
                "{{ lookup('pipe', 'cat motd.txt') }}".to_string(),
                json!("hello file"),
            ),
            (
                "{{ query('items', [1, 2], 3) }}".to_string(),
                json!([1, 2, 3]),
            ),
            (
                "{{ q('env', 'MESTRAL_SURELY_UNSET_VAR') }}".to_string(),
                json!([""]),
            ),
            ("{{ lookup('vars', 's') }}".to_string(), json!("x")),
            (
                "{{ lookup('dict', {'a': 1}) }}".to_string(),
                json!({"key": "a", "value": 1}),
            ),
            ("{{ range(3) | list }}".to_string(), json!([0, 1, 2])),
        ];
        for (text, want) in cases {
            assert_eq!(
                t.render_value(&json!(text), &scope).unwrap(),
                want,
                "{text}"
            );
        }
        let err = t.render_str("{{ lookup('nope', 1) }}", &scope).unwrap_err();
        assert_eq!(
            err.message,
            "lookup plugin 'nope' is not supported, in template \"{{ lookup('nope', 1) }}\""
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
