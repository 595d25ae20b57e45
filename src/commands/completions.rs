//! `mestral completions bash|zsh|fish` and `mestral man`: shell completion scripts and a
//! roff man page, both generated from the command line's definition so they never drift.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

pub fn completions(a: &CompletionsArgs) -> Result<u8> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "mestral", &mut script);
    // A reader that stops early (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(&script);
    Ok(crate::cli::exit::OK)
}

/// The man page, section 1, as roff text.
pub fn man_page() -> Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("rendering the man page")?;
    Ok(out)
}

pub fn man() -> Result<u8> {
    let page = man_page()?;
    std::io::stdout()
        .write_all(&page)
        .context("writing the man page")?;
    Ok(crate::cli::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_names_the_flags() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(
            page.starts_with(".ie \\n(.g .ds Aq \\(aq"),
            "{}",
            &page[..80]
        );
        for flag in ["\\-\\-output", "\\-\\-retry\\-file", "\\-\\-limit"] {
            assert!(page.contains(flag), "{flag} missing");
        }
    }
}
