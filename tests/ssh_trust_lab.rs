//! SSH and trust against the lab (issue 7): a host only a jump host can reach, host key
//! policies, password and passphrase authentication, and sudo without its password. Every
//! case runs the real binary with its own HOME (so `~/.ssh/known_hosts` and `~/.ssh/config`
//! are the test's) and no ssh-agent unless the test starts one.
//!
//! Needs the lab (as root) and MESTRAL_LAB=1; scripts/test.sh does both.

mod ssh_trust;

use std::time::{Duration, Instant};

use ssh_trust::*;

const KEY: &str = "/var/lib/mestral-lab/id_ed25519";

const WRITE_FILE: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: write a file
      copy:
        dest: /root/trust.txt
        content: \"written by mestral\\n\"
";

#[test]
fn jump_host_reaches_hidden_hosts_and_checks_both_hops() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("jump", &[JUMP, A, B]);
    let hidden_a = lab.hide(A, JUMP);
    let hidden_b = lab.hide(B, JUMP);
    assert_eq!(
        (hidden_a.as_str(), hidden_b.as_str()),
        ("172.30.9.216", "172.30.9.217")
    );
    let pb = lab.file("write.yml", WRITE_FILE);

    // The controller cannot reach the hidden hosts itself.
    let direct = std::net::TcpStream::connect_timeout(
        &format!("{hidden_a}:22").parse().expect("address"),
        Duration::from_secs(3),
    );
    assert_eq!(direct.err().and_then(|e| e.raw_os_error()), Some(113));
    lab.inventory(&format!(
        "{A} ansible_host={hidden_a} ansible_user=root ansible_ssh_private_key_file={KEY}\n"
    ));
    let out = lab.run(&pb, &[]);
    assert_eq!(out.code, 4);
    assert_eq!(
        out.line_starting("fatal: "),
        format!(
            "fatal: [{A}]: UNREACHABLE! => {{\"changed\": false, \"msg\": \"cannot connect to \
             {hidden_a}:22: No route to host (os error 113)\", \"unreachable\": true}}"
        )
    );

    // A through the inventory variable, B through ~/.ssh/config.
    lab.inventory(&format!(
        "[hidden]\n{A} ansible_host={hidden_a} \
         ansible_ssh_common_args='-o ProxyJump=root@{JUMP_ADDR}'\n{B} ansible_host={hidden_b}\n\
         \n[hidden:vars]\nansible_user=root\nansible_ssh_private_key_file={KEY}\n"
    ));
    lab.file(
        "home/.ssh/config",
        &format!("Host 172.30.9.*\n    ProxyJump root@{JUMP_ADDR}\n"),
    );

    // Strict: the jump host's key is checked first, then the hidden host's.
    let out = lab.run(&pb, &["--host-key-checking", "strict"]);
    assert_eq!(out.code, 4);
    assert_eq!(
        out.failure_msgs(),
        [A, B].map(|h| {
            format!(
                "[{h}] jump host root@{JUMP_ADDR}:22: host key for {JUMP_ADDR} is not in \
                 known_hosts (~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts) and host key \
                 checking is strict"
            )
        })
    );
    lab.file("home/.ssh/known_hosts", &known_line(JUMP, JUMP_ADDR));
    let out = lab.run(&pb, &["--host-key-checking", "strict"]);
    assert_eq!(
        out.failure_msgs(),
        [(A, &hidden_a), (B, &hidden_b)].map(|(h, addr)| {
            format!(
                "[{h}] host key for {addr} is not in known_hosts (~/.ssh/known_hosts, \
                 /etc/ssh/ssh_known_hosts) and host key checking is strict"
            )
        })
    );

    // accept-new (the default): both hidden hosts learnt, one jump session for both.
    let before = lab.accepted_logins(JUMP);
    let out = lab.run(&pb, &[]);
    assert_eq!(out.code, 0);
    assert_eq!(out.recap(), [recap(A, 1, 1), recap(B, 1, 1)]);
    assert_eq!(
        lab.accepted_logins(JUMP),
        before + 1,
        "one session on the jump host"
    );
    let mut learnt: Vec<String> = lab
        .read("home/.ssh/known_hosts")
        .lines()
        .map(String::from)
        .collect();
    learnt.sort();
    assert_eq!(
        learnt.join("\n") + "\n",
        known_line(JUMP, JUMP_ADDR) + &known_line(A, &hidden_a) + &known_line(B, &hidden_b)
    );

    // Second run: nothing to change, again over one jump session.
    let out = lab.run(&pb, &[]);
    assert_eq!(
        (out.code, out.recap()),
        (0, vec![recap(A, 1, 0), recap(B, 1, 0)])
    );
    assert_eq!(lab.accepted_logins(JUMP), before + 2);
    for host in [A, B] {
        assert_eq!(
            on_host(host, "cat /root/trust.txt"),
            (0, "written by mestral".into())
        );
    }
    assert_eq!(on_host(JUMP, "test -e /root/trust.txt"), (1, String::new()));

    // An address the jump host cannot reach: the jump host's refusal, named.
    lab.inventory(&format!(
        "ghost ansible_host=172.30.9.250 ansible_user=root ansible_ssh_private_key_file={KEY} \
         ansible_ssh_common_args='-J root@{JUMP_ADDR}'\n"
    ));
    let out = lab.run(&pb, &[]);
    assert_eq!(
        out.failure_msgs(),
        [format!(
            "[ghost] jump host root@{JUMP_ADDR}:22 could not connect to 172.30.9.250:22: \
             Failed to open channel (ConnectFailed)"
        )]
    );
    lab.inventory(&format!(
        "[hidden]\n{A} ansible_host={hidden_a} \
         ansible_ssh_common_args='-o ProxyJump=root@{JUMP_ADDR}'\n{B} ansible_host={hidden_b}\n\
         \n[hidden:vars]\nansible_user=root\nansible_ssh_private_key_file={KEY}\n"
    ));

    // B's key changes behind the jump host: B fails naming the line, A goes on.
    let known = lab.read("home/.ssh/known_hosts");
    let line = known
        .lines()
        .position(|l| l.starts_with(&hidden_b))
        .expect("B learnt")
        + 1;
    let forged = known.replace(&host_key(B), &host_key(JUMP));
    lab.file("home/.ssh/known_hosts", &forged);
    let out = lab.run(&pb, &[]);
    assert_eq!(out.code, 4);
    assert_eq!(out.recap(), [recap(A, 1, 0), unreachable_recap(B)]);
    assert_eq!(
        out.failure_msgs(),
        [format!(
            "[{B}] host key for {hidden_b} has changed (known_hosts ~/.ssh/known_hosts:{line}); \
             if this is expected remove the line with: ssh-keygen -R {hidden_b}"
        )]
    );
}

