//! Strategies and concurrency through the binary: `strategy: free` lets a host run ahead of
//! another (its lines come first), `strategy: linear` keeps hosts in step, and `throttle` on a
//! task, a block and a free play bounds how many hosts run a task at once. Under `free`, the
//! lines `-v` streams come under their task's banner, `--timing` lists each task once, and the
//! banners fall where ansible-playbook 2.19 puts them.

#[path = "conformance/harness.rs"]
#[allow(dead_code)]
mod harness;
mod playbook_support;

use std::process::Command;

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

/// A command's `-v` result block, as the text report prints it.
fn command_result(status: &str, host: &str, stdout: &[&str], stderr: &[&str], cmd: &str) -> String {
    let list = |lines: &[&str]| match lines {
        [] => "[]".to_string(),
        _ => {
            let items: Vec<String> = lines.iter().map(|l| format!("        \"{l}\"")).collect();
            format!("[\n{}\n    ]", items.join(",\n"))
        }
    };
    format!(
        "{status}: [{host}] => {{\n    \"rc\": 0,\n    \"stdout_lines\": {},\n    \
         \"stderr_lines\": {},\n    \"stdout\": \"{}\",\n    \"stderr\": \"{}\",\n    \
         \"cmd\": {cmd},\n    \"changed\": true\n}}\n",
        list(stdout),
        list(stderr),
        stdout.join("\\n"),
        stderr.join("\\n"),
    )
}

/// With one fork the hosts take turns: each host's streamed lines (stdout and stderr, a
/// handler's too) come right under their task's banner, before the host's result. They used
/// to come under the PLAY banner, before any TASK banner.
#[test]
fn free_strategy_streams_under_the_task_banner() {
    let s = Scratch::new("free-stream");
    s.write("inv.ini", &inventory(&["alpha", "beta"]));
    s.write(
        "pb.yml",
        "- hosts: web\n  gather_facts: false\n  strategy: free\n  tasks:\n\
         \x20   - name: talk\n\
         \x20     shell: \"echo hi {{ inventory_hostname }}; sleep 0.2; echo oops >&2\"\n\
         \x20     notify: h\n\
         \x20 handlers:\n    - name: h\n      command: echo handled\n",
    );
    let out = mestral(&s.0, &["pb.yml", "-v", "-f", "1"], &[]);
    let talk = |h: &str| {
        let hi = format!("hi {h}");
        let cmd = format!("\"echo hi {h}; sleep 0.2; echo oops >&2\"");
        format!("{h} | hi {h}\n{h} stderr | oops\n")
            + &command_result("changed", h, &[&hi], &["oops"], &cmd)
    };
    let handled = |h: &str| {
        let cmd = "[\n        \"echo\",\n        \"handled\"\n    ]";
        format!("{h} | handled\n") + &command_result("changed", h, &["handled"], &[], cmd)
    };
    let mut want = banner("PLAY [web]");
    want += &(task("talk") + &talk("alpha") + &talk("beta"));
    want += &(banner("RUNNING HANDLER [h]") + &handled("alpha") + &handled("beta"));
    want += &recap(&[stat("alpha", 2, 2, 0, 0), stat("beta", 2, 2, 0, 0)]);
    assert_eq!(text(&out), want);
    assert_eq!(errors(&out), "");
    assert_eq!(out.status.code(), Some(0));
}

/// beta skips `slow` and runs `quick` while alpha's command is still asleep; alpha's first
/// line (2 s in) then needs `slow`'s banner again, and its lines go under it, not under
/// beta's `quick`.
const SLOW_AND_QUICK: &str = "- hosts: web\n  gather_facts: false\n  strategy: free\n  tasks:\n\
    \x20   - name: slow\n      shell: \"sleep 2; echo start; sleep 1; echo end\"\n\
    \x20     when: inventory_hostname == 'alpha'\n\
    \x20   - name: quick\n      debug: msg=quick\n";

#[test]
fn free_strategy_repeats_a_banner_for_streamed_lines() {
    let s = Scratch::new("free-rebanner");
    s.write("inv.ini", &inventory(&["alpha", "beta"]));
    s.write("pb.yml", SLOW_AND_QUICK);
    let out = mestral(&s.0, &["pb.yml", "-v"], &[]);
    let cmd = "\"sleep 2; echo start; sleep 1; echo end\"";
    let mut want = banner("PLAY [web]");
    want += &(task("slow") + "skipping: [beta]\n");
    want += &(task("quick") + &debug("beta", "quick"));
    want += &(task("slow") + "alpha | start\nalpha | end\n");
    want += &command_result("changed", "alpha", &["start", "end"], &[], cmd);
    want += &(task("quick") + &debug("alpha", "quick"));
    want += &recap(&[stat("alpha", 2, 1, 0, 0), stat("beta", 1, 0, 0, 1)]);
    assert_eq!(text(&out), want);
    assert_eq!(out.status.code(), Some(0));
}

