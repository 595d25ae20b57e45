//! The real binary on the controller itself (`ansible_connection=local`): exact report text,
//! exit codes, idempotent re-runs, check mode, listings and error messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch folder for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("mestral-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mestral(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args(["--color", "never"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("mestral runs")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const INVENTORY: &str = "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n";

#[test]
fn report_exit_codes_and_convergence() {
    let s = Scratch::new("report");
    s.write("inv.ini", INVENTORY);
    let dest = s.0.join("out-{{ inventory_hostname }}.txt");
    s.write(
        "pb.yml",
        &format!(
            "- name: demo\n  hosts: web\n  gather_facts: false\n  tasks:\n\
             \x20   - name: write a file\n      copy:\n        content: \"hello {{{{ inventory_hostname }}}}\\n\"\n\
             \x20       dest: \"{}\"\n\
             \x20   - name: greet\n      debug:\n        msg: \"hi {{{{ inventory_hostname }}}}\"\n\
             \x20     when: inventory_hostname == 'beta'\n",
            dest.display()
        ),
    );

    let first = mestral(&s.0, &["-i", "inv.ini", "pb.yml"]);
    assert_eq!(first.status.code(), Some(0));
    let want = "\nPLAY [demo] ********************************************************************\n\
        \nTASK [write a file] ************************************************************\n\
        changed: [alpha]\nchanged: [beta]\n\
        \nTASK [greet] *******************************************************************\n\
        skipping: [alpha]\nok: [beta] => {\n    \"msg\": \"hi beta\"\n}\n\
        \nPLAY RECAP *********************************************************************\n\
        alpha                      : ok=1    changed=1    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   \n\
        beta                       : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   \n\n";
    assert_eq!(text(&first), want);
    assert_eq!(
        std::fs::read(s.0.join("out-alpha.txt")).unwrap(),
        b"hello alpha\n"
    );
    assert_eq!(
        std::fs::read(s.0.join("out-beta.txt")).unwrap(),
        b"hello beta\n"
    );

    // The second run changes nothing.
    let second = mestral(&s.0, &["-i", "inv.ini", "pb.yml"]);
    assert_eq!(second.status.code(), Some(0));
    let second = text(&second);
    assert!(second.contains("\nok: [alpha]\nok: [beta]\n"), "{second}");
    assert!(
        second.contains("alpha                      : ok=1    changed=0 "),
        "{second}"
    );
    assert!(
        second.contains("beta                       : ok=2    changed=0 "),
        "{second}"
    );

    // Check mode reports the change and leaves the file alone; --diff shows it.
    std::fs::write(s.0.join("out-alpha.txt"), "drift\n").unwrap();
    let check = mestral(
        &s.0,
        &["-i", "inv.ini", "pb.yml", "-C", "-D", "-l", "alpha"],
    );
    assert_eq!(check.status.code(), Some(0));
    let check = text(&check);
    assert!(
        check.contains("-drift\n+hello alpha\nchanged: [alpha]\n"),
        "{check}"
    );
    assert_eq!(
        std::fs::read(s.0.join("out-alpha.txt")).unwrap(),
        b"drift\n"
    );
}

#[test]
fn failures_name_the_task_host_and_variable() {
    let s = Scratch::new("fail");
    s.write("inv.ini", INVENTORY);
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - name: undefined\n      debug:\n\
         \x20       msg: \"{{ nope }}\"\n      when: inventory_hostname == 'beta'\n\
         \x20   - name: after\n      command: \"true\"\n      changed_when: false\n",
    );
    let out = mestral(&s.0, &["-i", "inv.ini", "pb.yml"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a failed host gives exit code 2"
    );
    let t = text(&out);
    assert!(t.contains(
        "skipping: [alpha]\nfatal: [beta]: FAILED! => {\"changed\": false, \"msg\": \
         \"pb.yml:4: task 'undefined' on beta: 'nope' is undefined, in template \\\"{{ nope }}\\\"\"}\n"
    ), "{t}");
    // beta stops; alpha goes on.
    assert!(t.contains("TASK [after] ***"), "{t}");
    assert!(t.contains("\nok: [alpha]\n\nPLAY RECAP"), "{t}");
    assert!(
        t.contains("beta                       : ok=0    changed=0    unreachable=0    failed=1 ")
    );
}

