//! command and shell's `expand_argument_vars` and `strip_empty_ends`, in-process over
//! `connection: local`: each row's stdout, stderr and their `_lines` are what ansible-core
//! 2.19 returns for the same task (checked by hand with its `ansible-playbook -c local`).

#[path = "module_tables/bed.rs"]
mod bed;

use bed::Bed;
use serde_json::{json, Value};

#[tokio::test]
async fn expand_argument_vars_and_strip_empty_ends_table() {
    let bed = Bed::new("cmdargs").await;
    let home = std::env::var("HOME").unwrap();
    let both = format!("{home} {home}");
    let rows: Vec<(&str, &str, Value, &str, &str)> = vec![
        (
            "vars and ~ expanded by default",
            "command",
            json!({"cmd": "echo $HOME ~"}),
            &both,
            "",
        ),
        (
            "expand_argument_vars off",
            "command",
            json!({"cmd": "echo $HOME ~", "expand_argument_vars": false}),
            "$HOME ~",
            "",
        ),
        (
            "argv with expansion off",
            "command",
            json!({"argv": ["echo", "${HOME}"], "expand_argument_vars": "no"}),
            "${HOME}",
            "",
        ),
        (
            "every trailing CR and LF stripped",
            "command",
            json!({"argv": ["printf", "a\n\n\r\n"]}),
            "a",
            "",
        ),
        (
            "strip_empty_ends off keeps them",
            "command",
            json!({"argv": ["printf", "a\n\n\r\n"], "strip_empty_ends": false}),
            "a\n\n\r\n",
            "",
        ),
        (
            "shell stderr stripped",
            "shell",
            json!({"cmd": "printf 'x\\n\\n' >&2"}),
            "",
            "x",
        ),
        (
            "shell stderr kept",
            "shell",
            json!({"cmd": "printf 'x\\n\\n' >&2", "strip_empty_ends": "off"}),
            "",
            "x\n\n",
        ),
    ];
    for (name, module, args, stdout, stderr) in rows {
        let out = bed.run(module, &args).await;
        let lines = |t: &str| json!(t.lines().collect::<Vec<_>>());
        let got = (
            out.failed,
            out.values["stdout"].clone(),
            out.values["stdout_lines"].clone(),
            out.values["stderr"].clone(),
            out.values["stderr_lines"].clone(),
        );
        let want = (
            false,
            json!(stdout),
            lines(stdout),
            json!(stderr),
            lines(stderr),
        );
        assert_eq!(got, want, "{name}");
    }
    // the rows' line lists as ansible-core gave them
    assert_eq!(
        bed.run(
            "command",
            &json!({"argv": ["printf", "a\n\n\r\n"], "strip_empty_ends": false})
        )
        .await
        .values["stdout_lines"],
        json!(["a", "", ""])
    );
}

#[tokio::test]
async fn raw_refuses_command_parameters() {
    let bed = Bed::new("rawargs").await;
    for (key, value) in [
        ("chdir", "/"),
        ("strip_empty_ends", "no"),
        ("expand_argument_vars", "no"),
    ] {
        let out = bed
            .run("raw", &json!({"_raw_params": "true", key: value}))
            .await;
        assert_eq!(
            (out.failed, out.msg.as_deref()),
            (
                true,
                Some("raw: only the command text and 'executable' are allowed")
            ),
            "{key}"
        );
    }
}
