//! Every module of issue 3 end to end: the real binary runs each playbook of
//! `tests/modules_lab/` twice over SSH against two lab hosts of its own (m3-a, m3-b), the
//! host is checked from outside the tool (`lab/exec.sh`), and the second run changes nothing.
//!
//! Needs the lab (as root) and MESTRAL_LAB=1; scripts/test.sh does both. The hosts come up
//! once for the whole binary and go down at the end. `MODULES_LAB_ONLY=name,...` runs only
//! the named scenarios (while working on one).

#[path = "modules_lab/harness.rs"]
mod harness;
#[path = "modules_lab/scenarios_apt.rs"]
mod scenarios_apt;
#[path = "modules_lab/scenarios_files.rs"]
mod scenarios_files;
#[path = "modules_lab/scenarios_hosts.rs"]
mod scenarios_hosts;

use harness::Lab;

type Scenario = (&'static str, fn(&Lab));

const SCENARIOS: &[Scenario] = &[
    ("commands", scenarios_files::commands),
    ("files", scenarios_files::files),
    ("lines", scenarios_files::lines),
    ("authorized_key", scenarios_files::authorized_key),
    ("stat_slurp_fetch", scenarios_hosts::info),
    ("wait_for", scenarios_hosts::wait_for),
    ("assert_fail_pause", scenarios_hosts::assert_fail_pause),
    ("get_url", scenarios_hosts::get_url),
    ("users", scenarios_hosts::users),
    ("hostname", scenarios_hosts::hostname),
    ("service_sysv", scenarios_hosts::service_sysv),
    ("systemd_path", scenarios_hosts::systemd_path),
    ("apt", scenarios_apt::apt),
    ("package", scenarios_apt::package),
];

#[test]
fn every_module_twice_against_the_lab() {
    if std::env::var_os("MESTRAL_LAB").is_none() {
        println!("skipped: MESTRAL_LAB is not set (run scripts/test.sh as root)");
        return;
    }
    let only: Option<Vec<String>> = std::env::var("MODULES_LAB_ONLY")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let lab = Lab::up();
    let mut failed = Vec::new();
    for (name, scenario) in SCENARIOS {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        println!("=== scenario {name}");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&lab)));
        if outcome.is_err() {
            failed.push(*name);
        }
        println!(
            "=== scenario {name}: {}",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
    }
    lab.check_machine_untouched();
    drop(lab);
    assert!(failed.is_empty(), "scenarios failed: {failed:?}");
}
