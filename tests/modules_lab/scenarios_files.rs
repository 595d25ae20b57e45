//! Scenarios for the modules that write files or run commands: command, shell, raw, copy,
//! template, file, lineinfile, blockinfile, authorized_key. The test seeds each starting
//! state from outside, runs the playbook twice and reads the host's files back from outside.

use crate::harness::{attrs, cat, exists, oc, on, put, sh, Lab, Recap, A};

pub fn commands(lab: &Lab) {
    sh(A, "rm -rf /root/m3/cmd");
    let ignored = Recap {
        ok: 12,
        changed: 6,
        ignored: 2,
        ..Recap::default()
    };
    let (one, two) = lab.twice(
        "commands.yml",
        A,
        ignored,
        Recap {
            changed: 0,
            ..ignored
        },
    );
    for task in [
        "command with creates",
        "command with chdir and stdin",
        "shell pipeline",
        "shell under bash",
        "command with removes",
    ] {
        assert_eq!(one.result(task, A), "changed: [m3-a]", "{task}");
        assert_eq!(two.result(task, A), "ok: [m3-a]", "{task}");
    }
    assert_eq!(
        one.results("failing stage of a pipeline", A),
        [
            "fatal: [m3-a]: FAILED! => {\"rc\": 1, \"stdout_lines\": [], \"stderr_lines\": \
             [\"cat: /nonexistent: No such file or directory\"], \"stdout\": \"\", \"stderr\": \
             \"cat: /nonexistent: No such file or directory\", \"cmd\": \"cat /nonexistent | \
             true\", \"changed\": true, \"msg\": \"non-zero return code\"}",
            "...ignoring"
        ]
    );
    assert_eq!(cat(A, "/root/m3/cmd/stdin.txt"), "from stdin\n");
    assert_eq!(cat(A, "/root/m3/cmd/piped.txt"), "one\ntwo\n");
    assert_eq!(
        cat(A, "/root/m3/cmd/bash.txt"),
        sh(A, "bash -c 'echo ${BASH_VERSINFO[0]}'") + "\n"
    );
    assert_eq!(
        sh(A, "ls -A /root/m3/cmd | tr '\\n' ' '"),
        "bash.txt gone.made piped.txt stdin.txt "
    );
}

const SEED_FILES: &str =
    "rm -rf /root/m3/files; mkdir -p /root/m3/files/d/sub /root/m3/files/junkdir/x
printf 'local\\n' > /root/m3/files/kept.txt
printf 'old\\n' > /root/m3/files/backed.txt
printf 'same\\n' > /root/m3/files/drift.txt; chmod 600 /root/m3/files/drift.txt
printf 'seed\\n' > /root/m3/files/d/sub/seed.txt
printf 'junk\\n' > /root/m3/files/junk
printf 'sym\\n' > /root/m3/files/sym.txt; chmod 600 /root/m3/files/sym.txt";

