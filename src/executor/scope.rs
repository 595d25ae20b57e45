//! Variable scopes: which variables a task sees on a host, in Ansible's order of precedence,
//! the `hostvars` every template can reach, and how a host's variables say to connect.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use serde_json::json;

use super::{HostState, Options};
use crate::connection::ConnectSpec;
use crate::inventory::Inventory;
use crate::playbook::{read_vars_file, Play, Task};
use crate::template::Templar;
use crate::vars::{as_text, merge, HostVarsMap, Scope, Value, Vars, RAW_KEY};

/// A play's `vars` with its `vars_files` read on top (paths relative to the playbook).
pub fn play_vars(play: &Play, playbook_dir: &Path) -> Result<Vars> {
    let mut vars = Vars::new();
    let dir = std::fs::canonicalize(playbook_dir).unwrap_or_else(|_| playbook_dir.to_path_buf());
    vars.insert("playbook_dir".into(), json!(dir.display().to_string()));
    merge(&mut vars, &play.vars);
    for file in &play.vars_files {
        let path = playbook_dir.join(file);
        let loaded =
            read_vars_file(&path).map_err(|e| anyhow!("{}: vars_files: {e:#}", play.origin))?;
        merge(&mut vars, &loaded);
    }
    Ok(vars)
}

/// Facts under `ansible_facts` and, as Ansible injects them, as `ansible_NAME`.
fn fact_vars(facts: &Vars) -> Vars {
    let mut out = Vars::new();
    for (k, v) in facts {
        out.insert(format!("ansible_{k}"), v.clone());
    }
    out.insert("ansible_facts".into(), Value::Object(facts.clone()));
    out
}

/// Everything a task sees on `host`, lowest precedence first: role defaults, inventory,
/// facts, play vars, role vars, task vars, registered and `set_fact` values, extra vars,
/// then the magic variables.
pub fn vars_for(
    inventory: &Inventory,
    host: &str,
    state: Option<&HostState>,
    play_vars: &Vars,
    task: Option<&Task>,
    opts: &Options,
    play_hosts: &Value,
) -> Vars {
    let mut vars = Vars::new();
    let role = task.and_then(|t| t.role.as_ref());
    if let Some(role) = role {
        merge(&mut vars, &role.defaults);
    }
    merge(&mut vars, &inventory.host_vars(host));
    if let Some(state) = state {
        merge(&mut vars, &fact_vars(&state.facts));
    }
    merge(&mut vars, play_vars);
    if let Some(role) = role {
        merge(&mut vars, &role.vars);
        vars.insert("role_name".into(), json!(role.name));
        vars.insert("role_path".into(), json!(role.path.display().to_string()));
    }
    if let Some(task) = task {
        merge(&mut vars, &task.vars);
    }
    if let Some(state) = state {
        merge(&mut vars, &state.registered);
    }
    merge(&mut vars, &opts.extra_vars);
    crate::output::secrets::add_passwords(&vars);
    mark_data(&mut vars, state, opts);

    vars.insert("inventory_hostname".into(), json!(host));
    vars.insert(
        "inventory_hostname_short".into(),
        json!(host.split('.').next().unwrap_or(host)),
    );
    vars.insert("group_names".into(), json!(inventory.group_names(host)));
    vars.insert("groups".into(), Value::Object(inventory.groups_map()));
    vars.insert("play_hosts".into(), play_hosts.clone());
    vars.insert("ansible_play_hosts".into(), play_hosts.clone());
    vars.insert("ansible_play_batch".into(), play_hosts.clone());
    vars.insert("ansible_check_mode".into(), json!(opts.check));
    vars.insert("ansible_diff_mode".into(), json!(opts.diff));
    vars.insert("ansible_verbosity".into(), json!(opts.verbosity));
    vars.insert("omit".into(), json!(crate::template::OMIT));
    vars
}

