//! blockinfile as a table, in-process over `connection: local`: (file before, parameters) ->
//! (file after, changed, diff), each row run twice. One managed block per marker, updated in
//! place; expected bytes follow Ansible's blockinfile (ansible-core 2.19).

#[path = "module_tables/bed.rs"]
mod bed;

use bed::{Bed, FileRow};
use serde_json::json;

const B: &str = "# BEGIN ANSIBLE MANAGED BLOCK";
const E: &str = "# END ANSIBLE MANAGED BLOCK";

fn row(
    name: &'static str,
    start: Option<&'static str>,
    args: serde_json::Value,
    want: Option<String>,
    changed: bool,
) -> FileRow {
    let mut args = args;
    args["path"] = json!("$D/f");
    // the table's strings live for the whole test
    let want = want.map(|w| &*Box::leak(w.into_boxed_str()));
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
async fn blockinfile_table() {
    let bed = Bed::new("bif").await;
    let with_block: &'static str = Box::leak(format!("a\n{B}\nold\n{E}\nb\n").into_boxed_str());
    let rows = [
        row(
            "appends at the end",
            Some("a\nb\n"),
            json!({"block": "x\ny"}),
            Some(format!("a\nb\n{B}\nx\ny\n{E}\n")),
            true,
        ),
        row(
            "updates in place",
            Some(with_block),
            json!({"block": "new"}),
            Some(format!("a\n{B}\nnew\n{E}\nb\n")),
            true,
        ),
        row(
            "same block",
            Some(with_block),
            json!({"block": "old"}),
            Some(with_block.to_string()),
            false,
        ),
        row(
            "insertbefore BOF",
            Some("a\n"),
            json!({"block": "x", "insertbefore": "BOF"}),
            Some(format!("{B}\nx\n{E}\na\n")),
            true,
        ),
        row(
            "insertafter regex",
            Some("a\nb\nc\n"),
            json!({"block": "x", "insertafter": "^b"}),
            Some(format!("a\nb\n{B}\nx\n{E}\nc\n")),
            true,
        ),
        row(
            "insertbefore regex",
            Some("a\nb\nc\n"),
            json!({"block": "x", "insertbefore": "^b"}),
            Some(format!("a\n{B}\nx\n{E}\nb\nc\n")),
            true,
        ),
        row(
            "marker",
            Some("<p>\n"),
            json!({"block": "<b>x</b>", "marker": "<!-- {mark} -->"}),
            Some("<p>\n<!-- BEGIN -->\n<b>x</b>\n<!-- END -->\n".into()),
            true,
        ),
        row(
            "marker_begin and marker_end",
            Some("a\n"),
            json!({"block": "x",
            "marker": "# {mark} app", "marker_begin": "START", "marker_end": "STOP"}),
            Some("a\n# START app\nx\n# STOP app\n".into()),
            true,
        ),
        row(
            "absent",
            Some(with_block),
            json!({"state": "absent"}),
            Some("a\nb\n".into()),
            true,
        ),
        row(
            "absent without a block",
            Some("a\n"),
            json!({"state": "absent"}),
            Some("a\n".into()),
            false,
        ),
        row(
            "empty block removes",
            Some(with_block),
            json!({"block": ""}),
            Some("a\nb\n".into()),
            true,
        ),
        row(
            "create",
            None,
            json!({"block": "x", "create": true}),
            Some(format!("{B}\nx\n{E}\n")),
            true,
        ),
        row(
            "no final newline",
            Some("a"),
            json!({"block": "x"}),
            Some(format!("a\n{B}\nx\n{E}\n")),
            true,
        ),
    ];
    for r in &rows {
        bed.file_row("blockinfile", r).await;
    }

    // a second marker is a second block; the first stays as it was
    bed.reset();
    bed.put("f", with_block.as_bytes(), 0o644);
    let args = json!({"path": "$D/f", "block": "two", "marker": "# {mark} TWO"});
    bed.twice("second marker", "blockinfile", &args, true).await;
    assert_eq!(
        bed.text("f"),
        format!("{with_block}# BEGIN TWO\ntwo\n# END TWO\n")
    );

    bed.failing_row(
        "blockinfile",
        None,
        &json!({"path": "$D/f", "block": "x"}),
        "Path $D/f does not exist !",
    )
    .await;
}
