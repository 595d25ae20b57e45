//! The playbook language through the real binary on local-connection hosts: dynamic and
//! static includes, roles and their search path, loops, serial batches, `meta`, failure
//! limits, delegation of facts, tags listings, `--start-at-task` and `vars_prompt`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A scratch folder for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("mestral-pb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(std::fs::canonicalize(&dir).unwrap())
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

fn mestral(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args(["--color", "never", "-i", "inv.ini"])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_ROLES_PATH")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("mestral runs")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const INVENTORY: &str = "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n";

fn banner(title: &str) -> String {
    format!("\n{title} {}\n", "*".repeat(79 - title.len()))
}

fn recap(lines: &[&str]) -> String {
    let mut out = banner("PLAY RECAP");
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out.push('\n');
    out
}

fn debug(host: &str, msg: &str) -> String {
    format!("ok: [{host}] => {{\n    \"msg\": \"{msg}\"\n}}\n")
}

/// include_tasks with a loop, vars and a condition; include_role with tasks_from;
/// import_role with vars; role defaults, handlers and meta dependencies found through
/// --roles-path; include_vars.
#[test]
fn includes_and_roles() {
    let s = Scratch::new("inc");
    s.write("inv.ini", INVENTORY);
    s.write("roles/greet/tasks/main.yml", "- name: hello\n  debug: msg=\"hello {{ who }}\"\n  changed_when: true\n  notify: greeted\n");
    s.write(
        "roles/greet/tasks/other.yml",
        "- name: other\n  debug: msg=\"other {{ who }}\"\n",
    );
    s.write("roles/greet/defaults/main.yml", "who: world\n");
    s.write(
        "roles/greet/handlers/main.yml",
        "- name: greeted\n  debug: msg=handled\n",
    );
    s.write("roles/greet/meta/main.yml", "dependencies: [base]\n");
    s.write(
        "extra/base/tasks/main.yml",
        "- name: base\n  debug: msg=base\n",
    );
    s.write(
        "inc.yml",
        "- name: inner {{ item }}\n  debug: msg=\"{{ item }} {{ n }} {{ idx }}\"\n",
    );
    s.write("vars/colors.yml", "color: blue\n");
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_facts: false\n  tasks:\n\
         \x20   - include_tasks: inc.yml\n      loop: [x, y]\n      loop_control: {index_var: idx}\n      vars: {n: 7}\n\
         \x20   - include_tasks:\n        file: inc.yml\n      vars: {item: solo, n: 1, idx: 0}\n      when: inventory_hostname == 'beta'\n\
         \x20   - include_role:\n        name: greet\n        tasks_from: other\n\
         \x20   - import_role:\n        name: greet\n      vars: {who: you}\n\
         \x20   - include_vars: colors.yml\n\
         \x20   - debug: var=color\n      run_once: true\n",
    );
    let inc = s.0.join("inc.yml").display().to_string();
    let mut want = banner("PLAY [web]");
    want += &banner("TASK [include_tasks]");
    want += &format!("included: {inc} for alpha, beta => (item=x)\n");
    want += &format!("included: {inc} for alpha, beta => (item=y)\n");
    want += &banner("TASK [inner x]");
    want += &(debug("alpha", "x 7 0") + &debug("beta", "x 7 0"));
    want += &banner("TASK [inner y]");
    want += &(debug("alpha", "y 7 1") + &debug("beta", "y 7 1"));
    want += &banner("TASK [include_tasks]");
    want += &format!("skipping: [alpha]\nincluded: {inc} for beta\n");
    want += &banner("TASK [inner solo]");
    want += &debug("beta", "solo 1 0");
    want += &banner("TASK [include_role : greet]");
    want += "included: greet for alpha, beta\n";
    want += &banner("TASK [base : base]");
    want += &(debug("alpha", "base") + &debug("beta", "base"));
    want += &banner("TASK [greet : other]");
    want += &(debug("alpha", "other world") + &debug("beta", "other world"));
    want += &banner("TASK [base : base]");
    want += &(debug("alpha", "base") + &debug("beta", "base"));
    want += &banner("TASK [greet : hello]");
    want += "changed: [alpha] => {\n    \"msg\": \"hello you\"\n}\n";
    want += "changed: [beta] => {\n    \"msg\": \"hello you\"\n}\n";
    want += &banner("TASK [include_vars]");
    want += "ok: [alpha]\nok: [beta]\n";
    want += &banner("TASK [debug]");
    want += "ok: [alpha] => {\n    \"color\": \"blue\"\n}\n";
    want += &banner("RUNNING HANDLER [greet : greeted]");
    want += &(debug("alpha", "handled") + &debug("beta", "handled"));
    want += &recap(&[
        "alpha                      : ok=11   changed=1    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   ",
        "beta                       : ok=12   changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   ",
    ]);

    let out = mestral(&s.0, &["pb.yml", "--roles-path", "extra"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));

    // The same roles path from the environment, and from the configuration file.
    let out = mestral(&s.0, &["pb.yml"], &[("ANSIBLE_ROLES_PATH", "extra")]);
    assert_eq!(text(&out), want);
    s.write("ansible.cfg", "[defaults]\nroles_path = extra\n");
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(text(&out), want);

    // Without it the dependency is not found, and the error says where it looked.
    std::fs::remove_file(s.0.join("ansible.cfg")).unwrap();
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "ERROR! pb.yml:15: role 'base' not found (searched {0}/roles/base, {0}/base)\n",
            s.0.display()
        )
    );
}