#[test]
fn host_key_policies_strict_accept_new_and_off() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("keys", &[C, D]);
    lab.inventory(&format!(
        "{C} ansible_host={C_ADDR}\n{D} ansible_host={D_ADDR}\n\n[all:vars]\n\
         ansible_user=root\nansible_ssh_private_key_file={KEY}\n"
    ));
    let pb = lab.file("write.yml", WRITE_FILE);

    // strict: unknown hosts refused, nothing recorded.
    let out = lab.run(&pb, &["--host-key-checking", "strict"]);
    assert_eq!(out.code, 4);
    assert_eq!(
        out.failure_msgs(),
        [(C, C_ADDR), (D, D_ADDR)].map(|(h, addr)| format!(
            "[{h}] host key for {addr} is not in known_hosts (~/.ssh/known_hosts, \
             /etc/ssh/ssh_known_hosts) and host key checking is strict"
        ))
    );
    assert!(!lab.path("home/.ssh/known_hosts").exists());

    // accept-new: two new hosts at once, stdin open and silent, no prompt anywhere.
    let started = Instant::now();
    let out = lab.run_with_open_stdin(&pb, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (out.code, out.recap()),
        (0, vec![recap(C, 1, 1), recap(D, 1, 1)])
    );
    assert_eq!(out.stderr, "");
    let mut learnt: Vec<String> = lab
        .read("home/.ssh/known_hosts")
        .lines()
        .map(String::from)
        .collect();
    learnt.sort();
    assert_eq!(
        learnt.join("\n") + "\n",
        known_line(C, C_ADDR) + &known_line(D, D_ADDR)
    );
    let out = lab.run(&pb, &["--host-key-checking", "strict"]);
    assert_eq!(
        (out.code, out.recap()),
        (0, vec![recap(C, 1, 0), recap(D, 1, 0)])
    );

    // C's recorded key changes: C fails naming file and line, D goes on; also with off.
    let known = lab.read("home/.ssh/known_hosts");
    let line = known
        .lines()
        .position(|l| l.starts_with(C_ADDR))
        .expect("C learnt")
        + 1;
    lab.file(
        "home/.ssh/known_hosts",
        &known.replace(&host_key(C), &host_key(D)),
    );
    let changed = format!(
        "[{C}] host key for {C_ADDR} has changed (known_hosts ~/.ssh/known_hosts:{line}); if \
         this is expected remove the line with: ssh-keygen -R {C_ADDR}"
    );
    for policy in ["accept-new", "strict", "off"] {
        let out = lab.run(&pb, &["--host-key-checking", policy]);
        assert_eq!(out.code, 4, "{policy}");
        assert_eq!(
            out.recap(),
            [unreachable_recap(C), recap(D, 1, 0)],
            "{policy}"
        );
        assert_eq!(out.failure_msgs(), vec![changed.clone()], "{policy}");
    }

    // off: only when asked (flag or variable), and a warning for each host on every run.
    let known: String = lab
        .read("home/.ssh/known_hosts")
        .lines()
        .filter(|l| !l.starts_with(C_ADDR))
        .map(|l| format!("{l}\n"))
        .collect();
    lab.file("home/.ssh/known_hosts", &known);
    let warning = |h: &str, addr: &str| {
        format!(
            "[WARNING]: host key checking is off for {h} ({addr}:22): its identity is not verified"
        )
    };
    for _ in 0..2 {
        let out = lab.run(&pb, &["--host-key-checking", "off"]);
        assert_eq!(
            (out.code, out.recap()),
            (0, vec![recap(C, 1, 0), recap(D, 1, 0)])
        );
        let mut lines: Vec<&str> = out.stderr.lines().collect();
        lines.sort();
        assert_eq!(lines, [warning(C, C_ADDR), warning(D, D_ADDR)]);
    }
    lab.inventory(&format!(
        "{C} ansible_host={C_ADDR} ansible_host_key_checking=false\n{D} ansible_host={D_ADDR}\n\n\
         [all:vars]\nansible_user=root\nansible_ssh_private_key_file={KEY}\n"
    ));
    let out = lab.run(&pb, &[]);
    assert_eq!(out.stderr, warning(C, C_ADDR) + "\n");
    assert_eq!(
        lab.read("home/.ssh/known_hosts"),
        known,
        "off records nothing"
    );

    // StrictHostKeyChecking of ~/.ssh/config applies when nothing else says: D off, C strict.
    lab.inventory(&format!(
        "{C} ansible_host={C_ADDR}\n{D} ansible_host={D_ADDR}\n\n[all:vars]\n\
         ansible_user=root\nansible_ssh_private_key_file={KEY}\n"
    ));
    lab.file(
        "home/.ssh/config",
        &format!(
            "Host {D_ADDR}\n    StrictHostKeyChecking no\nHost *\n    StrictHostKeyChecking yes\n"
        ),
    );
    let out = lab.run(&pb, &[]);
    assert_eq!(out.recap(), [unreachable_recap(C), recap(D, 1, 0)]);
    let mut lines: Vec<&str> = out.stderr.lines().take(1).collect();
    lines.extend(out.stderr.lines().filter(|l| l.starts_with("    msg: ")));
    assert_eq!(
        lines,
        [
            warning(D, D_ADDR),
            format!(
                "    msg: host key for {C_ADDR} is not in known_hosts (~/.ssh/known_hosts, \
                 /etc/ssh/ssh_known_hosts) and host key checking is strict"
            )
        ]
    );
}

