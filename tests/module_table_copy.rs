//! copy and template as tables, in-process over `connection: local`: (file before, parameters)
//! -> (file after, mode, changed, diff), each row run twice; source trees with and without a
//! trailing slash, a folder as `dest`, backup, validate, and attribute drift fixed in place.

#[path = "module_tables/bed.rs"]
mod bed;

use bed::{diffs_text, Bed, FileRow};
use serde_json::json;

/// (src, dest, files expected under the bed with their bytes)
type TreeRow = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

fn row(
    name: &'static str,
    start: Option<&'static str>,
    args: serde_json::Value,
    want: &'static str,
    mode: u32,
    changed: bool,
) -> FileRow {
    let mut args = args;
    args["dest"] = json!("$D/f");
    FileRow {
        name,
        start,
        args,
        want: Some(want),
        mode,
        changed,
    }
}

#[tokio::test]
async fn copy_content_table() {
    let bed = Bed::new("copy").await;
    let rows = [
        row(
            "new file",
            None,
            json!({"content": "a=1\n"}),
            "a=1\n",
            0o644,
            true,
        ),
        row(
            "new file with mode",
            None,
            json!({"content": "a", "mode": "0600"}),
            "a",
            0o600,
            true,
        ),
        row(
            "same content",
            Some("a=1\n"),
            json!({"content": "a=1\n"}),
            "a=1\n",
            0o644,
            false,
        ),
        row(
            "differing content",
            Some("a=1\n"),
            json!({"content": "a=2\n"}),
            "a=2\n",
            0o644,
            true,
        ),
        row(
            "force no keeps",
            Some("a=1\n"),
            json!({"content": "a=2\n", "force": "no"}),
            "a=1\n",
            0o644,
            false,
        ),
        row(
            "force no creates",
            None,
            json!({"content": "a=2\n", "force": false}),
            "a=2\n",
            0o644,
            true,
        ),
        row(
            "symbolic mode",
            Some("a\n"),
            json!({"content": "a\n", "mode": "u=rw,g=,o="}),
            "a\n",
            0o600,
            true,
        ),
        row(
            "validate accepts",
            Some("bad\n"),
            json!({"content": "good\n",
            "validate": "grep -q good %s"}),
            "good\n",
            0o644,
            true,
        ),
    ];
    for r in &rows {
        bed.file_row("copy", r).await;
    }
    let out = bed.file_row("copy", &rows[3]).await;
    assert_eq!(
        diffs_text(&bed, &out),
        "--- before: $D/f\n+++ after: $D/f\n@@ -1 +1 @@\n-a=1\n+a=2\n"
    );
}

#[tokio::test]
async fn copy_attribute_drift_is_fixed_without_rewriting() {
    let bed = Bed::new("copydrift").await;
    bed.put("f", b"same\n", 0o600);
    let id = bed.identity("f");
    let args = json!({"content": "same\n", "dest": "$D/f", "mode": "0640"});
    let out = bed.twice("drift", "copy", &args, true).await;
    assert_eq!((bed.mode("f"), bed.identity("f")), (0o640, id));
    assert_eq!(
        diffs_text(&bed, &out),
        "--- before\n+++ after\n@@ -1,4 +1,4 @@\n {\n-    \"mode\": \"0600\",\n\
         +    \"mode\": \"0640\",\n     \"path\": \"$D/f\"\n }\n"
    );
    assert_eq!(bed.text("f"), "same\n");
}

#[tokio::test]
async fn copy_backup_and_refusals() {
    let bed = Bed::new("copybak").await;
    bed.put("f", b"old\n", 0o640);
    let out = bed
        .twice(
            "backup",
            "copy",
            &json!({"content": "new\n", "dest": "$D/f",
        "backup": true}),
            true,
        )
        .await;
    let backup = out.values["backup_file"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    assert_eq!(
        (bed.text(backup), bed.text("f"), bed.mode("f")),
        ("old\n".into(), "new\n".into(), 0o640)
    );

    let cases = [
        (
            Some("good\n"),
            json!({"content": "bad\n", "dest": "$D/f",
            "validate": "grep -q good %s"}),
            "failed to validate",
        ),
        (
            Some("x\n"),
            json!({"content": "y\n", "dest": "$D/f", "validate": "true"}),
            "validate must contain %s: true",
        ),
        (
            None,
            json!({"src": "nothere", "dest": "$D/f"}),
            "Could not find or access 'nothere' on the controller",
        ),
        (
            None,
            json!({"content": "x", "dest": "$D/f", "mode": "u=q"}),
            "parameter 'mode' for module 'copy': mode 'u=q' is not a valid symbolic mode: \
             'q' is not a permission",
        ),
    ];
    for (start, args, msg) in cases {
        bed.failing_row("copy", start, &args, msg).await;
    }
}

#[tokio::test]
async fn copy_src_files_and_trees() {
    let bed = Bed::new("copytree").await;
    std::fs::create_dir_all(bed.dir.join("files/tree/sub")).unwrap();
    std::fs::write(bed.dir.join("files/one.txt"), "one\n").unwrap();
    std::fs::write(bed.dir.join("files/tree/a"), "A").unwrap();
    std::fs::write(bed.dir.join("files/tree/sub/b"), "B").unwrap();
    std::fs::create_dir_all(bed.dir.join("existing")).unwrap();
    // (src, dest, files expected under the bed with their bytes)
    let rows: [TreeRow; 5] = [
        ("one.txt", "$D/copy.txt", &[("copy.txt", "one\n")]),
        ("one.txt", "$D/existing", &[("existing/one.txt", "one\n")]),
        ("one.txt", "$D/newdir/", &[("newdir/one.txt", "one\n")]),
        (
            "tree",
            "$D/withdir",
            &[("withdir/tree/a", "A"), ("withdir/tree/sub/b", "B")],
        ),
        (
            "tree/",
            "$D/contents",
            &[("contents/a", "A"), ("contents/sub/b", "B")],
        ),
    ];
    for (src, dest, files) in rows {
        let args = json!({"src": src, "dest": dest});
        bed.twice(src, "copy", &args, true).await;
        for (rel, bytes) in files {
            assert_eq!(bed.text(rel), *bytes, "{src} -> {dest}: {rel}");
        }
    }
    assert_eq!(bed.names("contents"), ["a", "sub"]);
    assert_eq!(bed.names("withdir"), ["tree"]);
}

#[tokio::test]
async fn template_table() {
    let bed = bed::Bed::with_vars("tpl", json!({"users": ["ann", "bob"], "port": 22})).await;
    let sources = [
        ("keeps the final newline", "Port {{ port }}\n", "Port 22\n"),
        ("no final newline stays so", "Port {{ port }}", "Port 22"),
        (
            "trim_blocks on",
            "{% for u in users %}\n{{ u }}\n{% endfor %}\n",
            "ann\nbob\n",
        ),
        (
            "lstrip_blocks off",
            "  {% if port %}\nx\n  {% endif %}\n",
            "  x\n  \n",
        ),
    ];
    for (name, source, want) in sources {
        std::fs::write(bed.dir.join("files/t.j2"), source).unwrap();
        let r = FileRow {
            name,
            start: Some("old\n"),
            args: json!({"src": "t.j2", "dest": "$D/f",
            "mode": "0640"}),
            want: Some(want),
            mode: 0o640,
            changed: true,
        };
        bed.file_row("template", &r).await;
    }
}
