//! The parameters every module and controller action takes, known without running it, so a
//! playbook is checked when it loads: an unknown parameter is refused (with "did you mean"),
//! and when no value holds a template the whole typed parse runs too (wrong types, missing
//! required parameters), all before any host is contacted. The names come from each module's
//! own typed struct, so this list cannot drift from what the module accepts.

use serde::de::DeserializeOwned;

use super::wait_for;
use super::{actions, args, short_name};
use super::{apt, authorized_key, blockinfile, command, copy, docker_image, docker_image_copy};
use super::{docker_swarm, docker_swarm_service, fetch, file, get_url, group, hostname};
use super::{lineinfile, openssh_keypair, pause, ping, service, slurp, stat, template, user};
use crate::template::json_has_template;
use crate::vars::Value;

/// How to check one module's arguments.
#[derive(Clone, Copy)]
pub struct Spec {
    /// Every accepted name, aliases included.
    pub names: fn() -> Vec<String>,
    parse: fn(&str, &Value) -> Result<(), String>,
}

impl Spec {
    fn of<T: DeserializeOwned>() -> Spec {
        Spec {
            names: args::names::<T>,
            parse: parse_only::<T>,
        }
    }
}

fn parse_only<T: DeserializeOwned>(module: &str, args: &Value) -> Result<(), String> {
    args::parse::<T>(module, args).map(drop)
}

/// The typed parameters of `module` (short or qualified name); `None` for `set_fact`, which
/// takes any variable name, and for names that are not modules.
pub fn spec(module: &str) -> Option<Spec> {
    Some(match short_name(module) {
        "command" | "shell" | "raw" => Spec::of::<command::CommandArgs>(),
        "copy" => Spec::of::<copy::Params>(),
        "template" => Spec::of::<template::Params>(),
        "file" => Spec::of::<file::Params>(),
        "lineinfile" => Spec::of::<lineinfile::Params>(),
        "blockinfile" => Spec::of::<blockinfile::Params>(),
        "authorized_key" => Spec::of::<authorized_key::Params>(),
        "fetch" => Spec::of::<fetch::Params>(),
        "get_url" => Spec::of::<get_url::Params>(),
        "hostname" => Spec::of::<hostname::Params>(),
        "pause" => Spec::of::<pause::Params>(),
        "wait_for" => Spec::of::<wait_for::Params>(),
        "slurp" => Spec::of::<slurp::Params>(),
        "stat" => Spec::of::<stat::Params>(),
        "openssh_keypair" => Spec::of::<openssh_keypair::Params>(),
        "apt" => Spec::of::<apt::AptArgs>(),
        "package" => Spec::of::<apt::PackageArgs>(),
        "service" | "systemd" => Spec::of::<service::ServiceArgs>(),
        "ping" => Spec::of::<ping::PingArgs>(),
        "user" => Spec::of::<user::Params>(),
        "group" => Spec::of::<group::Params>(),
        "docker_swarm" => Spec::of::<docker_swarm::SwarmArgs>(),
        "docker_image" => Spec::of::<docker_image::ImageArgs>(),
        "docker_image_copy" => Spec::of::<docker_image_copy::CopyArgs>(),
        "docker_swarm_service" => Spec::of::<docker_swarm_service::ServiceArgs>(),
        "setup" => Spec::of::<actions::Setup>(),
        "debug" => Spec::of::<actions::Debug>(),
        "fail" => Spec::of::<actions::Fail>(),
        "assert" => Spec::of::<actions::Assert>(),
        "include_vars" => Spec::of::<actions::IncludeVars>(),
        "meta" => Spec::of::<actions::Meta>(),
        _ => return None,
    })
}

/// Parameters Ansible's module has and mestral's does not: refused by name, so the message
/// does not pretend the parameter is a typo.
pub const UNSUPPORTED: &[(&str, &[&str])] = &[
    (
        "copy",
        &[
            "remote_src",
            "local_follow",
            "follow",
            "checksum",
            "decrypt",
        ],
    ),
    (
        "get_url",
        &[
            "headers",
            "url_username",
            "url_password",
            "force_basic_auth",
        ],
    ),
    (
        "get_url",
        &[
            "use_proxy",
            "client_cert",
            "client_key",
            "http_agent",
            "tmp_dest",
        ],
    ),
    ("wait_for", &["exclude_hosts", "active_connection_states"]),
    (
        "include_vars",
        &[
            "dir",
            "depth",
            "files_matching",
            "ignore_files",
            "extensions",
        ],
    ),
    (
        "include_vars",
        &["ignore_unknown_extensions", "hash_behaviour"],
    ),
    ("setup", &["fact_path"]),
];

