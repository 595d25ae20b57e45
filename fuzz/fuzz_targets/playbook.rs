//! The YAML playbook loader: any bytes either load or give an error naming the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("pb.yml", data);
    if let Err(e) = mestral::playbook::load_playbook(&path, &[]) {
        common::assert_located(&e, "pb.yml");
    }
});
