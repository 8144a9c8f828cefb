//! One module per command group. Each takes its parsed arguments, does the work through the
//! library crates, and renders the result; none of them decides anything a library could.

pub mod cluster;
pub mod doctor;
pub mod maintenance;
pub mod sql;

use crate::cli::{Command, GlobalArgs, OutputFormat};
use crate::exit::CliResult;

/// Runs a command that talks to clusters (everything but `maintenance`).
pub async fn run_async(command: Command, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    match command {
        Command::Cluster(command) => cluster::run(command, global, top).await,
        Command::Sql(args) => sql::run(args, global, top).await,
        Command::Doctor(args) => doctor::run(args, global, top).await,
        Command::Maintenance(command) => maintenance::run(command, top),
    }
}
