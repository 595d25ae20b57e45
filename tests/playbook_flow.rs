//! The play's flow through the binary: `meta` actions (`flush_handlers`, `noop`,
//! `clear_facts`, `end_play`, `end_batch`), `serial` as a list and a percentage, and
//! `max_fail_percentage` / `any_errors_fatal` under `serial`, which end the whole run.

mod playbook_support;

use playbook_support::*;

fn debug_list(host: &str, items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|i| format!("        \"{i}\"")).collect();
    format!(
        "ok: [{host}] => {{\n    \"msg\": [\n{}\n    ]\n}}\n",
        inner.join(",\n")
    )
}

#[test]
fn meta_actions() {
    let s = Scratch::new("meta");
    s.write("inv.ini", &inventory(&["alpha", "beta"]));
    s.write(
        "pb.yml",
        "- hosts: web\n  tasks:\n\
         \x20   - name: changes\n      debug: msg=x\n      changed_when: true\n      notify: h\n\
         \x20   - meta: flush_handlers\n\
         \x20   - name: after flush\n      debug: msg=after\n\
         \x20   - meta: noop\n\
         \x20   - meta: clear_facts\n      when: inventory_hostname == 'alpha'\n\
         \x20   - name: facts left\n      debug: msg=\"{{ ansible_facts.hostname is defined }}\"\n\
         \x20   - meta: end_play\n      when: inventory_hostname == 'beta'\n\
         \x20   - name: not reached\n      debug: msg=x\n\
         \x20 handlers:\n    - name: h\n      debug: msg=handled\n\
         - hosts: web\n  gather_facts: false\n  serial: 1\n  tasks:\n\
         \x20   - name: batch\n      debug: msg=\"{{ ansible_play_batch }}\"\n\
         \x20   - meta: end_batch\n      when: inventory_hostname == 'alpha'\n\
         \x20   - name: rest of the batch\n      debug: msg=rest\n",
    );
    let changed = |h: &str| format!("changed: [{h}] => {{\n    \"msg\": \"x\"\n}}\n");
    let bool_msg = |h: &str, b: bool| format!("ok: [{h}] => {{\n    \"msg\": {b}\n}}\n");
    let mut want = banner("PLAY [web]");
    want += &(task("Gathering Facts") + "ok: [alpha]\nok: [beta]\n");
    want += &(task("changes") + &changed("alpha") + &changed("beta"));
    want += &banner("RUNNING HANDLER [h]");
    want += &(debug("alpha", "handled") + &debug("beta", "handled"));
    want += &(task("after flush") + &debug("alpha", "after") + &debug("beta", "after"));
    want += &(task("facts left") + &bool_msg("alpha", false) + &bool_msg("beta", true));
    want += &banner("PLAY [web]");
    want += &(task("batch") + &debug_list("alpha", &["alpha"]));
    want += &banner("PLAY [web]");
    want += &(task("batch") + &debug_list("beta", &["beta"]));
    want += &(task("rest of the batch") + &debug("beta", "rest"));
    want += &recap(&[stat("alpha", 6, 1, 0, 0), stat("beta", 7, 1, 0, 0)]);
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));
}

const SIX: [&str; 6] = ["h1", "h2", "h3", "h4", "h5", "h6"];

/// `serial: [1, 2, "50%"]` over six hosts: batches of 1, 2 and 3; then `serial: "50%"`.
#[test]
fn serial_list_and_percentage() {
    let s = Scratch::new("serial");
    s.write("inv.ini", &inventory(&SIX));
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_facts: false\n  serial: [1, 2, \"50%\"]\n  tasks:\n\
         \x20   - name: batch\n      debug: msg=\"{{ ansible_play_batch | join(',') }}\"\n\
         \x20     run_once: true\n\
         \x20   - name: each\n      command: \"true\"\n      changed_when: false\n\
         - hosts: web\n  gather_facts: false\n  serial: \"50%\"\n  tasks:\n\
         \x20   - name: half\n      debug: msg=\"{{ ansible_play_batch | length }}\"\n\
         \x20     run_once: true\n",
    );
    let mut want = String::new();
    for batch in [&SIX[..1], &SIX[1..3], &SIX[3..]] {
        want += &banner("PLAY [web]");
        want += &(task("batch") + &debug(batch[0], &batch.join(",")));
        want += &task("each");
        for h in batch {
            want += &format!("ok: [{h}]\n");
        }
    }
    for first in ["h1", "h4"] {
        want += &banner("PLAY [web]");
        want += &(task("half") + &format!("ok: [{first}] => {{\n    \"msg\": 3\n}}\n"));
    }
    let lines: Vec<String> = SIX
        .iter()
        .map(|h| {
            let firsts = ["h1", "h2", "h4"].contains(h) as u32 + ["h1", "h4"].contains(h) as u32;
            stat(h, 1 + firsts, 0, 0, 0)
        })
        .collect();
    want += &recap(&lines);
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));
}

