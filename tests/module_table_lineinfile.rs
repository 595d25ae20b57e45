//! lineinfile as a table, in-process over `connection: local`: (file before, parameters) ->
//! (file after, mode, changed, diff), each row run twice. Expected bytes follow Ansible's
//! lineinfile (ansible-core 2.19), except the kept CRLF line ending (see docs/modules.md).

#[path = "module_tables/bed.rs"]
mod bed;

use bed::{diffs_text, Bed, FileRow};
use serde_json::json;

fn row(
    name: &'static str,
    start: Option<&'static str>,
    args: serde_json::Value,
    want: Option<&'static str>,
    changed: bool,
) -> FileRow {
    let mut args = args;
    args["path"] = json!("$D/f");
    FileRow {
        name,
        start,
        args,
        want,
        mode: 0o644,
        changed,
    }
}

#[tokio::test]
async fn lineinfile_table() {
    let bed = Bed::new("lif").await;
    let abac = Some("a\nb\na\nc\n");
    let rows = [
        row(
            "regexp replaces",
            Some("a\nPort 22\nb\n"),
            json!({"regexp": "^Port ", "line": "Port 2222"}),
            Some("a\nPort 2222\nb\n"),
            true,
        ),
        row(
            "regexp last match wins",
            Some("a=1\na=2\n"),
            json!({"regexp": "^a=", "line": "a=0"}),
            Some("a=1\na=0\n"),
            true,
        ),
        row(
            "regexp firstmatch",
            Some("a=1\na=2\n"),
            json!({"regexp": "^a=", "line": "a=0", "firstmatch": "yes"}),
            Some("a=0\na=2\n"),
            true,
        ),
        row(
            "regexp no match appends",
            Some("a\n"),
            json!({"regexp": "^z", "line": "z=1"}),
            Some("a\nz=1\n"),
            true,
        ),
        row(
            "exact line present",
            Some("a\nb\n"),
            json!({"line": "a"}),
            Some("a\nb\n"),
            false,
        ),
        row(
            "insertafter EOF",
            Some("a\n"),
            json!({"line": "z", "insertafter": "EOF"}),
            Some("a\nz\n"),
            true,
        ),
        row(
            "insertbefore BOF",
            Some("a\n"),
            json!({"line": "z", "insertbefore": "BOF"}),
            Some("z\na\n"),
            true,
        ),
        row(
            "insertafter regex last",
            abac,
            json!({"line": "x", "insertafter": "^a"}),
            Some("a\nb\na\nx\nc\n"),
            true,
        ),
        row(
            "insertafter regex firstmatch",
            abac,
            json!({"line": "x", "insertafter": "^a", "firstmatch": true}),
            Some("a\nx\nb\na\nc\n"),
            true,
        ),
        row(
            "insertbefore regex last",
            abac,
            json!({"line": "x", "insertbefore": "^a"}),
            Some("a\nb\nx\na\nc\n"),
            true,
        ),
        row(
            "insertbefore regex firstmatch",
            abac,
            json!({"line": "x", "insertbefore": "^a", "firstmatch": "on"}),
            Some("x\na\nb\na\nc\n"),
            true,
        ),
        row(
            "insertafter no match goes to the end",
            Some("a\n"),
            json!({"line": "x", "insertafter": "^nothing"}),
            Some("a\nx\n"),
            true,
        ),
        row(
            "regexp missing, insertbefore used",
            Some("Listen 80\n"),
            json!({"regexp": "^ServerName", "insertbefore": "^Listen", "line": "ServerName x"}),
            Some("ServerName x\nListen 80\n"),
            true,
        ),
        row(
            "backrefs",
            Some("JAVA=\"-Xmx1g\"\n"),
            json!({"regexp": "^JAVA=\"(-Xmx\\S+)\"$", "line": "JAVA=\"\\1 -Dx\"",
                "backrefs": true}),
            Some("JAVA=\"-Xmx1g -Dx\"\n"),
            true,
        ),
        row(
            "backrefs without match changes nothing",
            Some("a\n"),
            json!({"regexp": "^NOPE=(.*)$", "line": "NOPE=\\1", "backrefs": "True"}),
            Some("a\n"),
            false,
        ),
        row(
            "search_string replaces",
            Some("a\nfoo.bar=1\n"),
            json!({"search_string": "foo.bar=", "line": "foo.bar=2"}),
            Some("a\nfoo.bar=2\n"),
            true,
        ),
        row(
            "search_string is literal",
            Some("a\nfooXbar=1\n"),
            json!({"search_string": "foo.bar=", "line": "foo.bar=2"}),
            Some("a\nfooXbar=1\nfoo.bar=2\n"),
            true,
        ),
        row(
            "absent by regexp removes every match",
            Some("a\nrm1\nb\nrm2\n"),
            json!({"regexp": "^rm", "state": "absent"}),
            Some("a\nb\n"),
            true,
        ),
        row(
            "absent by line",
            Some("a\nb\n"),
            json!({"line": "b", "state": "absent"}),
            Some("a\n"),
            true,
        ),
        row(
            "absent by search_string",
            Some("x1\ny\nx2\n"),
            json!({"search_string": "x", "state": "absent"}),
            Some("y\n"),
            true,
        ),
        row(
            "absent on a missing file",
            None,
            json!({"line": "b", "state": "absent"}),
            None,
            false,
        ),
        row(
            "no final newline",
            Some("a"),
            json!({"line": "b"}),
            Some("a\nb\n"),
            true,
        ),
        row(
            "create",
            None,
            json!({"line": "x", "create": "yes"}),
            Some("x\n"),
            true,
        ),
        row(
            "validate accepts",
            Some("x=1\n"),
            json!({"regexp": "^x=", "line": "x=good", "validate": "grep -q good %s"}),
            Some("x=good\n"),
            true,
        ),
    ];
    for r in &rows {
        bed.file_row("lineinfile", r).await;
    }

    // create with a mode; a mode-only change keeps the file (same inode and mtime), no diff
    let created = FileRow {
        mode: 0o600,
        ..row(
            "create with mode",
            None,
            json!({"line": "x", "create": true, "mode": "0600"}),
            Some("x\n"),
            true,
        )
    };
    bed.file_row("lineinfile", &created).await;
    let id = bed.identity("f");
    let moded = bed
        .twice(
            "mode only",
            "lineinfile",
            &json!({"path": "$D/f", "line": "x", "mode": "0640"}),
            true,
        )
        .await;
    assert_eq!(
        (bed.mode("f"), bed.identity("f"), moded.diffs),
        (0o640, id, vec![bed.mode_diff(true, 0o600, 0o640)])
    );

    // the diff as --diff prints it
    let out = bed.file_row("lineinfile", &rows[0]).await;
    assert_eq!(
        diffs_text(&bed, &out),
        "--- before: $D/f\n+++ after: $D/f\n@@ -1,3 +1,3 @@\n a\n-Port 22\n+Port 2222\n b\n"
    );
}

