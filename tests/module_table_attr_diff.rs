//! `--diff` for owner, group and mode changes alone, through the real binary over
//! `connection: local`: each task's diff is what ansible-core 2.19 prints for it (taken from
//! `ansible-playbook -c local --diff` on the same files): attributes as sorted JSON with four
//! spaces, ids as numbers, `path` and bare headers for file/copy/template, a
//! "(file attributes)" header for lineinfile/blockinfile. Check mode shows the same and
//! changes nothing; a second run shows nothing.

#[path = "module_tables/cli.rs"]
mod cli;

use std::os::unix::fs::PermissionsExt;

use cli::{stderr, stdout, Scratch};

/// Ansible's attribute diff: `rows` are (key, before, after) in sorted key order.
fn attr_diff(header: Option<&str>, path: Option<&str>, rows: &[(&str, &str, &str)]) -> String {
    let side = |after: bool| {
        let mut keys: Vec<String> = rows
            .iter()
            .map(|r| format!("    \"{}\": {}", r.0, if after { r.2 } else { r.1 }))
            .collect();
        if let Some(p) = path {
            keys.push(format!("    \"path\": \"{p}\""));
        }
        keys
    };
    let (before, after) = (side(false), side(true));
    let n = before.len() + 2;
    let (b, a) = match header {
        Some(h) => (format!("before: {h}"), format!("after: {h}")),
        None => ("before".to_string(), "after".to_string()),
    };
    let mut out = format!("--- {b}\n+++ {a}\n@@ -1,{n} +1,{n} @@\n {{\n");
    for line in &before {
        if path.is_some_and(|p| line.ends_with(&format!("\"{p}\""))) {
            continue;
        }
        out.push_str(&format!("-{line}{}\n", comma(line, &before)));
    }
    for line in &after {
        if path.is_some_and(|p| line.ends_with(&format!("\"{p}\""))) {
            continue;
        }
        out.push_str(&format!("+{line}{}\n", comma(line, &after)));
    }
    if let Some(p) = path {
        out.push_str(&format!("     \"path\": \"{p}\"\n"));
    }
    out.push_str(" }\n");
    out
}

/// The comma JSON puts after every entry but the last.
fn comma(line: &str, all: &[String]) -> &'static str {
    match all.last().is_some_and(|l| l == line) {
        true => "",
        false => ",",
    }
}

fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd.lines().find(|l| l.starts_with("nobody:")).unwrap();
    let f: Vec<&str> = line.split(':').collect();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

#[test]
fn attribute_only_changes_diff_as_ansible_shows_them() {
    let s = Scratch::new("attrdiff");
    let d = s.0.to_string_lossy().into_owned();
    let setup = || {
        for (name, mode) in [
            ("f", 0o600),
            ("c", 0o600),
            ("t", 0o600),
            ("l", 0o600),
            ("b", 0o600),
        ] {
            let text = match name {
                "t" => "hi\n",
                "b" => "# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n",
                "l" => "a\n",
                _ => "x\n",
            };
            s.write(name, text);
            let p = s.0.join(name);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            std::os::unix::fs::chown(&p, Some(0), Some(0)).unwrap();
        }
        std::fs::create_dir_all(s.0.join("dir")).unwrap();
        std::fs::set_permissions(s.0.join("dir"), std::fs::Permissions::from_mode(0o700)).unwrap();
    };
    setup();
    s.write("hi.j2", "hi\n");
    s.write(
        "pb.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n\
         \x20   - file: {path: $D/f, mode: '0644'}\n\
         \x20   - file: {path: $D/dir, state: directory, mode: '0755'}\n\
         \x20   - copy: {content: \"x\\n\", dest: $D/c, mode: '0640', group: nogroup}\n\
         \x20   - template: {src: hi.j2, dest: $D/t, mode: 'u=rw,g=r,o=r'}\n\
         \x20   - lineinfile: {path: $D/l, line: a, mode: '0644'}\n\
         \x20   - blockinfile: {path: $D/b, block: x, mode: '0640'}\n\
         \x20   - file: {path: $D/f, owner: nobody}\n",
    );
    let (uid, _) = nobody();
    let nogroup = std::fs::read_to_string("/etc/group").unwrap();
    let gid = nogroup
        .lines()
        .find(|l| l.starts_with("nogroup:"))
        .and_then(|l| l.split(':').nth(2))
        .unwrap()
        .to_string();
    let path = |n: &str| format!("{d}/{n}");
    let q = |m: &str| format!("\"{m}\"");
    let diffs = [
        (
            "file",
            attr_diff(None, Some(&path("f")), &[("mode", &q("0600"), &q("0644"))]),
        ),
        (
            "file",
            attr_diff(
                None,
                Some(&path("dir")),
                &[("mode", &q("0700"), &q("0755"))],
            ),
        ),
        (
            "copy",
            attr_diff(
                None,
                Some(&path("c")),
                &[("group", "0", &gid), ("mode", &q("0600"), &q("0640"))],
            ),
        ),
        (
            "template",
            attr_diff(None, Some(&path("t")), &[("mode", &q("0600"), &q("0644"))]),
        ),
        (
            "lineinfile",
            attr_diff(
                Some(&format!("{} (file attributes)", path("l"))),
                None,
                &[("mode", &q("0600"), &q("0644"))],
            ),
        ),
        (
            "blockinfile",
            attr_diff(
                Some(&format!("{} (file attributes)", path("b"))),
                None,
                &[("mode", &q("0600"), &q("0640"))],
            ),
        ),
        (
            "file",
            attr_diff(None, Some(&path("f")), &[("owner", "0", &uid.to_string())]),
        ),
    ];
    let banner = |m: &str| format!("TASK [{m}] {}\n", "*".repeat(80 - 8 - m.len()));
    let want = |shown: bool| -> String {
        let mut text = String::new();
        for (module, diff) in &diffs {
            text.push_str(&banner(module));
            if shown {
                text.push_str(diff);
                text.push_str("changed: [localhost]\n\n");
            } else {
                text.push_str("ok: [localhost]\n\n");
            }
        }
        text
    };
    let tasks = |out: &std::process::Output| -> String {
        let text = stdout(out);
        let start = text.find("TASK [").unwrap();
        let end = text.find("PLAY RECAP").unwrap();
        text[start..end].to_string()
    };

    // check mode shows the diffs and leaves the files alone
    let check = s.mestral(&["-i", "localhost,", "--diff", "--check", "pb.yml"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert_eq!(tasks(&check), want(true), "check mode");
    let mode = std::fs::metadata(s.0.join("f"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o600);

    for (run, shown) in [(1, true), (2, false)] {
        let out = s.mestral(&["-i", "localhost,", "--diff", "pb.yml"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(tasks(&out), want(shown), "run {run}");
    }
}
