//! `cratectl`: the command-line front end.
//!
//! Loads `.env`, parses the command line (clap; flags override environment variables, which
//! override `.env`), sets up logging on standard error, dispatches to `commands/`, prints errors
//! on stderr and maps them to the documented exit codes (`exit.rs`). No decision is made here.

mod cli;
mod commands;
mod connect;
mod exit;
mod files;
mod logging;
mod output;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::CliError;
use crate::files::FileError;

fn main() -> ExitCode {
    // `.env` in the working directory fills environment variables that are not set; it must be
    // read before clap looks at the environment.
    if let Err(error) = load_dotenv() {
        eprintln!("error: {error}");
        return error.exit_code();
    }
    // Usage errors exit 2 and --help/--version exit 0, as clap does by default.
    let cli = Cli::parse();
    logging::init(cli.global.log_level, cli.global.log_format);
    let result = match cli.command {
        Command::Maintenance(command) => commands::maintenance::run(command, cli.output),
        Command::Completion(args) => commands::completion::run(args),
        command => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime.block_on(commands::run_async(command, cli.global, cli.output)),
            Err(e) => Err(CliError::failed(format!("cannot start the async runtime: {e}"))),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if !error.message.is_empty() {
                eprintln!("error: {error}");
            }
            error.exit_code()
        }
    }
}

/// Reads `./.env` if it exists. A malformed file is invalid input naming the file and line, and
/// so is one that is not a regular file or is larger than 1 MiB (read bounded, see `files`).
fn load_dotenv() -> Result<(), CliError> {
    let text = match files::read_text(Path::new(".env")) {
        Ok(text) => text,
        Err(FileError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CliError::invalid(format!(".env: {e}"))),
    };
    match dotenvy::from_read(text.as_bytes()) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::LineParse(line, index)) => Err(CliError::invalid(format!(
            ".env: cannot parse {line:?} (at character {index}); expected NAME=value"
        ))),
        Err(e) => Err(CliError::invalid(format!(".env: {e}"))),
    }
}