#[tokio::test]
async fn lineinfile_backup_keeps_the_old_bytes() {
    let bed = Bed::new("lifbak").await;
    bed.put("f", b"x=1\n", 0o640);
    let args = json!({"path": "$D/f", "regexp": "^x=", "line": "x=2", "backup": true});
    let out = bed.twice("backup", "lineinfile", &args, true).await;
    let backup = out.values["backup"].as_str().unwrap();
    let backup_name = backup.rsplit('/').next().unwrap();
    assert_eq!(bed.text(backup_name), "x=1\n");
    assert_eq!((bed.text("f"), bed.mode("f")), ("x=2\n".to_string(), 0o640));
    assert_eq!(bed.names("").len(), 3, "{:?}", bed.names(""));
}

#[tokio::test]
async fn lineinfile_refusals() {
    let bed = Bed::new("liffail").await;
    let cases = [
        (
            None,
            json!({"path": "$D/f", "line": "x"}),
            "Destination $D/f does not exist !",
        ),
        (
            Some("x=1\n"),
            json!({"path": "$D/f", "regexp": "^x=", "line": "x=bad",
            "validate": "grep -q good %s"}),
            "failed to validate",
        ),
        (
            Some("a\n"),
            json!({"path": "$D/f", "line": "x", "validate": "true"}),
            "validate must contain %s: true",
        ),
        (
            Some("a\n"),
            json!({"path": "$D/f", "regexp": "a", "search_string": "a", "line": "x"}),
            "parameters are mutually exclusive: regexp|search_string",
        ),
        (
            Some("a\n"),
            json!({"path": "$D/f", "insertafter": "a", "insertbefore": "a", "line": "x"}),
            "parameters are mutually exclusive: insertafter|insertbefore",
        ),
        (
            Some("a\n"),
            json!({"path": "$D/f", "backrefs": true, "line": "x"}),
            "regexp is required with backrefs=true",
        ),
        (
            Some("a\n"),
            json!({"path": "$D/f", "regexp": "a"}),
            "state is present but all of the following are missing: line",
        ),
        (
            Some("a\n"),
            json!({"path": "$D/f", "line": "x", "insertafter": "("}),
            "insertafter '(' is not a valid regular expression: regex parse error:\n    (\n    ^\n\
             error: unclosed group",
        ),
    ];
    for (start, args, msg) in cases {
        bed.failing_row("lineinfile", start, &args, msg).await;
    }
}
