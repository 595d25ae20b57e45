//! Helpers for the inventory's tests: a throwaway folder under the system's temporary
//! directory (removed when dropped) and a sample INI inventory written into one.

use std::path::{Path, PathBuf};

use super::Inventory;
use crate::vars::{Value, Vars};

pub(super) struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty folder whose name holds `tag`, the process id and the time.
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("mestral-inv-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary folder can be created");
        TempDir(dir)
    }

    /// Writes `text` to `rel` inside the folder, creating folders on the way.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folder can be created");
        }
        std::fs::write(path, text).expect("file can be written");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn object(v: Value) -> Vars {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// `inventory_file` and `inventory_dir` as `add_host` records them for `file`.
pub(super) fn origin(file: &Path) -> (String, String) {
    let abs = std::path::absolute(file).unwrap();
    (
        abs.display().to_string(),
        abs.parent().unwrap().display().to_string(),
    )
}

pub(super) const SAMPLE: &str = "\
# hosts before any section are ungrouped
lone1 ansible_port=2200
lone2:2201

; another comment
[web]
web[01:03] tier=front weight=1.5 enabled=True note=\"two words\" mode=0644
db-[8:10]:2222

[db]
db-8 primary=true
db-[9:10]

[prod:children]
web
dbs

[dbs:children]
db

[prod:vars]
env=production
retries=3
";

pub(super) fn sample() -> (TempDir, Inventory) {
    let tmp = TempDir::new("sample");
    tmp.write("hosts", SAMPLE);
    let inv = Inventory::load(&[&tmp.0.join("hosts")]).unwrap();
    (tmp, inv)
}