#[test]
fn passwords_only_when_asked_and_refusals_name_each_method() {
    if !lab_enabled() || !tmux_present() {
        return;
    }
    let lab = Lab::up("password", &[C]);
    let (code, _) = on_host(
        C,
        "useradd -m -s /bin/sh pwuser && echo 'pwuser:lab-pass-7' | chpasswd && \
         printf 'Match User pwuser\\n    PasswordAuthentication yes\\n' >>/etc/ssh/sshd_config",
    );
    assert_eq!(code, 0);
    lab.restart_sshd(C);
    let other = lab.keygen("other", "");
    let pb = lab.file(
        "home.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: write a file\n      \
         copy:\n        dest: /home/pwuser/pw.txt\n        content: \"by password\\n\"\n",
    );
    let inventory =
        |extra: &str| format!("{C} ansible_host={C_ADDR} ansible_user=pwuser {extra}\n");

    // No password given: none is tried, and the refusal lists what was.
    lab.inventory(&inventory(&format!(
        "ansible_ssh_private_key_file={}",
        other.display()
    )));
    let out = lab.run(&pb, &[]);
    assert_eq!(out.code, 4);
    let tried_key = format!(
        "key {} (refused), agent (SSH_AUTH_SOCK not set), key ~/.ssh/id_ed25519 (not found), \
             key ~/.ssh/id_ecdsa (not found), key ~/.ssh/id_rsa (not found)",
        other.display()
    );
    assert_eq!(
        out.failure_msgs(),
        [format!(
            "[{C}] authentication failed for pwuser@{C_ADDR}:22: tried {tried_key}"
        )]
    );
    lab.inventory(&inventory(&format!(
        "ansible_ssh_private_key_file={} ansible_password=wrong",
        other.display()
    )));
    let out = lab.run(&pb, &[]);
    assert_eq!(
        out.failure_msgs(),
        [format!(
            "[{C}] authentication failed for pwuser@{C_ADDR}:22: tried {tried_key}, password \
             (refused)"
        )]
    );

    // The right password, from the inventory, twice.
    lab.inventory(&inventory("ansible_ssh_pass=lab-pass-7"));
    let out = lab.run(&pb, &[]);
    assert_eq!((out.code, out.recap()), (0, vec![recap(C, 1, 1)]));
    let out = lab.run(&pb, &[]);
    assert_eq!((out.code, out.recap()), (0, vec![recap(C, 1, 0)]));
    assert_eq!(
        on_host(C, "cat /home/pwuser/pw.txt"),
        (0, "by password".into())
    );

    // -k asks on the terminal.
    lab.inventory(&inventory(""));
    let screen = lab.screen("askpass", &pb, "-k");
    screen.wait_for(Duration::from_secs(20), |s| s.contains("SSH password: "));
    screen.send("lab-pass-7");
    let text = screen.wait_for(Duration::from_secs(30), |s| s.contains("EXIT="));
    assert_eq!(screen_recap(&text), [recap(C, 1, 0), "EXIT=0".to_string()]);
}

