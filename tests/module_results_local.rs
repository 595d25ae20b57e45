//! Module results on the local host that users reported wrong: a failed `apt` install named
//! the package as installed.

#[path = "module_tables/cli.rs"]
mod cli;

use cli::{stderr, stdout, Scratch};

/// The `msg` lines `debug` printed, in order.
fn debug_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("\"msg\": "))
        .map(|m| m.trim_matches('"').to_string())
        .collect()
}

#[test]
fn a_failed_apt_install_reports_nothing_installed() {
    if !std::path::Path::new("/usr/bin/apt-get").exists() {
        eprintln!("skipped: no apt-get on this machine");
        return;
    }
    let s = Scratch::new("aptfail");
    s.write(
        "pb.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n\
         \x20   - apt: name=nosuchpkg-xyz\n      register: r\n      ignore_errors: true\n\
         \x20   - debug:\n        msg: \"{{ r.failed }} {{ r.changed }} {{ r.installed is defined \
         }} {{ r.removed is defined }} {{ r.rc }} {{ r.msg }}\"\n",
    );
    let out = s.mestral(&["-i", "localhost,", "pb.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        debug_lines(&stdout(&out)),
        ["True False False False 100 apt: apt-get failed (rc 100): E: Unable to locate package \
          nosuchpkg-xyz"]
    );
}
