//! Undoing what a restore left open, on every way out (failure, cancel, a stopped workflow's
//! compensation): with `cancel --drop-restored` the tables the restore created are dropped
//! first (CrateDB's way to cancel a restore); internal tables renamed away come back under their
//! names (a partially restored table of that name is dropped first: it exists only because the
//! original was renamed away); the temporary repository is dropped once no restore uses it
//! (CrateDB refuses to drop a repository a restore in progress reads from); Deployments scaled to
//! 0 are scaled back. One activity for the workflow's cleanup and the worker's compensation
//! alike.

use std::sync::Arc;
use std::time::Duration;

use cratectl_core::restore::input::TableName;
use cratectl_core::restore::repository;
use serde::{Deserialize, Serialize};

use super::At;
use crate::engine::{Activity, ActivityError, ActivitySink, RunActivity};
use crate::env::{ActivityEnv, cratedb_error, kube_error};
use crate::ops::restore::activities::{admin_client, rename};
use cratectl_cratedb::Client;

/// Registers this module's activity.
pub fn register<S: ActivitySink<ActivityEnv>>(sink: S) -> S {
    sink.add::<UndoRestoreEffects>()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UndoIn {
    pub at: At,
    /// `(original, renamed to)`.
    pub renamed: Vec<(TableName, TableName)>,
    pub repository: Option<String>,
    /// `(Deployment, replicas to put back)`.
    pub deployments: Vec<(String, i32)>,
    /// Tables the restore created, to drop first (`cancel --drop-restored`).
    #[serde(default)]
    pub drop_tables: Vec<TableName>,
}

/// How long the repository's drop waits for a restore from it to leave the cluster state (it
/// does at once when its tables were dropped).
const REPOSITORY_IN_USE_WAIT: Duration = Duration::from_secs(10);

/// Undoes the renames, drops the repository, scales the Deployments back; each step is a
/// no-op when already done. Answers what it did.
pub struct UndoRestoreEffects;
impl Activity for UndoRestoreEffects {
    const NAME: &'static str = "restore_undo_effects";
    type In = UndoIn;
    type Out = Vec<String>;
}
impl RunActivity<ActivityEnv> for UndoRestoreEffects {
    async fn run(env: Arc<ActivityEnv>, input: UndoIn) -> Result<Vec<String>, ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let mut done = Vec::new();
        // Every step is tried, each on its own: one that cannot be done now (a repository a
        // restore still reads from) does not keep grand-central down or a table renamed away.
        let mut problems: Vec<ActivityError> = Vec::new();
        let client = if input.renamed.is_empty() && input.repository.is_none() && input.drop_tables.is_empty()
        {
            None
        } else {
            Some(admin_client(&env, &kube, &cluster).await?)
        };
        if let Some(client) = &client {
            for table in &input.drop_tables {
                match drop_table(client, table, true).await {
                    Ok(()) => done.push(format!("restored table {table} dropped")),
                    Err(e) => problems.push(e),
                }
            }
            for (original, renamed) in &input.renamed {
                match rename_back(client, original, renamed).await {
                    Ok(true) => done.push(format!("{original} renamed back")),
                    Ok(false) => {}
                    Err(e) => problems.push(e),
                }
            }
        }
        for (name, replicas) in &input.deployments {
            match cratectl_kube::restore::set_deployment_replicas(&kube, &cluster.namespace, name, *replicas)
                .await
            {
                Ok(()) => done.push(format!("Deployment {name} back to {replicas}")),
                Err(e) => problems.push(kube_error(&e)),
            }
        }
        if let (Some(client), Some(name)) = (&client, &input.repository) {
            match drop_repository(client, name).await {
                Ok(true) => done.push(format!("repository {name} dropped")),
                Ok(false) => {}
                Err(e) => problems.push(e),
            }
        }
        // A transient failure is tried again (every step is idempotent); otherwise what could
        // not be done is said, with what was.
        if let Some(retry) = problems.iter().find(|e| e.is_retryable()) {
            return Err(retry.clone());
        }
        if problems.is_empty() {
            return Ok(done);
        }
        let what: Vec<String> = problems.iter().map(|e| e.message.clone()).collect();
        Err(ActivityError::permanent(format!(
            "{}{}",
            what.join("; "),
            if done.is_empty() {
                String::new()
            } else {
                format!(" (done: {})", done.join(", "))
            }
        )))
    }
}

async fn drop_table(client: &Client, table: &TableName, if_exists: bool) -> Result<(), ActivityError> {
    let stmt = format!(
        "DROP TABLE {}{}",
        if if_exists { "IF EXISTS " } else { "" },
        table.to_sql()
    );
    client
        .sql_idempotent(&stmt, &[])
        .await
        .map(|_| ())
        .map_err(|e| cratedb_error(&e).context(&stmt))
}

/// Puts `original` back from `renamed`; `false` when there was nothing to do.
async fn rename_back(
    client: &Client,
    original: &TableName,
    renamed: &TableName,
) -> Result<bool, ActivityError> {
    let tables = client
        .tables_and_partitions()
        .await
        .map_err(|e| cratedb_error(&e))?;
    let exists = |t: &TableName| tables.tables.iter().any(|e| &e.table == t);
    if !exists(renamed) {
        return Ok(false);
    }
    if exists(original) {
        // The original was renamed away, so this is what the restore created.
        drop_table(client, original, false).await?;
    }
    rename(client, renamed, original).await?;
    Ok(true)
}

/// Drops the temporary repository once no restore reads from it; `false` when it is gone.
async fn drop_repository(client: &Client, name: &str) -> Result<bool, ActivityError> {
    if client
        .repository(name)
        .await
        .map_err(|e| cratedb_error(&e))?
        .is_none()
    {
        return Ok(false);
    }
    let deadline = tokio::time::Instant::now() + REPOSITORY_IN_USE_WAIT;
    while client
        .restores_running()
        .await
        .map_err(|e| cratedb_error(&e))?
        .iter()
        .any(|(repo, _, _)| repo == name)
    {
        if tokio::time::Instant::now() >= deadline {
            return Err(ActivityError::permanent(format!(
                "repository {name} is still used by a restore in progress (sys.snapshot_restore): CrateDB goes on \
                 restoring its tables; drop them (cratectl cancel --drop-restored, or DROP TABLE) or let it \
                 finish, then run DROP REPOSITORY {}",
                cratectl_core::sql::quote_ident(name)
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stmt = repository::drop_statement(name);
    client
        .sql_idempotent(&stmt, &[])
        .await
        .map_err(|e| cratedb_error(&e).context(&stmt))?;
    Ok(true)
}
