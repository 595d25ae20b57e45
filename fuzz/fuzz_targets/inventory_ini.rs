//! The INI inventory parser: any bytes either load or give an error naming the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("hosts.ini", data);
    if let Err(e) = mestral::inventory::Inventory::load(&[path.as_path()]) {
        common::assert_located(&e, "hosts.ini");
    }
});
