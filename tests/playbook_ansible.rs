//! Differential tests of the playbook language against ansible-playbook 2.19 (installed by
//! the conformance harness into its venv): the same playbook, inventory and flags through
//! both, and the whole stdout compared byte for byte, with the exit code. Ansible's
//! `[ERROR]:` excerpts (the task's source around a failure) are taken out of its stdout
//! first: mestral puts its failure summary on stderr instead. Both run with `-f 1`, so that
//! Ansible prints the hosts' results in inventory order, as mestral does.

#[path = "conformance/harness.rs"]
#[allow(dead_code)]
mod harness;
mod playbook_support;

use std::path::Path;
use std::process::Command;

use playbook_support::Scratch;

/// Loop items of every kind, labels that render to lists, loops skipped by `when` (item by
/// item, then the task's own line), a loop over nothing.
const ITEMS: &str = r#"
- hosts: alpha
  gather_facts: false
  tasks:
    - name: items
      debug: msg=x
      loop:
        - plain
        - [a, b]
        - {k: v, n: 1}
        - true
        - false
        - null
        - 3
        - 2.5
        - "it's"
        - 'say "hi"'
        - "both ' and \""
        - "naïve €"
        - [1, [true, null], {x: [y]}]
        - ["it's", 'say "hi"', "both ' and \"", "naïve €", "tab\tnew\nline", "back\\slash"]
        - ["\u0007bell", "\u00a0nbsp", "\u200bzw", "\U0001F600", ""]
        - [1.0, 0.1, -0.0, 12345678901234567890, 1.5e-7, 100000000000000000.0]
        - {"a b": {"c": [1]}, "it's": "x"}
        - ""
        - {}
        - []
    - name: skipped loop
      debug: msg=x
      loop: [a, [b, c], {d: e}]
      when: false
    - name: partly skipped
      debug: msg=x
      loop: [1, 2]
      when: item == 2
    - name: empty loop
      debug: msg=x
      loop: []
    - name: skipped with label
      debug: msg=x
      loop: [{n: a}, {n: b}]
      loop_control:
        label: "{{ item.n }}"
      when: false
    - name: label list
      debug: msg=x
      loop: [{n: [a, true]}]
      loop_control:
        label: "{{ item.n }}"
    - name: include per item
      include_tasks: inc.yml
      loop: [[1, "two"]]
"#;

/// `any_errors_fatal` with a block: the failure sends every host to the rescue, and the run
/// goes on once it has rescued them all.
const FATAL_RESCUED: &str = r#"
- hosts: web
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - block:
        - name: fails on alpha
          fail: msg=boom
          when: inventory_hostname == 'alpha'
        - name: after fail
          debug: msg=after
      rescue:
        - name: rescuing
          debug: msg=rescued
      always:
        - name: always
          debug: msg=always
    - name: next
      debug: msg=next
"#;

/// A failure in the rescue is fatal: every host runs `always`, then the run stops.
const FATAL_IN_RESCUE: &str = r#"
- hosts: web
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - block:
        - name: fails on alpha
          fail: msg=boom
          when: inventory_hostname == 'alpha'
      rescue:
        - name: rescue fails on beta
          fail: msg=again
          when: inventory_hostname == 'beta'
      always:
        - name: always
          debug: msg=always
    - name: next
      debug: msg=next
"#;

/// Without a rescue: `always` for every host, then the end; outside a block: the end at
/// once, later plays included.
const FATAL_UNRESCUED: &str = r#"
- hosts: web
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: fine
      debug: msg=fine
    - block:
        - name: fails on alpha
          fail: msg=boom
          when: inventory_hostname == 'alpha'
      always:
        - name: always
          debug: msg=always
    - name: next
      debug: msg=next
- hosts: web
  gather_facts: false
  tasks:
    - name: second play
      debug: msg=x
"#;

const FATAL_PLAIN: &str = r#"
- hosts: web
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: fails on alpha
      fail: msg=boom
      when: inventory_hostname == 'alpha'
    - name: next
      debug: msg=next
- hosts: web
  gather_facts: false
  tasks:
    - name: second play
      debug: msg=x
"#;

/// Nested blocks without `any_errors_fatal`: `always` runs for hosts that failed in the
/// block, a failed inner rescue goes to the outer rescue.
const NESTED: &str = r#"
- hosts: web
  gather_facts: false
  tasks:
    - block:
        - name: fails on alpha
          fail: msg=boom
          when: inventory_hostname == 'alpha'
        - name: rest
          debug: msg=rest
      always:
        - name: always
          debug: msg=always
    - block:
        - block:
            - name: inner fails on beta
              fail: msg=inner
              when: inventory_hostname == 'beta'
          rescue:
            - name: inner rescue fails
              fail: msg=again
          always:
            - name: inner always
              debug: msg=inner
      rescue:
        - name: outer rescue
          debug: msg=outer
    - name: last
      debug: msg=last
"#;

/// `until` under the free strategy: the retry notices come before the task's banner, which
/// a free play prints with the task's first result. `attempts` is set for `until`.
const FREE_UNTIL: &str = r#"
- hosts: alpha
  gather_facts: false
  strategy: free
  tasks:
    - name: first
      debug: msg=first
    - name: waits
      command: "true"
      changed_when: false
      register: r
      until: r.attempts > 2
      retries: 3
      delay: 0
"#;

