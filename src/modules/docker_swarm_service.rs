//! `docker_swarm_service`: a swarm service with the given image, replicas, mode, published
//! ports, environment and command. The service's spec is read with `docker service
//! inspect`; only what differs is updated, and a change of mode recreates the service.
//! Images are never resolved against a registry (`--no-resolve-image`).

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, text_opt};
use super::docker::{self, inspect_or_null, strip_digest, DOCKER};
use super::docker_service_spec::{diff, Change, Current, Port, Wanted};
use super::{FileDiff, ModuleCtx, ModuleOutput};
use crate::connection::quote;
use crate::vars::{as_text, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceArgs {
    name: String,
    #[serde(default, deserialize_with = "text_opt")]
    image: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    state: Option<String>,
    #[serde(default)]
    replicas: Option<i64>,
    #[serde(default, deserialize_with = "text_opt")]
    mode: Option<String>,
    #[serde(default)]
    publish: Option<Vec<PublishArg>>,
    #[serde(default)]
    env: Option<Value>,
    #[serde(default)]
    args: Option<Vec<Value>>,
    #[serde(default)]
    command: Option<Value>,
    #[serde(default)]
    replicas_max_per_node: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishArg {
    #[serde(default)]
    published_port: Option<u16>,
    target_port: u16,
    #[serde(default, deserialize_with = "text_opt")]
    protocol: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    mode: Option<String>,
}

/// Words joined for a flag docker splits again like a shell (`--args`, `--entrypoint`).
fn shell_words(words: &[String]) -> String {
    quote(&words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "))
}

pub fn create_command(name: &str, want: &Wanted) -> String {
    let mut cmd = format!(
        "{DOCKER} service create --name {} --detach --no-resolve-image",
        quote(name)
    );
    if want.global {
        cmd.push_str(" --mode global");
    } else {
        cmd.push_str(&format!(" --replicas {}", want.replicas.unwrap_or(1)));
    }
    if let Some(m) = want.max_per_node {
        cmd.push_str(&format!(" --replicas-max-per-node {m}"));
    }
    for p in want.ports.iter().flatten() {
        cmd.push_str(&format!(" --publish {}", p.flag()));
    }
    for (k, v) in want.env.iter().flatten() {
        cmd.push_str(&format!(" --env {}", quote(&format!("{k}={v}"))));
    }
    if let Some(c) = &want.command {
        cmd.push_str(&format!(" --entrypoint {}", shell_words(c)));
    }
    cmd.push_str(&format!(" {}", quote(want.image.as_deref().unwrap_or(""))));
    for a in want.args.iter().flatten() {
        cmd.push_str(&format!(" {}", quote(a)));
    }
    cmd
}

pub fn update_command(name: &str, want: &Wanted, changes: &[Change]) -> String {
    let mut cmd = format!("{DOCKER} service update --detach --no-resolve-image");
    for change in changes {
        match change {
            Change::Image => cmd.push_str(&format!(
                " --image {}",
                quote(want.image.as_deref().unwrap_or(""))
            )),
            Change::Replicas => {
                cmd.push_str(&format!(" --replicas {}", want.replicas.unwrap_or(1)))
            }
            Change::Ports { remove, add } => {
                for p in remove {
                    cmd.push_str(&format!(" --publish-rm {}", p.flag()));
                }
                for p in add {
                    cmd.push_str(&format!(" --publish-add {}", p.flag()));
                }
            }
            Change::Env { remove, add } => {
                for k in remove {
                    cmd.push_str(&format!(" --env-rm {}", quote(k)));
                }
                for kv in add {
                    cmd.push_str(&format!(" --env-add {}", quote(kv)));
                }
            }
            Change::Args => cmd.push_str(&format!(
                " --args {}",
                shell_words(want.args.as_deref().unwrap_or(&[]))
            )),
            Change::Command => cmd.push_str(&format!(
                " --entrypoint {}",
                shell_words(want.command.as_deref().unwrap_or(&[]))
            )),
            Change::MaxPerNode => cmd.push_str(&format!(
                " --replicas-max-per-node {}",
                want.max_per_node.unwrap_or(0)
            )),
            Change::Mode => {}
        }
    }
    cmd.push_str(&format!(" {}", quote(name)));
    cmd
}

/// The probe: the service's spec as JSON, `null` when absent, then whether this node is a
/// manager (`true`/`false`).
pub fn probe_command(name: &str) -> String {
    format!(
        "{}; {DOCKER} info --format '{{{{.Swarm.ControlAvailable}}}}'",
        inspect_or_null(&format!(
            "{DOCKER} service inspect --format '{{{{json .Spec}}}}' {}",
            quote(name)
        ))
    )
}

fn wanted(a: &ServiceArgs) -> Result<Wanted, String> {
    let global = match a.mode.as_deref().unwrap_or("replicated") {
        "replicated" => false,
        "global" => true,
        other => return Err(format!("mode '{other}' is not one of replicated, global")),
    };
    let mut ports = None;
    if let Some(list) = &a.publish {
        let mut out = Vec::new();
        for p in list {
            let protocol = p.protocol.clone().unwrap_or_else(|| "tcp".into());
            let mode = p.mode.clone().unwrap_or_else(|| "ingress".into());
            if !["tcp", "udp", "sctp"].contains(&protocol.as_str()) {
                return Err(format!(
                    "publish protocol '{protocol}' is not one of tcp, udp, sctp"
                ));
            }
            if !["ingress", "host"].contains(&mode.as_str()) {
                return Err(format!("publish mode '{mode}' is not one of ingress, host"));
            }
            out.push(Port {
                published: p.published_port,
                target: p.target_port,
                protocol,
                mode,
            });
        }
        ports = Some(out);
    }
    let env = match &a.env {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => {
            Some(map.iter().map(|(k, v)| (k.clone(), as_text(v))).collect())
        }
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|i| {
                    let t = as_text(i);
                    match t.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (t, String::new()),
                    }
                })
                .collect(),
        ),
        Some(other) => return Err(format!("env must be a list or a mapping, not {other}")),
    };
    let command = match &a.command {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items.iter().map(as_text).collect()),
        Some(other) => Some(
            super::command::split_words(&as_text(other)).map_err(|e| format!("command: {e}"))?,
        ),
    };
    let replicas = a.replicas.filter(|r| *r >= 0).map(|r| r as u64);
    Ok(Wanted {
        image: a.image.clone(),
        global,
        replicas,
        ports,
        env,
        args: a.args.as_ref().map(|v| v.iter().map(as_text).collect()),
        command,
        max_per_node: a.replicas_max_per_node,
    })
}

