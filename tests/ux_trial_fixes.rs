//! Bugs a new user met on a first trial, each proven through the binary against
//! local-connection hosts: conditionals on undefined names, `rescue:` facts and summaries,
//! `--start-at-task`, task keyword typos, inventory and limit messages.

mod playbook_support;

use playbook_support::*;

/// What one condition does on host `alpha`, whose only play variable is `x: 1`.
enum Outcome {
    Runs,
    Skips,
    /// Fails naming this undefined variable.
    Undefined(&'static str),
}

/// Names that merely contain "defined", "default" or "mandatory" guard nothing, and a name
/// the evaluation never reaches (short-circuit) is not an error, as in ansible-core 2.19.
#[test]
fn conditions_on_undefined_names_fail_unless_guarded_or_not_reached() {
    use Outcome::*;
    let cases = [
        ("app_defined_port == 80", Undefined("app_defined_port")),
        ("undefined_x == 1", Undefined("undefined_x")),
        ("notdefined == 1", Undefined("notdefined")),
        ("xx == 1", Undefined("xx")),
        ("default_port == 80", Undefined("default_port")),
        ("mandatory_flag", Undefined("mandatory_flag")),
        ("'defined' in nope", Undefined("nope")),
        ("x == 1 and nope_d", Undefined("nope_d")),
        ("nope is defined", Skips),
        ("nope is not defined", Runs),
        ("nope is undefined", Runs),
        ("nope is defined and nope == 1", Skips),
        ("nope | default(1) == 1", Runs),
        ("nope | d(2) == 2", Runs),
        ("nope.a.b is defined", Skips),
        ("x == 1 or nope == 1", Runs),
        ("x is defined or nope == 1", Runs),
        ("x == 2 or nope == 1", Undefined("nope")),
        ("x == 1", Runs),
    ];
    let s = Scratch::new("trial-when");
    s.write("inv.ini", &inventory(&["alpha"]));
    let mut play = String::from("- hosts: web\n  gather_facts: false\n  vars: {x: 1}\n  tasks:\n");
    let mut want = banner("PLAY [web]");
    let (mut ok, mut skipped, mut ignored) = (0, 0, 0);
    for (i, (expr, outcome)) in cases.iter().enumerate() {
        let quoted = serde_json::to_string(expr).unwrap();
        play.push_str(&format!(
            "    - name: c{i}\n      debug: {{msg: ran}}\n      when: {quoted}\n      \
             ignore_errors: true\n"
        ));
        want.push_str(&task(&format!("c{i}")));
        match outcome {
            Runs => {
                ok += 1;
                want.push_str(&debug("alpha", "ran"));
            }
            Skips => {
                skipped += 1;
                want.push_str("skipping: [alpha]\n");
            }
            Undefined(name) => {
                ok += 1;
                ignored += 1;
                // Each task takes four lines after the play's four.
                let msg = format!(
                    "pb.yml:{}: the conditional check '{expr}' failed: '{name}' is undefined, \
                     in expression {quoted}",
                    5 + 4 * i
                );
                want.push_str(&format!(
                    "fatal: [alpha]: FAILED! => {{\"changed\": false, \"msg\": {}}}\n\
                     ...ignoring\n",
                    serde_json::to_string(&msg).unwrap()
                ));
            }
        }
    }
    s.write("pb.yml", &play);
    want.push_str(&banner("PLAY RECAP"));
    want.push_str(&format!(
        "{:<27}: ok={ok:<4} changed=0    unreachable=0    failed=0    skipped={skipped:<4} \
         rescued=0    ignored={ignored:<4}\n\n",
        "alpha"
    ));
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));
}

