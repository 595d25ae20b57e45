//! The inventory through the real binary: `mestral inventory` (--list decoded and compared,
//! --graph, --host), warnings on stderr, Jinja in inventory variables rendered per host,
//! and every level of variable precedence (docs/variables.md), with local-connection hosts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

/// A scratch folder for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("mestral-inv-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mestral(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("mestral runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `ok: [host] => {...}` blocks of a run, in order.
fn debug_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("ok: [") && line.ends_with("=> {") {
            let mut block = line.to_string();
            for more in lines.by_ref() {
                block.push('\n');
                block.push_str(more);
                if more == "}" {
                    break;
                }
            }
            blocks.push(block);
        }
    }
    blocks
}

#[test]
fn list_is_ansible_inventory_json() {
    let out = mestral(&repo(), &["inventory", "-i", "inventory/lab.ini", "--list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let hostvars = |address: &str| {
        json!({
            "ansible_host": address,
            "ansible_ssh_private_key_file": "/var/lib/mestral-lab/id_ed25519",
            "ansible_user": "root",
            "swarm_publish_mode": "host",
        })
    };
    let want = json!({
        "_meta": {
            "hostvars": {
                "calxitu": hostvars("172.30.8.250"),
                "calxitu2": hostvars("172.30.8.249"),
            },
            "profile": "inventory_legacy",
        },
        "all": {"children": ["ungrouped", "swarm"]},
        "managers": {"hosts": ["calxitu"]},
        "swarm": {"children": ["managers", "workers"]},
        "workers": {"hosts": ["calxitu2"]},
    });
    assert_eq!(got, want);
    // Keys sorted and four spaces of indent, as ansible-inventory prints.
    assert!(stdout(&out).starts_with("{\n    \"_meta\": {\n        \"hostvars\": {\n"));
}

#[test]
fn graph_and_host_of_the_lab_groups() {
    let out = mestral(
        &repo(),
        &["inventory", "-i", "inventory/labs.yml", "--graph"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut want = String::from("@all:\n  |--@ungrouped:\n  |--@labs:\n");
    for n in 1..=12 {
        want.push_str(&format!(
            "  |  |--@lab{n:02}:\n  |  |  |--lab{n:02}-calxitu\n  |  |  |--lab{n:02}-calxitu2\n"
        ));
    }
    want.push_str("  |--@swarm:\n  |  |--@managers:\n");
    for n in 1..=12 {
        want.push_str(&format!("  |  |  |--lab{n:02}-calxitu\n"));
    }
    want.push_str("  |  |--@workers:\n");
    for n in 1..=12 {
        want.push_str(&format!("  |  |  |--lab{n:02}-calxitu2\n"));
    }
    assert_eq!(stdout(&out), want);

    let out = mestral(
        &repo(),
        &[
            "inventory",
            "-i",
            "inventory/labs.yml",
            "--host",
            "lab07-calxitu2",
        ],
    );
    let want = "{\n    \"ansible_host\": \"172.30.8.214\",\n    \
        \"ansible_ssh_private_key_file\": \"/var/lib/mestral-lab/id_ed25519\",\n    \
        \"ansible_user\": \"root\",\n    \"lab_no\": 7,\n    \"swarm_hosts\": [\n        \
        \"lab07-calxitu\",\n        \"lab07-calxitu2\"\n    ],\n    \
        \"swarm_manager\": \"lab07-calxitu\",\n    \"swarm_publish_mode\": \"host\"\n}\n";
    assert_eq!(stdout(&out), want);

    let out = mestral(
        &repo(),
        &[
            "inventory",
            "-i",
            "inventory/labs.yml",
            "--host",
            "lab7-calxitu",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "ERROR! --host: no host 'lab7-calxitu' in the inventory; did you mean 'lab07-calxitu'?\n"
    );
}

#[test]
fn typing_warnings_and_per_host_templates() {
    let s = Scratch::new("typing");
    s.write(
        "inv.ini",
        "[lab]\nh1 lab_no=1 ver=1.10\nh2 lab_no=2 ver=\"1.10\"\n\
         [lab:vars]\nansible_connection=local\naddr=10.{{ lab_no }}.8.250\n",
    );
    s.write(
        "pb.yml",
        "- hosts: lab\n  gather_facts: false\n  tasks:\n    - debug: var=addr\n    \
         - debug: var=ver\n",
    );
    let out = mestral(&s.0, &["-i", "inv.ini", "pb.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        debug_blocks(&stdout(&out)),
        [
            "ok: [h1] => {\n    \"addr\": \"10.1.8.250\"\n}",
            "ok: [h2] => {\n    \"addr\": \"10.2.8.250\"\n}",
            "ok: [h1] => {\n    \"ver\": 1.1\n}",
            "ok: [h2] => {\n    \"ver\": \"1.10\"\n}",
        ]
    );
    assert_eq!(
        stderr(&out),
        "[WARNING]: inv.ini:2: ver=1.10 is read as the number 1.1; quote the value (\"1.10\") \
         to keep the text\n"
    );
}

#[test]
fn unmatched_pattern_warns_and_names_the_closest_group() {
    let s = Scratch::new("pattern");
    s.write("inv.ini", "[workers]\nw1 ansible_connection=local\n");
    s.write(
        "pb.yml",
        "- hosts: wrkers\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
    );
    let out = mestral(&s.0, &["-i", "inv.ini", "pb.yml", "--color", "never"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out),
        "[WARNING]: Could not match supplied host pattern, ignoring: wrkers; \
         did you mean 'workers'?\n"
    );
    assert_eq!(debug_blocks(&stdout(&out)), Vec::<String>::new());
}

/// The levels of docs/variables.md, lowest first: `vNN` is set at every level up to NN,
/// so the value shown names the highest level that set it.
const LEVELS: &[&str] = &[
    "role_defaults",
    "inventory_group",
    "inventory_group_vars_all",
    "playbook_group_vars_all",
    "inventory_group_vars",
    "playbook_group_vars",
    "inventory_host",
    "inventory_host_vars",
    "playbook_host_vars",
    "play_vars",
    "play_vars_files",
    "role_vars",
    "task_vars",
    "set_fact",
    "extra_vars",
];

/// `vNN: LEVEL` lines for every variable that level sets, in `format`.
fn defs(level: usize, format: fn(&str, &str) -> String) -> String {
    (level..LEVELS.len())
        .map(|v| format(&format!("v{:02}", v + 1), LEVELS[level]))
        .collect()
}

#[test]
fn every_level_of_precedence() {
    let s = Scratch::new("precedence");
    let yaml = |k: &str, v: &str| format!("{k}: {v}\n");
    let ini = |k: &str, v: &str| format!("{k}={v}\n");
    let inline = |k: &str, v: &str| format!(" {k}={v}");
    let level = |name: &str| LEVELS.iter().position(|l| *l == name).unwrap();

    s.write(
        "pb/roles/r/defaults/main.yml",
        &defs(level("role_defaults"), yaml),
    );
    s.write(
        "inv/hosts",
        &format!(
            "[g]\nh1 ansible_connection=local{}\n[g:vars]\n{}[all:vars]\n{}",
            defs(level("inventory_host"), inline),
            defs(level("inventory_group"), ini),
            defs(level("inventory_group"), |k, _| format!("{k}=all_inline\n")),
        ),
    );
    s.write(
        "inv/group_vars/all.yml",
        &defs(level("inventory_group_vars_all"), yaml),
    );
    s.write(
        "pb/group_vars/all.yml",
        &defs(level("playbook_group_vars_all"), yaml),
    );
    s.write(
        "inv/group_vars/g.yml",
        &defs(level("inventory_group_vars"), yaml),
    );
    s.write(
        "pb/group_vars/g.yml",
        &defs(level("playbook_group_vars"), yaml),
    );
    s.write(
        "inv/host_vars/h1.yml",
        &defs(level("inventory_host_vars"), yaml),
    );
    s.write(
        "pb/host_vars/h1.yml",
        &defs(level("playbook_host_vars"), yaml),
    );
    s.write("pb/files.yml", &defs(level("play_vars_files"), yaml));
    s.write("pb/roles/r/vars/main.yml", &defs(level("role_vars"), yaml));

    let indent = |n: usize, text: String| -> String {
        text.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect()
    };
    let mut tasks = format!("- set_fact:\n{}", indent(4, defs(level("set_fact"), yaml)));
    for v in 1..=LEVELS.len() {
        tasks.push_str(&format!(
            "- debug: var=v{v:02}\n  vars:\n{}",
            indent(4, defs(level("task_vars"), yaml))
        ));
    }
    s.write("pb/roles/r/tasks/main.yml", &tasks);
    s.write(
        "pb/site.yml",
        &format!(
            "- hosts: g\n  gather_facts: false\n  vars:\n{}  vars_files:\n    - files.yml\n  \
             roles:\n    - r\n",
            indent(4, defs(level("play_vars"), yaml))
        ),
    );

    let extra = format!("v{:02}=extra_vars", LEVELS.len());
    let out = mestral(&s.0, &["-i", "inv", "pb/site.yml", "-e", &extra]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let want: Vec<String> = LEVELS
        .iter()
        .enumerate()
        .map(|(i, level)| format!("ok: [h1] => {{\n    \"v{:02}\": \"{level}\"\n}}", i + 1))
        .collect();
    assert_eq!(debug_blocks(&stdout(&out)), want);
}