/// Under `serial`, a batch past `max_fail_percentage`, or any failure with
/// `any_errors_fatal`, ends the run: later batches and later plays do not run, and hosts that
/// never ran are not in the recap.
#[test]
fn failure_limits_under_serial_end_the_run() {
    let s = Scratch::new("limits");
    s.write("inv.ini", &inventory(&SIX));
    let next_play = "- hosts: web\n  gather_facts: false\n  tasks:\n\
                     \x20   - name: not reached\n      debug: msg=x\n";
    s.write(
        "limits.yml",
        &format!(
            "- hosts: web\n  gather_facts: false\n  serial: \"50%\"\n  max_fail_percentage: 30\n\
             \x20 tasks:\n\
             \x20   - name: fails on h2\n      fail: msg=no\n      when: inventory_hostname == 'h2'\n\
             \x20   - name: after\n      debug: msg=after\n{next_play}"
        ),
    );
    let fatal = "fatal: [HOST]: FAILED! => {\"changed\": false, \"msg\": \"no\"}\n";
    let mut want = banner("PLAY [web]");
    want += &task("fails on h2");
    want += &format!(
        "skipping: [h1]\n{}skipping: [h3]\n",
        fatal.replace("HOST", "h2")
    );
    want += &banner("NO MORE HOSTS LEFT");
    want += &recap(&[
        stat("h1", 0, 0, 0, 1),
        stat("h2", 0, 0, 1, 0),
        stat("h3", 0, 0, 0, 1),
    ]);
    let out = mestral(&s.0, &["limits.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(2));

    // 1 failed host of 3 is 33%: under a limit of 40 the run goes on to the end.
    let relaxed = s
        .read("limits.yml")
        .replace("percentage: 30", "percentage: 40");
    s.write("relaxed.yml", &relaxed);
    let out = mestral(&s.0, &["relaxed.yml"], &[]);
    assert_eq!(text(&out).matches("TASK [not reached]").count(), 1);
    assert_eq!(text(&out).matches("NO MORE HOSTS LEFT").count(), 0);

    s.write(
        "fatal.yml",
        &format!(
            "- hosts: web\n  gather_facts: false\n  serial: 2\n  any_errors_fatal: true\n\
             \x20 tasks:\n\
             \x20   - name: fails on h4\n      fail: msg=no\n      when: inventory_hostname == 'h4'\n\
             \x20   - name: after\n      debug: msg=after\n{next_play}"
        ),
    );
    let mut want = banner("PLAY [web]");
    want += &(task("fails on h4") + "skipping: [h1]\nskipping: [h2]\n");
    want += &(task("after") + &debug("h1", "after") + &debug("h2", "after"));
    want += &banner("PLAY [web]");
    // No NO MORE HOSTS LEFT after an `any_errors_fatal` stop, as in ansible-playbook 2.19.
    want += &(task("fails on h4") + "skipping: [h3]\n" + &fatal.replace("HOST", "h4"));
    want += &recap(&[
        stat("h1", 1, 0, 0, 1),
        stat("h2", 1, 0, 0, 1),
        stat("h3", 0, 0, 0, 1),
        stat("h4", 0, 0, 1, 0),
    ]);
    let out = mestral(&s.0, &["fatal.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(2));
}