/// Inside `rescue:` the failed task and its result are `ansible_failed_task` and
/// `ansible_failed_result`; a rescued failure (or an ignored one) stays out of the failure
/// summary, which lists only the failure nothing handled.
#[test]
fn rescue_sees_the_failed_task_and_only_unhandled_failures_are_summarised() {
    let s = Scratch::new("trial-rescue");
    s.write("inv.ini", &inventory(&["alpha"]));
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_facts: false\n  tasks:\n\
         \x20   - block:\n        - name: boom\n          fail: {msg: first}\n\
         \x20       - debug: {msg: never}\n      rescue:\n\
         \x20       - debug:\n            msg: \"{{ ansible_failed_task.name }} \
         {{ ansible_failed_task.action }} {{ ansible_failed_task.args.msg }} \
         {{ ansible_failed_result.msg }} {{ ansible_failed_result.failed }}\"\n\
         \x20   - block:\n        - fail: {msg: second}\n          ignore_errors: true\n\
         \x20       - name: third\n          fail: {msg: third}\n      rescue:\n\
         \x20       - debug: {msg: \"{{ ansible_failed_task.name }}\"}\n\
         \x20   - name: unrescued\n      fail: {msg: last}\n",
    );
    let out = mestral(&s.0, &["pb.yml"], &[]);
    let fatal = |msg: &str| {
        format!("fatal: [alpha]: FAILED! => {{\"changed\": false, \"msg\": \"{msg}\"}}\n")
    };
    let want = [
        banner("PLAY [web]"),
        task("boom"),
        fatal("first"),
        task("debug"),
        debug("alpha", "boom fail first first True"),
        task("fail"),
        fatal("second"),
        "...ignoring\n".to_string(),
        task("third"),
        fatal("third"),
        task("debug"),
        debug("alpha", "third"),
        task("unrescued"),
        fatal("last"),
        banner("PLAY RECAP"),
        "alpha                      : ok=3    changed=0    unreachable=0    failed=1    \
         skipped=0    rescued=2    ignored=1   \n\n"
            .to_string(),
    ]
    .concat();
    assert_eq!(text(&out), want);
    assert_eq!(
        errors(&out),
        format!(
            "{}FAILED: [alpha] TASK [unrescued] (pb.yml:18)\n    msg: last\n",
            banner("FAILURES")
        )
    );
    assert_eq!(out.status.code(), Some(2));
}

/// `--start-at-task` naming no task is Ansible's error (exit 1), given before anything runs;
/// a task inside a block is found.
#[test]
fn start_at_an_unknown_task_is_an_error() {
    let s = Scratch::new("trial-start");
    s.write("inv.ini", &inventory(&["alpha"]));
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - name: one\n      debug: {msg: one}\n\
         \x20   - block:\n        - name: two\n          debug: {msg: two}\n",
    );
    let out = mestral(&s.0, &["pb.yml", "--start-at-task", "no such task"], &[]);
    assert_eq!(text(&out), "");
    assert_eq!(
        errors(&out),
        "ERROR! No matching task \"no such task\" found. Note: --start-at-task can only follow \
         static includes.\n"
    );
    assert_eq!(out.status.code(), Some(1));

    let out = mestral(&s.0, &["pb.yml", "--start-at-task", "two"], &[]);
    let want = [
        banner("PLAY [web]"),
        task("two"),
        debug("alpha", "two"),
        recap(&[stat("alpha", 1, 0, 0, 0)]),
    ]
    .concat();
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));
}

/// A misspelt task keyword is named with its place and the keyword meant, not taken for a
/// second module.
#[test]
fn misspelt_task_keywords_are_named_with_their_place() {
    let s = Scratch::new("trial-keyword");
    s.write("inv.ini", &inventory(&["alpha"]));
    let cases = [
        (
            "    - name: show\n      debug: {msg: hi}\n      whenn: x == 1\n",
            "ERROR! pb.yml:6:7: unknown task keyword 'whenn'; did you mean 'when'?\n",
        ),
        (
            "    - {name: y, debug: {msg: x}, regsiter: out}\n",
            "ERROR! pb.yml:4:34: unknown task keyword 'regsiter'; did you mean 'register'?\n",
        ),
        (
            "    - name: z\n      ignore_error: true\n      command: /bin/true\n",
            "ERROR! pb.yml:5:7: unknown task keyword 'ignore_error'; did you mean \
             'ignore_errors'?\n",
        ),
        (
            "    - debug: {msg: a}\n      frobnicate: 1\n",
            "ERROR! pb.yml:4: task has two modules, 'debug' and 'frobnicate'\n",
        ),
    ];
    for (tasks, want) in cases {
        s.write(
            "pb.yml",
            &format!("- hosts: web\n  gather_facts: false\n  tasks:\n{tasks}"),
        );
        let out = mestral(&s.0, &["pb.yml"], &[]);
        assert_eq!(errors(&out), want, "{tasks}");
        assert_eq!(text(&out), "");
        assert_eq!(out.status.code(), Some(1));
    }
}

