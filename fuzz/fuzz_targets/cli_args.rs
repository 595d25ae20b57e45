//! Command line parsing: the input split at NUL bytes is argv; parsing and the `-e` values
//! either succeed or give an error, never a panic.
#![no_main]

use clap::Parser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let argv: Vec<&str> = std::iter::once("mestral").chain(text.split('\0')).collect();
    if let Ok(cli) = mestral::cli::Cli::try_parse_from(&argv) {
        // `@file` reads a file: only inline values are fuzzed here.
        let inline: Vec<String> = cli
            .run
            .extra_vars
            .into_iter()
            .filter(|e| !e.trim_start().starts_with('@'))
            .collect();
        let _ = mestral::cli::parse_extra_vars(&inline);
    }
});