/// Lists the variables whose values are data, never templates: facts, registered results and
/// `set_fact` values (unless an extra var of the same name replaced them).
fn mark_data(vars: &mut Vars, state: Option<&HostState>, opts: &Options) {
    let Some(state) = state else { return };
    let mut names: Vec<Value> = Vec::new();
    if !state.facts.is_empty() {
        names.push(json!("ansible_facts"));
        names.extend(state.facts.keys().map(|k| json!(format!("ansible_{k}"))));
    }
    names.extend(state.registered.keys().map(|k| json!(k)));
    names.retain(|n| !opts.extra_vars.contains_key(n.as_str().unwrap_or_default()));
    if !names.is_empty() {
        vars.insert(RAW_KEY.into(), Value::Array(names));
    }
}

/// `hostvars`: for every inventory host, its inventory variables, facts, registered values
/// and the extra vars.
pub fn hostvars_map(
    inventory: &Inventory,
    states: &BTreeMap<String, HostState>,
    opts: &Options,
) -> Arc<HostVarsMap> {
    let groups = Value::Object(inventory.groups_map());
    let mut map = HostVarsMap::new();
    for host in &inventory.hosts {
        let mut vars = inventory.host_vars(&host.name);
        let state = states.get(&host.name);
        if let Some(state) = state {
            merge(&mut vars, &fact_vars(&state.facts));
            merge(&mut vars, &state.registered);
        }
        merge(&mut vars, &opts.extra_vars);
        mark_data(&mut vars, state, opts);
        vars.insert("inventory_hostname".into(), json!(host.name));
        vars.insert("groups".into(), groups.clone());
        map.insert(host.name.clone(), Arc::new(vars));
    }
    Arc::new(map)
}

/// How to reach a host, from its variables (`ansible_host`, `ansible_port`, ...), the play
/// and the command line, in that order of strength.
pub fn connect_spec(
    host: &str,
    play: &Play,
    opts: &Options,
    templar: &Templar,
    scope: &Scope,
) -> Result<ConnectSpec> {
    let var = |name: &str| -> Result<Option<String>> {
        match scope.vars.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                let rendered = templar
                    .render_value(v, scope)
                    .map_err(|e| anyhow!("host {host}: variable {name}: {e}"))?;
                Ok(Some(as_text(&rendered)))
            }
        }
    };
    let port = match var("ansible_port")?.or(var("ansible_ssh_port")?) {
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| anyhow!("host {host}: ansible_port '{p}' is not a port"))?,
        ),
        None => None,
    };
    let connection = var("ansible_connection")?
        .or_else(|| play.connection.clone())
        .unwrap_or_else(|| {
            if host == "localhost" {
                "local".into()
            } else {
                "ssh".into()
            }
        });
    // The command line wins over the inventory for the user and the key: the person at the
    // keyboard said so explicitly (Ansible lets inventory variables win here).
    let key = match &opts.private_key {
        Some(k) => Some(k.clone()),
        None => var("ansible_ssh_private_key_file")?
            .or(var("ansible_private_key_file")?)
            .map(|k| expand_home(&k)),
    };
    let checking = match var("ansible_host_key_checking")?.or(var("ansible_ssh_host_key_checking")?)
    {
        Some(v) if crate::vars::as_bool(&Value::String(v.clone())) == Some(false) => {
            Some("off".to_string())
        }
        Some(v) if v == "strict" || v == "accept-new" || v == "off" => Some(v),
        _ => None,
    };
    Ok(ConnectSpec {
        name: host.to_string(),
        address: var("ansible_host")?
            .or(var("ansible_ssh_host")?)
            .unwrap_or_else(|| host.into()),
        port,
        user: opts
            .remote_user
            .clone()
            .or(var("ansible_user")?)
            .or(var("ansible_ssh_user")?)
            .or_else(|| play.remote_user.clone()),
        private_key: key,
        connection,
        timeout_secs: opts.timeout,
        host_key_checking: opts
            .host_key_checking
            .clone()
            .or(checking)
            .unwrap_or_default(),
        known_hosts: None,
        password: opts
            .connection_password
            .clone()
            .or(var("ansible_password")?)
            .or(var("ansible_ssh_pass")?),
        ssh_args: match (
            var("ansible_ssh_common_args")?,
            var("ansible_ssh_extra_args")?,
        ) {
            (Some(common), Some(extra)) => Some(format!("{common} {extra}")),
            (common, extra) => common.or(extra),
        },
    })
}

fn expand_home(path: &str) -> std::path::PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
        None => path.into(),
    }
}