/// The binary in `dir` with exactly `args` (no inventory of its own) and no configuration.
fn bare(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args(["--color", "never"])
        .args(args)
        .env("NO_COLOR", "1")
        .env("HOME", dir)
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_INVENTORY")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("mestral runs")
}

/// No inventory at all gives Ansible's two warnings; a `--limit` matching nothing fails
/// before any banner; a lone address given to `-i` gets the trailing-comma hint.
#[test]
fn inventory_and_limit_messages_come_before_anything_runs() {
    let s = Scratch::new("trial-inventory");
    s.write("inv.ini", &inventory(&["alpha"]));
    s.write(
        "pb.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: {msg: hi}\n",
    );
    let out = bare(&s.0, &["pb.yml"]);
    assert_eq!(
        errors(&out),
        "[WARNING]: No inventory was parsed, only implicit localhost is available\n\
         [WARNING]: provided hosts list is empty, only localhost is available. Note that the \
         implicit localhost does not match 'all'\n"
    );
    let want = [
        banner("PLAY [localhost]"),
        task("debug"),
        debug("localhost", "hi"),
        recap(&[stat("localhost", 1, 0, 0, 0)]),
    ]
    .concat();
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));

    let out = bare(&s.0, &["-i", "inv.ini", "--limit", "wrkers", "pb.yml"]);
    assert_eq!(text(&out), "");
    assert_eq!(
        errors(&out),
        "[WARNING]: Could not match supplied host pattern, ignoring: wrkers\n\
         ERROR! --limit 'wrkers' matches no hosts of the inventory\n"
    );
    assert_eq!(out.status.code(), Some(1));

    let out = bare(&s.0, &["-i", "172.30.8.250", "pb.yml"]);
    assert_eq!(text(&out), "");
    assert_eq!(
        errors(&out),
        "ERROR! inventory source '172.30.8.250' does not exist (to give hosts on the command \
         line, end the list with a comma: -i '172.30.8.250,')\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

/// A missing imported playbook names the importing line; a missing role lists every path
/// searched.
#[test]
fn missing_imports_and_roles_name_their_place() {
    let s = Scratch::new("trial-imports");
    s.write("inv.ini", &inventory(&["alpha"]));
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_facts: false\n  tasks: []\n- import_playbook: nothere.yml\n",
    );
    let out = mestral(&s.0, &["pb.yml"], &[]);
    assert_eq!(
        errors(&out),
        "ERROR! pb.yml:4: import_playbook: the playbook nothere.yml could not be found\n"
    );
    assert_eq!(out.status.code(), Some(1));

    s.write("roles.yml", "- hosts: web\n  roles: [nope]\n");
    let out = mestral(&s.0, &["roles.yml", "--roles-path", "/srv/no-roles"], &[]);
    let dir = s.0.display();
    assert_eq!(
        errors(&out),
        format!(
            "ERROR! roles.yml:1: role 'nope' not found (searched {dir}/roles/nope, \
             /srv/no-roles/nope, {dir}/nope)\n"
        )
    );
    assert_eq!(out.status.code(), Some(1));
}

/// `--step` from a pipe reads one answer a line (each prompt ends its line); input that
/// ends before every task is answered is an error, not a silent "no".
#[test]
fn step_reads_answers_from_a_pipe_and_fails_when_they_run_out() {
    use std::io::Write;
    let s = Scratch::new("trial-step");
    s.write("inv.ini", &inventory(&["alpha"]));
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - name: one\n      debug: {msg: one}\n\
         \x20   - name: two\n      debug: {msg: two}\n",
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(&s.0)
        .args(["--color", "never", "-i", "inv.ini", "pb.yml", "--step"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let want = [banner("PLAY [web]"), task("one"), debug("alpha", "one")].concat();
    assert_eq!(text(&out), want);
    assert_eq!(
        errors(&out),
        "Perform task: TASK: one (N)o/(y)es/(c)ontinue: \n\
         Perform task: TASK: two (N)o/(y)es/(c)ontinue: \n\
         ERROR! --step: standard input ended before an answer for task 'two'\n"
    );
    assert_eq!(out.status.code(), Some(1));
}
