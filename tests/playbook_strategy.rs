//! Strategies and concurrency through the binary: `strategy: free` lets a host run ahead of
//! another (its lines come first), `strategy: linear` keeps hosts in step, and `throttle` on a
//! task, a block and a free play bounds how many hosts run a task at once.

mod playbook_support;

use playbook_support::*;

/// alpha's first task waits for a file that beta's last task creates (then a second more, for
/// beta's last lines to be printed): only a strategy where beta runs ahead can finish, and
/// beta's whole list (handler included) is printed first.
const WAITS_FOR_BETA: &str = "- hosts: web\n  gather_facts: false\n  strategy: STRATEGY\n  tasks:\n\
    \x20   - name: wait for beta\n\
    \x20     shell: \"for i in $(seq 100); do [ -e beta.done ] && sleep 1 && exit 0; sleep 0.05; done; exit 1\"\n\
    \x20     when: inventory_hostname == 'alpha'\n      changed_when: false\n\
    \x20   - name: two\n      debug: msg=\"two {{ inventory_hostname }}\"\n\
    \x20     changed_when: true\n      notify: h\n\
    \x20   - name: mark\n      file: path=beta.done state=touch\n\
    \x20     when: inventory_hostname == 'beta'\n\
    \x20 handlers:\n    - name: h\n      debug: msg=handled\n";

#[test]
fn free_strategy_lets_a_host_run_ahead() {
    let s = Scratch::new("free");
    s.write("inv.ini", &inventory(&["alpha", "beta"]));
    s.write("pb.yml", &WAITS_FOR_BETA.replace("STRATEGY", "free"));
    let changed = |h: &str| format!("changed: [{h}] => {{\n    \"msg\": \"two {h}\"\n}}\n");
    let mut want = banner("PLAY [web]");
    want += &(task("wait for beta") + "skipping: [beta]\n");
    want += &(task("two") + &changed("beta"));
    want += &(task("mark") + "changed: [beta]\n");
    want += &(banner("RUNNING HANDLER [h]") + &debug("beta", "handled"));
    want += &(task("wait for beta") + "ok: [alpha]\n");
    want += &(task("two") + &changed("alpha"));
    want += &(task("mark") + "skipping: [alpha]\n");
    want += &(banner("RUNNING HANDLER [h]") + &debug("alpha", "handled"));
    want += &recap(&[stat("alpha", 3, 1, 0, 1), stat("beta", 3, 2, 0, 1)]);
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(errors(&out), "");
    assert_eq!(out.status.code(), Some(0));
}

/// The same play under `strategy: linear`: alpha's wait cannot end before beta's last task,
/// so it fails; the hosts move task by task, each banner once.
#[test]
fn linear_strategy_keeps_hosts_in_step() {
    let s = Scratch::new("linear");
    s.write("inv.ini", &inventory(&["alpha", "beta"]));
    s.write(
        "pb.yml",
        &WAITS_FOR_BETA
            .replace("seq 100", "seq 4")
            .replace("STRATEGY", "linear"),
    );
    let out = mestral(&s.0, &["pb.yml"], &[]);
    let mut want = banner("PLAY [web]");
    want += &task("wait for beta");
    want += "fatal: [alpha]: FAILED! => {\"rc\": 1, \"stdout_lines\": [], \"stderr_lines\": [], \
             \"stdout\": \"\", \"stderr\": \"\", \"cmd\": \"for i in $(seq 4); do [ -e beta.done ] \
             && sleep 1 && exit 0; sleep 0.05; done; exit 1\", \"changed\": false, \
             \"msg\": \"non-zero return code\"}\nskipping: [beta]\n";
    want += &task("two");
    want += "changed: [beta] => {\n    \"msg\": \"two beta\"\n}\n";
    want += &(task("mark") + "changed: [beta]\n");
    want += &(banner("RUNNING HANDLER [h]") + &debug("beta", "handled"));
    want += &recap(&[stat("alpha", 0, 0, 1, 0), stat("beta", 3, 2, 0, 1)]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(2));
}