/// Runs `docker_swarm_service` (on a manager).
pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let a: ServiceArgs = match args::parse("docker_swarm_service", args) {
        Ok(a) => a,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let absent = match a.state.as_deref().unwrap_or("present") {
        "present" => false,
        "absent" => true,
        other => {
            return Ok(ModuleOutput::failed(format!(
                "docker_swarm_service: state '{other}' is not one of present, absent"
            )))
        }
    };
    let want = match wanted(&a) {
        Ok(w) => w,
        Err(e) => return Ok(ModuleOutput::failed(format!("docker_swarm_service: {e}"))),
    };

    let out = ctx.exec(&probe_command(&a.name)).await?;
    if out.rc != 0 {
        return Ok(docker::failure("docker service inspect", &out));
    }
    let current = match docker::first_json::<Value>(&out) {
        Ok(spec) => spec.map(|s| Current::from_spec(&s)),
        Err(e) => return Ok(ModuleOutput::failed(format!("docker_swarm_service: {e}"))),
    };
    let manager = out.stdout_text().lines().nth(1).map(str::trim) == Some("true");
    if !manager && ctx.check {
        // A swarm that check mode only pretended to create has no services yet.
        return Ok(ModuleOutput::changed(true).with_msg(format!(
            "{} is not a swarm manager yet; the service would be created",
            ctx.host
        )));
    }
    if !manager {
        return Ok(ModuleOutput::failed(format!(
            "docker_swarm_service: {} is not a swarm manager",
            ctx.host
        )));
    }

    // Decide the commands.
    let name = quote(&a.name);
    let (commands, changes): (Vec<String>, Vec<&str>) = match (&current, absent) {
        (None, true) => return Ok(ModuleOutput::ok().with("swarm_service", Value::Null)),
        (Some(_), true) => (vec![format!("{DOCKER} service rm {name}")], vec!["removed"]),
        (None, false) if want.image.is_none() => {
            return Ok(ModuleOutput::failed(
                "docker_swarm_service: 'image' is required to create a service",
            ))
        }
        (None, false) => (vec![create_command(&a.name, &want)], vec!["created"]),
        (Some(cur), false) => {
            let diffs = diff(&want, cur);
            if diffs.is_empty() {
                return Ok(ModuleOutput::ok().with("swarm_service", summary(&a.name, &want, cur)));
            }
            let names: Vec<&str> = diffs.iter().map(Change::name).collect();
            if diffs.contains(&Change::Mode) {
                let mut full = want.clone();
                full.image = full
                    .image
                    .or_else(|| Some(strip_digest(&cur.image).to_string()));
                (
                    vec![
                        format!("{DOCKER} service rm {name}"),
                        create_command(&a.name, &full),
                    ],
                    names,
                )
            } else {
                (vec![update_command(&a.name, &want, &diffs)], names)
            }
        }
    };
    let report = |o: ModuleOutput| {
        let shown = match &current {
            Some(cur) if !absent => summary(&a.name, &want, cur),
            _ if absent => Value::Null,
            _ => summary(&a.name, &want, &Current::default()),
        };
        let before = current
            .as_ref()
            .map(|cur| summary(&a.name, &as_wanted(cur), cur));
        let (dict, text) = spec_diff(&a.name, &before.unwrap_or(Value::Null), &shown);
        let mut o = o
            .with("changes", json!(changes))
            .with("swarm_service", shown)
            .with("diff", dict);
        if ctx.diff {
            o.diffs.push(text);
        }
        o
    };
    if ctx.check {
        return Ok(report(ModuleOutput::changed(true)));
    }
    for cmd in &commands {
        let out = ctx.exec(cmd).await?;
        if out.rc != 0 {
            return Ok(docker::failure(
                &format!("docker service ({})", changes.join(", ")),
                &out,
            ));
        }
    }
    Ok(report(ModuleOutput::changed(true)))
}

