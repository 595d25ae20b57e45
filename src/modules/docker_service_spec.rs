//! The two sides `docker_swarm_service` compares, the service a task asks for (`Wanted`) and
//! the one `docker service inspect --format '{{json .Spec}}'` reports (`Current`), reduced to
//! the fields the module manages, and the comparison itself (`diff`).

use serde_json::json;

use super::docker::same_image;
use crate::vars::{as_text, Value};

/// A published port.
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    /// None lets the swarm pick one (then any published port matches).
    pub published: Option<u16>,
    pub target: u16,
    pub protocol: String,
    /// `ingress` or `host`.
    pub mode: String,
}

impl Port {
    /// Whether this wanted port is satisfied by `current`.
    pub fn matches(&self, current: &Port) -> bool {
        self.target == current.target
            && self.protocol == current.protocol
            && self.mode == current.mode
            && self.published.is_none_or(|p| Some(p) == current.published)
    }

    /// The value of `--publish`, `--publish-add` and `--publish-rm`.
    pub fn flag(&self) -> String {
        let published = self
            .published
            .map(|p| format!("published={p},"))
            .unwrap_or_default();
        format!(
            "{published}target={},protocol={},mode={}",
            self.target, self.protocol, self.mode
        )
    }

    pub fn summary(&self) -> Value {
        json!({
            "published_port": self.published,
            "target_port": self.target,
            "protocol": self.protocol,
            "mode": self.mode,
        })
    }
}

/// What the task asks for; `None` means "whatever it is now".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wanted {
    pub image: Option<String>,
    pub global: bool,
    pub replicas: Option<u64>,
    pub ports: Option<Vec<Port>>,
    pub env: Option<Vec<(String, String)>>,
    pub args: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub max_per_node: Option<u64>,
}

/// The running service's spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Current {
    pub image: String,
    pub global: bool,
    pub replicas: Option<u64>,
    pub ports: Vec<Port>,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub command: Vec<String>,
    pub max_per_node: Option<u64>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(as_text).collect())
        .unwrap_or_default()
}

impl Current {
    /// Reads a service's `.Spec` (missing fields are empty, as docker omits them).
    pub fn from_spec(spec: &Value) -> Current {
        let cs = &spec["TaskTemplate"]["ContainerSpec"];
        let ports = spec["EndpointSpec"]["Ports"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|p| Port {
                        published: p["PublishedPort"].as_u64().map(|n| n as u16),
                        target: p["TargetPort"].as_u64().unwrap_or(0) as u16,
                        protocol: p["Protocol"].as_str().unwrap_or("tcp").to_string(),
                        mode: p["PublishMode"].as_str().unwrap_or("ingress").to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let env = strings(&cs["Env"])
            .into_iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv, String::new()),
            })
            .collect();
        Current {
            image: cs["Image"].as_str().unwrap_or("").to_string(),
            global: spec["Mode"].get("Global").is_some(),
            replicas: spec["Mode"]["Replicated"]["Replicas"].as_u64(),
            ports,
            env,
            args: strings(&cs["Args"]),
            command: strings(&cs["Command"]),
            max_per_node: spec["TaskTemplate"]["Placement"]["MaxReplicas"].as_u64(),
        }
    }
}

/// One difference between the wanted and the current service.
#[derive(Debug, PartialEq)]
pub enum Change {
    Image,
    Replicas,
    Mode,
    Ports {
        remove: Vec<Port>,
        add: Vec<Port>,
    },
    Env {
        remove: Vec<String>,
        add: Vec<String>,
    },
    Args,
    Command,
    MaxPerNode,
}

impl Change {
    /// The parameter that differs, as reported in `changes`.
    pub fn name(&self) -> &'static str {
        match self {
            Change::Image => "image",
            Change::Replicas => "replicas",
            Change::Mode => "mode",
            Change::Ports { .. } => "publish",
            Change::Env { .. } => "env",
            Change::Args => "args",
            Change::Command => "command",
            Change::MaxPerNode => "replicas_max_per_node",
        }
    }
}

