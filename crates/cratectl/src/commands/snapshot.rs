//! `cratectl snapshot list`: a cluster's repositories and their snapshots, newest first
//! (`cratectl_core::restore::snapshots`), read through one Ready pod or `--cluster-url`.

use cratectl_core::restore::snapshots::{RepositoryListing, listing};
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat, SnapshotCommand, SnapshotListArgs};
use crate::connect;
use crate::exit::{CliError, CliResult};
use crate::output::{print, print_structured, render, table};

/// `snapshot list -o json` (contract): the cluster and its repositories.
#[derive(Serialize)]
struct ListOut {
    cluster: String,
    repositories: Vec<RepositoryListing>,
}

pub async fn run(command: SnapshotCommand, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    match command {
        SnapshotCommand::List(args) => list(args, &global, top).await,
    }
}

async fn list(args: SnapshotListArgs, global: &GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.or(top).unwrap_or_default();
    let target = connect::target(global, args.cluster.as_deref()).await?;
    let client = connect::client(&target, global).await?;
    let repositories = client.repositories().await.map_err(connect::db_error)?;
    let snapshots = client.snapshots().await.map_err(connect::db_error)?;
    let repositories = listing(&repositories, &snapshots, args.repository.as_deref())
        .map_err(|e| CliError::invalid(format!("{}: {e}", target.label())))?;
    let out = ListOut {
        cluster: target.label(),
        repositories,
    };
    match format {
        OutputFormat::Text => print(&text(&out)),
        structured => print_structured(structured, &out),
    }
}

fn text(out: &ListOut) -> String {
    if out.repositories.is_empty() {
        return format!("{} has no snapshot repositories.\n", out.cluster);
    }
    let mut t = table([
        "REPOSITORY",
        "SNAPSHOT",
        "STATE",
        "VERSION",
        "STARTED",
        "FINISHED",
        "TABLES",
    ]);
    for repo in &out.repositories {
        if repo.snapshots.is_empty() {
            t.add_row(vec![
                format!("{} ({})", repo.name, repo.kind),
                "-".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for s in &repo.snapshots {
            let when = |t: Option<jiff::Timestamp>| t.map_or_else(|| "-".to_string(), |t| t.to_string());
            t.add_row(vec![
                format!("{} ({})", repo.name, repo.kind),
                s.name.clone(),
                s.state.clone(),
                s.version.clone().unwrap_or_else(|| "-".into()),
                when(s.started),
                when(s.finished),
                s.tables.len().to_string(),
            ]);
        }
    }
    render(&t)
}
