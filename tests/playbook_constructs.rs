//! Constructs of the list not covered elsewhere, through the binary with exact
//! output: `import_playbook`, `import_tasks` with `when` and `tags`, `with_items` (flattened)
//! and `with_list`, `omit`, `groups` and `group_names`, `delegate_to: localhost`,
//! `check_mode` and `diff` on one task, tags `never` and `always` with `--tags` and
//! `--skip-tags`, handlers with `listen`; and keywords still refused, by name.

mod playbook_support;

use playbook_support::*;

const INVENTORY: &str = "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n\
                         [db]\nbeta\n";

const PLAYBOOK: &str = "- import_playbook: first.yml\n\
- hosts: web\n  gather_facts: false\n  tasks:\n\
\x20   - import_tasks: tasks.yml\n      when: inventory_hostname == 'alpha'\n      tags: [imported]\n\
\x20   - name: items flattened\n      debug: msg=\"{{ item }}\"\n      with_items: [[a, b], c]\n\
\x20     when: inventory_hostname == 'alpha'\n\
\x20   - name: list kept\n      debug: msg=\"{{ item | length }}\"\n      with_list: [[a, b], c]\n\
\x20     when: inventory_hostname == 'beta'\n\
\x20   - name: omit\n      file: path=f-{{ inventory_hostname }} state=touch mode=\"{{ omit }}\"\n\
\x20     changed_when: false\n\
\x20   - name: groups\n      debug: msg=\"{{ group_names }} {{ groups['db'] }}\"\n\
\x20   - name: on the controller\n      command: \"true\"\n      delegate_to: localhost\n\
\x20     changed_when: false\n      run_once: true\n\
\x20   - name: check mode here\n      copy: content=x dest=c-{{ inventory_hostname }}\n\
\x20     check_mode: true\n      diff: true\n      when: inventory_hostname == 'alpha'\n\
\x20   - name: tagged never\n      debug: msg=never\n      tags: [never, debugonly]\n\
\x20   - name: tagged always\n      debug: msg=always\n      tags: [always]\n\
\x20   - name: notify a topic\n      command: \"true\"\n      notify: restart things\n\
\x20 handlers:\n\
\x20   - name: first handler\n      debug: msg=first\n      listen: restart things\n\
\x20   - name: second handler\n      debug: msg=second\n      listen: restart things\n";

fn item(host: &str, item: &str, msg: &str) -> String {
    format!("ok: [{host}] => (item={item}) => {{\n    \"msg\": {msg}\n}}\n")
}

