//! Every module and controller action refuses a misspelt parameter with "did you mean", a
//! mistyped or missing one with its name, when the playbook loads and before any host is
//! contacted (a loopback port records any connection). Values that hold templates are
//! typed when the task runs, with the same message.

#[path = "module_tables/cli.rs"]
mod cli;

use cli::{stderr, stdout, Probe, Scratch};

/// A playbook whose second task calls `module` with `args` (YAML lines at 8 spaces).
fn playbook(module: &str, args: &str) -> String {
    format!(
        "- hosts: far\n  gather_facts: false\n  tasks:\n    - name: first\n      ping:\n\
         \x20   - name: bad\n      {module}:\n{args}"
    )
}

/// Runs the playbook; it must stop with exit 1, nothing on stdout, the host untouched.
fn refused(s: &Scratch, probe: &Probe, module: &str, args: &str) -> String {
    s.write("pb.yml", &playbook(module, args));
    let out = s.mestral(&["-i", "inv.ini", "pb.yml"]);
    assert_eq!(
        (out.status.code(), stdout(&out)),
        (Some(1), String::new()),
        "{module}"
    );
    assert!(!probe.contacted(), "{module}: the host was contacted");
    stderr(&out)
}

#[test]
fn every_module_refuses_a_misspelt_parameter_with_a_suggestion_before_the_host() {
    let rows = [
        ("command", "chdr", "chdir"),
        ("shell", "creats", "creates"),
        ("raw", "executabel", "executable"),
        ("copy", "dets", "dest"),
        ("ansible.builtin.template", "srcc", "src"),
        ("file", "stat", "state"),
        ("lineinfile", "insertafer", "insertafter"),
        ("blockinfile", "marker_begn", "marker_begin"),
        ("ansible.posix.authorized_key", "exclusiv", "exclusive"),
        ("fetch", "flatt", "flat"),
        ("get_url", "checksun", "checksum"),
        ("hostname", "nme", "name"),
        ("pause", "secnds", "seconds"),
        ("wait_for", "timout", "timeout"),
        ("slurp", "srcs", "src"),
        ("stat", "get_checksm", "get_checksum"),
        ("openssh_keypair", "sze", "size"),
        ("apt", "update_cach", "update_cache"),
        ("package", "nam", "name"),
        ("service", "enabeld", "enabled"),
        ("systemd", "daemon_relaod", "daemon_reload"),
        ("ping", "dat", "data"),
        ("setup", "gather_subsets", "gather_subset"),
        ("user", "shel", "shell"),
        ("group", "gidd", "gid"),
        (
            "community.docker.docker_swarm",
            "advertise_adr",
            "advertise_addr",
        ),
        ("docker_image", "tagg", "tag"),
        ("docker_image_copy", "source_hots", "source_host"),
        ("docker_swarm_service", "replica", "replicas"),
        ("debug", "mgs", "msg"),
        ("fail", "mesg", "msg"),
        ("assert", "fail_mgs", "fail_msg"),
        ("include_vars", "fiel", "file"),
        ("meta", "free_fom", "free_form"),
    ];
    let s = Scratch::new("params");
    let probe = Probe::new();
    s.write("inv.ini", &probe.inventory());
    for (module, typo, meant) in rows {
        let short = module.rsplit('.').next().unwrap();
        let got = refused(&s, &probe, module, &format!("        {typo}: x\n"));
        assert_eq!(
            got,
            format!(
                "ERROR! pb.yml:8:9: unknown parameter '{typo}' for module '{short}'; \
                 did you mean '{meant}'?\n            {typo}: x\n            ^\n"
            ),
            "{module}"
        );
    }
}