#[test]
fn listings_and_syntax_errors() {
    let s = Scratch::new("list");
    s.write("inv.ini", INVENTORY);
    s.write(
        "pb.yml",
        "- name: p\n  hosts: web:!beta\n  tasks:\n    - name: t1\n      ping:\n      tags: [a]\n",
    );
    let out = mestral(
        &s.0,
        &["-i", "inv.ini", "pb.yml", "--list-hosts", "--list-tasks"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out),
        "\nplaybook: pb.yml\n\n  play #1 (web:!beta): p\tTAGS: []\n    pattern: ['web:!beta']\n\
         \x20   hosts (1):\n      alpha\n    tasks:\n      t1\tTAGS: [a]\n"
    );

    s.write(
        "bad.yml",
        "- hosts: web\n  tasks:\n    - ping:\n   oops: [\n",
    );
    let out = mestral(&s.0, &["-i", "inv.ini", "bad.yml", "--syntax-check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("ERROR! bad.yml:4:4: YAML syntax error"),
        "{err}"
    );

    s.write(
        "typo.yml",
        "- hosts: web\n  tasks:\n    - name: x\n      cpy: src=a dest=b\n",
    );
    let out = mestral(&s.0, &["-i", "inv.ini", "typo.yml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        "ERROR! typo.yml:3: unknown module 'cpy'; did you mean 'copy'?\n"
    );
}

/// Regression: output holding `{{` (a Docker Go template) was rendered again as Jinja when a
/// condition read the registered result, and failed with a syntax error.
#[test]
fn registered_output_is_data_not_a_template() {
    let s = Scratch::new("raw");
    s.write("inv.ini", INVENTORY);
    s.write(
        "pb.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n\
         \x20   - command: printf '%s' {% raw %}'{{.Name}}'{% endraw %}\n      register: r\n\
         \x20     changed_when: false\n      failed_when: r.stdout != ('{' ~ '{.Name}}')\n\
         \x20   - debug: msg=\"{{ item }}\"\n      loop: \"{{ r.stdout_lines }}\"\n",
    );
    let out = mestral(&s.0, &["-i", "inv.ini", "pb.yml"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("ok: [alpha] => (item={{.Name}}) => {\n    \"msg\": \"{{.Name}}\"\n}\n"),
        "{t}"
    );
}

/// A usage error is bad input: exit code 1, not clap's 2 (which means "a host failed").
#[test]
fn bad_flags_exit_one() {
    let s = Scratch::new("flags");
    for args in [
        &["--color", "bogus", "pb.yml"][..],
        &["--host-key-checking", "maybe", "pb.yml"],
        &["--bogus"],
        &[],
    ] {
        let out = mestral(&s.0, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    let out = mestral(&s.0, &["--version"]);
    assert_eq!(out.status.code(), Some(0));
}

/// `until` announces each retry as Ansible does, with the retries left.
#[test]
fn retries_are_announced() {
    let s = Scratch::new("retry");
    s.write("inv.ini", INVENTORY);
    s.write(
        "pb.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - name: wait\n      command: \"false\"\n\
         \x20     register: r\n      until: r.rc == 0\n      retries: 2\n      delay: 0\n",
    );
    let out = mestral(&s.0, &["-i", "inv.ini", "pb.yml"]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(
        t.contains(
            "TASK [wait] ********************************************************************\n\
         FAILED - RETRYING: [alpha]: wait (2 retries left).\n\
         FAILED - RETRYING: [alpha]: wait (1 retries left).\n\
         fatal: [alpha]: FAILED! => "
        ),
        "{t}"
    );
    assert!(
        t.contains("\"attempts\": 3, \"msg\": \"retries exhausted after 3 attempts\"}"),
        "{t}"
    );
}

/// A `notify` naming no handler is an error before anything runs, as in Ansible.
#[test]
fn notify_must_name_a_handler() {
    let s = Scratch::new("notify");
    s.write("inv.ini", INVENTORY);
    s.write(
        "pb.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - command: \"true\"\n      notify: restart dockr\n\
         \x20 handlers:\n    - name: restart docker\n      debug: msg=x\n",
    );
    let out = mestral(&s.0, &["-i", "inv.ini", "pb.yml", "--syntax-check"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR! pb.yml:4: notify names the handler 'restart dockr', which the play does not have; \
         did you mean 'restart docker'?\n"
    );
}

/// `lookup('template')` and `lookup('file')` read beside the playbook (its `templates/` too),
/// wherever mestral is started from.
#[test]
fn lookups_read_beside_the_playbook() {
    let s = Scratch::new("lookup");
    s.write("inv.ini", INVENTORY);
    std::fs::create_dir_all(s.0.join("templates")).unwrap();
    s.write("templates/greet.j2", "hello {{ inventory_hostname }}\n");
    s.write("note.txt", "a note\n");
    s.write(
        "pb.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n\
         \x20   - debug: msg=\"{{ lookup('template', 'greet.j2') }}|{{ lookup('file', 'note.txt') }}\"\n",
    );
    let inv = s.0.join("inv.ini");
    let pb = s.0.join("pb.yml");
    let out = mestral(
        Path::new("/"),
        &["-i", inv.to_str().unwrap(), pb.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("ok: [alpha] => {\n    \"msg\": \"hello alpha\\n|a note\"\n}\n"),
        "{}",
        text(&out)
    );
}

/// A free-form `shell: |` block keeps its lines: two commands run, not one `echo a echo b`.
#[test]
fn free_form_block_keeps_its_lines() {
    let s = Scratch::new("block");
    s.write("inv.ini", INVENTORY);
    s.write(
        "pb.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n\
         \x20   - shell: |\n        echo a\n        echo b\n      register: r\n\
         \x20   - debug: var=r.stdout_lines\n",
    );
    let out = mestral(&s.0, &["-i", "inv.ini", "pb.yml"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let want =
        "ok: [alpha] => {\n    \"r.stdout_lines\": [\n        \"a\",\n        \"b\"\n    ]\n}\n";
    assert_eq!(t.matches(want).count(), 1, "{t}");
}
