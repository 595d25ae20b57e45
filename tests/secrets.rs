//! Secret audit (issue 7): secrets planted in a `no_log` task's arguments, its registered
//! output and later uses of that register, a `--diff` of a `no_log` copy, become and
//! connection passwords, `-e` values named like secrets, and the error message of a failing
//! `no_log` task; then every output channel (stdout and stderr at -vvv, `--output json`,
//! the retry file) is searched for each of them: no hit. On the controller itself
//! (`ansible_connection=local`); the become password through a real sudo is in
//! `secrets_lab.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Each planted secret, with where it was planted.
const SECRETS: &[(&str, &str)] = &[
    (
        "nolog-arg-7Hq2v",
        "a no_log task's argument and its registered stdout",
    ),
    (
        "nolog-copy-Jd5Tn",
        "the content of a no_log copy shown with --diff",
    ),
    ("nolog-fail-Qp8Zt", "stderr of a failing no_log task"),
    ("nolog-tmpl-Wm3Rk", "a no_log task whose template fails"),
    ("become-pw-Xk9Lq", "ansible_become_password in the play"),
    ("conn-pw-Ty6Fa", "ansible_password given with -e"),
    ("dbpw-Zr4Nc8", "-e db_password"),
    ("tok-Hh3Lp1", "-e api_token as JSON"),
    ("apikey-Vb7Ue", "-e stripe_key"),
];

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mestral-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn playbook(dir: &Path) -> String {
    format!(
        r#"- hosts: web
  gather_facts: false
  vars:
    ansible_become_password: become-pw-Xk9Lq
  tasks:
    - name: secret command
      command: echo nolog-arg-7Hq2v
      no_log: true
      register: hidden
    - name: register used in a command
      command: "echo got {{{{ hidden.stdout }}}}"
    - name: register shown whole
      debug: var=hidden
    - name: register in a message
      debug: msg="{{{{ hidden.stdout_lines }}}}"
    - name: secret file
      copy: {{content: "nolog-copy-Jd5Tn\n", dest: "{dir}/secret-{{{{ inventory_hostname }}}}"}}
      no_log: true
    - name: extra vars
      debug: msg="db {{{{ db_password }}}} token {{{{ api_token }}}} key {{{{ stripe_key }}}}"
    - name: become password shown
      debug: var=ansible_become_password
    - name: connection password shown
      debug: msg="{{{{ ansible_password }}}}"
    - name: failing no_log
      shell: "echo nolog-fail-Qp8Zt >&2; exit 3"
      no_log: true
      ignore_errors: true
    - name: template error in a no_log task
      command: "echo {{{{ nolog_missing }}}} nolog-tmpl-Wm3Rk"
      no_log: true
      ignore_errors: true
    - name: a failure that quotes a secret
      fail: msg="beta fails with {{{{ db_password }}}}"
      when: inventory_hostname == 'beta'
"#,
        dir = dir.display()
    )
}

fn mestral(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args([
            "-i", "inv.ini", "pb.yml", "--color", "never", "--diff", "-vvv",
        ])
        .args([
            "-e",
            "db_password=dbpw-Zr4Nc8",
            "-e",
            "ansible_password=conn-pw-Ty6Fa",
        ])
        .args([
            "-e",
            r#"{"api_token": "tok-Hh3Lp1", "stripe_key": "apikey-Vb7Ue"}"#,
        ])
        .args(extra)
        .env("NO_COLOR", "1")
        .env_remove("MESTRAL_LOG")
        .output()
        .expect("mestral runs")
}

/// The channels where a secret was found, for each secret found anywhere.
fn hits(channels: &[(&str, &[u8])]) -> Vec<String> {
    let mut found = Vec::new();
    for (secret, planted) in SECRETS {
        for (channel, bytes) in channels {
            if String::from_utf8_lossy(bytes).contains(secret) {
                found.push(format!("{secret} ({planted}) in {channel}"));
            }
        }
    }
    found
}

#[test]
fn no_secret_reaches_any_output_channel() {
    let dir = scratch();
    std::fs::write(
        dir.join("inv.ini"),
        "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n",
    )
    .expect("inventory");
    std::fs::write(dir.join("pb.yml"), playbook(&dir)).expect("playbook");

    let text = mestral(&dir, &["--retry-file", "text.retry"]);
    let json = mestral(&dir, &["--output", "json", "--retry-file", "json.retry"]);
    let text_retry = std::fs::read(dir.join("text.retry")).expect("retry file");
    let json_retry = std::fs::read(dir.join("json.retry")).expect("retry file");
    println!("{}", String::from_utf8_lossy(&text.stdout));
    println!("{}", String::from_utf8_lossy(&text.stderr));
    println!("{}", String::from_utf8_lossy(&json.stdout));

    // The run really went through the secrets: beta failed at the last task only.
    assert_eq!(text.status.code(), Some(2));
    assert_eq!(json.status.code(), Some(2));
    assert_eq!(text_retry, b"beta\n");
    for host in ["alpha", "beta"] {
        let written = std::fs::read_to_string(dir.join(format!("secret-{host}")));
        assert_eq!(written.expect("the no_log copy ran"), "nolog-copy-Jd5Tn\n");
    }

    // Masked in place, not dropped: the text report's line and the decoded JSON event.
    let line = "    \"msg\": \"db ******** token ******** key ********\"";
    let text_out = String::from_utf8_lossy(&text.stdout);
    assert_eq!(
        text_out.lines().filter(|l| *l == line).count(),
        2,
        "{text_out}"
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON event"))
        .collect();
    let masked: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "host_result" && e["task"] == "extra vars")
        .map(|e| &e["result"]["msg"])
        .collect();
    let want = serde_json::json!("db ******** token ******** key ********");
    assert_eq!(masked, vec![&want, &want]);

    let found = hits(&[
        ("stdout at -vvv", &text.stdout),
        ("stderr at -vvv", &text.stderr),
        ("JSON stdout", &json.stdout),
        ("JSON stderr", &json.stderr),
        ("the retry file", &text_retry),
        ("the JSON run's retry file", &json_retry),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found, Vec::<String>::new());
}