#[test]
fn wrong_types_missing_and_unsupported_parameters_are_refused_at_their_line() {
    let rows = [
        (
            "copy",
            "        content: x\n        dest: /tmp/x\n        force: maybe\n",
            "pb.yml:10:9: parameter 'force' for module 'copy': 'maybe' is not a valid boolean\n\
             \x20           force: maybe\n            ^\n",
        ),
        (
            "debug",
            "        msg: hi\n        verbosity: high\n",
            "pb.yml:9:9: parameter 'verbosity' for module 'debug': 'high' is not a valid \
             integer\n            verbosity: high\n            ^\n",
        ),
        (
            "assert",
            "        fail_msg: no\n",
            "pb.yml:6: missing required parameter 'that' for module 'assert'\n",
        ),
        (
            "set_fact",
            "        app-port: 80\n",
            "pb.yml:6: module 'set_fact': 'app-port' is not a valid variable name (letters, \
             digits and underscores, not starting with a digit)\n",
        ),
        (
            "shell",
            "        cmd: ls\n        warn: false\n",
            "pb.yml:9:9: unknown parameter 'warn' for module 'shell'; ansible-core removed it \
             in 2.14 and refuses it too; delete it\n            warn: false\n            ^\n",
        ),
        (
            "include_vars",
            "        dir: vars\n",
            "pb.yml:8:9: parameter 'dir' of module 'include_vars' is not supported by mestral \
             (see docs/modules.md)\n            dir: vars\n            ^\n",
        ),
        (
            "copy",
            "        dest: /tmp/x\n        content: \"{{ text }}\"\n        ownr: root\n",
            "pb.yml:10:9: unknown parameter 'ownr' for module 'copy'; did you mean 'owner'?\n\
             \x20           ownr: root\n            ^\n",
        ),
    ];
    let s = Scratch::new("paramtypes");
    let probe = Probe::new();
    s.write("inv.ini", &probe.inventory());
    for (module, args, want) in rows {
        assert_eq!(
            refused(&s, &probe, module, args),
            format!("ERROR! {want}"),
            "{module}"
        );
    }
}

#[test]
fn k_v_command_warn_is_taken_as_a_parameter_and_refused() {
    let s = Scratch::new("paramwarn");
    let probe = Probe::new();
    s.write("inv.ini", &probe.inventory());
    s.write(
        "pb.yml",
        "- hosts: far\n  gather_facts: false\n  tasks:\n    - command: ls /tmp warn=no\n",
    );
    let out = s.mestral(&["-i", "inv.ini", "pb.yml"]);
    assert_eq!(
        (out.status.code(), stderr(&out)),
        (
            Some(1),
            "ERROR! pb.yml:4:24: unknown parameter 'warn' for module 'command'; ansible-core \
             removed it in 2.14 and refuses it too; delete it\n    \
             \x20   - command: ls /tmp warn=no\n                           ^\n"
                .to_string()
        )
    );
    assert!(!probe.contacted());
}

/// A templated value is typed when the task runs: the task fails with the same message.
#[test]
fn templated_values_are_typed_when_the_task_runs() {
    let s = Scratch::new("paramrun");
    s.write(
        "pb.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  vars:\n    level: high\n\
         \x20 tasks:\n    - debug:\n        msg: hi\n        verbosity: \"{{ level }}\"\n",
    );
    let out = s.mestral(&["-i", "localhost,", "pb.yml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[4],
        "fatal: [localhost]: FAILED! => {\"changed\": false, \"msg\": \"parameter 'verbosity' \
         for module 'debug': 'high' is not a valid integer\"}"
    );
}

/// `debug: verbosity: N` shows the message only from `-v` N times on, as Ansible does.
#[test]
fn debug_verbosity_skips_below_the_threshold() {
    let s = Scratch::new("paramverb");
    s.write(
        "pb.yml",
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n\
         \x20   - debug:\n        msg: deep\n        verbosity: 1\n",
    );
    let quiet = s.mestral(&["-i", "localhost,", "pb.yml"]);
    let loud = s.mestral(&["-i", "localhost,", "-v", "pb.yml"]);
    let task_lines = |out: &std::process::Output, n: usize| -> Vec<String> {
        let text = stdout(out);
        text.lines().skip(4).take(n).map(str::to_string).collect()
    };
    assert_eq!(task_lines(&quiet, 2), ["skipping: [localhost]", ""]);
    assert_eq!(
        task_lines(&loud, 4),
        ["ok: [localhost] => {", "    \"msg\": \"deep\"", "}", ""]
    );
}
