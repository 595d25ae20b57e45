//! The file module as a table, in-process over `connection: local`: each state from each
//! starting kind -> (kind and mode after, changed, what `--diff` shows), every row run twice.
//! `touch` with `preserve` times changes nothing on the second run and keeps the mtime.

#[path = "module_tables/bed.rs"]
mod bed;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use bed::Bed;
use serde_json::json;

/// What is at `rel`: "absent", "file", "dir", or "link->TARGET".
fn kind(bed: &Bed, rel: &str) -> String {
    match std::fs::symlink_metadata(bed.dir.join(rel)) {
        Err(_) => "absent".into(),
        Ok(m) if m.is_symlink() => {
            let target = std::fs::read_link(bed.dir.join(rel)).unwrap();
            format!("link->{}", target.display()).replace(&*bed.dir.to_string_lossy(), "$D")
        }
        Ok(m) if m.is_dir() => "dir".into(),
        Ok(_) => "file".into(),
    }
}

/// Starting states a row can ask for.
fn prepare(bed: &Bed, start: &str) {
    bed.reset();
    match start {
        "absent" => {}
        "file" => bed.put("p", b"data\n", 0o644),
        "dir" => bed.put("p/inner/x", b"x", 0o644),
        "link" => {
            bed.put("t", b"target\n", 0o644);
            std::os::unix::fs::symlink(bed.path("t"), bed.dir.join("p")).unwrap();
        }
        other => panic!("no start {other}"),
    }
    bed.put("src", b"source\n", 0o640);
}

#[tokio::test]
async fn file_states_table() {
    let bed = Bed::new("file").await;
    // (start, args, kind after, mode after or 0 when not checked, changed, diff before/after)
    let rows = [
        (
            "absent",
            json!({"state": "directory", "mode": "0750"}),
            "dir",
            0o750,
            true,
            Some(("absent", "directory")),
        ),
        ("dir", json!({"state": "directory"}), "dir", 0, false, None),
        (
            "file",
            json!({"state": "file", "mode": "0600"}),
            "file",
            0o600,
            true,
            None,
        ),
        ("file", json!({"state": "file"}), "file", 0o644, false, None),
        (
            "absent",
            json!({"state": "link", "src": "$D/src"}),
            "link->$D/src",
            0,
            true,
            Some(("absent", "link")),
        ),
        (
            "link",
            json!({"state": "link", "src": "$D/src"}),
            "link->$D/src",
            0,
            true,
            Some(("link", "link")),
        ),
        (
            "link",
            json!({"state": "link", "src": "$D/t"}),
            "link->$D/t",
            0,
            false,
            None,
        ),
        (
            "absent",
            json!({"state": "hard", "src": "$D/src"}),
            "file",
            0o640,
            true,
            Some(("absent", "hard")),
        ),
        (
            "file",
            json!({"state": "absent"}),
            "absent",
            0,
            true,
            Some(("file", "absent")),
        ),
        (
            "dir",
            json!({"state": "absent"}),
            "absent",
            0,
            true,
            Some(("directory", "absent")),
        ),
        (
            "link",
            json!({"state": "absent"}),
            "absent",
            0,
            true,
            Some(("link", "absent")),
        ),
        (
            "absent",
            json!({"state": "absent"}),
            "absent",
            0,
            false,
            None,
        ),
        (
            "absent",
            json!({"state": "touch", "mode": "0600", "access_time": "preserve",
            "modification_time": "preserve"}),
            "file",
            0o600,
            true,
            Some(("absent", "touch")),
        ),
        (
            "file",
            json!({"state": "touch", "mode": "u=rw,g=,o=", "access_time": "preserve",
            "modification_time": "preserve"}),
            "file",
            0o600,
            true,
            None,
        ),
    ];
    for (start, args, want_kind, want_mode, changed, diff) in rows {
        prepare(&bed, start);
        let start_mode = std::fs::metadata(bed.dir.join("p")).map(|m| m.mode() & 0o7777);
        let mut args = args;
        args["path"] = json!("$D/p");
        let out = bed
            .twice(&format!("{start} {args}"), "file", &args, changed)
            .await;
        assert_eq!(kind(&bed, "p"), want_kind, "{start} {args}");
        if want_mode != 0 {
            assert_eq!(bed.mode("p"), want_mode, "{start} {args}");
        }
        // a mode change alone shows Ansible's attribute diff; a state change its state diff
        let (attrs, states): (Vec<_>, Vec<_>) = out.diffs.iter().partition(|d| d.path.is_empty());
        let want_attrs = match (diff, start_mode) {
            (None, Ok(from)) if want_mode != 0 && from != want_mode => {
                vec![bed.mode_diff_of("p", false, from, want_mode)]
            }
            _ => Vec::new(),
        };
        let attrs: Vec<_> = attrs.into_iter().cloned().collect();
        assert_eq!(attrs, want_attrs, "{start} {args}: attribute diff");
        let diffs: Vec<(String, String)> = states
            .iter()
            .map(|d| (d.before.clone(), d.after.clone()))
            .collect();
        let want: Vec<(String, String)> = diff
            .map(|(b, a)| (format!("state: {b}\n"), format!("state: {a}\n")))
            .into_iter()
            .collect();
        assert_eq!(diffs, want, "{start} {args}");
    }
}

