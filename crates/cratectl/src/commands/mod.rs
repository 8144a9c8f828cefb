//! One module per command group. Each takes its parsed arguments, does the work through the
//! library crates, and renders the result; none of them decides anything a library could.

pub mod cluster;
pub mod completion;
pub mod demo;
pub mod doctor;
pub mod maintenance;
pub mod progress;
pub mod restart;
pub mod restore;
pub mod run;
pub mod scale;
pub mod snapshot;
pub mod sql;
pub mod suspend;
pub mod workflows;

use crate::cli::{Command, GlobalArgs, OutputFormat};
use crate::exit::CliResult;

/// Runs a command that talks to clusters or the workflow store (everything but `maintenance`).
/// The commands that run a workflow, which may outlive a token that expires (see
/// `connect::check_token`).
fn runs_workflow(command: &Command) -> bool {
    matches!(
        command,
        Command::Restart(_)
            | Command::Scale(_)
            | Command::Restore(_)
            | Command::Suspend(_)
            | Command::Resume(_)
            | Command::Worker(_)
    )
}

pub async fn run_async(command: Command, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    crate::connect::check_token(&global, runs_workflow(&command), jiff::Timestamp::now())?;
    match command {
        Command::Cluster(command) => cluster::run(command, global, top).await,
        Command::Sql(args) => sql::run(args, global, top).await,
        Command::Snapshot(command) => snapshot::run(command, global, top).await,
        Command::Doctor(args) => doctor::run(args, global, top).await,
        Command::Maintenance(command) => maintenance::run(command, top),
        Command::Completion(args) => completion::run(args),
        Command::Restart(args) => restart::run(args, global, top).await,
        Command::Scale(args) => scale::run(args, global, top).await,
        Command::Restore(args) => restore::run(args, global, top).await,
        Command::Suspend(args) => suspend::suspend(args, global, top).await,
        Command::Resume(args) => suspend::resume(args, global, top).await,
        Command::Worker(args) => workflows::worker(args, global).await,
        Command::Status(args) => workflows::status(args, global, top).await,
        Command::List(args) => workflows::list(args, global, top).await,
        Command::Cancel(args) => workflows::cancel(args, global).await,
        Command::ForceRestart(args) => workflows::force_restart(args, global).await,
        Command::Stop(args) => workflows::stop(args, global).await,
        Command::Demo(args) => demo::run(args, global, top).await,
    }
}