/// File attributes Ansible's file-writing modules take and mestral does not.
const SELINUX: &[&str] = &["seuser", "serole", "setype", "selevel", "attributes"];
const WRITERS: &[&str] = &[
    "copy",
    "template",
    "file",
    "lineinfile",
    "blockinfile",
    "get_url",
];

/// Checks `args` of `module` as far as can be known before the task's variables exist:
/// parameter names always, types and required parameters when no value holds a template.
pub fn check(module: &str, args: &Value) -> Result<(), String> {
    let module = short_name(module);
    if let Some(map) = args.as_object() {
        for key in map.keys() {
            let listed = UNSUPPORTED
                .iter()
                .any(|(m, names)| *m == module && names.contains(&key.as_str()));
            let selinux = WRITERS.contains(&module) && SELINUX.contains(&key.as_str());
            if listed || selinux {
                return Err(format!(
                    "parameter '{key}' of module '{module}' is not supported by mestral \
                     (see docs/modules.md)"
                ));
            }
        }
    }
    if module == "set_fact" {
        return actions::set_fact(args);
    }
    let Some(spec) = spec(module) else {
        return Ok(());
    };
    if !json_has_template(args) {
        return (spec.parse)(module, args);
    }
    let Some(map) = args.as_object() else {
        return Ok(());
    };
    let known = (spec.names)();
    for key in map.keys() {
        let templated = json_has_template(&Value::String(key.clone()));
        if !templated && !known.iter().any(|k| k == key) {
            return Err(args::unknown(module, key, &known));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_known_module_has_a_spec() {
        for name in super::super::KNOWN {
            let typed = spec(name).is_some_and(|s| !(s.names)().is_empty());
            assert!(typed || *name == "set_fact", "{name}");
        }
    }

    #[test]
    fn unsupported_names_are_not_accepted_names() {
        for (module, names) in UNSUPPORTED {
            let known = (spec(module).unwrap().names)();
            for name in *names {
                assert!(!known.iter().any(|k| k == name), "{module} {name}");
            }
        }
    }

    #[test]
    fn checks() {
        let cases = [
            (
                "debug",
                json!({"msg": "{{ x }}", "verbosty": 1}),
                Some("unknown parameter 'verbosty' for module 'debug'; did you mean 'verbosity'?"),
            ),
            (
                "debug",
                json!({"msg": "{{ x }}", "verbosity": "{{ v }}"}),
                None,
            ),
            (
                "debug",
                json!({"verbosity": "high"}),
                Some("parameter 'verbosity' for module 'debug': 'high' is not a valid integer"),
            ),
            (
                "ansible.builtin.copy",
                json!({"dest": "/x", "{{ k }}": 1}),
                None,
            ),
            (
                "copy",
                json!({"content": "a"}),
                Some("missing required parameter 'dest' for module 'copy'"),
            ),
            ("copy", json!({"content": "a", "dest": "{{ d }}"}), None),
            (
                "copy",
                json!({"dest": "/x", "remote_src": true}),
                Some(
                    "parameter 'remote_src' of module 'copy' is not supported by mestral \
                 (see docs/modules.md)",
                ),
            ),
            (
                "file",
                json!({"path": "/x", "setype": "etc_t"}),
                Some(
                    "parameter 'setype' of module 'file' is not supported by mestral \
                 (see docs/modules.md)",
                ),
            ),
            (
                "shell",
                json!({"_raw_params": "ls", "warn": false}),
                Some(
                    "unknown parameter 'warn' for module 'shell'; ansible-core removed it in 2.14 \
                 and refuses it too; delete it",
                ),
            ),
            ("set_fact", json!({"ok_1": 1, "cacheable": "yes"}), None),
            (
                "set_fact",
                json!({"a-b": 1}),
                Some(
                    "module 'set_fact': 'a-b' is not a valid variable name (letters, digits and \
                 underscores, not starting with a digit)",
                ),
            ),
            (
                "set_fact",
                json!({"cacheable": "maybe"}),
                Some("parameter 'cacheable' for module 'set_fact': 'maybe' is not a valid boolean"),
            ),
            ("include_tasks", json!({"anything": 1}), None),
        ];
        for (module, args, want) in cases {
            assert_eq!(
                check(module, &args).err().as_deref(),
                want,
                "{module} {args}"
            );
        }
    }
}
