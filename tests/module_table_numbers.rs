//! Every module's integer and boolean parameters take their string forms, as `k=v` arguments
//! and quoted YAML give them (Ansible converts by the parameter's type); a value that is not
//! one is refused with a message naming the parameter, without Rust type names.

#[path = "module_tables/cli.rs"]
mod cli;

use cli::{stderr, stdout, Scratch};
use mestral::modules::params::check;
use serde_json::{json, Value};

/// (module, required arguments, numeric parameter, its string form).
const INTEGERS: &[(&str, &str, &str, &str)] = &[
    ("apt", r#"{"name": "curl"}"#, "cache_valid_time", "3600"),
    ("openssh_keypair", r#"{"path": "/tmp/k1"}"#, "size", "2048"),
    (
        "docker_swarm_service",
        r#"{"name": "web"}"#,
        "replicas",
        "2",
    ),
    (
        "docker_swarm_service",
        r#"{"name": "web"}"#,
        "replicas_max_per_node",
        "1",
    ),
    ("debug", r#"{"msg": "hi"}"#, "verbosity", "2"),
    ("setup", "{}", "gather_timeout", "10"),
    ("user", r#"{"name": "bob"}"#, "uid", "1500"),
    ("group", r#"{"name": "ops"}"#, "gid", "1500"),
    ("wait_for", r#"{"host": "h"}"#, "port", "22"),
    ("wait_for", r#"{"path": "/p"}"#, "timeout", "30"),
    ("wait_for", r#"{"path": "/p"}"#, "delay", "1"),
    ("wait_for", r#"{"path": "/p"}"#, "sleep", "1"),
    (
        "wait_for",
        r#"{"host": "h", "port": 22}"#,
        "connect_timeout",
        "5",
    ),
    (
        "get_url",
        r#"{"url": "http://h/", "dest": "/d"}"#,
        "timeout",
        "10",
    ),
];

/// (module, required arguments, boolean parameter).
const BOOLEANS: &[(&str, &str, &str)] = &[
    ("apt", r#"{"name": "curl"}"#, "update_cache"),
    ("copy", r#"{"dest": "/d", "content": "x"}"#, "force"),
    ("file", r#"{"path": "/p"}"#, "recurse"),
    ("openssh_keypair", r#"{"path": "/tmp/k1"}"#, "force"),
    ("user", r#"{"name": "bob"}"#, "append"),
    ("service", r#"{"name": "cron"}"#, "enabled"),
    ("command", r#"{"cmd": "ls"}"#, "strip_empty_ends"),
    ("stat", r#"{"path": "/p"}"#, "get_checksum"),
];

fn with(base: &str, key: &str, value: Value) -> Value {
    let mut args: Value = serde_json::from_str(base).unwrap();
    args[key] = value;
    args
}

#[test]
fn integer_parameters_take_their_string_form_and_refuse_other_text() {
    for (module, base, param, text) in INTEGERS {
        assert_eq!(
            check(module, &with(base, param, json!(text))),
            Ok(()),
            "{module} {param}"
        );
        let number: i64 = text.parse().unwrap();
        assert_eq!(
            check(module, &with(base, param, json!(number))),
            Ok(()),
            "{module}"
        );
        assert_eq!(
            check(module, &with(base, param, json!("20x"))),
            Err(format!(
                "parameter '{param}' for module '{module}': '20x' is not a valid integer"
            )),
        );
    }
}

#[test]
fn boolean_parameters_take_ansible_words_and_refuse_other_text() {
    for (module, base, param) in BOOLEANS {
        for word in ["yes", "no", "True", "false", "1", "0", "on", "off"] {
            assert_eq!(
                check(module, &with(base, param, json!(word))),
                Ok(()),
                "{module} {word}"
            );
        }
        assert_eq!(
            check(module, &with(base, param, json!("maybe"))),
            Err(format!(
                "parameter '{param}' for module '{module}': 'maybe' is not a valid boolean"
            )),
        );
    }
}

#[test]
fn nested_and_out_of_range_values_are_named_without_rust_types() {
    let rows = [
        (
            "docker_swarm_service",
            json!({"name": "web", "publish": [{"target_port": "80", "published_port": "8080"}]}),
            Ok(()),
        ),
        (
            "docker_swarm_service",
            json!({"name": "web", "publish": [{"target_port": "eighty"}]}),
            Err(
                "parameter 'publish.0.target_port' for module 'docker_swarm_service': \
                 'eighty' is not a valid integer",
            ),
        ),
        (
            "openssh_keypair",
            json!({"path": "/k", "size": "-1"}),
            Err(
                "parameter 'size' for module 'openssh_keypair': -1 is out of range \
                 (0 to 4294967295)",
            ),
        ),
        (
            "openssh_keypair",
            json!({"path": "/k", "size": [1]}),
            Err("parameter 'size' for module 'openssh_keypair': expected an integer, got list"),
        ),
    ];
    for (module, args, want) in rows {
        assert_eq!(check(module, &args), want.map_err(String::from), "{args}");
    }
}

/// The user's report: `k=v` numbers reach the module as text.
#[test]
fn k_v_numbers_run_and_a_bad_one_stops_the_load() {
    let s = Scratch::new("kvnum");
    let play = "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n\
                \x20   - openssh_keypair: path=$D/k1 type=rsa size=SIZE\n";
    s.write("pb.yml", &play.replace("SIZE", "2048"));
    let out = s.mestral(&["-i", "localhost,", "--check", "pb.yml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.lines().any(|l| l == "changed: [localhost]"), "{text}");
    s.write("pb.yml", &play.replace("SIZE", "20x"));
    let out = s.mestral(&["-i", "localhost,", "pb.yml"]);
    let line = format!(
        "- openssh_keypair: path={}/k1 type=rsa size=20x",
        s.0.display()
    );
    let caret = " ".repeat(line.len() - "size=20x".len());
    assert_eq!(
        (out.status.code(), stdout(&out), stderr(&out)),
        (
            Some(1),
            String::new(),
            format!(
                "ERROR! pb.yml:5:{}: parameter 'size' for module 'openssh_keypair': '20x' is \
                 not a valid integer\n        {line}\n        {caret}^\n",
                caret.len() + 5
            )
        )
    );
}