/// with_dict, with_fileglob, loop_control (loop_var, index_var, label), registered `results`,
/// until/retries/delay.
#[test]
fn loops() {
    let s = Scratch::new("loops");
    s.write("inv.ini", INVENTORY);
    s.write("files/a.conf", "");
    s.write("files/b.conf", "");
    s.write("files/c.txt", "");
    s.write(
        "pb.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n\
         \x20   - debug: msg=\"{{ item.key }}={{ item.value }}\"\n      with_dict: {a: 1}\n\
         \x20   - debug: msg=\"{{ item | basename }}\"\n      with_fileglob: \"*.conf\"\n\
         \x20   - debug: msg=\"{{ i }}:{{ p.n }}\"\n      loop: [{n: u}, {n: v}]\n\
         \x20     loop_control: {loop_var: p, index_var: i, label: \"{{ p.n }}\", pause: 0.1}\n\
         \x20     register: r\n\
         \x20   - debug: msg=\"{{ r.results | map(attribute='i') | list }}\"\n\
         \x20   - shell: echo x >> count; wc -l < count\n      register: c\n\
         \x20     until: c.stdout | int >= 3\n      retries: 5\n      delay: 0\n\
         \x20   - debug: msg=\"{{ c.attempts }}\"\n",
    );
    let files = s.0.join("files").display().to_string();
    let mut want = banner("PLAY [alpha]");
    want += &banner("TASK [debug]");
    want += "ok: [alpha] => (item={'key': 'a', 'value': 1}) => {\n    \"msg\": \"a=1\"\n}\n";
    want += &banner("TASK [debug]");
    want += &format!("ok: [alpha] => (item={files}/a.conf) => {{\n    \"msg\": \"a.conf\"\n}}\n");
    want += &format!("ok: [alpha] => (item={files}/b.conf) => {{\n    \"msg\": \"b.conf\"\n}}\n");
    want += &banner("TASK [debug]");
    want += "ok: [alpha] => (item=u) => {\n    \"msg\": \"0:u\"\n}\n";
    want += "ok: [alpha] => (item=v) => {\n    \"msg\": \"1:v\"\n}\n";
    want += &banner("TASK [debug]");
    want += "ok: [alpha] => {\n    \"msg\": [\n        0,\n        1\n    ]\n}\n";
    want += &banner("TASK [shell]");
    want += "FAILED - RETRYING: [alpha]: shell (5 retries left).\n";
    want += "FAILED - RETRYING: [alpha]: shell (4 retries left).\n";
    want += "changed: [alpha]\n";
    want += &banner("TASK [debug]");
    want += "ok: [alpha] => {\n    \"msg\": 3\n}\n";
    want += &recap(&[
        "alpha                      : ok=6    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   ",
    ]);
    let started = std::time::Instant::now();
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(100),
        "loop pause"
    );
}

