//! The command, service, apt and Docker modules against the real lab hosts (lab/up.sh):
//! calxitu (172.30.8.250) and calxitu2 (172.30.8.249). Runs only with MESTRAL_LAB set, as
//! one scenario because the steps share the hosts' Docker state: build, copy, swarm,
//! service, each run twice to prove the second run changes nothing. The hosts are left
//! without swarm, service or test images at the end.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use mestral::connection::{ConnectSpec, Session};
use mestral::modules::{self, ModuleCtx, ModuleOutput, SessionLookup};
use mestral::template::Templar;
use mestral::vars::Scope;

const MANAGER: &str = "calxitu";
const WORKER: &str = "calxitu2";
const IMAGE: &str = "mtest-app:latest";
const SERVICE: &str = "mtest-web";
const PATH_IMAGE: &str = "mtest-app:path";

struct Hosts(HashMap<String, Session>);

impl SessionLookup for Hosts {
    fn session<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Session>> + Send + 'a>> {
        Box::pin(async move {
            self.0
                .get(host)
                .cloned()
                .ok_or_else(|| anyhow!("no host {host}"))
        })
    }
}

async fn connect(name: &str, address: &str) -> Session {
    let spec = ConnectSpec {
        name: name.into(),
        address: address.into(),
        user: Some("root".into()),
        private_key: Some(PathBuf::from("/var/lib/mestral-lab/id_ed25519")),
        connection: "ssh".into(),
        timeout_secs: 15,
        host_key_checking: "strict".into(),
        known_hosts: Some(PathBuf::from("/var/lib/mestral-lab/known_hosts")),
        ..ConnectSpec::default()
    };
    Session::connect(&spec).await.expect("lab host reachable")
}

struct Lab {
    hosts: Hosts,
    templar: Templar,
    scope: Scope,
    paths: Vec<PathBuf>,
}

impl Lab {
    /// Runs a module that must succeed.
    async fn run(&self, host: &str, module: &str, args: Value, check: bool) -> ModuleOutput {
        let out = self.module(host, module, args, check).await;
        assert!(
            !out.failed,
            "{module} on {host} failed: {:?} {:?}",
            out.msg, out.values
        );
        out
    }

    async fn module(&self, host: &str, module: &str, args: Value, check: bool) -> ModuleOutput {
        let ctx = ModuleCtx {
            host,
            session: &self.hosts.0[host],
            escalation: None,
            check,
            diff: false,
            templar: &self.templar,
            scope: &self.scope,
            search_paths: &self.paths,
            sessions: &self.hosts,
            verbosity: 0,
            loop_pass: None,
        };
        modules::run(module, &args, &ctx).await.expect("module ran")
    }

    async fn sh(&self, host: &str, cmd: &str) -> String {
        let out = self.hosts.0[host]
            .exec(cmd, None, None)
            .await
            .expect("exec");
        out.stdout_text().trim().to_string()
    }

