//! Scenarios for the modules that read or shape the host itself: stat, slurp, fetch,
//! wait_for, assert, fail, pause, get_url, user, group, hostname, service and systemd.

use std::time::{Duration, Instant};

use crate::harness::{attrs, cat, oc, on, on_stdin, playbooks, sh, Lab, Recap, A, B, B_ADDR};

pub fn info(lab: &Lab) {
    sh(
        A,
        "rm -rf /root/m3/info && mkdir -p /root/m3/info && printf 'data 123\\n' > \
         /root/m3/info/data.txt && chown lab:root /root/m3/info/data.txt && \
         chmod 640 /root/m3/info/data.txt",
    );
    let (one, two) = lab.twice("info.yml", A, oc(6, 3), oc(6, 0));
    for task in ["stat a file", "stat a missing path", "slurp a file"] {
        assert_eq!(one.result(task, A), "ok: [m3-a]", "{task}");
    }
    assert_eq!(two.result("fetch flat", A), "ok: [m3-a]");
    let sha1 = sh(A, "sha1sum /root/m3/info/data.txt | cut -d' ' -f1");
    assert_eq!(
        cat(A, "/root/m3/info/report"),
        format!("True True 0640 lab:root 9 {sha1}\nFalse\nbase64 ZGF0YSAxMjMK data 123\n")
    );
    let fetched = lab.local("fetched/m3-a/root/m3/info/data.txt");
    assert_eq!(
        std::fs::read_to_string(fetched).expect("fetched"),
        "data 123\n"
    );
    let flat = lab.local("flat/data.txt");
    assert_eq!(
        std::fs::read_to_string(flat).expect("fetched flat"),
        "data 123\n"
    );
}