pub fn files(lab: &Lab) {
    sh(A, SEED_FILES);
    let drift_inode = sh(A, "stat -c %i /root/m3/files/drift.txt");
    let (one, _) = lab.twice("files.yml", A, oc(17, 16), oc(17, 0));
    assert_eq!(
        one.result("copy without force keeps the file", A),
        "ok: [m3-a]"
    );

    // Every file and folder, its mode, owner, link count and type.
    let listing = sh(
        A,
        "cd /root/m3/files && find . ! -name 'backed.txt.*' | sort | while read -r f; do \
         printf '%s %s\\n' \"$(stat -c '%a %U:%G %h %F' \"$f\")\" \"$f\"; done",
    );
    let want = "755 root:root 5 directory .
644 root:root 1 regular file ./backed.txt
640 root:lab 2 regular file ./content.txt
755 root:root 3 directory ./contents
755 root:root 2 directory ./contents/sub
644 root:root 1 regular file ./contents/sub/deep.txt
644 root:root 1 regular file ./contents/top.txt
755 lab:lab 3 directory ./d
750 lab:lab 2 directory ./d/sub
644 lab:lab 1 regular file ./d/sub/seed.txt
644 root:root 1 regular file ./drift.txt
640 root:lab 2 regular file ./hard
755 root:root 3 directory ./itself
755 root:root 3 directory ./itself/tree
755 root:root 2 directory ./itself/tree/sub
644 root:root 1 regular file ./itself/tree/sub/deep.txt
644 root:root 1 regular file ./itself/tree/top.txt
644 root:root 1 regular file ./kept.txt
777 root:root 1 symbolic link ./link
644 root:root 1 regular file ./motd.txt
644 root:root 1 regular file ./sshd.conf
644 root:root 1 regular file ./sym.txt
600 root:root 1 regular empty file ./touched
644 root:root 1 regular file ./valid.conf";
    assert_eq!(listing, want);

    let f = |name: &str| cat(A, &format!("/root/m3/files/{name}"));
    assert_eq!(f("content.txt"), "hello\nworld\n");
    assert_eq!(f("motd.txt"), "Welcome to the lab\n");
    assert_eq!(f("contents/sub/deep.txt"), "deep\n");
    assert_eq!(f("itself/tree/top.txt"), "top\n");
    assert_eq!(f("kept.txt"), "local\n");
    assert_eq!(f("backed.txt"), "new\n");
    assert_eq!(sh(A, "cat /root/m3/files/backed.txt.*~"), "old");
    assert_eq!(sh(A, "ls /root/m3/files | grep -c '^backed.txt.'"), "1");
    assert_eq!(f("valid.conf"), "key=1\n");
    assert_eq!(f("drift.txt"), "same\n");
    assert_eq!(
        sh(A, "stat -c %i /root/m3/files/drift.txt"),
        drift_inode,
        "mode fixed in place"
    );
    // trim_blocks, and the template's two final newlines kept as Ansible keeps them
    assert_eq!(
        f("sshd.conf"),
        "Host m3-a\nGSSAPIAuthentication yes\nPort 22\nPort 2222\nUseDNS no\n\n"
    );
    assert_eq!(
        sh(A, "readlink /root/m3/files/link"),
        "/root/m3/files/content.txt"
    );
    assert_eq!(
        sh(A, "stat -c %i /root/m3/files/hard"),
        sh(A, "stat -c %i /root/m3/files/content.txt")
    );
    assert!(!exists(A, "/root/m3/files/junk"));
    assert!(!exists(A, "/root/m3/files/junkdir"));
    assert_eq!(attrs(A, "/root/m3/files/touched"), "600 root:root");
}

const SEED_LINES: &str = "rm -rf /root/m3/lines; mkdir -p /root/m3/lines; cd /root/m3/lines
printf 'alpha\\nmode=old\\nomega\\n' > case1.conf
printf 'UsePAM yes\\nUseDNS no' > case2.conf
printf 'a=1\\r\\nb=2\\r\\n' > case3.conf
for f in hosts1 hosts2 hosts3; do
  printf '127.0.0.1 localhost\\n10.0.0.1 oldname\\n10.0.0.12 node12\\n' > $f
done
printf 'Port 22\\nPermitRootLogin yes\\n' > sshd.conf
printf '[main]\\nx=1\\n[other]\\n' > ini.conf
printf '# a\\nx\\n# b\\n' > first.conf
printf 'port=80\\n' > port.conf
printf 'keep\\ntmp1\\ntmp2\\n' > tmp.conf
printf 'x\\n' > backed.conf
printf 'top\\nbottom\\n' > block.conf
B='# BEGIN ANSIBLE MANAGED BLOCK'; E='# END ANSIBLE MANAGED BLOCK'
printf 'a\\n%s\\nold\\n%s\\nz\\n' \"$B\" \"$E\" > update.conf
cp update.conf remove.conf";

