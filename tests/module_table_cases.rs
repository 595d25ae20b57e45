//! The nine "cases that must pass" of issue 3, each a test named after what it checks, with
//! exact bytes. Module cases run in-process over `connection: local`; the cases about parsing,
//! loops and checks made before any host is contacted run the real binary.

#[path = "module_tables/bed.rs"]
mod bed;
#[path = "module_tables/cli.rs"]
mod cli;

use std::os::unix::fs::PermissionsExt;

use bed::{Bed, FileRow};
use cli::{stderr, stdout, Probe, Scratch};
use serde_json::json;

fn lineinfile_row(
    name: &'static str,
    start: &'static str,
    args: serde_json::Value,
    want: &'static str,
) -> FileRow {
    let mut args = args;
    args["path"] = json!("$D/f");
    FileRow {
        name,
        start: Some(start),
        args,
        want: Some(want),
        mode: 0o644,
        changed: start != want,
    }
}

#[tokio::test]
async fn case1_lineinfile_regexp_replaces_in_place_then_stable() {
    let bed = Bed::new("case1").await;
    let row = lineinfile_row(
        "case 1",
        "alpha\nmode=old\nomega\n",
        json!({"regexp": "^mode=old$", "line": "mode=new"}),
        "alpha\nmode=new\nomega\n",
    );
    bed.file_row("lineinfile", &row).await;
}

#[test]
fn case1_lineinfile_in_a_loop_of_four_changes_once() {
    let s = Scratch::new("case1loop");
    s.write("f", "alpha\nmode=old\nomega\n");
    s.write(
        "pb.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n\
         \x20   - name: looped\n      lineinfile:\n\
         \x20       {path: $D/f, regexp: '^mode=old$', line: mode=new}\n\
         \x20     loop: [1, 2, 3, 4]\n",
    );
    let recap = |changed: u8| {
        format!(
            "\nPLAY RECAP ********************************************************\
             *************\nlocalhost                  : ok=1    changed={changed}    \
             unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   \n\n"
        )
    };
    let head =
        "\nPLAY [localhost] ***************************************************************\n\
        \nTASK [looped] ******************************************************************\n";
    for (run, first, changed) in [(1, "changed", 1), (2, "ok", 0)] {
        let out = s.mestral(&["-i", "localhost,", "pb.yml"]);
        assert_eq!(out.status.code(), Some(0), "run {run}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!(
                "{head}{first}: [localhost] => (item=1)\nok: [localhost] => (item=2)\n\
                 ok: [localhost] => (item=3)\nok: [localhost] => (item=4)\n{}",
                recap(changed)
            ),
            "run {run}"
        );
        assert_eq!(s.read("f"), "alpha\nmode=new\nomega\n");
    }
}

#[tokio::test]
async fn case2_lineinfile_appends_after_a_last_line_without_newline() {
    let bed = Bed::new("case2").await;
    let row = lineinfile_row(
        "case 2",
        "UsePAM yes\nUseDNS no",
        json!({"regexp": "^ClientAliveInterval ", "line": "ClientAliveInterval 15"}),
        "UsePAM yes\nUseDNS no\nClientAliveInterval 15\n",
    );
    bed.file_row("lineinfile", &row).await;
}

#[tokio::test]
async fn case3_lineinfile_keeps_crlf_and_sees_an_existing_crlf_line() {
    let bed = Bed::new("case3").await;
    let rows = [
        lineinfile_row(
            "case 3 regexp",
            "a=1\r\nb=2\r\n",
            json!({"regexp": "^b=", "line": "b=3"}),
            "a=1\r\nb=3\r\n",
        ),
        lineinfile_row(
            "case 3 present line",
            "a=1\r\nb=2\r\n",
            json!({"line": "b=2"}),
            "a=1\r\nb=2\r\n",
        ),
    ];
    for row in &rows {
        bed.file_row("lineinfile", row).await;
    }
}

#[tokio::test]
async fn case4_hosts_line_exact_regexp_sloppy_regexp_last_match_and_append() {
    let bed = Bed::new("case4").await;
    let hosts = "127.0.0.1 localhost\n10.0.0.1 oldname\n10.0.0.12 node12\n";
    let line = "10.0.0.1 node1.example.internal node1";
    let rows = [
        lineinfile_row(
            "exact regexp replaces the oldname line",
            hosts,
            json!({"regexp": "^10\\.0\\.0\\.1\\s", "line": line}),
            "127.0.0.1 localhost\n10.0.0.1 node1.example.internal node1\n10.0.0.12 node12\n",
        ),
        lineinfile_row(
            "sloppy regexp replaces the last match",
            hosts,
            json!({"regexp": "^10.0.0.1", "line": line}),
            "127.0.0.1 localhost\n10.0.0.1 oldname\n10.0.0.1 node1.example.internal node1\n",
        ),
        lineinfile_row(
            "no regexp appends",
            hosts,
            json!({"line": line}),
            "127.0.0.1 localhost\n10.0.0.1 oldname\n10.0.0.12 node12\n\
             10.0.0.1 node1.example.internal node1\n",
        ),
    ];
    for row in &rows {
        bed.file_row("lineinfile", row).await;
    }
}