#[test]
fn constructs_run_with_ansible_meaning() {
    let s = Scratch::new("constructs");
    s.write("inv.ini", INVENTORY);
    s.write("pb.yml", PLAYBOOK);
    s.write(
        "first.yml",
        "- hosts: db\n  gather_facts: false\n  tasks:\n\
         \x20   - name: from the first playbook\n      debug: msg=first\n",
    );
    s.write(
        "tasks.yml",
        "- name: imported one\n  debug: msg=one\n- name: imported two\n  debug: msg=two\n",
    );
    let both = |msg: &str| debug("alpha", msg) + &debug("beta", msg);
    let mut want = banner("PLAY [db]");
    want += &(task("from the first playbook") + &debug("beta", "first"));
    want += &banner("PLAY [web]");
    want += &(task("imported one") + &debug("alpha", "one") + "skipping: [beta]\n");
    want += &(task("imported two") + &debug("alpha", "two") + "skipping: [beta]\n");
    want += &task("items flattened");
    want += &(item("alpha", "a", "\"a\"") + &item("alpha", "b", "\"b\""));
    want += &item("alpha", "c", "\"c\"");
    // A skipped item's line ends in a space; a loop skipped on every item ends in the
    // task's own `skipping:` line (as ansible-playbook 2.19 prints them).
    want += "skipping: [beta] => (item=a) \nskipping: [beta] => (item=b) \n";
    want += "skipping: [beta] => (item=c) \nskipping: [beta]\n";
    want += &task("list kept");
    want += "skipping: [alpha] => (item=['a', 'b']) \nskipping: [alpha] => (item=c) \n";
    want += "skipping: [alpha]\n";
    want += &(item("beta", "['a', 'b']", "2") + &item("beta", "c", "1"));
    want += &(task("omit") + "ok: [alpha]\nok: [beta]\n");
    want += &task("groups");
    want += &(debug("alpha", "['web'] ['beta']") + &debug("beta", "['db', 'web'] ['beta']"));
    want += &(task("on the controller") + "ok: [alpha -> localhost]\n");
    want += &task("check mode here");
    want += "--- before: c-alpha\n+++ after: c-alpha\n@@ -0,0 +1 @@\n+x\n\\ No newline at end of file\n";
    want += "changed: [alpha]\nskipping: [beta]\n";
    want += &(task("tagged always") + &both("always"));
    want += &(task("notify a topic") + "changed: [alpha]\nchanged: [beta]\n");
    want += &(banner("RUNNING HANDLER [first handler]") + &both("first"));
    want += &(banner("RUNNING HANDLER [second handler]") + &both("second"));
    want += &recap(&[stat("alpha", 11, 2, 0, 1), stat("beta", 8, 1, 0, 4)]);
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));
    // check_mode on the task: nothing was written; omit left the mode out.
    assert!(!s.0.join("c-alpha").exists());
    assert!(s.0.join("f-beta").exists());

    // --tags picks the `never` task by its other tag; `always` runs anyway.
    let out = mestral(&s.0, &["pb.yml", "--tags", "debugonly", "-l", "alpha"], &[]);
    let mut want = banner("PLAY [db]");
    want += "skipping: no hosts matched\n";
    want += &banner("PLAY [web]");
    want += &(task("tagged never") + &debug("alpha", "never"));
    want += &(task("tagged always") + &debug("alpha", "always"));
    want += &recap(&[stat("alpha", 2, 0, 0, 0)]);
    assert_eq!(text(&out), want);

    // --tags on an import's tag selects its tasks; --skip-tags always drops the always task.
    let out = mestral(
        &s.0,
        &[
            "pb.yml",
            "--tags",
            "imported",
            "--skip-tags",
            "always",
            "-l",
            "alpha",
        ],
        &[],
    );
    let mut want = banner("PLAY [db]");
    want += "skipping: no hosts matched\n";
    want += &banner("PLAY [web]");
    want += &(task("imported one") + &debug("alpha", "one"));
    want += &(task("imported two") + &debug("alpha", "two"));
    want += &recap(&[stat("alpha", 2, 0, 0, 0)]);
    assert_eq!(text(&out), want);
}

/// Keywords mestral does not run yet are refused with an error naming them.
#[test]
fn unsupported_keywords_are_named() {
    let s = Scratch::new("named");
    s.write("inv.ini", INVENTORY);
    let cases = [
        (
            "- hosts: web\n  strategy: host_pinned\n  tasks: []\n",
            "ERROR! pb.yml:1: strategy 'host_pinned' is not supported yet (only 'linear' and 'free')\n",
        ),
        (
            "- hosts: web\n  gather_facts: false\n  tasks:\n    - meta: reset_connection\n",
            "ERROR! pb.yml:4: meta: 'reset_connection' is not supported\n",
        ),
    ];
    for (playbook, error) in cases {
        s.write("pb.yml", playbook);
        let out = mestral(&s.0, &["pb.yml"], &[]);
        assert_eq!(errors(&out), error, "{playbook}");
        assert_eq!(out.status.code(), Some(1), "{playbook}");
    }

    // include_role's `apply` is checked when the playbook is read, though the role is
    // found per host at run time.
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - include_role:\n        name: r\n\
         \x20       apply: [tags]\n",
    );
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(
        errors(&out),
        "ERROR! pb.yml:4: include_role: 'apply' must be a mapping of task keywords\n"
    );
    assert_eq!(out.status.code(), Some(1));
}
