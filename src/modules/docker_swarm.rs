//! `docker_swarm`: make the host a swarm manager (`present`), a member joined through a
//! manager (`join`), or no member at all (`absent`). The node's swarm state is read with
//! `docker info`; a manager also reports the join tokens in `swarm_facts.JoinTokens`.

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;

use super::args::{self, loose_bool, text_opt};
use super::docker::{self, DOCKER};
use super::{ModuleCtx, ModuleOutput};
use crate::connection::{quote, ExecOutput};
use crate::vars::{as_text, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SwarmArgs {
    #[serde(default, deserialize_with = "text_opt")]
    state: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    advertise_addr: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    listen_addr: Option<String>,
    #[serde(default, deserialize_with = "text_opt")]
    join_token: Option<String>,
    #[serde(default)]
    remote_addrs: Option<Vec<Value>>,
    /// Accepted as Ansible spells it; leaving always uses `--force`, and `present` never
    /// replaces an existing swarm.
    #[serde(default, deserialize_with = "loose_bool")]
    #[allow(dead_code)]
    force: bool,
}

/// `docker info`'s `.Swarm`, the parts the module reads.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct SwarmInfo {
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    #[serde(rename = "LocalNodeState", default)]
    pub local_node_state: String,
    #[serde(rename = "ControlAvailable", default)]
    pub control_available: bool,
    #[serde(rename = "RemoteManagers", default)]
    pub remote_managers: Option<Vec<Peer>>,
    #[serde(rename = "Cluster", default)]
    pub cluster: Option<Cluster>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Peer {
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    #[serde(rename = "Addr", default)]
    pub addr: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Cluster {
    #[serde(rename = "ID", default)]
    pub id: String,
}

/// What the probe found: the swarm state and, on a manager, the two join tokens.
#[derive(Debug, Default, PartialEq)]
pub struct Probe {
    pub swarm: SwarmInfo,
    pub worker_token: Option<String>,
    pub manager_token: Option<String>,
}

/// The probe: `.Swarm` as JSON, then the worker and manager tokens (manager nodes only).
pub fn probe_command() -> String {
    format!(
        "{DOCKER} info --format '{{{{json .Swarm}}}}' && \
         {{ {DOCKER} swarm join-token -q worker 2>/dev/null || echo; \
         {DOCKER} swarm join-token -q manager 2>/dev/null || echo; }}"
    )
}

pub fn parse_probe(text: &str) -> Result<Probe, String> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim();
    let swarm: SwarmInfo = serde_json::from_str(first)
        .map_err(|e| format!("cannot read docker info's swarm state ({e}): {first}"))?;
    let mut token = || {
        lines
            .next()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    let worker_token = token();
    let manager_token = token();
    Ok(Probe {
        swarm,
        worker_token,
        manager_token,
    })
}

/// What to do.
#[derive(Debug, PartialEq)]
pub enum Decision {
    Keep,
    Init,
    Join,
    Leave,
    Fail(String),
}

/// `addr` with swarm's default port 2377 when it has none.
pub fn with_port(addr: &str) -> String {
    let has_port = match addr.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        addr.to_string()
    } else {
        format!("{addr}:2377")
    }
}

pub fn decide(state: &str, swarm: &SwarmInfo, remote_addrs: &[String]) -> Decision {
    let active = swarm.local_node_state == "active";
    match state {
        "present" if active && swarm.control_available => Decision::Keep,
        "present" if active => Decision::Fail(
            "this node is a swarm worker; a manager is needed for state present".into(),
        ),
        "present" | "join" if swarm.local_node_state == "inactive" => {
            if state == "present" {
                Decision::Init
            } else {
                Decision::Join
            }
        }
        "join" if active => {
            let managers: Vec<String> = swarm
                .remote_managers
                .iter()
                .flatten()
                .map(|p| with_port(&p.addr))
                .collect();
            if remote_addrs
                .iter()
                .any(|a| managers.contains(&with_port(a)))
            {
                Decision::Keep
            } else {
                Decision::Fail(format!(
                    "this node is already in another swarm (managers: {}); leave it first",
                    managers.join(", ")
                ))
            }
        }
        "absent" if swarm.local_node_state == "inactive" => Decision::Keep,
        "absent" => Decision::Leave,
        _ => Decision::Fail(format!(
            "the node's swarm state is '{}'; it must be active or inactive",
            swarm.local_node_state
        )),
    }
}

pub fn init_command(advertise: Option<&str>, listen: Option<&str>) -> String {
    let mut cmd = format!("{DOCKER} swarm init");
    if let Some(a) = advertise {
        cmd.push_str(&format!(" --advertise-addr {}", quote(a)));
    }
    if let Some(l) = listen {
        cmd.push_str(&format!(" --listen-addr {}", quote(l)));
    }
    cmd
}

pub fn join_command(
    token: &str,
    advertise: Option<&str>,
    listen: Option<&str>,
    manager: &str,
) -> String {
    let mut cmd = format!("{DOCKER} swarm join --token {}", quote(token));
    if let Some(a) = advertise {
        cmd.push_str(&format!(" --advertise-addr {}", quote(a)));
    }
    if let Some(l) = listen {
        cmd.push_str(&format!(" --listen-addr {}", quote(l)));
    }
    cmd.push_str(&format!(" {}", quote(&with_port(manager))));
    cmd
}

/// `swarm_facts` as Ansible returns them (the parts mestral knows).
fn swarm_facts(p: &Probe) -> Value {
    json!({
        "ID": p.swarm.cluster.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
        "JoinTokens": {
            "Worker": p.worker_token.clone().unwrap_or_default(),
            "Manager": p.manager_token.clone().unwrap_or_default(),
        },
    })
}

/// Runs `docker_swarm`.
pub async fn run(args: &Value, ctx: &ModuleCtx<'_>) -> Result<ModuleOutput> {
    let a: SwarmArgs = match args::parse("docker_swarm", args) {
        Ok(a) => a,
        Err(e) => return Ok(ModuleOutput::failed(e)),
    };
    let state = a.state.clone().unwrap_or_else(|| "present".into());
    if !["present", "join", "absent"].contains(&state.as_str()) {
        return Ok(ModuleOutput::failed(format!(
            "docker_swarm: state '{state}' is not one of present, join, absent"
        )));
    }
    let remote_addrs: Vec<String> = a.remote_addrs.iter().flatten().map(as_text).collect();
    let token = a.join_token.clone().filter(|t| !t.is_empty());
    // In check mode the token may not exist yet (the manager's init was only simulated);
    // whether the node would join is still known from its own state.
    if state == "join" && (token.is_none() || remote_addrs.is_empty()) && !ctx.check {
        return Ok(ModuleOutput::failed(
            "docker_swarm: state join needs join_token and remote_addrs",
        ));
    }

    let probe = match read_swarm(ctx).await? {
        Ok(p) => p,
        Err(failed) => return Ok(failed),
    };
    let decision = decide(&state, &probe.swarm, &remote_addrs);
    let advertise = a.advertise_addr.as_deref();
    let listen = a.listen_addr.as_deref();
    let commands: Vec<String> = match &decision {
        Decision::Keep => {
            let mut ok = ModuleOutput::ok();
            if state == "present" {
                ok = ok.with("swarm_facts", swarm_facts(&probe));
            }
            return Ok(ok.with("actions", json!([])));
        }
        Decision::Fail(why) => return Ok(ModuleOutput::failed(format!("docker_swarm: {why}"))),
        Decision::Init => vec![init_command(advertise, listen)],
        Decision::Join => remote_addrs
            .iter()
            .map(|m| join_command(token.as_deref().unwrap_or(""), advertise, listen, m))
            .collect(),
        Decision::Leave => vec![format!("{DOCKER} swarm leave --force")],
    };
    let action = match decision {
        Decision::Init => "New swarm cluster created",
        Decision::Join => "Joined the swarm",
        _ => "Node left the swarm",
    };
    if ctx.check {
        return Ok(ModuleOutput::changed(true).with("actions", json!([action])));
    }

    // Join tries each manager in turn; the others run once.
    let mut last = ExecOutput::default();
    for cmd in &commands {
        last = ctx.exec(cmd).await?;
        if last.rc == 0 {
            break;
        }
    }
    if last.rc != 0 {
        let what = match decision {
            Decision::Init => "docker swarm init",
            Decision::Join => "docker swarm join",
            _ => "docker swarm leave",
        };
        return Ok(docker::failure(what, &last));
    }
    let mut done = ModuleOutput::changed(true).with("actions", json!([action]));
    if state == "present" {
        let after = match read_swarm(ctx).await? {
            Ok(p) => p,
            Err(failed) => return Ok(failed),
        };
        done = done.with("swarm_facts", swarm_facts(&after));
    }
    Ok(done)
}

/// Runs the probe; the inner `Err` is the module's failure to report.
async fn read_swarm(ctx: &ModuleCtx<'_>) -> Result<Result<Probe, ModuleOutput>> {
    let out = ctx.exec(&probe_command()).await?;
    if out.rc != 0 {
        return Ok(Err(docker::failure("docker info", &out)));
    }
    Ok(match parse_probe(&out.stdout_text()) {
        Ok(p) => Ok(p),
        Err(e) => Err(ModuleOutput::failed(format!("docker_swarm: {e}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // `docker info --format '{{json .Swarm}}'` on the lab hosts (docker 20.10), as captured.
    const INACTIVE: &str = include_str!("docker_testdata/swarm_inactive.json");
    const MANAGER: &str = include_str!("docker_testdata/swarm_manager.json");
    const WORKER: &str = include_str!("docker_testdata/swarm_worker.json");

    fn info(json: &str) -> SwarmInfo {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_real_states() {
        let m = info(MANAGER);
        assert_eq!(
            (m.local_node_state.as_str(), m.control_available),
            ("active", true)
        );
        assert_eq!(m.cluster.unwrap().id, "0gxewzb72z3e8yx4rmv61buur");
        let w = info(WORKER);
        assert_eq!(
            w.remote_managers.unwrap(),
            vec![Peer {
                node_id: "vs6w5xtcc59n6n9c67tnbbh36".into(),
                addr: "172.30.8.250:2377".into()
            }]
        );
        assert_eq!(w.cluster, None);
    }

    #[test]
    fn decisions() {
        let (inactive, manager, worker) = (info(INACTIVE), info(MANAGER), info(WORKER));
        let at = |a: &str| vec![a.to_string()];
        let other_swarm = "this node is already in another swarm (managers: 172.30.8.250:2377); \
                           leave it first";
        let cases: Vec<(&str, &SwarmInfo, Vec<String>, Decision)> = vec![
            ("present", &inactive, vec![], Decision::Init),
            ("present", &manager, vec![], Decision::Keep),
            (
                "present",
                &worker,
                vec![],
                Decision::Fail(
                    "this node is a swarm worker; a manager is needed for state present".into(),
                ),
            ),
            ("join", &inactive, at("172.30.8.250"), Decision::Join),
            ("join", &worker, at("172.30.8.250"), Decision::Keep),
            ("join", &worker, at("172.30.8.250:2377"), Decision::Keep),
            ("join", &manager, at("172.30.8.250:2377"), Decision::Keep),
            (
                "join",
                &worker,
                at("172.30.8.9"),
                Decision::Fail(other_swarm.into()),
            ),
            ("absent", &inactive, vec![], Decision::Keep),
            ("absent", &worker, vec![], Decision::Leave),
            ("absent", &manager, vec![], Decision::Leave),
        ];
        for (state, swarm, addrs, want) in cases {
            assert_eq!(decide(state, swarm, &addrs), want, "{state} {addrs:?}");
        }
        let pending = SwarmInfo {
            local_node_state: "pending".into(),
            ..SwarmInfo::default()
        };
        assert_eq!(
            decide("present", &pending, &[]),
            Decision::Fail(
                "the node's swarm state is 'pending'; it must be active or inactive".into()
            )
        );
    }

    #[test]
    fn reads_manager_probe_with_tokens() {
        let p = parse_probe(&format!("{}SWMTKN-1-w\nSWMTKN-1-m\n", MANAGER)).unwrap();
        assert_eq!(p.worker_token.as_deref(), Some("SWMTKN-1-w"));
        assert_eq!(p.manager_token.as_deref(), Some("SWMTKN-1-m"));
        assert_eq!(
            swarm_facts(&p),
            json!({
                "ID": "0gxewzb72z3e8yx4rmv61buur",
                "JoinTokens": {"Worker": "SWMTKN-1-w", "Manager": "SWMTKN-1-m"}
            })
        );
    }

    #[test]
    fn ports() {
        assert_eq!(with_port("172.30.8.250"), "172.30.8.250:2377");
        assert_eq!(with_port("172.30.8.250:4000"), "172.30.8.250:4000");
        assert_eq!(with_port("[fd00::1]:2377"), "[fd00::1]:2377");
        assert_eq!(with_port("fd00::1"), "fd00::1:2377");
    }

    #[test]
    fn commands() {
        assert_eq!(
            probe_command(),
            "docker info --format '{{json .Swarm}}' && { docker swarm join-token -q worker \
             2>/dev/null || echo; docker swarm join-token -q manager 2>/dev/null || echo; }"
        );
        assert_eq!(
            init_command(Some("172.30.8.250"), None),
            "docker swarm init --advertise-addr 172.30.8.250"
        );
        assert_eq!(
            join_command("SWMTKN-1-x", Some("172.30.8.249"), None, "172.30.8.250"),
            "docker swarm join --token SWMTKN-1-x --advertise-addr 172.30.8.249 172.30.8.250:2377"
        );
    }

    #[test]
    fn reads_inactive_probe() {
        let p = parse_probe(&format!("{INACTIVE}\n\n")).unwrap();
        assert_eq!(p.swarm.local_node_state, "inactive");
        assert_eq!((p.worker_token, p.manager_token), (None, None));
    }
}