#[test]
fn encrypted_key_from_an_agent_or_a_prompt() {
    if !lab_enabled() || !tmux_present() {
        return;
    }
    let lab = Lab::up("passphrase", &[C]);
    let key = lab.keygen("locked", "lab phrase 7");
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    let (code, _) = on_host(
        C,
        &format!(
            "install -d -m 0700 /root/.ssh && printf '%s' '{}' >/root/.ssh/authorized_keys && \
             chmod 0600 /root/.ssh/authorized_keys",
            public.trim_end().to_string() + "\n"
        ),
    );
    assert_eq!(code, 0);
    lab.inventory(&format!(
        "{C} ansible_host={C_ADDR} ansible_user=root ansible_ssh_private_key_file={}\n",
        key.display()
    ));
    let pb = lab.file("write.yml", WRITE_FILE);

    // No agent and no terminal: the key is skipped with the reason.
    let out = lab.run(&pb, &[]);
    assert_eq!(
        out.failure_msgs(),
        [format!(
            "[{C}] authentication failed for root@{C_ADDR}:22: tried key {} (encrypted: load it \
             into ssh-agent with ssh-add), agent (SSH_AUTH_SOCK not set), key ~/.ssh/id_ed25519 (not found), \
             key ~/.ssh/id_ecdsa (not found), key ~/.ssh/id_rsa (not found)",
            key.display()
        )]
    );

    // A real ssh-agent holding the key.
    let agent = Agent::start(&lab, &key, "lab phrase 7");
    let out = lab.run_env(&pb, &[], &[("SSH_AUTH_SOCK", agent.socket.as_os_str())]);
    assert_eq!((out.code, out.recap()), (0, vec![recap(C, 1, 1)]));
    drop(agent);

    // The passphrase asked on the terminal; a second run is idempotent.
    let screen = lab.screen("phrase", &pb, "");
    let prompt = format!("Passphrase for key {}: ", key.display());
    screen.wait_for(Duration::from_secs(20), |s| s.contains(&prompt));
    screen.send("lab phrase 7");
    let text = screen.wait_for(Duration::from_secs(30), |s| s.contains("EXIT="));
    assert_eq!(screen_recap(&text), [recap(C, 1, 0), "EXIT=0".to_string()]);
    assert_eq!(
        on_host(C, "cat /root/trust.txt"),
        (0, "written by mestral".into())
    );
}

#[test]
fn sudo_needing_a_password_fails_fast_without_one() {
    if !lab_enabled() {
        return;
    }
    let lab = Lab::up("sudo", &[C]);
    let (code, _) = on_host(
        C,
        // `*`: no password to log in with, yet not locked (sshd refuses locked accounts).
        "usermod -p '*' lab && printf 'lab ALL=(ALL:ALL) ALL\\n' >/etc/sudoers.d/lab && \
         chmod 0440 /etc/sudoers.d/lab",
    );
    assert_eq!(code, 0);
    lab.inventory(&format!(
        "{C} ansible_host={C_ADDR} ansible_user=lab ansible_ssh_private_key_file={KEY}\n"
    ));
    let pb = lab.file(
        "become.yml",
        "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    - name: as root\n      \
         command: id -un\n",
    );
    let started = Instant::now();
    let out = lab.run(&pb, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.code, 2);
    assert_eq!(
        out.recap(),
        [format!(
            "{C:<27}: ok=0    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    \
         ignored=0   "
        )]
    );
    let said = format!("sudo on {C} needs a password: run with -K / --ask-become-pass");
    assert_eq!(
        out.line_starting("fatal: "),
        format!("fatal: [{C}]: FAILED! => {{\"changed\": false, \"msg\": \"{said}\"}}")
    );
    // From outside: this sudo does want a password from lab.
    let (code, sudo) = on_host(C, "cd / && su lab -c 'sudo -n true' 2>&1");
    assert_eq!((code, sudo.as_str()), (1, "sudo: a password is required"));
}
