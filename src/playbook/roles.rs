//! Roles: found in `roles/` beside the playbook, then in the roles path; their defaults,
//! vars and `meta/main.yml` dependencies (which run first).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use serde_yaml::Value as Yaml;

use super::load::{read_vars_file, read_yaml_file, str_of, yaml_scalar};
use super::task::main_file;
use super::{Origin, Role};
use crate::vars::{merge, Value, Vars};

/// Resolves one entry of a play's `roles:` into the role and its dependencies, dependencies
/// first.
pub(super) fn load_role(
    entry: &Yaml,
    play_dir: &Path,
    roles_path: &[PathBuf],
    origin: &Origin,
) -> Result<Vec<Arc<Role>>> {
    let mut out = Vec::new();
    load_into(entry, play_dir, roles_path, origin, &mut out, 0)?;
    Ok(out)
}

fn load_into(
    entry: &Yaml,
    play_dir: &Path,
    roles_path: &[PathBuf],
    origin: &Origin,
    out: &mut Vec<Arc<Role>>,
    depth: u32,
) -> Result<()> {
    if depth > 8 {
        bail!("{origin}: role dependencies nested too deeply");
    }
    let (name, params) = match entry {
        Yaml::String(name) => (name.clone(), Vars::new()),
        Yaml::Mapping(map) => {
            let name = str_of(map, "role")
                .or_else(|| str_of(map, "name"))
                .ok_or_else(|| anyhow::anyhow!("{origin}: a role entry needs 'role'"))?;
            let mut params = Vars::new();
            for (k, v) in map {
                let key = k.as_str().unwrap_or_default();
                match key {
                    "role" | "name" | "tags" | "when" | "become" | "tasks_from"
                    | "handlers_from" | "vars_from" | "defaults_from" | "allow_duplicates"
                    | "rolespec_validate" => {}
                    "public" | "apply" => {
                        bail!("{origin}: role option '{key}' is not supported yet")
                    }
                    "vars" => {
                        if let Value::Object(m) = yaml_scalar(v) {
                            merge(&mut params, &m);
                        }
                    }
                    _ => {
                        params.insert(key.to_string(), yaml_scalar(v));
                    }
                }
            }
            (name, params)
        }
        _ => bail!("{origin}: a role entry must be a name or a mapping"),
    };
    let path = find_role(&name, play_dir, roles_path).ok_or_else(|| {
        let searched: Vec<String> = role_candidates(&name, play_dir, roles_path)
            .iter()
            .map(|p| {
                std::path::absolute(p)
                    .unwrap_or(p.clone())
                    .display()
                    .to_string()
            })
            .collect();
        anyhow::anyhow!(
            "{origin}: role '{name}' not found (searched {})",
            searched.join(", ")
        )
    })?;

    // Dependencies first.
    if let Some(meta) = main_file(&path.join("meta")) {
        if let Yaml::Mapping(m) = read_yaml_file(&meta)? {
            if let Some(Yaml::Sequence(deps)) = m.get("dependencies") {
                for dep in deps {
                    load_into(dep, play_dir, roles_path, origin, out, depth + 1)?;
                }
            }
        }
    }

    let from = |key: &str| match entry {
        Yaml::Mapping(map) => str_of(map, key),
        _ => None,
    };
    let read = |sub: &str, chosen: Option<String>| -> Result<Vars> {
        match role_file(&path.join(sub), chosen.as_deref()) {
            Some(file) => read_vars_file(&file),
            None if chosen.is_some() => bail!(
                "{origin}: role '{name}' has no {sub} file '{}'",
                chosen.unwrap_or_default()
            ),
            None => Ok(Vars::new()),
        }
    };
    let defaults = read("defaults", from("defaults_from"))?;
    let mut vars = read("vars", from("vars_from"))?;
    merge(&mut vars, &params);
    out.push(Arc::new(Role {
        name,
        path,
        defaults,
        vars,
        tasks_from: from("tasks_from"),
        handlers_from: from("handlers_from"),
    }));
    Ok(())
}

/// `main.yml` (or the file named by `*_from`, with or without its extension) in a role's
/// sub-folder.
pub(super) fn role_file(dir: &Path, chosen: Option<&str>) -> Option<PathBuf> {
    match chosen {
        None => main_file(dir),
        Some(name) => [
            name.to_string(),
            format!("{name}.yml"),
            format!("{name}.yaml"),
        ]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file()),
    }
}

fn find_role(name: &str, play_dir: &Path, roles_path: &[PathBuf]) -> Option<PathBuf> {
    let direct = PathBuf::from(name);
    if direct.is_absolute() && direct.is_dir() {
        return Some(direct);
    }
    role_candidates(name, play_dir, roles_path)
        .into_iter()
        .find(|p| p.is_dir())
}

/// Where a role is looked for, in order: the play's `roles/`, the roles path, the play's
/// own folder.
fn role_candidates(name: &str, play_dir: &Path, roles_path: &[PathBuf]) -> Vec<PathBuf> {
    std::iter::once(play_dir.join("roles"))
        .chain(roles_path.iter().cloned())
        .chain(std::iter::once(play_dir.to_path_buf()))
        .map(|dir| dir.join(name))
        .collect()
}
