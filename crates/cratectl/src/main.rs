//! `cratectl`: the command-line front end.
//!
//! Parses the command line (clap), dispatches to `commands/`, prints errors on stderr and maps
//! them to the documented exit codes (`exit.rs`). No decision is made here.

mod cli;
mod commands;
mod exit;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    // Usage errors exit 2 and --help/--version exit 0, as clap does by default.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Maintenance(command) => commands::maintenance::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}