/// Runs `pb.yml` in `dir` through ansible-playbook 2.19 with `args`: its stdout and exit code.
fn ansible(dir: &std::path::Path, args: &[&str]) -> (String, Option<i32>) {
    let bin = harness::ansible_playbook();
    let python = bin.with_file_name("python");
    let out = Command::new(bin)
        .current_dir(dir)
        .args(["-i", "inv.ini", "pb.yml", "-e"])
        .arg(format!("ansible_python_interpreter={}", python.display()))
        .args(args)
        .env("ANSIBLE_HOME", dir.join(".ansible"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible/tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("ANSIBLE_LOCALHOST_WARNING", "0")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("ansible-playbook starts");
    (text(&out), out.status.code())
}

/// The banners and the `status: [host]` heads of the result lines, in order: what `-v` output
/// has in common with Ansible's (which streams nothing and prints results on one line).
fn skeleton(report: &str) -> Vec<String> {
    let heads = ["ok: [", "changed: [", "skipping: [", "fatal: ["];
    report
        .lines()
        .filter_map(|l| {
            if l.ends_with('*') {
                return Some(l.to_string());
            }
            heads
                .iter()
                .any(|h| l.starts_with(h))
                .then(|| l[..=l.find(']').unwrap_or(l.len() - 1)].to_string())
        })
        .collect()
}

/// The same free play through ansible-playbook: the whole report is the same; with `-v` the
/// banners and results fall in the same order, mestral's streamed lines aside.
#[test]
fn free_strategy_banners_match_ansible() {
    let s = Scratch::new("free-ansible");
    s.write("inv.ini", &inventory(&["alpha", "beta"]));
    s.write("pb.yml", SLOW_AND_QUICK);
    let plain = mestral(&s.0, &["pb.yml"], &[]);
    let (want, code) = ansible(&s.0, &[]);
    assert_eq!(text(&plain), want);
    assert_eq!(plain.status.code(), code);

    let verbose = mestral(&s.0, &["pb.yml", "-v"], &[]);
    let (want, code) = ansible(&s.0, &["-v"]);
    let task_banners = skeleton(&want)
        .iter()
        .filter(|l| l.starts_with("TASK"))
        .count();
    assert_eq!(task_banners, 4, "{want}");
    assert_eq!(skeleton(&text(&verbose)), skeleton(&want));
    assert_eq!(verbose.status.code(), code);
}

/// The report with each wall time (`0.51s`, `time=0.51s`) replaced by `T`, and the times.
fn without_times(report: &str) -> (String, Vec<f64>) {
    let mut times = Vec::new();
    let mut masked = String::new();
    for line in report.lines() {
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                let (prefix, rest) = match w.strip_prefix("time=") {
                    Some(rest) => ("time=", rest),
                    None => ("", w),
                };
                match rest.strip_suffix('s').map(str::parse::<f64>) {
                    Some(Ok(t)) if rest.contains('.') => {
                        times.push(t);
                        format!("{prefix}T")
                    }
                    _ => w.to_string(),
                }
            })
            .collect();
        masked.push_str(&words.join(" "));
        masked.push('\n');
    }
    (masked, times)
}

/// `--timing` under `free` lists each task once, timed from its first host's start to its last
/// host's end as under `linear`: two hosts side by side take one sleep, with one fork two.
/// It used to list each task once per host, with the time between two banners.
#[test]
fn free_strategy_timing_lists_each_task_once() {
    let s = Scratch::new("free-timing");
    s.write("inv.ini", &inventory(&["alpha", "beta"]));
    let playbook = "- hosts: web\n  gather_facts: false\n  strategy: STRATEGY\n  tasks:\n\
         \x20   - name: talk\n      command: sleep 0.6\n\
         \x20   - name: quick\n      debug: msg=quick\n";
    let host = |h: &str| format!("{} time=T", stat(h, 2, 1, 0, 0));
    let mut want = recap(&[host("alpha"), host("beta")]);
    want = want.trim_end().to_string() + "\ntotal time: T\n\n";
    want += &format!("SLOWEST TASKS {}\n", "*".repeat(66));
    want += "   T  talk (pb.yml:5)\n   T  quick (pb.yml:7)\n\n";
    // strategy, forks, bounds of talk's time, bound of quick's time
    let cases = [
        ("free", "5", (0.6, 1.15), 0.3),
        ("linear", "5", (0.6, 1.15), 0.3),
        ("free", "1", (1.2, 1.75), 0.3),
        ("linear", "1", (1.2, 1.75), 0.3),
    ];
    for (strategy, forks, talk, quick) in cases {
        s.write("pb.yml", &playbook.replace("STRATEGY", strategy));
        let out = mestral(&s.0, &["pb.yml", "--timing", "-f", forks], &[]);
        let report = text(&out);
        let at = report.find("\nPLAY RECAP").expect("a recap");
        let (masked, times) = without_times(&report[at..]);
        assert_eq!(masked, want, "{strategy} -f {forks}");
        let [_, _, total, slowest, fastest] = times[..] else {
            panic!("{strategy} -f {forks}: times {times:?}");
        };
        let case = format!("{strategy} -f {forks}: {times:?}");
        assert!(slowest >= talk.0 && slowest < talk.1, "{case}");
        assert!(fastest < quick, "{case}");
        assert!(slowest <= total, "{case}");
    }
}
