//! authorized_key as a table, in-process over `connection: local`: (authorized_keys before,
//! parameters) -> (after, mode, changed, diff), each row run twice. A key is its type and
//! blob: options and comment are attributes of the line, never its identity.

#[path = "module_tables/bed.rs"]
mod bed;

use bed::{Bed, FileRow};
use serde_json::json;

const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const K2: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQK2bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const K3: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK3cccccccccccccccccccccccccccccccccccc";

fn me() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn s(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn row(name: &'static str, start: String, args: serde_json::Value, want: String) -> FileRow {
    let mut args = args;
    args["path"] = json!("$D/f");
    args["user"] = json!(me());
    args["manage_dir"] = json!(false);
    let changed = start != want;
    FileRow {
        name,
        start: Some(s(start)),
        args,
        want: Some(s(want)),
        mode: 0o600,
        changed,
    }
}

#[tokio::test]
async fn authorized_key_table() {
    let bed = Bed::new("akt").await;
    let rows = [
        row(
            "into an empty file",
            String::new(),
            json!({"key": K1}),
            format!("{K1}\n"),
        ),
        row(
            "second key with a comment appended",
            format!("{K1}\n"),
            json!({"key": format!("{K2} ops@laptop")}),
            format!("{K1}\n{K2} ops@laptop\n"),
        ),
        row(
            "the same key again",
            format!("{K1}\n{K2} c\n"),
            json!({"key": K1}),
            format!("{K1}\n{K2} c\n"),
        ),
        row(
            "a new comment renames the key in place",
            format!("{K1} old\n{K2}\n"),
            json!({"key": format!("{K1} new")}),
            format!("{K1} new\n{K2}\n"),
        ),
        row(
            "key_options",
            format!("{K1}\n"),
            json!({"key": K1, "key_options": "no-pty"}),
            format!("no-pty {K1}\n"),
        ),
        row(
            "options with a quoted comma",
            format!("{K2}\n"),
            json!({"key": K1, "key_options": "no-port-forwarding,from=\"10.0.0.1,10.0.0.2\""}),
            format!("{K2}\nno-port-forwarding,from=\"10.0.0.1,10.0.0.2\" {K1}\n"),
        ),
        row(
            "comment parameter",
            format!("{K1}\n"),
            json!({"key": K1, "comment": "renamed"}),
            format!("{K1} renamed\n"),
        ),
        row(
            "several keys at once",
            format!("{K3} x\n"),
            json!({"key": format!("{K1}\n{K2} c2")}),
            format!("{K3} x\n{K1}\n{K2} c2\n"),
        ),
        row(
            "exclusive keeps only the given keys",
            format!("{K1}\n{K3} x\n"),
            json!({"key": format!("{K1}\n{K2} c2"), "exclusive": true}),
            format!("{K1}\n{K2} c2\n"),
        ),
        row(
            "absent",
            format!("{K1}\n{K2} c2\n"),
            json!({"key": K2, "state": "absent"}),
            format!("{K1}\n"),
        ),
        row(
            "absent by blob whatever the comment",
            format!("{K1} a\n"),
            json!({"key": format!("{K1} b"), "state": "absent"}),
            String::new(),
        ),
        row(
            "absent when missing",
            format!("{K1}\n"),
            json!({"key": K2, "state": "absent"}),
            format!("{K1}\n"),
        ),
    ];
    for r in &rows {
        bed.file_row_from("authorized_key", r, 0o600).await;
    }

    // a file open to others is made private, and that is reported as a change (Ansible
    // fixes the mode silently)
    let loose = FileRow {
        changed: true,
        ..row(
            "mode fixed",
            format!("{K1}\n"),
            json!({"key": K1}),
            format!("{K1}\n"),
        )
    };
    bed.file_row_from("authorized_key", &loose, 0o644).await;
}

#[tokio::test]
async fn authorized_key_manage_dir_makes_the_folder_and_file_private() {
    let bed = Bed::new("akdir").await;
    let args = json!({"user": me(), "key": K1, "path": "$D/ssh/authorized_keys"});
    bed.twice("manage_dir", "authorized_key", &args, true).await;
    assert_eq!(bed.text("ssh/authorized_keys"), format!("{K1}\n"));
    assert_eq!(
        (bed.mode("ssh"), bed.mode("ssh/authorized_keys")),
        (0o700, 0o600)
    );
}