    async fn clean(&self) {
        for host in [MANAGER, WORKER] {
            self.sh(
                host,
                &format!(
                    "docker service rm {SERVICE} >/dev/null 2>&1; docker swarm leave --force \
                 >/dev/null 2>&1; docker image rm -f {IMAGE} {PATH_IMAGE} >/dev/null 2>&1; rm -rf /opt/mtest-ctx; true"
                ),
            )
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_against_the_lab() {
    if std::env::var_os("MESTRAL_LAB").is_none() {
        println!("skipped: MESTRAL_LAB is not set (bring the lab up with lab/up.sh first)");
        return;
    }
    let mut hosts = HashMap::new();
    hosts.insert(MANAGER.to_string(), connect(MANAGER, "172.30.8.250").await);
    hosts.insert(WORKER.to_string(), connect(WORKER, "172.30.8.249").await);
    // A private copy of the reference app, so the test can change its context.
    let app = std::env::temp_dir().join(format!("mestral-mtest-app-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&app);
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("app");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(&source)
        .arg(&app)
        .status();
    assert!(
        copied.expect("cp runs").success(),
        "copy {}",
        source.display()
    );
    let lab = Lab {
        hosts: Hosts(hosts),
        templar: Templar::new(),
        scope: Scope::default(),
        paths: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))],
    };
    lab.clean().await;

    // Run the steps in their own task so a failed assertion still cleans the hosts.
    let lab = std::sync::Arc::new(lab);
    let steps = tokio::spawn({
        let (lab, app, source) = (lab.clone(), app.clone(), source.clone());
        async move { scenario(&lab, &app, &source).await }
    })
    .await;
    lab.clean().await;
    let _ = std::fs::remove_dir_all(&app);
    if let Err(e) = steps {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(lab: &Lab, app: &Path, source: &Path) {
    // ping, command, shell
    let out = lab.run(MANAGER, "ping", json!({}), false).await;
    assert_eq!(out.values["ping"], json!("pong"));
    let out = lab
        .run(
            MANAGER,
            "command",
            json!({"_raw_params": "echo 'a  b' c"}),
            false,
        )
        .await;
    assert_eq!(
        (out.changed, out.values["stdout"].clone()),
        (true, json!("a  b c"))
    );
    let out = lab
        .run(
            MANAGER,
            "command",
            json!({"_raw_params": "true", "creates": "/etc/host*"}),
            false,
        )
        .await;
    assert_eq!(
        (out.changed, out.msg.as_deref()),
        (false, Some("Did not run command since '/etc/host*' exists"))
    );
    let piped = json!({"_raw_params": "tr a-z A-Z | rev", "stdin": "abc", "chdir": "/tmp"});
    let out = lab.run(MANAGER, "shell", piped, false).await;
    assert_eq!(out.values["stdout"], json!("CBA"));
    let out = lab
        .run(
            MANAGER,
            "raw",
            json!({"_raw_params": "echo $((1+2))"}),
            false,
        )
        .await;
    // raw keeps the output as it came, final newline included, as Ansible's does.
    assert_eq!(out.values["stdout"], json!("3\n"));
    let failing = json!({"_raw_params": "false | true"});
    let out = lab.module(MANAGER, "shell", failing, false).await;
    assert_eq!((out.failed, out.values["rc"].clone()), (true, json!(1)));

    // service and apt on a host that already runs Docker: nothing to do, no network needed.
    let started = json!({"name": "docker", "state": "started"});
    assert!(!lab.run(MANAGER, "service", started, false).await.changed);
    let boot = json!({"name": "docker", "enabled": true});
    assert!(!lab.run(MANAGER, "service", boot, false).await.changed);
    let restart = json!({"name": "docker", "state": "restarted"});
    assert!(lab.run(MANAGER, "service", restart, true).await.changed);
    let missing = json!({"name": "mtest-nothing", "state": "started"});
    let out = lab.module(MANAGER, "service", missing, false).await;
    assert_eq!(
        out.msg.as_deref(),
        Some("Could not find the requested service mtest-nothing: host calxitu")
    );
    let docker_io = json!({"name": "docker.io", "update_cache": true});
    let out = lab.run(MANAGER, "apt", docker_io, false).await;
    let cache_updated = out.values["cache_updated"].clone();
    assert_eq!((out.changed, cache_updated), (false, json!(false)));
    let absent = json!({"name": "mtest-no-such-package", "state": "absent", "purge": true});
    assert!(!lab.run(MANAGER, "apt", absent, false).await.changed);

    // docker_image from a controller context, twice.
    let build = json!({"name": IMAGE, "source": "build",
        "build": {"context": app.to_str().unwrap(), "dockerfile": "Dockerfile"}});
    let out = lab.run(MANAGER, "docker_image", build.clone(), true).await;
    assert!(out.changed, "check mode reports the build");
    assert_eq!(
        lab.sh(MANAGER, &format!("docker images -q {IMAGE}")).await,
        ""
    );
    let out = lab.run(MANAGER, "docker_image", build.clone(), false).await;
    assert!(out.changed);
    let id = out.values["image"]["Id"].as_str().unwrap().to_string();
    let out = lab.run(MANAGER, "docker_image", build.clone(), false).await;
    assert_eq!(
        (out.changed, out.values["image"]["Id"].as_str()),
        (false, Some(id.as_str()))
    );
    // A changed file in the context: check mode sees it, the run rebuilds.
    std::fs::write(app.join("www/extra.html"), "extra\n").expect("write into the context");
    assert!(
        lab.run(MANAGER, "docker_image", build.clone(), true)
            .await
            .changed
    );
    let out = lab.run(MANAGER, "docker_image", build.clone(), false).await;
    let new_id = out.values["image"]["Id"].as_str().unwrap().to_string();
    assert!(out.changed && new_id != id, "rebuilt {new_id} vs {id}");
    lab.sh(MANAGER, &format!("docker image rm {id}")).await;
    let id = new_id;

    // docker_image from a directory on the host, twice. The context is copied there first:
    // the checkout may sit in /tmp, which every lab host has its own private copy of.
    let copy = json!({"src": format!("{}/", source.display()), "dest": "/opt/mtest-ctx/"});
    assert!(!lab.run(MANAGER, "copy", copy, false).await.failed);
    // copy sets modes as Ansible does (no preserve): busybox must be executable again.
    lab.sh(MANAGER, "chmod 0755 /opt/mtest-ctx/busybox").await;
    let on_host = json!({"name": PATH_IMAGE, "source": "build",
        "build": {"path": "/opt/mtest-ctx"}});
    assert!(
        lab.run(MANAGER, "docker_image", on_host.clone(), false)
            .await
            .changed
    );
    assert!(
        !lab.run(MANAGER, "docker_image", on_host, false)
            .await
            .changed
    );

    // docker_image_copy to the worker, twice.
    let copy = json!({"name": IMAGE, "source_host": MANAGER});
    assert!(
        lab.run(WORKER, "docker_image_copy", copy.clone(), true)
            .await
            .changed
    );
    assert_eq!(
        lab.sh(WORKER, &format!("docker images -q {IMAGE}")).await,
        ""
    );
    let missing = json!({"name": "mtest-missing:1", "source_host": MANAGER});
    let missing = lab
        .module(WORKER, "docker_image_copy", missing, false)
        .await;
    assert_eq!(
        missing.msg.as_deref(),
        Some("docker_image_copy: mtest-missing:1: the image is not on the source host (calxitu)")
    );
    let out = lab
        .run(WORKER, "docker_image_copy", copy.clone(), false)
        .await;
    assert!(out.changed && out.values["bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        lab.sh(
            WORKER,
            &format!("docker image inspect -f '{{{{.Id}}}}' {IMAGE}")
        )
        .await,
        id
    );
    let out = lab.run(WORKER, "docker_image_copy", copy, false).await;
    assert!(!out.changed);

    // The swarm: init on the manager, join from the worker, each twice.
    let init = json!({"state": "present", "advertise_addr": "172.30.8.250"});
    let out = lab.run(MANAGER, "docker_swarm", init.clone(), false).await;
    assert!(out.changed);
    let token = out.values["swarm_facts"]["JoinTokens"]["Worker"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.starts_with("SWMTKN-1-"), "{token}");
    let out = lab.run(MANAGER, "docker_swarm", init, false).await;
    assert_eq!(
        (
            out.changed,
            out.values["swarm_facts"]["JoinTokens"]["Worker"].as_str()
        ),
        (false, Some(token.as_str()))
    );
    let join = json!({"state": "join", "join_token": token, "advertise_addr": "172.30.8.249",
        "remote_addrs": ["172.30.8.250:2377"]});
    assert!(
        lab.run(WORKER, "docker_swarm", join.clone(), true)
            .await
            .changed
    );
    assert_eq!(
        lab.sh(WORKER, "docker info -f '{{.Swarm.LocalNodeState}}'")
            .await,
        "inactive"
    );
    assert!(
        lab.run(WORKER, "docker_swarm", join.clone(), false)
            .await
            .changed
    );
    assert!(!lab.run(WORKER, "docker_swarm", join, false).await.changed);
    assert_eq!(lab.sh(MANAGER, "docker node ls -q | wc -l").await, "2");

    // A service: create, converge, then change only the replicas.
    let mut svc = json!({"name": SERVICE, "image": IMAGE, "replicas": 2,
        "publish": [{"published_port": 3001, "target_port": 3001, "mode": "host"},
                    {"published_port": 6001, "target_port": 6001}],
        "env": {"GREETING": "hi"}});
    let out = lab
        .run(MANAGER, "docker_swarm_service", svc.clone(), false)
        .await;
    assert_eq!(
        (out.changed, out.values["changes"].clone()),
        (true, json!(["created"]))
    );
    let out = lab
        .run(MANAGER, "docker_swarm_service", svc.clone(), false)
        .await;
    assert!(!out.changed, "{:?}", out.values);
    svc["replicas"] = json!(1);
    let out = lab
        .run(MANAGER, "docker_swarm_service", svc.clone(), true)
        .await;
    assert_eq!(
        (out.changed, out.values["changes"].clone()),
        (true, json!(["replicas"]))
    );
    let replicas =
        format!("docker service inspect -f '{{{{.Spec.Mode.Replicated.Replicas}}}}' {SERVICE}");
    assert_eq!(lab.sh(MANAGER, &replicas).await, "2");
    let out = lab
        .run(MANAGER, "docker_swarm_service", svc.clone(), false)
        .await;
    assert_eq!(
        (out.changed, out.values["changes"].clone()),
        (true, json!(["replicas"]))
    );
    assert_eq!(lab.sh(MANAGER, &replicas).await, "1");
    assert!(
        !lab.run(MANAGER, "docker_swarm_service", svc, false)
            .await
            .changed
    );

    // Leave the swarm through the module, then clean everything else.
    let absent = json!({"name": SERVICE, "state": "absent"});
    assert!(
        lab.run(MANAGER, "docker_swarm_service", absent, false)
            .await
            .changed
    );
    assert!(
        lab.run(WORKER, "docker_swarm", json!({"state": "absent"}), false)
            .await
            .changed
    );
    assert!(
        lab.run(MANAGER, "docker_swarm", json!({"state": "absent"}), false)
            .await
            .changed
    );
    assert!(
        !lab.run(MANAGER, "docker_swarm", json!({"state": "absent"}), false)
            .await
            .changed
    );
}