/// Under `free`, `run_once` runs on every host and `any_errors_fatal` stops nobody, each with
/// Ansible's warning printed once; `meta: end_play` on one host ends the play for the others at
/// their next task. One fork makes the order fixed: hosts take turns, first come first served,
/// so beta's `wait` queues behind gamma's `pause` and is never started.
#[test]
fn free_strategy_warnings_and_end_play() {
    let s = Scratch::new("freewarn");
    s.write("inv.ini", &inventory(&["alpha", "beta", "gamma"]));
    s.write(
        "pb.yml",
        "- hosts: [alpha, beta]\n  gather_facts: false\n  strategy: free\n  any_errors_fatal: true\n\
         \x20 tasks:\n\
         \x20   - name: once\n      debug: msg=once\n      run_once: true\n\
         \x20   - name: fails on alpha\n      fail: msg=no\n      when: inventory_hostname == 'alpha'\n\
         \x20   - name: after\n      debug: msg=after\n\
         - hosts: [beta, gamma]\n  gather_facts: false\n  strategy: free\n  tasks:\n\
         \x20   - name: pause\n      command: sleep 0.1\n      when: inventory_hostname == 'gamma'\n\
         \x20   - name: end on gamma\n      meta: end_play\n      when: inventory_hostname == 'gamma'\n\
         \x20   - name: wait\n      command: sleep 0.4\n      when: inventory_hostname == 'beta'\n\
         \x20   - name: not reached\n      debug: msg=x\n",
    );
    let out = mestral(&s.0, &["pb.yml", "-f", "1"], &[]);
    let mut want = banner("PLAY [alpha:beta]");
    want += &(task("once") + &debug("alpha", "once") + &debug("beta", "once"));
    want += &task("fails on alpha");
    want += "fatal: [alpha]: FAILED! => {\"changed\": false, \"msg\": \"no\"}\nskipping: [beta]\n";
    want += &(task("after") + &debug("beta", "after"));
    want += &banner("PLAY [beta:gamma]");
    want += &(task("pause") + "skipping: [beta]\nchanged: [gamma]\n");
    want += &recap(&[
        stat("alpha", 1, 0, 1, 0),
        stat("beta", 2, 0, 0, 2),
        stat("gamma", 1, 1, 0, 0),
    ]);
    assert_eq!(text(&out), want);
    assert_eq!(
        errors(&out),
        "[WARNING]: Using run_once with the free strategy is not currently supported. This task \
         will still be executed for every host in the inventory list.\n\
         [WARNING]: Using any_errors_fatal with the free strategy is not supported, as tasks \
         are executed independently on each host\n\
         \nFAILURES ***********************************************************************\n\
         FAILED: [alpha] TASK [fails on alpha] (pb.yml:9)\n    msg: no\n"
    );
    assert_eq!(out.status.code(), Some(2));
}

/// Each host records how many hosts are inside the task when it enters; the largest count is
/// the concurrency the run allowed.
const RECORDS_CONCURRENCY: &str = "shell: \"mkdir -p in && touch in/{{ inventory_hostname }} && \
    ls in | wc -l >> counts_{{ tag }} && sleep 0.8 && rm in/{{ inventory_hostname }}\"";

fn max_count(s: &Scratch, tag: &str) -> (usize, usize) {
    let counts: Vec<usize> = s
        .read(&format!("counts_{tag}"))
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    (counts.len(), counts.into_iter().max().unwrap())
}

#[test]
fn throttle_bounds_concurrency() {
    let s = Scratch::new("throttle");
    s.write("inv.ini", &inventory(&["h1", "h2", "h3", "h4"]));
    let t = RECORDS_CONCURRENCY;
    s.write(
        "pb.yml",
        &format!(
            "- hosts: web\n  gather_facts: false\n  tasks:\n\
             \x20   - name: free for all\n      {t}\n      vars: {{tag: all}}\n\
             \x20   - name: one at a time\n      {t}\n      vars: {{tag: one}}\n      throttle: 1\n\
             \x20   - block:\n        - name: two in a block\n          {t}\n          vars: {{tag: block}}\n\
             \x20     throttle: 2\n\
             - hosts: web\n  gather_facts: false\n  strategy: free\n  tasks:\n\
             \x20   - name: two in a free play\n      {t}\n      vars: {{tag: free}}\n      throttle: 2\n"
        ),
    );
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(max_count(&s, "all"), (4, 4));
    assert_eq!(max_count(&s, "one"), (4, 1));
    assert_eq!(max_count(&s, "block"), (4, 2));
    assert_eq!(max_count(&s, "free"), (4, 2));
}