#[tokio::test]
async fn file_touch_preserve_keeps_times_and_plain_touch_always_changes() {
    let bed = Bed::new("touch").await;
    bed.put("p", b"data\n", 0o644);
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(bed.dir.join("p"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let keep = json!({"path": "$D/p", "state": "touch", "access_time": "preserve",
        "modification_time": "preserve"});
    let out = bed.run("file", &keep).await;
    assert_eq!((out.failed, out.changed), (false, false));
    let mtime = std::fs::metadata(bed.dir.join("p"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(mtime, old);

    // without preserve, touch sets the times now, and says so every time, as Ansible does
    for _ in 0..2 {
        let out = bed
            .run("file", &json!({"path": "$D/p", "state": "touch"}))
            .await;
        assert_eq!((out.failed, out.changed), (false, true));
    }
    let mtime = std::fs::metadata(bed.dir.join("p"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(mtime > old);
}

#[tokio::test]
async fn file_recurse_sets_modes_below_and_refusals() {
    let bed = Bed::new("recurse").await;
    bed.put("d/a", b"a", 0o644);
    bed.put("d/sub/b", b"b", 0o600);
    let args = json!({"path": "$D/d", "state": "directory", "recurse": true,
        "mode": "u=rwX,g=rX,o="});
    bed.twice("recurse", "file", &args, true).await;
    let modes: Vec<u32> = ["d", "d/a", "d/sub", "d/sub/b"]
        .iter()
        .map(|r| bed.mode(r))
        .collect();
    assert_eq!(modes, [0o750, 0o640, 0o750, 0o640]);

    let cases = [
        (
            json!({"path": "$D/none", "state": "file"}),
            "file ($D/none) is absent, cannot continue",
        ),
        (
            json!({"path": "$D/d/a", "state": "directory"}),
            "$D/d/a already exists as a file",
        ),
        (
            json!({"path": "$D/l", "state": "link"}),
            "src is required for state=link",
        ),
        (
            json!({"path": "$D/h", "state": "hard", "src": "$D/nope"}),
            "src does not exist: $D/nope",
        ),
        (
            json!({"path": "$D/d", "state": "file", "recurse": true}),
            "recurse option requires state to be 'directory'",
        ),
        (
            json!({"path": "$D/d/a", "state": "touch", "modification_time": "202401010000"}),
            "modification_time '202401010000' is not supported: mestral takes 'now' or 'preserve'",
        ),
    ];
    for (args, msg) in cases {
        let out = bed.run("file", &args).await;
        let msg = msg.replace("$D", &bed.dir.to_string_lossy());
        assert_eq!(
            (out.failed, out.msg.as_deref()),
            (true, Some(msg.as_str())),
            "{args}"
        );
    }
    assert!(!Path::new(&bed.path("none")).exists());
}