/// serial batches with ansible_play_batch, meta end_host, any_errors_fatal, then
/// max_fail_percentage, delegate_facts, throttle and vars_prompt's default without a
/// terminal.
#[test]
fn serial_meta_and_failure_limits() {
    let s = Scratch::new("serial");
    s.write("inv.ini", INVENTORY);
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_facts: false\n  serial: 1\n  tasks:\n\
         \x20   - name: one\n      debug: msg=\"{{ ansible_play_batch }} {{ ansible_play_hosts }}\"\n\
         \x20   - meta: end_host\n      when: inventory_hostname == 'alpha'\n\
         \x20   - name: two\n      command: \"true\"\n      changed_when: false\n\
         - hosts: web\n  gather_facts: false\n  any_errors_fatal: true\n  tasks:\n\
         \x20   - name: boom\n      fail: msg=no\n      when: inventory_hostname == 'alpha'\n\
         \x20   - name: never\n      debug: msg=x\n",
    );
    let mut want = banner("PLAY [web]");
    want += &banner("TASK [one]");
    want += &debug("alpha", "['alpha'] ['alpha', 'beta']");
    want += &banner("PLAY [web]");
    want += &banner("TASK [one]");
    want += &debug("beta", "['beta'] ['alpha', 'beta']");
    want += &banner("TASK [two]");
    want += "ok: [beta]\n";
    want += &banner("PLAY [web]");
    want += &banner("TASK [boom]");
    want += "fatal: [alpha]: FAILED! => {\"changed\": false, \"msg\": \"no\"}\nskipping: [beta]\n";
    // ansible-playbook 2.19 prints no NO MORE HOSTS LEFT after an `any_errors_fatal` stop.
    want += &recap(&[
        "alpha                      : ok=1    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   ",
        "beta                       : ok=2    changed=0    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   ",
    ]);
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(2));

    s.write(
        "limits.yml",
        "- hosts: web\n  gather_facts: false\n  max_fail_percentage: 40\n\
         \x20 vars_prompt:\n    - name: answer\n      prompt: What?\n      default: forty-two\n\
         \x20 tasks:\n\
         \x20   - name: first\n      debug: msg=\"{{ answer }}\"\n      tags: [a]\n\
         \x20   - name: facts on the delegate\n      set_fact: {seen_by: \"{{ inventory_hostname }}\"}\n\
         \x20     delegate_to: beta\n      delegate_facts: true\n      run_once: true\n      tags: [b]\n\
         \x20   - name: second\n      debug: msg=\"{{ hostvars['beta'].seen_by | default('none') }}\"\n\
         \x20     throttle: 1\n\
         \x20   - name: fails on alpha\n      fail: msg=down\n      when: inventory_hostname == 'alpha'\n\
         \x20   - name: not reached\n      debug: msg=x\n",
    );
    let mut want = banner("PLAY [web]");
    want += &banner("TASK [first]");
    want += &(debug("alpha", "forty-two") + &debug("beta", "forty-two"));
    want += &banner("TASK [facts on the delegate]");
    want += "ok: [alpha -> beta]\n";
    want += &banner("TASK [second]");
    want += &(debug("alpha", "alpha") + &debug("beta", "alpha"));
    want += &banner("TASK [fails on alpha]");
    want +=
        "fatal: [alpha]: FAILED! => {\"changed\": false, \"msg\": \"down\"}\nskipping: [beta]\n";
    want += &banner("NO MORE HOSTS LEFT");
    want += &recap(&[
        "alpha                      : ok=3    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   ",
        "beta                       : ok=2    changed=0    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   ",
    ]);
    let out = mestral(&s.0, &["limits.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(2));

    // --start-at-task skips what comes before; an extra var answers the prompt.
    let out = mestral(
        &s.0,
        &[
            "limits.yml",
            "--start-at-task",
            "second",
            "-l",
            "beta",
            "-e",
            "answer=no",
        ],
        &[],
    );
    let mut want = banner("PLAY [web]");
    want += &banner("TASK [second]");
    want += &debug("beta", "none");
    want += &banner("TASK [fails on alpha]");
    want += "skipping: [beta]\n";
    want += &banner("TASK [not reached]");
    want += &debug("beta", "x");
    want += &recap(&[
        "beta                       : ok=2    changed=0    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   ",
    ]);
    assert_eq!(text(&out), want);

    let out = mestral(&s.0, &["limits.yml", "--list-tags"], &[]);
    assert_eq!(
        text(&out),
        "\nplaybook: limits.yml\n\n  play #1 (web): web\tTAGS: []\n      TASK TAGS: [a, b]\n"
    );
}

/// What is not supported is refused with an error that names it.
#[test]
fn unsupported_keywords_are_refused() {
    let s = Scratch::new("refuse");
    s.write("inv.ini", INVENTORY);
    s.write(
        "pinned.yml",
        "- hosts: web\n  strategy: host_pinned\n  tasks: []\n",
    );
    let out = mestral(&s.0, &["pinned.yml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR! pinned.yml:1: strategy 'host_pinned' is not supported yet (only 'linear' and \
         'free')\n"
    );
    s.write(
        "prompt.yml",
        "- hosts: web\n  vars_prompt:\n    - name: pw\n  tasks: []\n",
    );
    let out = mestral(&s.0, &["prompt.yml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR! prompt.yml:1: vars_prompt 'pw' needs an answer, and stdin is not a terminal \
         (give it with -e pw=...)\n"
    );
    // `apply` takes block keywords only, checked when the playbook is read.
    s.write(
        "apply.yml",
        "- hosts: web\n  tasks:\n    - include_tasks:\n        file: x.yml\n        \
         apply: {tags: [a], loop: [1]}\n",
    );
    let out = mestral(&s.0, &["apply.yml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR! apply.yml:3: include_tasks: apply: 'loop' cannot be applied to included tasks \
         (one of when, tags, become, become_user, vars, environment, ignore_errors, no_log, \
         check_mode, diff, any_errors_fatal, delegate_to, run_once, throttle)\n"
    );
}

/// A playbook in the style of the public examples: a role with defaults and a handler, a
/// block whose failure is rescued, an `always`, and a loop that waits with `until`.
#[test]
fn public_example_style() {
    let s = Scratch::new("example");
    s.write("inv.ini", INVENTORY);
    s.write("roles/web/defaults/main.yml", "web_port: 8080\n");
    s.write(
        "roles/web/handlers/main.yml",
        "- name: restart web\n  debug: msg=\"restarted on {{ web_port }}\"\n",
    );
    s.write(
        "roles/web/tasks/main.yml",
        "- name: configure\n  copy:\n    content: \"port={{ web_port }}\\n\"\n    dest: \"{{ out }}/{{ inventory_hostname }}.conf\"\n  notify: restart web\n",
    );
    s.write(
        "site.yml",
        "- hosts: web\n  gather_facts: false\n  vars:\n    out: \"{{ playbook_dir }}\"\n  roles:\n    - role: web\n      web_port: 9090\n  tasks:\n\
         \x20   - block:\n        - name: risky\n          command: \"false\"\n\
         \x20     rescue:\n        - name: recovered\n          debug: msg=rescued\n\
         \x20     always:\n        - name: cleanup\n          debug: msg=always\n      when: inventory_hostname == 'alpha'\n\
         \x20   - name: wait for the file\n      stat:\n        path: \"{{ out }}/{{ item }}.conf\"\n      register: st\n\
         \x20     until: st.stat.exists\n      retries: 2\n      delay: 0\n      loop: [alpha]\n      run_once: true\n",
    );
    let mut want = banner("PLAY [web]");
    want += &banner("TASK [web : configure]");
    want += "changed: [alpha]\nchanged: [beta]\n";
    want += &banner("TASK [risky]");
    want += "fatal: [alpha]: FAILED! => {\"rc\": 1, \"stdout_lines\": [], \"stderr_lines\": [], \
             \"stdout\": \"\", \"stderr\": \"\", \"cmd\": [\"false\"], \"changed\": true, \
             \"msg\": \"non-zero return code\"}\nskipping: [beta]\n";
    want += &banner("TASK [recovered]");
    want += &debug("alpha", "rescued");
    want += &banner("TASK [cleanup]");
    want += &debug("alpha", "always");
    want += "skipping: [beta]\n";
    want += &banner("TASK [wait for the file]");
    want += "ok: [alpha] => (item=alpha)\n";
    want += &banner("RUNNING HANDLER [web : restart web]");
    want += &(debug("alpha", "restarted on 9090") + &debug("beta", "restarted on 9090"));
    want += &recap(&[
        "alpha                      : ok=5    changed=1    unreachable=0    failed=0    skipped=0    rescued=1    ignored=0   ",
        "beta                       : ok=2    changed=1    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0   ",
    ]);
    let out = mestral(&s.0, &["site.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(s.0.join("beta.conf")).unwrap(),
        "port=9090\n"
    );
}

/// gather_subset on the play and on `setup` (with `filter`), `environment` on the play and
/// the task, `no_log` on a loop and a failure (text and JSON), `set_fact` with `cacheable`
/// kept for the next play, and the controller lookups.
#[test]
fn facts_environment_no_log_and_lookups() {
    let s = Scratch::new("facts");
    s.write("inv.ini", INVENTORY);
    s.write("note.txt", "from a file\n");
    s.write(
        "pb.yml",
        "- hosts: alpha\n  gather_subset: ['!all']\n  environment: {GREETING: hi}\n  tasks:\n\
         \x20   - debug: msg=\"{{ ansible_facts.memtotal_mb | default('none') }} {{ ansible_hostname is defined }}\"\n\
         \x20   - setup:\n        gather_subset: [network]\n        filter: ansible_default_ipv4\n\
         \x20   - debug: msg=\"{{ ansible_default_ipv4 is defined }} {{ ansible_memtotal_mb is defined }}\"\n\
         \x20   - shell: echo \"$GREETING $OTHER\"\n      environment: {OTHER: \"{{ inventory_hostname }}\"}\n\
         \x20     register: e\n      changed_when: false\n\
         \x20   - debug: var=e.stdout\n\
         \x20   - set_fact: {secret: s3cr3t}\n      no_log: true\n      loop: [s3cr3t]\n\
         \x20   - command: echo s3cr3t\n      failed_when: true\n      no_log: true\n      ignore_errors: true\n\
         \x20   - set_fact: {kept: 1, cacheable: true}\n\
         - hosts: alpha\n  gather_facts: false\n  tasks:\n\
         \x20   - debug: msg=\"{{ kept }} {{ lookup('file', 'note.txt') }} {{ lookup('env', 'MESTRAL_T') }} {{ lookup('pipe', 'echo piped') }} {{ query('env', 'MESTRAL_T') }}\"\n",
    );
    let mut want = banner("PLAY [alpha]");
    want += &banner("TASK [Gathering Facts]");
    want += "ok: [alpha]\n";
    want += &banner("TASK [debug]");
    want += &debug("alpha", "none True");
    want += &banner("TASK [setup]");
    want += "ok: [alpha]\n";
    want += &banner("TASK [debug]");
    want += &debug("alpha", "True False");
    want += &banner("TASK [shell]");
    want += "ok: [alpha]\n";
    want += &banner("TASK [debug]");
    want += "ok: [alpha] => {\n    \"e.stdout\": \"hi alpha\"\n}\n";
    want += &banner("TASK [set_fact]");
    want += "ok: [alpha] => (item=None)\n";
    want += &banner("TASK [command]");
    want +=
        "fatal: [alpha]: FAILED! => {\"censored\": \"the output has been hidden due to the fact \
             that 'no_log: true' was specified for this result\"}\n...ignoring\n";
    want += &banner("TASK [set_fact]");
    want += "ok: [alpha]\n";
    want += &banner("PLAY [alpha]");
    want += &banner("TASK [debug]");
    want += &debug("alpha", "1 from a file env-value piped ['env-value']");
    want += &recap(&[
        "alpha                      : ok=10   changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=1   ",
    ]);
    let env = [("MESTRAL_T", "env-value")];
    let out = mestral(&s.0, &["pb.yml"], &env);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    // Nothing of the no_log tasks reaches the JSON report either.
    let out = mestral(&s.0, &["pb.yml", "--output", "json"], &env);
    let events: Vec<serde_json::Value> = text(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.last().unwrap()["event"], "recap");
    assert_eq!(text(&out).matches("s3cr3t").count(), 0);
}

/// `--step` asks before each task: `n` skips it, `c` runs it and all the rest.
#[test]
fn step_asks_before_each_task() {
    use std::io::Write;
    let s = Scratch::new("step");
    s.write("inv.ini", INVENTORY);
    s.write(
        "pb.yml",
        "- hosts: alpha\n  gather_facts: false\n  tasks:\n    - name: one\n      debug: msg=1\n\
         \x20   - name: two\n      debug: msg=2\n    - name: three\n      debug: msg=3\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(&s.0)
        .args(["--color", "never", "-i", "inv.ini", "pb.yml", "--step"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"n\nc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let mut want = banner("PLAY [alpha]");
    want += &banner("TASK [two]");
    want += &debug("alpha", "2");
    want += &banner("TASK [three]");
    want += &debug("alpha", "3");
    want += &recap(&[
        "alpha                      : ok=2    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   ",
    ]);
    assert_eq!(text(&out), want);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Perform task: TASK: one (N)o/(y)es/(c)ontinue: \n\
         Perform task: TASK: two (N)o/(y)es/(c)ontinue: \n"
    );
}