pub fn lines(lab: &Lab) {
    sh(A, SEED_LINES);
    let (one, two) = lab.twice("lines.yml", A, oc(20, 20), oc(20, 0));
    let task = "case 1 regexp replaced once in a loop of four";
    assert_eq!(
        one.results(task, A),
        [
            "changed: [m3-a] => (item=1)",
            "ok: [m3-a] => (item=2)",
            "ok: [m3-a] => (item=3)",
            "ok: [m3-a] => (item=4)"
        ]
    );
    assert_eq!(two.results(task, A)[0], "ok: [m3-a] => (item=1)");

    let f = |name: &str| cat(A, &format!("/root/m3/lines/{name}"));
    let node1 = "10.0.0.1 node1.example.internal node1";
    let block = |name: &str, body: &str| {
        format!("# BEGIN ANSIBLE MANAGED BLOCK{name}\n{body}# END ANSIBLE MANAGED BLOCK{name}\n")
    };
    let cases: &[(&str, String)] = &[
        ("case1.conf", "alpha\nmode=new\nomega\n".into()),
        (
            "case2.conf",
            "UsePAM yes\nUseDNS no\nClientAliveInterval 15\n".into(),
        ),
        ("case3.conf", "a=1\r\nb=3\r\n".into()),
        (
            "hosts1",
            format!("127.0.0.1 localhost\n{node1}\n10.0.0.12 node12\n"),
        ),
        (
            "hosts2",
            format!("127.0.0.1 localhost\n10.0.0.1 oldname\n{node1}\n"),
        ),
        (
            "hosts3",
            format!("127.0.0.1 localhost\n10.0.0.1 oldname\n10.0.0.12 node12\n{node1}\n"),
        ),
        (
            "sshd.conf",
            "# managed\nPort 22\nPermitRootLogin no\n".into(),
        ),
        ("ini.conf", "[main]\ny=2\nx=1\n[other]\n".into()),
        ("first.conf", "# a\nnew\nx\n# b\n".into()),
        ("port.conf", "port=80 # was 80\n".into()),
        ("tmp.conf", "keep\n".into()),
        ("created.conf", "created\n".into()),
        ("valid.conf", "valid=1\n".into()),
        ("backed.conf", "x\ny\n".into()),
        (
            "block.conf",
            format!(
                "<!-- START app -->\nhdr\n<!-- STOP app -->\ntop\n{}bottom\n",
                block("", "one\ntwo\n")
            ),
        ),
        ("update.conf", format!("a\n{}z\n", block("", "new\n"))),
        ("remove.conf", "a\nz\n".into()),
        ("new.conf", block("", "made\n")),
    ];
    for (name, want) in cases {
        assert_eq!(&f(name), want, "{name}");
    }
    assert_eq!(attrs(A, "/root/m3/lines/created.conf"), "600 root:root");
    assert_eq!(sh(A, "cat /root/m3/lines/backed.conf.*~"), "x");
}

const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOaDQ5+bznNKImvjoXceDTMCwE58V3vAhYRrzwaeWbvb";
const K2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICT0+HPgIdG844lXvItnqhMd+9V8X09DEbZINTPrKuzZ";
const K3: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPakbGAUV8cvEGLbqHW3LmgO8sIEYXz7fN79LfIiz+gE";
const K4: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID4FcBt9T9tO9DtsrvzYAVMafxkiHv1vgVW6T0RyTwRb";
const K5: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJttqglRA3vxAOpiPA1gTbQA3stz4AOCRk+wZfF7xeF9";

pub fn authorized_key(lab: &Lab) {
    sh(
        A,
        "rm -rf /root/.ssh /home/lab/.ssh && mkdir -m 700 /home/lab/.ssh",
    );
    put(
        A,
        "/home/lab/.ssh/authorized_keys",
        &format!("{K1}\n{K5} old\n"),
    );
    sh(
        A,
        "chown -R lab:lab /home/lab/.ssh && chmod 600 /home/lab/.ssh/authorized_keys",
    );
    let (one, _) = lab.twice("authorized_key.yml", A, oc(4, 3), oc(4, 0));
    assert_eq!(one.result("case 5 first key again", A), "ok: [m3-a]");
    assert_eq!(
        cat(A, "/home/lab/.ssh/authorized_keys"),
        format!("{K1}\n{K2} second@lab\n")
    );
    let options = "no-pty,from=\"172.30.8.1\"";
    assert_eq!(
        cat(A, "/root/.ssh/authorized_keys"),
        format!("{options} {K3} set-by-play\n{options} {K4} set-by-play\n")
    );
    assert_eq!(attrs(A, "/root/.ssh"), "700 root:root");
    assert_eq!(attrs(A, "/root/.ssh/authorized_keys"), "600 root:root");
    assert_eq!(attrs(A, "/home/lab/.ssh/authorized_keys"), "600 lab:lab");
    assert_eq!(
        on(A, "grep -c AAAAIJtt /home/lab/.ssh/authorized_keys"),
        (1, "0".into())
    );
}