/// Compares what the task asks for with the running spec; an unset wish is not compared.
pub fn diff(want: &Wanted, cur: &Current) -> Vec<Change> {
    let mut changes = Vec::new();
    if want
        .image
        .as_deref()
        .is_some_and(|i| !same_image(i, &cur.image))
    {
        changes.push(Change::Image);
    }
    if want.global != cur.global {
        changes.push(Change::Mode);
        return changes;
    }
    if !want.global && want.replicas.is_some_and(|r| Some(r) != cur.replicas) {
        changes.push(Change::Replicas);
    }
    if let Some(ports) = &want.ports {
        let remove: Vec<Port> = cur
            .ports
            .iter()
            .filter(|c| !ports.iter().any(|w| w.matches(c)))
            .cloned()
            .collect();
        let add: Vec<Port> = ports
            .iter()
            .filter(|w| !cur.ports.iter().any(|c| w.matches(c)))
            .cloned()
            .collect();
        if !remove.is_empty() || !add.is_empty() {
            changes.push(Change::Ports { remove, add });
        }
    }
    if let Some(env) = &want.env {
        let remove: Vec<String> = cur
            .env
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| !env.iter().any(|(w, _)| w == k))
            .collect();
        let add: Vec<String> = env
            .iter()
            .filter(|(k, v)| cur.env.iter().find(|(c, _)| c == k).map(|(_, cv)| cv) != Some(v))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !remove.is_empty() || !add.is_empty() {
            changes.push(Change::Env { remove, add });
        }
    }
    if want.args.as_ref().is_some_and(|a| *a != cur.args) {
        changes.push(Change::Args);
    }
    if want.command.as_ref().is_some_and(|c| *c != cur.command) {
        changes.push(Change::Command);
    }
    if want
        .max_per_node
        .is_some_and(|m| Some(m) != cur.max_per_node)
    {
        changes.push(Change::MaxPerNode);
    }
    changes
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn port_flags_and_matching() {
        let host = Port {
            published: Some(3001),
            target: 3001,
            protocol: "tcp".into(),
            mode: "host".into(),
        };
        assert_eq!(
            host.flag(),
            "published=3001,target=3001,protocol=tcp,mode=host"
        );
        let any = Port {
            published: None,
            ..host.clone()
        };
        assert_eq!(any.flag(), "target=3001,protocol=tcp,mode=host");
        assert!(any.matches(&host));
        assert!(host.matches(&host));
        let ingress = Port {
            mode: "ingress".into(),
            ..host.clone()
        };
        assert!(!ingress.matches(&host));
        let other = Port {
            published: Some(8080),
            ..host.clone()
        };
        assert!(!other.matches(&host));
    }

    // `docker service inspect --format '{{json .Spec}}'` of lab services (docker 20.10), as
    // captured: the selftest's, one with env, args and a per-node limit, and a global one
    // with an entrypoint.
    const SELFTEST: &str = include_str!("docker_testdata/service_selftest.json");
    const WEB: &str = include_str!("docker_testdata/service_rich.json");
    const GLOBAL: &str = include_str!("docker_testdata/service_global.json");

    pub(crate) fn port(published: u16, target: u16, mode: &str) -> Port {
        Port {
            published: Some(published),
            target,
            protocol: "tcp".into(),
            mode: mode.into(),
        }
    }

    /// What a task asks for the captured rich service (`WEB`).
    pub(crate) fn web_wanted() -> Wanted {
        Wanted {
            image: Some("app:3".into()),
            replicas: Some(0),
            ports: Some(vec![
                port(13001, 3001, "host"),
                port(16001, 6001, "ingress"),
            ]),
            env: Some(vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]),
            args: Some(vec!["a".into(), "b c".into()]),
            max_per_node: Some(1),
            ..Wanted::default()
        }
    }

    #[test]
    fn reads_a_real_spec() {
        let cur = Current::from_spec(&serde_json::from_str(WEB).unwrap());
        assert_eq!(
            cur,
            Current {
                image: "app:3".into(),
                global: false,
                replicas: Some(0),
                ports: vec![port(13001, 3001, "host"), port(16001, 6001, "ingress")],
                env: vec![("A".into(), "1".into()), ("B".into(), "x=y".into())],
                args: vec!["a".into(), "b c".into()],
                command: vec![],
                max_per_node: Some(1),
            }
        );
    }

    #[test]
    fn reads_the_selftest_spec() {
        let cur = Current::from_spec(&serde_json::from_str(SELFTEST).unwrap());
        assert_eq!(
            cur,
            Current {
                image: "mestral-app:selftest".into(),
                global: false,
                replicas: Some(2),
                ports: vec![port(3001, 3001, "host"), port(6001, 6001, "host")],
                ..Current::default()
            }
        );
        let same = Wanted {
            image: Some("mestral-app:selftest".into()),
            replicas: Some(2),
            ports: Some(vec![port(6001, 6001, "host"), port(3001, 3001, "host")]),
            env: Some(vec![]),
            ..Wanted::default()
        };
        assert_eq!(diff(&same, &cur), vec![]);
    }

    #[test]
    fn diffs() {
        let cur = Current::from_spec(&serde_json::from_str(WEB).unwrap());
        assert_eq!(diff(&web_wanted(), &cur), vec![]);
        let digest = Wanted {
            image: Some("app:3@sha256:ab".into()),
            ..Wanted::default()
        };
        assert_eq!(diff(&digest, &cur), vec![]);

        let mut w = web_wanted();
        w.image = Some("app:4".into());
        w.replicas = Some(3);
        w.ports = Some(vec![port(13001, 3001, "host"), port(7001, 6001, "host")]);
        w.env = Some(vec![("A".into(), "2".into())]);
        w.args = Some(vec![]);
        w.command = Some(vec!["/bin/sh".into()]);
        w.max_per_node = Some(2);
        assert_eq!(
            diff(&w, &cur),
            vec![
                Change::Image,
                Change::Replicas,
                Change::Ports {
                    remove: vec![port(16001, 6001, "ingress")],
                    add: vec![port(7001, 6001, "host")]
                },
                Change::Env {
                    remove: vec!["B".into()],
                    add: vec!["A=2".into()]
                },
                Change::Args,
                Change::Command,
                Change::MaxPerNode,
            ]
        );
        let global = Wanted {
            global: true,
            ..Wanted::default()
        };
        assert_eq!(diff(&global, &cur), vec![Change::Mode]);
        let current_global = Current::from_spec(&serde_json::from_str(GLOBAL).unwrap());
        assert_eq!(
            current_global,
            Current {
                image: "app:3".into(),
                global: true,
                command: vec!["/bin/sh".into(), "-c".into()],
                args: vec!["sleep 1".into()],
                ..Current::default()
            }
        );
        let same = Wanted {
            global: true,
            image: Some("app:3".into()),
            replicas: Some(5),
            command: Some(vec!["/bin/sh".into(), "-c".into()]),
            ..Wanted::default()
        };
        assert_eq!(diff(&same, &current_global), vec![]);
    }
}