/// A web server on B (python3 -m http.server inside the host), serving /root/m3/www.
fn web_server() {
    if on(
        B,
        &format!("python3 -c 'import socket; socket.create_connection((\"{B_ADDR}\", 8000))'"),
    )
    .0 == 0
    {
        return;
    }
    sh(
        B,
        &format!(
            "mkdir -p /root/m3/www && cd /root/m3/www && printf 'payload\\n' > payload.txt && \
             printf 'other\\n' > other.txt && setsid nohup python3 -m http.server 8000 \
             --bind {B_ADDR} >/dev/null 2>&1 </dev/null &"
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let probe =
        format!("python3 -c 'import socket; socket.create_connection((\"{B_ADDR}\", 8000))'");
    while on(B, &probe).0 != 0 {
        assert!(
            Instant::now() < deadline,
            "the web server on {B} never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn wait_for(lab: &Lab) {
    web_server();
    let web = format!("web_host={B_ADDR}");
    let seed = "rm -rf /root/m3/wait && mkdir -p /root/m3/wait && cd /root/m3/wait && \
                printf 'ready=no\\n' > log && touch lock && \
                { (sleep 1; touch flag; echo ready=yes >> log; rm lock) >/dev/null 2>&1 \
                </dev/null & }";
    let ignored = Recap {
        ok: 6,
        ignored: 1,
        ..Recap::default()
    };
    sh(A, seed);
    let start = Instant::now();
    let one = lab.run("wait_for.yml", &["-e", &web]);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "the path was waited for"
    );
    assert_eq!(one.code, Some(0));
    assert_eq!(one.recap(A), ignored.line(A));
    assert_eq!(
        one.results("port that never opens", A),
        [
            "fatal: [m3-a]: FAILED! => {\"elapsed\": 1, \"changed\": false, \"msg\": \"Timeout \
             when waiting for 127.0.0.1:8998\"}",
            "...ignoring"
        ]
    );
    for task in [
        "port open on another host",
        "path appears",
        "path goes away",
    ] {
        assert_eq!(one.result(task, A), "ok: [m3-a]", "{task}");
    }
    let two = lab.run("wait_for.yml", &["-e", &web]);
    assert_eq!((two.code, two.recap(A)), (Some(0), ignored.line(A)));
}

pub fn assert_fail_pause(lab: &Lab) {
    let recap = Recap {
        ok: 3,
        skipped: 1,
        ignored: 1,
        ..Recap::default()
    };
    let start = Instant::now();
    let (one, _) = lab.twice("checks.yml", A, recap, recap);
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "two pauses of a second"
    );
    assert_eq!(one.result("assert holds", A), "ok: [m3-a]");
    assert_eq!(
        one.results("assert fails", A),
        [
            "fatal: [m3-a]: FAILED! => {\"assertion\": \"wanted > 5\", \"evaluated_to\": false, \
             \"changed\": false, \"msg\": \"wanted is 3\"}",
            "...ignoring"
        ]
    );
    assert_eq!(one.result("fail skipped", A), "skipping: [m3-a]");

    sh(A, "rm -f /root/m3/never");
    let out = lab.run("fail.yml", &[]);
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.result("fail with a message", A),
        "fatal: [m3-a]: FAILED! => {\"changed\": false, \"msg\": \"stopped by the play\"}"
    );
    let failed = Recap {
        failed: 1,
        ..Recap::default()
    };
    assert_eq!(out.recap(A), failed.line(A));
    assert!(!out.stdout.contains("TASK [never reached]"));
    assert_eq!(on(A, "test -e /root/m3/never").0, 1);
}

pub fn get_url(lab: &Lab) {
    web_server();
    sh(
        A,
        "rm -rf /root/m3/get && mkdir -p /root/m3/get && printf 'stale\\n' > \
         /root/m3/get/stale.txt",
    );
    let sum = sh(A, "printf 'payload\\n' | sha256sum | cut -d' ' -f1");
    let other_sum = sh(A, "printf 'other\\n' | sha256sum | cut -d' ' -f1");
    let (web, payload) = (format!("web_host={B_ADDR}"), format!("payload_sum={sum}"));
    let flags = ["-e", web.as_str(), "-e", payload.as_str()];
    let recap = |changed| Recap {
        ok: 5,
        changed,
        ignored: 1,
        ..Recap::default()
    };
    let (one, two) = lab.twice_with("get_url.yml", &flags, A, recap(4), recap(0));
    let bad = format!(
        "fatal: [m3-a]: FAILED! => {{\"changed\": false, \"msg\": \"The checksum for \
         /root/m3/get/bad.txt did not match {sum}; it was {other_sum}.\"}}"
    );
    assert_eq!(
        one.results("checksum that does not match", A),
        [bad.as_str(), "...ignoring"]
    );
    assert_eq!(two.result("download forced", A), "ok: [m3-a]");
    let listing = sh(
        A,
        "cd /root/m3/get && for f in *; do echo \"$f $(stat -c '%a %U' $f) $(cat $f)\"; done",
    );
    assert_eq!(
        listing,
        "forced.txt 644 root payload\nother.txt 644 root other\n\
         payload.txt 600 root payload\nstale.txt 644 root payload"
    );
    assert_eq!(
        sh(A, "ls -A /root/m3/get | wc -l"),
        "4",
        "no temporary file left"
    );
}

pub fn users(lab: &Lab) {
    sh(
        A,
        "userdel -r m3user 2>/dev/null; userdel m3sys 2>/dev/null; groupdel m3sys 2>/dev/null; \
         groupdel m3group 2>/dev/null; groupdel m3sysgroup 2>/dev/null; \
         groupadd m3oldgroup && useradd -m m3old && test -d /home/m3old",
    );
    lab.twice("users.yml", A, oc(6, 6), oc(6, 0));
    assert_eq!(
        sh(A, "getent passwd m3user"),
        "m3user:x:3100:3100:M3 User:/home/m3user:/bin/sh"
    );
    assert_eq!(sh(A, "id -Gn m3user"), "m3group lab");
    assert_eq!(attrs(A, "/home/m3user"), "755 m3user:m3group");
    assert_eq!(sh(A, "getent group m3group"), "m3group:x:3100:");
    // system accounts take ids below 1000
    let sys_uid: u32 = sh(A, "id -u m3sys").parse().expect("a uid");
    let sys_gid: u32 = sh(A, "getent group m3sysgroup | cut -d: -f3")
        .parse()
        .expect("a gid");
    assert!(sys_uid < 1000 && sys_gid < 1000, "{sys_uid} {sys_gid}");
    assert_eq!(
        sh(A, "getent passwd m3sys | cut -d: -f6,7"),
        "/home/m3sys:/usr/sbin/nologin"
    );
    assert_eq!(on(A, "test -e /home/m3sys").0, 1);
    assert_eq!(on(A, "getent passwd m3old").0, 2);
    assert_eq!(on(A, "getent group m3oldgroup").0, 2);
    assert_eq!(on(A, "test -e /home/m3old").0, 1);
}

pub fn hostname(lab: &Lab) {
    lab.twice("hostname.yml", B, oc(1, 1), oc(1, 0));
    assert_eq!(sh(B, "hostname"), "m3-b-renamed");
    assert_eq!(cat(B, "/etc/hostname"), "m3-b-renamed\n");
}

/// Pid of the dummy daemon, if it runs.
fn dummyd_pid() -> Option<String> {
    let (code, pid) = on(
        A,
        "kill -0 \"$(cat /run/m3-dummyd.pid)\" 2>/dev/null && cat /run/m3-dummyd.pid",
    );
    (code == 0).then_some(pid)
}

pub fn service_sysv(lab: &Lab) {
    let script = std::fs::read(playbooks().join("initd.sh")).expect("initd.sh");
    let install = "cat > /etc/init.d/m3-dummyd && chmod 755 /etc/init.d/m3-dummyd && \
                   rm -f /run/m3-dummyd.* /etc/rc?.d/[SK]??m3-dummyd";
    assert_eq!(on_stdin(A, install, &script).0, 0);

    lab.twice("service.yml", A, oc(2, 2), oc(2, 0));
    let pid = dummyd_pid().expect("started");
    let links = "ls /etc/rc?.d | grep m3-dummyd | sort | tr '\\n' ' '";
    assert_eq!(
        sh(A, links),
        "K01m3-dummyd K01m3-dummyd K01m3-dummyd S01m3-dummyd \
               S01m3-dummyd S01m3-dummyd S01m3-dummyd "
    );
    assert_eq!(sh(A, "ls /etc/rc2.d | grep m3-dummyd"), "S01m3-dummyd");

    // restarted and reloaded change on every run, as in Ansible
    for run in 1..=2 {
        let out = lab.run("service_bounce.yml", &[]);
        assert_eq!(
            (out.code, out.recap(A)),
            (Some(0), oc(2, 2).line(A)),
            "run {run}"
        );
        assert_eq!(cat(A, "/run/m3-dummyd.reloads"), "reload\n".repeat(run));
    }
    let restarted = dummyd_pid().expect("running after restarts");
    assert_ne!(restarted, pid, "restarted means a new process");

    lab.twice("service_stop.yml", A, oc(1, 1), oc(1, 0));
    assert_eq!(dummyd_pid(), None);
    assert_eq!(sh(A, "ls /etc/rc2.d | grep m3-dummyd"), "K01m3-dummyd");
    assert_eq!(on(A, &format!("kill -0 {restarted}")).0, 1);
}

/// The systemd path on B: /run/systemd/system exists and a stand-in systemctl is
/// bind-mounted over /usr/bin/systemctl in B's own mount namespace only.
pub fn systemd_path(lab: &Lab) {
    let fake = std::fs::read(playbooks().join("fake-systemctl.sh")).expect("fake-systemctl.sh");
    let setup = "cat > /root/fake-systemctl && chmod 755 /root/fake-systemctl && \
                 mount --bind /root/fake-systemctl /usr/bin/systemctl && \
                 mkdir -p /run/systemd/system /etc/systemd/system && \
                 touch /etc/systemd/system/m3unit.service && rm -rf /run/fake-systemd";
    assert_eq!(on_stdin(B, setup, &fake).0, 0);
    let result = std::panic::catch_unwind(|| {
        let recap = |changed| Recap {
            ok: 2,
            changed,
            ignored: 1,
            ..Recap::default()
        };
        let (one, _) = lab.twice("systemd.yml", B, recap(1), recap(0));
        assert_eq!(
            one.results("missing unit", B),
            [
                "fatal: [m3-b]: FAILED! => {\"changed\": false, \"msg\": \"Could not find the \
                 requested service m3missing: host m3-b\"}",
                "...ignoring"
            ]
        );
        let calls = "daemon-reload\nshow -p LoadState --value m3unit\nis-active m3unit\n\
                     is-enabled m3unit\n";
        let missing = "show -p LoadState --value m3missing\nis-active m3missing\n\
                       is-enabled m3missing\n";
        assert_eq!(
            cat(B, "/run/fake-systemd/calls"),
            format!("{calls}start m3unit\nenable m3unit\n{missing}{calls}{missing}")
        );
    });
    sh(
        B,
        "umount /usr/bin/systemctl && rm -rf /run/systemd /etc/systemd/system/m3unit.service",
    );
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
