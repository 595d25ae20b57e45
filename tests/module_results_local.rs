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
        [
            "True False False False 100 apt: apt-get failed (rc 100): E: Unable to locate package \
          nosuchpkg-xyz"
        ]
    );
}

/// `user: password=<hash>` sets the hash on create, again only when it differs, never with
/// `update_password: on_create`, and the hash is never printed. A throwaway account on this
/// machine, removed at the end.
#[test]
fn user_password_is_set_when_it_differs_and_never_shown() {
    let name = format!("mestral-pw-{}", std::process::id() % 100_000);
    let s = Scratch::new("userpw");
    let play = |hash: &str, update: &str| {
        format!(
            "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n\
             \x20   - user: name={name} create_home=no password={hash} update_password={update}\n"
        )
    };
    let stored = || {
        let out = std::process::Command::new("getent")
            .args(["shadow", &name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split(':')
            .nth(1)
            .unwrap_or("")
            .to_string()
    };
    let first = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77v\
                 wPZN.Pq.H91p5hVO1";
    let second = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
    let rows = [
        (first, "always", "changed", first),
        (first, "always", "ok", first),
        (second, "on_create", "ok", first),
        (second, "always", "changed", second),
    ];
    let mut outputs = String::new();
    for (hash, update, status, after) in rows {
        s.write("pb.yml", &play(hash, update));
        let out = s.mestral(&["-i", "localhost,", "-v", "--diff", "pb.yml"]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{status}: [localhost]")));
        assert!(line.is_some(), "{hash} {update}: {text}");
        assert_eq!(stored(), after, "{hash} {update}");
        outputs.push_str(&text);
        outputs.push_str(&stderr(&out));
    }
    let _ = std::process::Command::new("userdel").arg(&name).status();
    assert!(
        !outputs.contains("saltsalt"),
        "a hash was printed:\n{outputs}"
    );
    assert!(
        outputs.contains("\"password\": \"NOT_LOGGING_PASSWORD\""),
        "{outputs}"
    );
}
