//! What the file-based targets share: the input written to a file of a per-process scratch
//! folder (the loaders read paths), and the rule that a rejection names that file.

use std::path::PathBuf;

/// Writes `data` to `name` in this process's scratch folder and returns its path.
pub fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mestral-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(name);
    std::fs::write(&path, data).expect("scratch file");
    path
}

/// A rejection must say where: the file's name is in the message.
pub fn assert_located(error: &anyhow::Error, name: &str) {
    let text = format!("{error:#}");
    assert!(text.contains(name), "rejection without its place: {text}");
}