/// `apply` on `include_role` and `include_tasks`: its condition, tags and vars go to every
/// included task (run plain and with `--tags applied`); the include's own `included:` line.
const APPLY: &str = r#"
- hosts: web
  gather_facts: false
  tasks:
    - name: with apply
      include_role:
        name: r
        apply:
          tags: [applied]
          when: inventory_hostname == 'alpha'
          vars:
            flag: set
      tags: [always]
    - name: tasks with apply
      include_tasks:
        file: inc.yml
        apply:
          when: inventory_hostname == 'beta'
      vars:
        item: from include
    - name: role per item
      include_role:
        name: r
      loop: [{a: 1}]
      when: inventory_hostname == 'beta'
    - name: plain
      debug: msg=plain
"#;

/// `max_fail_percentage` under the free strategy: ignored, with Ansible's warning.
const FREE_MAX_FAIL: &str = r#"
- hosts: web
  gather_facts: false
  strategy: free
  max_fail_percentage: 0
  tasks:
    - name: fails on alpha
      fail: msg=down
      when: inventory_hostname == 'alpha'
    - name: after
      debug: msg=after
"#;

/// Ansible's stdout without its `[ERROR]:` excerpts (the message, `Origin:`, the source
/// lines, the caret line and the blank line after it).
fn without_error_excerpts(stdout: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    let mut caret = false;
    for line in stdout.split_inclusive('\n') {
        if line.starts_with("[ERROR]: ") {
            skipping = true;
            caret = false;
        }
        if !skipping {
            out.push_str(line);
            continue;
        }
        if line.contains("^ column") {
            caret = true;
        } else if caret && line.trim().is_empty() {
            skipping = false;
        }
    }
    out
}

/// Runs `pb.yml` in `dir` with both runners: (stdout, exit code) of each.
fn both(dir: &Path, args: &[&str]) -> [(String, i32); 2] {
    let bin = harness::ansible_playbook();
    let python = bin.with_file_name("python");
    let ansible = Command::new(bin)
        .current_dir(dir)
        .args(["-i", "inv.ini", "pb.yml", "-f", "1", "-e"])
        .arg(format!("ansible_python_interpreter={}", python.display()))
        .args(args)
        .env("ANSIBLE_HOME", dir.join(".ansible"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible/tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("ANSIBLE_LOCALHOST_WARNING", "0")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
        .output()
        .expect("ansible-playbook starts");
    let mestral = playbook_support::mestral(dir, &[&["pb.yml", "-f", "1"], args].concat(), &[]);
    let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    [
        (
            without_error_excerpts(&stdout(&ansible)),
            ansible.status.code().unwrap_or(-1),
        ),
        (stdout(&mestral), mestral.status.code().unwrap_or(-1)),
    ]
}

/// Runs one playbook through both runners and asserts the same stdout and exit code.
fn same_as_ansible(name: &str, playbook: &str, args: &[&str]) {
    let s = Scratch::new(&format!("ansible-{name}"));
    s.write(
        "inv.ini",
        "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n",
    );
    s.write("pb.yml", playbook);
    s.write("inc.yml", "- name: included\n  debug: msg=\"{{ item }}\"\n");
    s.write(
        "roles/r/tasks/main.yml",
        "- name: role one\n  debug: msg=\"one {{ flag | default('unset') }}\"\n\
         - name: role two\n  debug: msg=two\n  tags: [own]\n",
    );
    let [ansible, mestral] = both(&s.0, args);
    // A playbook whose stdout carries the scratch path compares once it is taken out.
    let strip = |t: &str| t.replace(&s.0.display().to_string(), "<dir>");
    assert_eq!(strip(&mestral.0), strip(&ansible.0), "{name}: stdout");
    assert_eq!(mestral.1, ansible.1, "{name}: exit code");
}

#[test]
fn item_labels_and_skipped_loops() {
    same_as_ansible("items", ITEMS, &[]);
}

#[test]
fn any_errors_fatal_and_blocks() {
    for (name, playbook) in [
        ("fatal-rescued", FATAL_RESCUED),
        ("fatal-in-rescue", FATAL_IN_RESCUE),
        ("fatal-unrescued", FATAL_UNRESCUED),
        ("fatal-plain", FATAL_PLAIN),
        ("nested", NESTED),
    ] {
        same_as_ansible(name, playbook, &[]);
    }
}

#[test]
fn include_apply() {
    same_as_ansible("apply", APPLY, &[]);
    same_as_ansible("apply-tags", APPLY, &["--tags", "applied"]);
}

#[test]
fn free_strategy_retries_and_failure_limit() {
    same_as_ansible("free-until", FREE_UNTIL, &[]);
    same_as_ansible("free-max-fail", FREE_MAX_FAIL, &[]);

    // The warning, once for two batches, on stderr (checked by hand against
    // ansible-playbook 2.19's, which prints it at the start of each batch, deduplicated).
    let s = Scratch::new("free-max-fail-warning");
    s.write("inv.ini", &playbook_support::inventory(&["alpha", "beta"]));
    let batches = FREE_MAX_FAIL
        .replace("  max_fail", "  serial: 1\n  max_fail")
        .replace("== 'alpha'", "== 'nobody'");
    s.write("pb.yml", &batches);
    let out = playbook_support::mestral(&s.0, &["pb.yml"], &[]);
    let warning = "[WARNING]: Using max_fail_percentage with the free strategy is not \
                   supported, as tasks are executed independently on each host\n";
    let stderr = playbook_support::errors(&out);
    assert_eq!(
        stderr.lines().next().map(|l| format!("{l}\n")),
        Some(warning.to_string())
    );
    assert_eq!(stderr.matches("[WARNING]").count(), 1);
    assert_eq!(
        playbook_support::text(&out).matches("TASK [after]").count(),
        2
    );
    assert_eq!(out.status.code(), Some(0));
}
