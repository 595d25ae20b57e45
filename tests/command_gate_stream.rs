//! `-v` through the real binary on a local host: a command whose `creates` holds, one that
//! runs because `removes` holds, and one that prints a look-alike of the gate's verdict line.
//! The gate's own verdict line (see `src/modules/command_gate.rs`) is never shown: the whole
//! output is compared byte for byte.

use std::process::Command;

const PLAYBOOK: &str = r#"- name: gate
  hosts: alpha
  gather_facts: false
  tasks:
    - name: skipped
      shell: echo never
      args:
        creates: there
    - name: runs
      shell: echo out; sleep 0.2; echo err >&2
      args:
        removes: there
    - name: look-alike
      shell: echo mestral-gate-0000000000000000:creates
      args:
        creates: nowhere
      changed_when: false
"#;

const SHOWN: &str = r#"
PLAY [gate] ********************************************************************

TASK [skipped] *****************************************************************
ok: [alpha] => {
    "cmd": "echo never",
    "rc": 0,
    "stdout": "skipped, since there exists",
    "stdout_lines": [
        "skipped, since there exists"
    ],
    "stderr": "",
    "stderr_lines": [],
    "changed": false,
    "msg": "Did not run command since 'there' exists"
}

TASK [runs] ********************************************************************
alpha | out
alpha stderr | err
changed: [alpha] => {
    "rc": 0,
    "stdout_lines": [
        "out"
    ],
    "stderr_lines": [
        "err"
    ],
    "stdout": "out",
    "stderr": "err",
    "cmd": "echo out; sleep 0.2; echo err >&2",
    "changed": true
}

TASK [look-alike] **************************************************************
alpha | mestral-gate-0000000000000000:creates
ok: [alpha] => {
    "rc": 0,
    "stdout_lines": [
        "mestral-gate-0000000000000000:creates"
    ],
    "stderr_lines": [],
    "stdout": "mestral-gate-0000000000000000:creates",
    "stderr": "",
    "cmd": "echo mestral-gate-0000000000000000:creates",
    "changed": false
}

PLAY RECAP *********************************************************************
alpha                      : ok=3    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   

"#;

#[test]
fn verbose_output_never_shows_the_verdict_line() {
    let dir = std::env::temp_dir().join(format!("mestral-gate-stream-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("inv.ini"), "alpha ansible_connection=local\n").unwrap();
    std::fs::write(dir.join("pb.yml"), PLAYBOOK).unwrap();
    std::fs::write(dir.join("there"), "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(&dir)
        .args(["-i", "inv.ini", "pb.yml", "--color", "never", "-v"])
        .output()
        .expect("mestral runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned()
        ),
        (Some(0), SHOWN.to_string(), String::new())
    );
}