fn me() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn case5_authorized_key_appends_a_commented_key_and_keeps_the_first_line() {
    let bed = Bed::new("case5").await;
    let first = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirst0000000000000000000000000000000000000";
    let second = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQSecond000000000000000000000 ops@laptop";
    bed.put("authorized_keys", format!("{first}\n").as_bytes(), 0o600);
    let args = |key: &str| json!({"user": me(), "key": key, "path": "$D/authorized_keys"});

    bed.twice("second key", "authorized_key", &args(second), true)
        .await;
    assert_eq!(bed.text("authorized_keys"), format!("{first}\n{second}\n"));
    let id = bed.identity("authorized_keys");
    let again = bed.run("authorized_key", &args(first)).await;
    assert_eq!((again.failed, again.changed), (false, false));
    assert_eq!(bed.identity("authorized_keys"), id);
    assert_eq!(bed.text("authorized_keys"), format!("{first}\n{second}\n"));
}

#[test]
fn case6_octal_and_symbolic_modes_give_0644_and_are_stable() {
    let s = Scratch::new("case6");
    let modes = ["0644", "'0644'", "'644'", "u=rw,g=r,o=r", "0o644"];
    let mut tasks = String::new();
    for (i, m) in modes.iter().enumerate() {
        s.write(&format!("f{i}"), "x\n");
        let path = s.0.join(format!("f{i}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        tasks.push_str(&format!(
            "    - file:\n        path: $D/f{i}\n        mode: {m}\n"
        ));
    }
    s.write(
        "pb.yml",
        &format!(
            "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n{tasks}"
        ),
    );
    for (run, changed) in [(1, modes.len()), (2, 0)] {
        let out = s.mestral(&["-i", "localhost,", "pb.yml"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let recap = stdout(&out).lines().rev().nth(1).unwrap().to_string();
        assert_eq!(
            recap,
            format!(
                "localhost                  : ok=5    changed={changed}    unreachable=0    \
                 failed=0    skipped=0    rescued=0    ignored=0   "
            ),
            "run {run}"
        );
        for (i, written) in modes.iter().enumerate() {
            let meta = std::fs::metadata(s.0.join(format!("f{i}"))).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            assert_eq!(mode, 0o644, "{written}");
        }
    }
}

#[test]
fn case6_unquoted_644_is_refused_before_any_host_is_contacted() {
    let s = Scratch::new("case6bad");
    let probe = Probe::new();
    s.write("inv.ini", &probe.inventory());
    s.write(
        "pb.yml",
        "- hosts: far\n  gather_facts: false\n  tasks:\n    - name: first\n      ping:\n\
         \x20   - name: bad mode\n      copy:\n        content: \"x\\n\"\n        dest: /tmp/x\n\
         \x20       mode: 644\n",
    );
    let out = s.mestral(&["-i", "inv.ini", "pb.yml"]);
    assert_eq!(
        (out.status.code(), stdout(&out), stderr(&out)),
        (
            Some(1),
            String::new(),
            "ERROR! pb.yml:10:15: module 'copy': mode 644 was read as a decimal number; \
             quote it as '0644' (or write mode: 0644)\n            mode: 644\n                  ^\n"
                .to_string()
        )
    );
    assert!(!probe.contacted(), "the host was contacted");

    // the same playbook with the mode quoted does reach the host: the probe sees it
    s.write(
        "pb.yml",
        &s.read("pb.yml").replace("mode: 644", "mode: '644'"),
    );
    let out = s.mestral(&["-i", "inv.ini", "-T", "1", "pb.yml"]);
    assert_eq!(out.status.code(), Some(4), "{}", stdout(&out));
    assert!(probe.contacted(), "the quoted run never tried the host");
}

#[test]
fn case7_kv_value_with_colon_space_fails_to_parse_with_place_and_hint() {
    let s = Scratch::new("case7kv");
    s.write(
        "pb.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n\
         \x20   - lineinfile: path=$D/sudo line=\"%admin ALL=(ALL) NOPASSWD: ALL\" create=yes\n",
    );
    let out = s.mestral(&["-i", "localhost,", "pb.yml"]);
    let shown = format!(
        "    - lineinfile: path={}/sudo line=\"%admin ALL=(ALL) NOPASSWD: ALL\" create=yes",
        s.0.display()
    );
    let col = shown.find(": ALL").unwrap() + 1;
    assert_eq!(
        (out.status.code(), stdout(&out), stderr(&out)),
        (
            Some(1),
            String::new(),
            format!(
                "ERROR! pb.yml:5:{col}: YAML syntax error: mapping values are not allowed in this \
                 context\n    {shown}\n    {}^\n  hint: the value of 'line' holds ': '; quote the \
                 whole argument text (lineinfile: '... line=\"...\"') or write the arguments as a \
                 mapping\n",
                " ".repeat(col - 1)
            )
        )
    );
    assert!(!s.0.join("sudo").exists());
}

#[test]
fn case7_block_form_with_quoted_line_creates_0440_after_visudo_then_stable() {
    let s = Scratch::new("case7block");
    s.write(
        "pb.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n\
         \x20   - name: sudoers\n      lineinfile:\n        path: $D/sudoers\n\
         \x20       line: \"%admin ALL=(ALL) NOPASSWD: ALL\"\n        create: yes\n\
         \x20       mode: '0440'\n\
         \x20       validate: visudo -cf %s\n",
    );
    for (run, status, changed) in [(1, "changed", 1), (2, "ok", 0)] {
        let out = s.mestral(&["-i", "localhost,", "pb.yml"]);
        assert_eq!(out.status.code(), Some(0), "run {run}: {}", stdout(&out));
        let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        assert_eq!(lines[4], format!("{status}: [localhost]"), "run {run}");
        assert!(
            lines[7].contains(&format!(" changed={changed} ")),
            "run {run}: {}",
            lines[7]
        );
        assert_eq!(s.read("sudoers"), "%admin ALL=(ALL) NOPASSWD: ALL\n");
        let meta = std::fs::metadata(s.0.join("sudoers")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o440);
    }
    // visudo really validates: a broken line is refused and the file stays as it was
    s.write(
        "pb.yml",
        &s.read("pb.yml")
            .replace("NOPASSWD: ALL", "NOPASSWD: ALL, ("),
    );
    let out = s.mestral(&["-i", "localhost,", "pb.yml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(s.read("sudoers"), "%admin ALL=(ALL) NOPASSWD: ALL\n");
}

#[test]
fn case7_tab_indentation_is_reported_as_a_tab_at_its_line() {
    let s = Scratch::new("case7tab");
    s.write(
        "pb.yml",
        "- hosts: localhost\n  tasks:\n    - ping:\n\t- ping:\n",
    );
    let out = s.mestral(&["-i", "localhost,", "pb.yml"]);
    assert_eq!(
        (out.status.code(), stderr(&out)),
        (
            Some(1),
            "ERROR! pb.yml:4:1: YAML syntax error: found character that cannot start any token\n\
             \x20   \t- ping:\n    ^\n  hint: line 4 is indented with a tab; YAML indents with \
             spaces only\n"
                .to_string()
        )
    );
}

#[tokio::test]
async fn case8_block_tag_at_line_end_joins_lines_and_plus_form_keeps_them_apart() {
    let bed = Bed::with_vars("case8", json!({"gssapi": false})).await;
    let cases = [
        (
            "GSSAPIAuthentication {% if gssapi %}yes{% else %}no{% endif %}\nUsePAM yes\n",
            "GSSAPIAuthentication noUsePAM yes\n",
        ),
        (
            "GSSAPIAuthentication {% if gssapi %}yes{% else %}no{% endif +%}\nUsePAM yes\n",
            "GSSAPIAuthentication no\nUsePAM yes\n",
        ),
    ];
    for (source, want) in cases {
        bed.reset();
        std::fs::write(bed.dir.join("files/sshd.j2"), source).unwrap();
        let args = json!({"src": "sshd.j2", "dest": "$D/f"});
        bed.twice(source, "template", &args, true).await;
        assert_eq!(bed.text("f"), want, "{source}");
    }
}

#[test]
fn case9_default_filter_undefined_attributes_empty_strings_and_nulls() {
    let s = Scratch::new("case9");
    s.write(
        "pb.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n\
         \x20 vars: {app: {name: web}, empty: '', nothing: null}\n  tasks:\n\
         \x20   - copy:\n        dest: $D/out\n        content: \"\
         [{{ app.tls.cert | default('none') }}][{{ db.host | default('localhost') }}]\
         [{{ empty | default('x') }}][{{ empty | default('x', true) }}][{{ nothing }}]\\n\"\n",
    );
    for code in [0, 0] {
        let out = s.mestral(&["-i", "localhost,", "pb.yml"]);
        assert_eq!(out.status.code(), Some(code), "{}", stdout(&out));
        assert_eq!(s.read("out"), "[none][localhost][][x][]\n");
    }
}

#[test]
fn case9_undefined_attribute_fails_naming_the_variable_and_task_before_the_host() {
    let s = Scratch::new("case9undef");
    let probe = Probe::new();
    s.write("inv.ini", &probe.inventory());
    s.write(
        "pb.yml",
        "- hosts: far\n  gather_facts: false\n  tasks:\n    - name: db config\n\
         \x20     copy: {content: \"{{ db.host }}\", dest: /tmp/never}\n",
    );
    let out = s.mestral(&["-i", "inv.ini", "pb.yml"]);
    let msg =
        "pb.yml:4: task 'db config' on far: 'db' is undefined, in template \\\"{{ db.host }}\\\"";
    assert_eq!(out.status.code(), Some(2));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(
        lines[4],
        format!("fatal: [far]: FAILED! => {{\"changed\": false, \"msg\": \"{msg}\"}}")
    );
    assert!(!probe.contacted(), "the host was contacted");
}