/// The running spec as wishes that change nothing, so `summary` shows it as it is.
fn as_wanted(cur: &Current) -> Wanted {
    Wanted {
        global: cur.global,
        ..Wanted::default()
    }
}

/// The spec fields that differ, before and after (absent on one side when the service is
/// created or removed): the `diff` dict community.docker returns, and the same as `key: value`
/// lines for `--diff`.
fn spec_diff(name: &str, before: &Value, after: &Value) -> (Value, FileDiff) {
    let empty = serde_json::Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let (mut was, mut will) = (serde_json::Map::new(), serde_json::Map::new());
    for key in keys.into_iter().filter(|k| b.get(*k) != a.get(*k)) {
        if let Some(v) = b.get(key) {
            was.insert(key.clone(), v.clone());
        }
        if let Some(v) = a.get(key) {
            will.insert(key.clone(), v.clone());
        }
    }
    let lines = |m: &serde_json::Map<String, Value>| -> String {
        m.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
    };
    let text = FileDiff {
        path: format!("service {name}"),
        before: lines(&was),
        after: lines(&will),
    };
    (json!({"before": was, "after": will}), text)
}

/// The service as it will be: the wishes, filled in from the current spec.
fn summary(name: &str, want: &Wanted, cur: &Current) -> Value {
    let replicas = if want.global {
        None
    } else {
        want.replicas.or(cur.replicas).or(Some(1))
    };
    let ports = want.ports.clone().unwrap_or_else(|| cur.ports.clone());
    let env = want.env.clone().unwrap_or_else(|| cur.env.clone());
    json!({
        "name": name,
        "image": want.image.clone().unwrap_or_else(|| strip_digest(&cur.image).to_string()),
        "mode": if want.global { "global" } else { "replicated" },
        "replicas": replicas,
        "publish": ports.iter().map(Port::summary).collect::<Vec<_>>(),
        "env": env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "args": want.args.clone().unwrap_or_else(|| cur.args.clone()),
        "command": want.command.clone().unwrap_or_else(|| cur.command.clone()),
        "replicas_max_per_node": want.max_per_node.or(cur.max_per_node),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::docker_service_spec::tests::{port, web_wanted};

    /// The user's case: replicas 2 -> 1 shows that field only; creating and removing show the
    /// whole spec on one side.
    #[test]
    fn spec_diffs() {
        let cur = Current {
            image: "nginx:1.27@sha256:abc".into(),
            replicas: Some(2),
            ports: vec![port(8080, 80, "ingress")],
            ..Current::default()
        };
        let want = Wanted {
            replicas: Some(1),
            ..Wanted::default()
        };
        let before = summary("web", &as_wanted(&cur), &cur);
        let (dict, text) = spec_diff("web", &before, &summary("web", &want, &cur));
        assert_eq!(
            dict,
            json!({"before": {"replicas": 2}, "after": {"replicas": 1}})
        );
        assert_eq!(
            text,
            FileDiff {
                path: "service web".into(),
                before: "replicas: 2\n".into(),
                after: "replicas: 1\n".into(),
            }
        );

        let want = Wanted {
            image: Some("nginx:1.28".into()),
            env: Some(vec![("A".into(), "1".into())]),
            ..Wanted::default()
        };
        let (dict, _) = spec_diff("web", &before, &summary("web", &want, &cur));
        assert_eq!(
            dict,
            json!({"before": {"env": [], "image": "nginx:1.27"},
                   "after": {"env": ["A=1"], "image": "nginx:1.28"}})
        );

        let (_, text) = spec_diff("web", &before, &Value::Null);
        assert_eq!(
            (text.before.as_str(), text.after.as_str()),
            (
                "args: []\ncommand: []\nenv: []\nimage: \"nginx:1.27\"\nmode: \"replicated\"\n\
                 name: \"web\"\npublish: [{\"published_port\":8080,\"target_port\":80,\
                 \"protocol\":\"tcp\",\"mode\":\"ingress\"}]\nreplicas: 2\n\
                 replicas_max_per_node: null\n",
                ""
            )
        );
    }

    #[test]
    fn commands() {
        assert_eq!(
            create_command("web", &web_wanted()),
            "docker service create --name web --detach --no-resolve-image --replicas 0 \
             --replicas-max-per-node 1 \
             --publish published=13001,target=3001,protocol=tcp,mode=host \
             --publish published=16001,target=6001,protocol=tcp,mode=ingress --env A=1 \
             --env B=x=y app:3 a 'b c'"
        );
        let global = Wanted {
            image: Some("app".into()),
            global: true,
            command: Some(vec!["/bin/sh".into(), "-c".into()]),
            ..Wanted::default()
        };
        assert_eq!(
            create_command("g", &global),
            "docker service create --name g --detach --no-resolve-image --mode global \
             --entrypoint '/bin/sh -c' app"
        );
        let mut w = web_wanted();
        w.replicas = Some(3);
        w.args = Some(vec!["it's".into()]);
        let changes = vec![
            Change::Replicas,
            Change::Ports {
                remove: vec![port(6001, 6001, "ingress")],
                add: vec![port(7001, 6001, "host")],
            },
            Change::Env {
                remove: vec!["B".into()],
                add: vec!["A=2".into()],
            },
            Change::Args,
        ];
        assert_eq!(
            update_command("web", &w, &changes),
            "docker service update --detach --no-resolve-image --replicas 3 \
             --publish-rm published=6001,target=6001,protocol=tcp,mode=ingress \
             --publish-add published=7001,target=6001,protocol=tcp,mode=host --env-rm B \
             --env-add A=2 --args ''\\''it'\\''\\'\\'''\\''s'\\''' web"
        );
        assert_eq!(
            probe_command("web"),
            "if o=$(docker service inspect --format '{{json .Spec}}' web 2>/dev/null); \
             then printf '%s\\n' \"$o\"; \
             else docker info --format '{{.ID}}' >/dev/null && echo null; fi; \
             docker info --format '{{.Swarm.ControlAvailable}}'"
        );
    }

    #[test]
    fn wanted_from_arguments() {
        let a: ServiceArgs = args::parse(
            "docker_swarm_service",
            &json!({
                "name": "web", "image": "app", "replicas": -1,
                "publish": [{"published_port": 3001, "target_port": 3001, "mode": "host"}],
                "env": {"A": 1, "B": true}, "command": "/bin/sh -c"
            }),
        )
        .unwrap();
        let w = wanted(&a).unwrap();
        assert_eq!(
            w,
            Wanted {
                image: Some("app".into()),
                replicas: None,
                ports: Some(vec![port(3001, 3001, "host")]),
                env: Some(vec![("A".into(), "1".into()), ("B".into(), "true".into())]),
                command: Some(vec!["/bin/sh".into(), "-c".into()]),
                ..Wanted::default()
            }
        );
    }
}
