//! Subcommands besides running playbooks (`mestral inventory`, ...). Each lives in its own
//! file and returns the process exit code.

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum Command {}

/// Runs a subcommand and returns its exit code.
pub async fn run(command: Command) -> Result<u8> {
    match command {}
}
