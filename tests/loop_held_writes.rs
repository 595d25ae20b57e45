//! A loop of `lineinfile` items edits its file once: the items are planned on the text the
//! first one read and the write is held until the loop ends (`connection::Held`). Checked
//! through the binary: the per-item results and the file's bytes are those of item-by-item
//! writes, a second run changes nothing, an item on another name for the same file (a
//! symlink, whose target is edited and the link kept) sees the edits before it, and a held
//! write that cannot be done fails the loop's last item with the reason, leaving the file as
//! it was.

mod playbook_support;

use playbook_support::{banner, mestral, recap, stat, task, text, Scratch};

const PLAY: &str = "\
- hosts: web
  gather_facts: false
  tasks:
    - name: hosts entries
      lineinfile:
        path: '{{ item.path }}'
        regexp: '\\s{{ item.name }}$'
        line: \"{{ item.addr }}\t{{ item.name }}\"
      loop:
        - {path: data/hosts, name: n1, addr: 10.0.0.1}
        - {path: data/hosts, name: n2, addr: 10.0.0.2}
        - {path: data/alias, name: n3, addr: 10.0.0.3}
        - {path: data/hosts, name: n4, addr: 10.0.0.4}
      loop_control:
        label: '{{ item.name }}'
";

fn item_lines(status: &str, names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{status}: [h1] => (item={n})\n"))
        .collect()
}

#[test]
fn a_loop_edits_its_file_once_with_the_results_of_item_by_item_writes() {
    let s = Scratch::new("held-loop");
    s.write("inv.ini", "[web]\nh1 ansible_connection=local\n");
    s.write("site.yml", PLAY);
    s.write("data/hosts", "127.0.0.1\tlocalhost\n192.0.2.7\tn2\n");
    std::os::unix::fs::symlink("hosts", s.0.join("data/alias")).unwrap();

    let first = mestral(&s.0, &["site.yml"], &[]);
    let second = mestral(&s.0, &["site.yml"], &[]);
    let want = |status: &str, changed: u32| {
        format!(
            "{}{}{}{}",
            banner("PLAY [web]"),
            task("hosts entries"),
            item_lines(status, &["n1", "n2", "n3", "n4"]),
            recap(&[stat("h1", 1, changed, 0, 0)])
        )
    };
    assert_eq!(
        (first.status.code(), text(&first)),
        (Some(0), want("changed", 1))
    );
    assert_eq!(
        (second.status.code(), text(&second)),
        (Some(0), want("ok", 0))
    );
    assert_eq!(
        s.read("data/hosts"),
        "127.0.0.1\tlocalhost\n10.0.0.2\tn2\n10.0.0.1\tn1\n10.0.0.3\tn3\n10.0.0.4\tn4\n"
    );
    // the symlink is still a symlink to the edited file
    let alias = std::fs::read_link(s.0.join("data/alias")).unwrap();
    assert_eq!(alias.to_string_lossy(), "hosts");
}

/// The folder is made read-only (a bind mount in a private mount namespace) after nothing:
/// the items read the file, plan their edits, and the one held write fails at the end of the
/// loop. Needs root and `unshare` (the test suite runs as root; elsewhere it says so).
#[test]
fn a_held_write_that_fails_fails_the_last_item() {
    if !nix_root() {
        eprintln!("skipped: needs root for a read-only bind mount");
        return;
    }
    let s = Scratch::new("held-fail");
    s.write("inv.ini", "[web]\nh1 ansible_connection=local\n");
    s.write("site.yml", &PLAY.replace("data/alias", "data/hosts"));
    let before = "127.0.0.1\tlocalhost\n";
    s.write("data/hosts", before);
    let data = s.0.join("data");
    let script = format!(
        "mount --bind {d} {d} && mount -o remount,bind,ro {d} && exec {bin} --color never \
         -i inv.ini site.yml",
        d = data.display(),
        bin = env!("CARGO_BIN_EXE_mestral"),
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .current_dir(&s.0)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = text(&out);
    // the reason ends with mktemp's own words, which vary with its version
    let last = stdout
        .lines()
        .find(|l| l.starts_with("failed: [h1] (item=n4)"))
        .unwrap_or_default();
    let want_last = "failed: [h1] (item=n4) => {\"changed\": false, \"msg\": \"cannot write \
                     data/hosts (the edits of the loop items before): mktemp: ";
    assert!(
        last.starts_with(want_last) && last.ends_with(": Read-only file system\"}"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().rev().nth(1),
        Some(stat("h1", 0, 0, 1, 0).as_str())
    );
    let changed_items: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("changed: [h1]"))
        .collect();
    assert_eq!(
        changed_items,
        [
            "changed: [h1] => (item=n1)",
            "changed: [h1] => (item=n2)",
            "changed: [h1] => (item=n3)"
        ]
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(s.read("data/hosts"), before);
}

fn nix_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

/// Outside a loop too, `lineinfile` on a symbolic link edits the file it leads to and keeps
/// the link (Ansible writes to the link's real path); the second run changes nothing.
#[test]
fn a_task_on_a_symlink_edits_its_target() {
    let s = Scratch::new("held-symlink");
    s.write("inv.ini", "[web]\nh1 ansible_connection=local\n");
    s.write(
        "site.yml",
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - name: via the link\n      \
         lineinfile: {path: data/alias, line: b}\n",
    );
    s.write("data/real", "a\n");
    std::os::unix::fs::symlink("real", s.0.join("data/alias")).unwrap();
    let runs: Vec<(Option<i32>, String)> = (0..2)
        .map(|_| {
            let out = mestral(&s.0, &["site.yml"], &[]);
            (out.status.code(), text(&out))
        })
        .collect();
    let want = |status: &str, changed: u32| {
        let body = format!("{status}: [h1]\n");
        let tail = recap(&[stat("h1", 1, changed, 0, 0)]);
        format!(
            "{}{}{body}{tail}",
            banner("PLAY [web]"),
            task("via the link")
        )
    };
    assert_eq!(
        runs,
        vec![(Some(0), want("changed", 1)), (Some(0), want("ok", 0))]
    );
    assert_eq!(s.read("data/real"), "a\nb\n");
    let link = std::fs::read_link(s.0.join("data/alias")).unwrap();
    assert_eq!(link.to_string_lossy(), "real");
}
