//! The small tools through the real binary: `adhoc`, `ping`, `init`, `completions`, `man`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mestral-uxc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("inv.ini"),
        "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n",
    )
    .unwrap();
    dir
}

fn mestral(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mestral"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("mestral runs")
}

fn init_toml() -> String {
    "# mestral's settings; command-line flags win over these.\ninventory = \"inventory.ini\"\n\
     forks = 10\n# remote_user = \"admin\"\n# private_key_file = \"~/.ssh/id_ed25519\"\n\
     # host_key_checking = \"accept-new\"\n# roles_path = [\"roles\"]\n"
        .to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn adhoc_prints_the_ansible_commands_lines() {
    let dir = scratch("adhoc");
    let out = mestral(&dir, &["adhoc", "web:!beta", "-i", "inv.ini", "-m", "ping"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "alpha | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}\n"
    );

    // `-m shell` runs it through the shell, output after `rc=N >>` as `ansible` prints it.
    let shell = [
        "adhoc",
        "web",
        "-i",
        "inv.ini",
        "-m",
        "shell",
        "-a",
        "echo hi >&2; echo out",
    ];
    let out = mestral(&dir, &shell);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "alpha | CHANGED | rc=0 >>\nouthi\nbeta | CHANGED | rc=0 >>\nouthi\n"
    );

    // `-a` alone runs `command`, as in Ansible: no shell, the words are echo's arguments.
    let out = mestral(
        &dir,
        &[
            "adhoc",
            "beta",
            "-i",
            "inv.ini",
            "-a",
            "echo hi >&2; echo out",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "beta | CHANGED | rc=0 >>\nhi >&2; echo out\n");

    // A failing command fails with exit code 2: stdout, stderr and the message run together,
    // byte for byte what `ansible localhost -c local -m command -a ...` prints.
    let rows = [
        ("false", "beta | FAILED | rc=1 >>\nnon-zero return code\n"),
        (
            "sh -c 'echo out; echo err >&2; exit 3'",
            "beta | FAILED | rc=3 >>\nouterrnon-zero return code\n",
        ),
    ];
    for (command, want) in rows {
        let out = mestral(&dir, &["adhoc", "beta", "-i", "inv.ini", "-a", command]);
        assert_eq!(
            (out.status.code(), stdout(&out)),
            (Some(2), want.to_string())
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ping_prints_one_line_per_host() {
    let dir = scratch("ping");
    std::fs::write(
        dir.join("inv.ini"),
        "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n\
         gone ansible_host=127.0.0.1 ansible_port=1\n",
    )
    .unwrap();
    let out = mestral(&dir, &["ping", "-i", "inv.ini", "--no-become", "-T", "2"]);
    assert_eq!(out.status.code(), Some(4), "one host is unreachable");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    assert_eq!(
        lines[0],
        format!("{:<26} ok  login={}", "alpha", user.trim())
    );
    assert_eq!(
        lines[1],
        format!("{:<26} ok  login={}", "beta", user.trim())
    );
    assert!(
        lines[2].starts_with(&format!("{:<26} UNREACHABLE  ", "gone")),
        "{}",
        lines[2]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn init_writes_a_project_that_runs() {
    let dir = scratch("init");
    let out = mestral(&dir, &["init", "proj"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let proj = dir.join("proj");
    assert_eq!(
        stdout(&out),
        "wrote proj/inventory.ini\nwrote proj/site.yml\nwrote proj/mestral.toml\n\
         next: cd proj && mestral site.yml\n"
    );
    // mestral.toml names the inventory.
    let run = mestral(&proj, &["site.yml"]);
    assert_eq!(run.status.code(), Some(0), "{}", stdout(&run));
    assert!(stdout(&run).ends_with(
        "localhost                  : ok=2    changed=0    unreachable=0    failed=0    \
         skipped=0    rescued=0    ignored=0   \n\n"
    ));
    // A flag wins over the file: this inventory has no `local` group.
    std::fs::write(
        proj.join("other.ini"),
        "[web]\nw ansible_connection=local\n",
    )
    .unwrap();
    let run = mestral(&proj, &["-i", "other.ini", "site.yml"]);
    assert_eq!(run.status.code(), Some(0));
    assert!(
        stdout(&run).contains("\nskipping: no hosts matched\n"),
        "{}",
        stdout(&run)
    );
    // ansible.cfg's [defaults] when there is no mestral.toml.
    std::fs::remove_file(proj.join("mestral.toml")).unwrap();
    std::fs::write(
        proj.join("ansible.cfg"),
        "[defaults]\ninventory = other.ini\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("web.yml"),
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - ping:\n",
    )
    .unwrap();
    let run = mestral(&proj, &["web.yml"]);
    assert_eq!(run.status.code(), Some(0));
    assert!(stdout(&run).contains("\nok: [w]\n"), "{}", stdout(&run));
    std::fs::remove_file(proj.join("ansible.cfg")).unwrap();
    std::fs::write(proj.join("mestral.toml"), init_toml()).unwrap();

    // A second init refuses and leaves the files alone.
    let again = mestral(&dir, &["init", "proj"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "ERROR! proj/inventory.ini exists already; init writes nothing over it\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn completions_and_man_page() {
    let dir = scratch("compl");
    let cases = [
        ("bash", "_mestral() {\n"),
        ("zsh", "#compdef mestral\n"),
        ("fish", "# Print an optspec for argparse"),
    ];
    for (shell, start) in cases {
        let out = mestral(&dir, &["completions", shell]);
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        assert!(
            text.starts_with(start),
            "{shell}: {}",
            &text[..60.min(text.len())]
        );
        assert!(
            text.contains("retry-file"),
            "{shell} completes --retry-file"
        );
    }
    let man = mestral(&dir, &["man"]);
    assert_eq!(man.status.code(), Some(0));
    let page = stdout(&man);
    assert!(page.contains(".TH mestral 1"), "{page}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `mestral completions bash | head -1`: a reader gone before the script is written is not a
/// panic. The pipe's read end is closed before the binary starts, so the write always fails.
#[test]
fn completions_into_a_closed_pipe() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_mestral"))
        .args(["completions", "bash"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("mestral runs");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
}
