//! The template renderer: any text renders or gives an error; neither panics nor hangs
//! (libFuzzer's -timeout catches a hang). Variables of several types are in scope.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mestral::template::Templar;
use mestral::vars::{HostVarsMap, Scope};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars = match serde_json::json!({
        "n": 3, "s": "text", "l": [1, "two", null], "m": {"a": {"b": [true]}},
        "self_ref": "{{ self_ref }}", "inventory_hostname": "h1",
    }) {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    };
    let mut hostvars = HostVarsMap::new();
    hostvars.insert("h1".to_string(), Arc::new(vars.clone()));
    let scope = Scope::new(vars, Arc::new(hostvars));
    let templar = Templar::new();
    let _ = templar.render_str(text, &scope);
    let _ = templar.eval(text, &scope);
});
