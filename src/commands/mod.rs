//! Subcommands besides running playbooks (`mestral inventory`, ...). Each lives in its own
//! file and returns the process exit code.

pub mod adhoc;
pub mod completions;
pub mod init;
pub mod inventory;
pub mod ping;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show the inventory as ansible-inventory does (--list, --graph, --host).
    Inventory(inventory::InventoryArgs),
    /// Run one module on the hosts of a pattern, as `ansible` does.
    Adhoc(adhoc::AdhocArgs),
    /// Check that every host is reachable, the login works and sudo works, one line each.
    Ping(ping::PingArgs),
    /// Write a starter inventory, playbook and mestral.toml in a folder.
    Init(init::InitArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff), for `man -l -` or a man folder.
    Man,
}

/// Runs a subcommand and returns its exit code.
pub async fn run(command: Command) -> Result<u8> {
    match command {
        Command::Inventory(args) => inventory::run(&args),
        Command::Adhoc(args) => adhoc::run(&args).await,
        Command::Ping(args) => ping::run(&args).await,
        Command::Init(args) => init::run(&args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man => completions::man(),
    }
}
