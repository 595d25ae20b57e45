//! The fact cache between runs, in Ansible's jsonfile layout: one JSON object per host in
//! the cache folder, gathered facts under their `ansible_` names and `set_fact` values kept
//! with `cacheable` under their own, and `_ansible_facts_gathered` once facts were gathered.
//! A file older than the timeout is ignored. Files are replaced whole (written beside, then
//! renamed), each time a host's entry changes.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use crate::config::FactCache;
use crate::vars::{Value, Vars};

/// A host's cached facts and cacheable values, if its file is there and fresh.
pub fn load(cache: &FactCache, host: &str) -> Option<Vars> {
    let path = cache.dir.join(host);
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or(Duration::ZERO);
    if cache.timeout > 0 && age > Duration::from_secs(cache.timeout) {
        return None;
    }
    match serde_json::from_str(&std::fs::read_to_string(&path).ok()?) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Writes a host's cache file, creating the folder.
pub fn save(cache: &FactCache, host: &str, values: &Vars) -> Result<()> {
    std::fs::create_dir_all(&cache.dir)
        .with_context(|| format!("fact cache: creating {}", cache.dir.display()))?;
    let path = cache.dir.join(host);
    let text = serde_json::to_string_pretty(&Value::Object(values.clone()))?;
    write_new(&path, &text).with_context(|| format!("fact cache: writing {}", path.display()))
}

/// Writes through a temporary file in the same folder (named for the host and this
/// process), so that a reader, or a run that is killed, never leaves half a file.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.mestral-tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// The marker of an entry whose host had its facts gathered (Ansible's name for it).
pub const GATHERED: &str = "_ansible_facts_gathered";

/// Splits a cache entry into facts (the `ansible_` names, prefix removed) and other values.
pub fn split(entry: &Vars) -> (Vars, Vars) {
    let mut facts = Vars::new();
    let mut values = Vars::new();
    for (k, v) in entry {
        if k == GATHERED {
            continue;
        }
        match k.strip_prefix("ansible_") {
            Some(name) => facts.insert(name.to_string(), v.clone()),
            None => values.insert(k.clone(), v.clone()),
        };
    }
    (facts, values)
}

/// Gathered facts as the cache holds them: under their `ansible_` names.
pub fn prefixed(facts: &Vars) -> Vars {
    facts
        .iter()
        .map(|(k, v)| (format!("ansible_{k}"), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_timeout() {
        let dir = std::env::temp_dir().join(format!("mestral-factcache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = FactCache {
            dir: dir.clone(),
            timeout: 0,
        };
        let mut entry = prefixed(&json!({"hostname": "a"}).as_object().unwrap().clone());
        entry.insert("kept".into(), json!(1));
        entry.insert(GATHERED.into(), json!(true));
        save(&cache, "alpha", &entry).unwrap();
        let loaded = load(&cache, "alpha").unwrap();
        assert_eq!(loaded, entry);
        let (facts, values) = split(&loaded);
        assert_eq!(Value::Object(facts), json!({"hostname": "a"}));
        assert_eq!(Value::Object(values), json!({"kept": 1}));
        assert_eq!(load(&cache, "beta"), None);
        // Nothing but the host's file is left in the folder.
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["alpha".to_string()]);

        // A file older than the timeout is not used.
        std::thread::sleep(Duration::from_millis(1100));
        let short = FactCache {
            dir: dir.clone(),
            timeout: 1,
        };
        assert_eq!(load(&short, "alpha"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
