//! The restore's own activities. Every write checks first, so a re-run is a no-op when its
//! effect is present: the repository exists and is ours, the rename is done, the RESTORE was
//! issued (a restore of this snapshot is running, or every planned relation exists now), the
//! password already works.
//!
//! They talk to CrateDB as the operator's restore does: as `crate` over a port-forward (CrateDB
//! trusts `crate` from localhost in the operator's host-based authentication), unless the
//! worker was given credentials. A `RESTORE … ALL` replaces the `system` user's password with
//! the snapshot's, and the steps between the statement and setting it back must still work.
//!
//! Secret values are read where they are used and never returned: not in a record, a log line
//! or an error.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cratectl_core::restore::input::TableName;
use cratectl_core::restore::plan::{self, Facts, GcMode, Relation};
use cratectl_core::restore::report::{TableReport, TableResult};
use cratectl_core::restore::repository::{self, Provider, RepositoryParam};
use cratectl_cratedb::restore::TablesReading;
use cratectl_cratedb::{Client, Credentials, Secret};
use cratectl_kube::restore as krestore;
use cratectl_kube::{Cluster, Kube};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::RepositoryChoice;
use crate::activities::{At, Waited};
use crate::engine::{Activity, ActivityError, ActivitySink, RunActivity};
use crate::env::{ActivityEnv, cratedb_error, kube_error, next_tick, pod_client, reading_pod};

/// Registers the restore's activities.
pub fn register<S: ActivitySink<ActivityEnv>>(sink: S) -> S {
    sink.add::<ReadRestoreFacts>()
        .add::<CreateRepository>()
        .add::<RenameGcTables>()
        .add::<ScaleDeployment>()
        .add::<RecheckConflicts>()
        .add::<IssueRestore>()
        .add::<ResetPasswords>()
        .add::<AwaitRestore>()
        .add::<DropTables>()
}

/// A client as `crate` over a port-forward to a Ready pod (or with the worker's credentials).
pub async fn admin_client(
    env: &ActivityEnv,
    kube: &Kube,
    cluster: &Cluster,
) -> Result<Client, ActivityError> {
    let pod = reading_pod(cluster, None).map_err(ActivityError::retryable)?;
    let credentials = env.credentials.clone().unwrap_or(Credentials::None);
    Ok(pod_client(kube, cluster, pod, credentials))
}

// ---------------------------------------------------------------------------------------------
// Facts

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactsIn {
    pub at: At,
    pub snapshot: String,
    pub repository: RepositoryChoice,
    /// The repository to read the snapshot through (the temporary one once created).
    pub read_through: Option<String>,
}

/// What the checks read (recorded in history: replays see the same plan).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactsOut {
    pub facts: Facts,
    /// Problems found before the plan (a Secret missing keys, an unknown repository or
    /// snapshot): each one a refusal.
    pub problems: Vec<String>,
    /// The repository's type, when known.
    pub repository_type: Option<String>,
    /// Whether `gc_admin` exists and its Secret does (its password is set back too).
    pub gc_admin: bool,
    /// The grand-central Deployment's replicas, when it exists.
    pub grand_central: Option<i32>,
    /// The effective values of the touched settings, before anything changed.
    pub settings: BTreeMap<String, Value>,
}

/// Reads every fact the checks need, writing nothing.
pub struct ReadRestoreFacts;
impl Activity for ReadRestoreFacts {
    const NAME: &'static str = "restore_read_facts";
    type In = FactsIn;
    type Out = FactsOut;
}
impl RunActivity<ActivityEnv> for ReadRestoreFacts {
    async fn run(env: Arc<ActivityEnv>, input: FactsIn) -> Result<FactsOut, ActivityError> {
        read_facts(&env, &input).await
    }
}

/// [`ReadRestoreFacts`], for the dry run too.
pub async fn read_facts(env: &ActivityEnv, input: &FactsIn) -> Result<FactsOut, ActivityError> {
    let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
    let client = admin_client(env, &kube, &cluster).await?;
    let mut problems = Vec::new();
    let resource = krestore::read_resource_restore(&kube, &cluster.namespace, &cluster.resource)
        .await
        .map_err(|e| kube_error(&e))?;
    let nodes = client.nodes().await.map_err(|e| cratedb_error(&e))?;
    let version = nodes
        .iter()
        .filter_map(|n| n.version.clone())
        .min_by_key(|v| cratectl_core::restore::input::version_tuple(v))
        .or_else(|| cluster.version.clone())
        .unwrap_or_default();
    let mut repository_type = None;
    match &input.repository {
        RepositoryChoice::Existing { name } => {
            match client.repository(name).await.map_err(|e| cratedb_error(&e))? {
                Some((kind, _)) => repository_type = Some(kind),
                None => {
                    let known: Vec<String> = client
                        .repositories()
                        .await
                        .map_err(|e| cratedb_error(&e))?
                        .into_iter()
                        .map(|r| r.name)
                        .collect();
                    problems.push(format!(
                        "repository {name:?} does not exist in {} ({})",
                        cluster.qualified(),
                        if known.is_empty() {
                            "it has none".to_string()
                        } else {
                            format!("it has {}", known.join(", "))
                        }
                    ));
                }
            }
        }
        choice => match secret_params(&kube, &cluster, choice).await? {
            Ok((provider, _)) => repository_type = Some(provider.repository_type().to_string()),
            Err(problem) => problems.push(problem),
        },
    }
    let read_through = match &input.repository {
        RepositoryChoice::Existing { name } if problems.is_empty() => Some(name.clone()),
        _ => input.read_through.clone(),
    };
    let snapshot = match &read_through {
        Some(repo) => {
            let found = client
                .snapshot(repo, &input.snapshot)
                .await
                .map_err(|e| cratedb_error(&e))?;
            if found.is_none() {
                let names: Vec<String> = client
                    .snapshots()
                    .await
                    .map_err(|e| cratedb_error(&e))?
                    .into_iter()
                    .filter(|s| &s.repository == repo)
                    .map(|s| s.name)
                    .collect();
                problems.push(format!(
                    "snapshot {:?} is not in repository {repo} ({})",
                    input.snapshot,
                    if names.is_empty() {
                        "it has no snapshots".to_string()
                    } else {
                        format!("it has {}", names.join(", "))
                    }
                ));
            }
            found
        }
        None => None,
    };
    let tables = client
        .tables_and_partitions()
        .await
        .map_err(|e| cratedb_error(&e))?;
    let restores_running = client
        .restores_running()
        .await
        .map_err(|e| cratedb_error(&e))?
        .into_iter()
        .filter(|(_, _, state)| state != "SUCCESS" && state != "FAILURE")
        .map(|(repo, name, _)| format!("{repo}.{name}"))
        .collect();
    let users = client.users().await.map_err(|e| cratedb_error(&e))?;
    let gc_secret = krestore::read_secret(
        &kube,
        &cluster.namespace,
        &krestore::gc_admin_secret_name(&cluster.resource),
    )
    .await
    .map_err(|e| kube_error(&e))?;
    let grand_central = krestore::deployment_replicas(
        &kube,
        &cluster.namespace,
        &krestore::grand_central_deployment(&cluster.resource),
    )
    .await
    .map_err(|e| kube_error(&e))?;
    let settings = client.settings().await.map_err(|e| cratedb_error(&e))?.effective;
    Ok(FactsOut {
        facts: Facts {
            cluster_name: cluster.qualified(),
            cluster_version: version,
            snapshot,
            tables: tables.tables,
            restores_running,
            operator_restore: resource.snapshot,
        },
        problems,
        repository_type,
        gc_admin: users.iter().any(|u| u == "gc_admin")
            && gc_secret.is_some_and(|s| s.get("password").is_some()),
        grand_central,
        settings,
    })
}

/// The provider and `(repository parameter, value)` pairs of a temporary repository, read from
/// the Secret (or the resource's references); `Ok(Err(problem))` names what is missing, never a
/// value.
async fn secret_params(
    kube: &Kube,
    cluster: &Cluster,
    choice: &RepositoryChoice,
) -> Result<Result<(Provider, Vec<(String, Secret)>), String>, ActivityError> {
    match choice {
        RepositoryChoice::Existing { .. } => {
            Ok(Err("internal error: an existing repository has no Secret".into()))
        }
        RepositoryChoice::Secret { secret, provider } => {
            let qualified = format!("{}/{secret}", cluster.namespace);
            let Some(values) = krestore::read_secret(kube, &cluster.namespace, secret)
                .await
                .map_err(|e| kube_error(&e))?
            else {
                return Ok(Err(format!("Secret {qualified} does not exist")));
            };
            if let Err(problem) =
                repository::check_secret_keys(&qualified, *provider, &values.non_empty_keys())
            {
                return Ok(Err(problem));
            }
            let params = provider
                .keys()
                .iter()
                .filter_map(|k| {
                    values
                        .get(k.secret_key)
                        .map(|v| (k.param.to_string(), Secret::new(v)))
                })
                .collect();
            Ok(Ok((*provider, params)))
        }
        RepositoryChoice::Resource => {
            let block = krestore::read_resource_restore(kube, &cluster.namespace, &cluster.resource)
                .await
                .map_err(|e| kube_error(&e))?;
            let provider = match block.provider.as_deref() {
                None => Provider::S3,
                Some(p) => match Provider::parse(p) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(format!("spec.cluster.restoreSnapshot.backupProvider: {e}"))),
                },
            };
            let mut params = Vec::new();
            let mut missing = Vec::new();
            let mut cache: BTreeMap<String, Option<krestore::SecretValues>> = BTreeMap::new();
            for key in provider.keys() {
                let Some(r) = block.refs.get(key.resource_field) else {
                    if key.required {
                        missing.push(format!("{} (no secretKeyRef)", key.resource_field));
                    }
                    continue;
                };
                if !cache.contains_key(&r.secret) {
                    let values = krestore::read_secret(kube, &cluster.namespace, &r.secret)
                        .await
                        .map_err(|e| kube_error(&e))?;
                    cache.insert(r.secret.clone(), values);
                }
                match cache
                    .get(&r.secret)
                    .and_then(|v| v.as_ref())
                    .and_then(|v| v.get(&r.key))
                {
                    Some(value) => params.push((key.param.to_string(), Secret::new(value))),
                    None if key.required => missing.push(format!(
                        "{} (Secret {}/{} key {:?} is missing or empty)",
                        key.resource_field, cluster.namespace, r.secret, r.key
                    )),
                    None => {}
                }
            }
            if missing.is_empty() {
                Ok(Ok((provider, params)))
            } else {
                Ok(Err(format!(
                    "spec.cluster.restoreSnapshot of {} lacks {}",
                    cluster.qualified(),
                    missing.join(", ")
                )))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Repository

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepositoryIn {
    pub at: At,
    pub name: String,
    pub choice: RepositoryChoice,
    pub max_restore_bytes_per_sec: String,
}

/// Creates the temporary read-only repository from the Secret's keys (bind arguments only);
/// nothing when it exists with the same type and location (a retry). Answers whether the
/// repository of that name is ours: `false` for someone else's (left alone).
pub struct CreateRepository;
impl Activity for CreateRepository {
    const NAME: &'static str = "restore_create_repository";
    type In = RepositoryIn;
    type Out = bool;
}
impl RunActivity<ActivityEnv> for CreateRepository {
    async fn run(env: Arc<ActivityEnv>, input: RepositoryIn) -> Result<bool, ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let (provider, params) = match secret_params(&kube, &cluster, &input.choice).await? {
            Ok(found) => found,
            Err(problem) => return Err(ActivityError::permanent(problem)),
        };
        let client = admin_client(&env, &kube, &cluster).await?;
        let location: Vec<(&str, &str)> = repository::location_params(provider)
            .iter()
            .filter_map(|p| {
                params
                    .iter()
                    .find(|(name, _)| name == p)
                    .map(|(_, v)| (*p, v.expose()))
            })
            .collect();
        if let Some((kind, settings)) = client
            .repository(&input.name)
            .await
            .map_err(|e| cratedb_error(&e))?
        {
            // Someone else's repository of that name: not used, and (answering `false`) not
            // recorded as ours, so cleanup leaves it alone.
            return Ok(repository::is_ours(provider, &kind, &settings, &location));
        }
        let present: Vec<&str> = params.iter().map(|(p, _)| p.as_str()).collect();
        let (stmt, order) =
            repository::create_statement(&input.name, provider, &present, &input.max_restore_bytes_per_sec);
        let args: Vec<Value> = order
            .iter()
            .map(|p| match p {
                RepositoryParam::MaxRestoreBytesPerSec(rate) => Value::from(rate.clone()),
                RepositoryParam::Readonly => Value::Bool(true),
                RepositoryParam::FromSecret(name) => Value::from(
                    params
                        .iter()
                        .find(|(p, _)| p == name)
                        .map(|(_, v)| v.expose().to_string())
                        .unwrap_or_default(),
                ),
            })
            .collect();
        client
            .sql(&stmt, &args)
            .await
            .map_err(|e| cratedb_error(&e).context(format!("cannot create repository {}", input.name)))?;
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------------
// Internal tables and grand-central

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenameIn {
    pub at: At,
    /// `(from, to)`.
    pub renames: Vec<(TableName, TableName)>,
}

/// `ALTER TABLE from RENAME TO to` for each pair; done when `to` exists and `from` does not.
pub struct RenameGcTables;
impl Activity for RenameGcTables {
    const NAME: &'static str = "restore_rename_tables";
    type In = RenameIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for RenameGcTables {
    async fn run(env: Arc<ActivityEnv>, input: RenameIn) -> Result<(), ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let client = admin_client(&env, &kube, &cluster).await?;
        for (from, to) in &input.renames {
            rename(&client, from, to).await?;
        }
        Ok(())
    }
}

/// One rename, idempotent.
pub async fn rename(client: &Client, from: &TableName, to: &TableName) -> Result<(), ActivityError> {
    let tables = client
        .tables_and_partitions()
        .await
        .map_err(|e| cratedb_error(&e))?;
    let exists = |t: &TableName| tables.tables.iter().any(|e| &e.table == t);
    match (exists(from), exists(to)) {
        (false, true) | (false, false) => Ok(()),
        (true, false) => {
            let stmt = format!(
                "ALTER TABLE {} RENAME TO {}",
                from.to_sql(),
                cratectl_core::sql::quote_ident(&to.name)
            );
            client
                .sql(&stmt, &[])
                .await
                .map_err(|e| cratedb_error(&e).context(&stmt))?;
            Ok(())
        }
        (true, true) => Err(ActivityError::permanent(format!(
            "both {from} and {to} exist: cannot rename one to the other"
        ))),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentIn {
    pub at: At,
    pub name: String,
    pub replicas: i32,
}

/// Scales a Deployment (grand-central) to `replicas`; nothing when it is gone or already there.
pub struct ScaleDeployment;
impl Activity for ScaleDeployment {
    const NAME: &'static str = "restore_scale_deployment";
    type In = DeploymentIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for ScaleDeployment {
    async fn run(env: Arc<ActivityEnv>, input: DeploymentIn) -> Result<(), ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        krestore::set_deployment_replicas(&kube, &cluster.namespace, &input.name, input.replicas)
            .await
            .map_err(|e| kube_error(&e))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DropIn {
    pub at: At,
    pub tables: Vec<TableName>,
}

/// `DROP TABLE IF EXISTS` each: the renamed originals after a successful restore, or (`cancel
/// --drop-restored`) the tables a cancelled restore created.
pub struct DropTables;
impl Activity for DropTables {
    const NAME: &'static str = "restore_drop_tables";
    type In = DropIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for DropTables {
    async fn run(env: Arc<ActivityEnv>, input: DropIn) -> Result<(), ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let client = admin_client(&env, &kube, &cluster).await?;
        for table in &input.tables {
            let stmt = format!("DROP TABLE IF EXISTS {}", table.to_sql());
            client
                .sql_idempotent(&stmt, &[])
                .await
                .map_err(|e| cratedb_error(&e).context(&stmt))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The statement

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueIn {
    pub at: At,
    pub repository: String,
    pub snapshot: String,
    pub statement: String,
    pub relations: Vec<Relation>,
}

/// Sends the `RESTORE SNAPSHOT` once: not when a restore of this snapshot is running, or every
/// planned relation exists with primaries restored from a snapshot (a retry after a lost answer
/// or a crash: tables someone else created meanwhile are not taken for ours). Answers whether it
/// sent it.
pub struct IssueRestore;
impl Activity for IssueRestore {
    const NAME: &'static str = "restore_issue";
    type In = IssueIn;
    type Out = bool;
}
impl RunActivity<ActivityEnv> for IssueRestore {
    async fn run(env: Arc<ActivityEnv>, input: IssueIn) -> Result<bool, ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let client = admin_client(&env, &kube, &cluster).await?;
        if issued(&client, &input).await? {
            return Ok(false);
        }
        match client.sql(&input.statement, &[]).await {
            Ok(_) => Ok(true),
            Err(e) => {
                // A lost answer: the statement went through, and a retry meets its own tables.
                if issued(&client, &input).await? {
                    return Ok(false);
                }
                Err(cratedb_error(&e).context("RESTORE SNAPSHOT failed"))
            }
        }
    }
}

async fn issued(client: &Client, input: &IssueIn) -> Result<bool, ActivityError> {
    let running = client.restores_running().await.map_err(|e| cratedb_error(&e))?;
    if running
        .iter()
        .any(|(repo, name, _)| *repo == input.repository && *name == input.snapshot)
    {
        return Ok(true);
    }
    if input.relations.is_empty() {
        return Ok(false);
    }
    let tables = client
        .tables_and_partitions()
        .await
        .map_err(|e| cratedb_error(&e))?;
    let restored = client.snapshot_primaries().await.map_err(|e| cratedb_error(&e))?;
    Ok(input.relations.iter().all(|r| match index_of(&tables, r) {
        Some((table, None)) => restored.iter().any(|(t, _)| t == table),
        Some((table, Some(ident))) => restored
            .iter()
            .any(|(t, p)| t == table && p.as_deref() == Some(ident.as_str())),
        None => false,
    }))
}

/// The index of a relation that exists now: its table and, for a partition, its ident; `None`
/// when it does not exist.
fn index_of<'r>(tables: &TablesReading, relation: &'r Relation) -> Option<(&'r TableName, Option<String>)> {
    match relation {
        Relation::Table { table } => tables
            .tables
            .iter()
            .any(|t| &t.table == table)
            .then_some((table, None)),
        Relation::Partition { spec } => {
            let existing = tables.tables.iter().find(|t| t.table == spec.table)?;
            let values = spec.values_in_order(&existing.partitioned_by)?;
            tables
                .idents
                .iter()
                .find(|(t, v, _)| *t == spec.table && *v == values)
                .map(|(_, _, ident)| (&spec.table, Some(ident.clone())))
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConflictsIn {
    pub at: At,
    pub relations: Vec<Relation>,
}

/// Right before the statement: fails when a planned relation exists now (created since the
/// checks, which may be hours ago after a maintenance window); nothing was sent yet.
pub struct RecheckConflicts;
impl Activity for RecheckConflicts {
    const NAME: &'static str = "restore_recheck_conflicts";
    type In = ConflictsIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for RecheckConflicts {
    async fn run(env: Arc<ActivityEnv>, input: ConflictsIn) -> Result<(), ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let client = admin_client(&env, &kube, &cluster).await?;
        let tables = client
            .tables_and_partitions()
            .await
            .map_err(|e| cratedb_error(&e))?;
        let facts = Facts {
            tables: tables.tables,
            ..Facts::default()
        };
        // Internal tables were renamed away by now: any table of a planned name is a conflict.
        let existing = plan::existing_relations(GcMode::Skip, &facts, &input.relations);
        if existing.is_empty() {
            Ok(())
        } else {
            Err(ActivityError::permanent(format!(
                "{} exist{} now (created since the checks); nothing was restored",
                existing.join(", "),
                if existing.len() == 1 { "s" } else { "" }
            )))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Passwords

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PasswordsIn {
    pub at: At,
    /// `system`, and `gc_admin` when it exists.
    pub users: Vec<String>,
}

/// What [`ResetPasswords`] did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PasswordsOut {
    /// Users whose password was set back.
    pub set: Vec<String>,
    /// Users the restore left out (the snapshot had none of that name): nothing to set.
    pub missing: Vec<String>,
}

/// Sets each user's password back from the cluster's Secret (`user-system-<resource>`,
/// `user-gc-<resource>`, key `password`) as `crate`, then verifies a login; a password that
/// already works is left alone, a user the restore removed is reported, not created.
pub struct ResetPasswords;
impl Activity for ResetPasswords {
    const NAME: &'static str = "restore_reset_passwords";
    type In = PasswordsIn;
    type Out = PasswordsOut;
}
impl RunActivity<ActivityEnv> for ResetPasswords {
    async fn run(env: Arc<ActivityEnv>, input: PasswordsIn) -> Result<PasswordsOut, ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let pod = reading_pod(&cluster, None).map_err(ActivityError::retryable)?;
        let admin = admin_client(&env, &kube, &cluster).await?;
        let users = admin.users().await.map_err(|e| cratedb_error(&e))?;
        let mut out = PasswordsOut::default();
        for user in &input.users {
            if !users.contains(user) {
                out.missing.push(user.clone());
                continue;
            }
            let secret = if user == "system" {
                cratectl_kube::secrets::system_secret_name(&cluster.resource)
            } else {
                krestore::gc_admin_secret_name(&cluster.resource)
            };
            let values = krestore::read_secret(&kube, &cluster.namespace, &secret)
                .await
                .map_err(|e| kube_error(&e))?
                .ok_or_else(|| {
                    ActivityError::permanent(format!("Secret {}/{secret} does not exist", cluster.namespace))
                })?;
            let password = values.get("password").map(Secret::new).ok_or_else(|| {
                ActivityError::permanent(format!(
                    "Secret {}/{secret} has no (or an empty) key \"password\"",
                    cluster.namespace
                ))
            })?;
            let login = pod_client(
                &kube,
                &cluster,
                pod,
                Credentials::Basic {
                    user: user.clone(),
                    password: password.clone(),
                },
            );
            if login.sql_idempotent("SELECT 1", &[]).await.is_ok() {
                continue;
            }
            let stmt = format!(
                "ALTER USER {} SET (password = ?)",
                cratectl_core::sql::quote_ident(user)
            );
            admin
                .sql_idempotent(&stmt, &[Value::from(password.expose())])
                .await
                .map_err(|e| cratedb_error(&e).context(format!("cannot set the password of {user}")))?;
            login.sql_idempotent("SELECT 1", &[]).await.map_err(|e| {
                ActivityError::retryable(format!(
                    "{user} cannot log in with the password of Secret {}/{secret} after it was set: {e}",
                    cluster.namespace
                ))
            })?;
            out.set.push(user.clone());
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// The wait

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AwaitIn {
    pub at: At,
    pub repository: String,
    pub snapshot: String,
    pub relations: Vec<Relation>,
    pub interval: Duration,
    pub budget: Duration,
}

/// How a restore ended, or how far it got when the slice's budget ran out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestoreEnd {
    pub tables: Vec<TableReport>,
    /// The restore is over (`succeeded` says how); `false`: progress only.
    pub finished: bool,
    /// Every restored primary active.
    pub succeeded: bool,
    /// The lowest recovery percent of the shards being restored, else the share of planned
    /// primaries active.
    pub percent: Option<u8>,
}

/// Until CrateDB no longer lists the restore and every planned relation's primaries are active
/// (success), or it no longer lists it and some stay unassigned (failure, with CrateDB's
/// explanation), or the budget runs out: then the progress last seen (not finished). While it
/// runs: the lowest recovery percent and the primaries active.
pub struct AwaitRestore;
impl Activity for AwaitRestore {
    const NAME: &'static str = "restore_await";
    type In = AwaitIn;
    type Out = Waited<RestoreEnd>;
}
impl RunActivity<ActivityEnv> for AwaitRestore {
    async fn run(env: Arc<ActivityEnv>, input: AwaitIn) -> Result<Waited<RestoreEnd>, ActivityError> {
        let deadline = tokio::time::Instant::now() + input.budget;
        let mut tick = tokio::time::Instant::now();
        let mut last;
        let mut progress: Option<RestoreEnd> = None;
        loop {
            match poll_restore(&env, &input).await {
                Ok((end, summary)) if end.finished => {
                    return Ok(Waited {
                        done: Some(end),
                        last: summary,
                    });
                }
                Ok((seen, summary)) => {
                    progress = Some(seen);
                    last = summary;
                }
                Err(e) if !e.is_retryable() => return Err(e),
                Err(e) => last = e.message,
            }
            if !next_tick(&mut tick, input.interval, deadline).await {
                return Ok(Waited { done: progress, last });
            }
        }
    }
}

async fn poll_restore(env: &ActivityEnv, input: &AwaitIn) -> Result<(RestoreEnd, String), ActivityError> {
    let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
    let client = admin_client(env, &kube, &cluster).await?;
    let running = client
        .restores_running()
        .await
        .map_err(|e| cratedb_error(&e))?
        .into_iter()
        .any(|(repo, name, state)| repo == input.repository && name == input.snapshot && state != "FAILURE");
    let percent = client.restore_percent().await.map_err(|e| cratedb_error(&e))?;
    let tables = client
        .tables_and_partitions()
        .await
        .map_err(|e| cratedb_error(&e))?;
    let primaries = client.primaries().await.map_err(|e| cratedb_error(&e))?;
    let unassigned = client
        .unassigned_primaries()
        .await
        .map_err(|e| cratedb_error(&e))?;
    let mut reports = Vec::new();
    let (mut total, mut active) = (0u64, 0u64);
    let mut reasons: Vec<String> = Vec::new();
    for relation in &input.relations {
        // `ident`: `None` for a whole table, `Some(None)` for a partition that does not exist.
        let (table, ident, shown) = match relation {
            Relation::Table { table } => (table, None, None),
            Relation::Partition { spec } => (
                &spec.table,
                Some(index_of(&tables, relation).and_then(|(_, ident)| ident)),
                Some(spec.columns_text()),
            ),
        };
        let matches = |t: &TableName, p: &Option<String>| {
            t == table
                && match &ident {
                    None => true,
                    Some(None) => false,
                    Some(Some(i)) => p.as_deref() == Some(i.as_str()),
                }
        };
        let (mut t_total, mut t_active) = (0, 0);
        for p in primaries.iter().filter(|p| matches(&p.table, &p.partition_ident)) {
            t_total += p.total;
            t_active += p.active;
        }
        let reason = unassigned
            .iter()
            .find(|u| matches(&u.table, &u.partition_ident))
            .map(|u| format!("shard {}: {}", u.shard_id, u.explanation));
        if let Some(r) = &reason {
            reasons.push(format!("{table}: {r}"));
        }
        total += t_total;
        active += t_active;
        reports.push(TableReport {
            table: table.to_string(),
            partition_ident: shown,
            shards: Some(t_total),
            primaries_active: Some(t_active),
            result: if t_total > 0 && t_active == t_total {
                TableResult::Restored
            } else {
                TableResult::Pending
            },
            reason,
        });
    }
    let mut summary = format!(
        "restore of {}.{} {}: {active} of {total} primaries active",
        input.repository,
        input.snapshot,
        if running { "running" } else { "no longer listed" },
    );
    if let Some(p) = percent {
        summary.push_str(&format!(", lowest recovery {p}%"));
    }
    if !reasons.is_empty() {
        summary.push_str(&format!("; unassigned: {}", reasons.join("; ")));
    }
    let share = (total > 0).then(|| u8::try_from(active * 100 / total).unwrap_or(100));
    let mut end = RestoreEnd {
        tables: reports,
        finished: false,
        succeeded: false,
        percent: percent.or(share),
    };
    if running {
        return Ok((end, summary));
    }
    if end.tables.iter().all(|r| r.result == TableResult::Restored) {
        end.finished = true;
        end.succeeded = true;
        return Ok((end, summary));
    }
    // Not listed any more and primaries still missing: failed when some are unassigned with an
    // explanation, or a planned relation does not exist at all; otherwise still initializing.
    let failed = end
        .tables
        .iter()
        .any(|r| r.shards == Some(0) || r.reason.is_some());
    if failed {
        for r in &mut end.tables {
            if r.result != TableResult::Restored {
                r.result = TableResult::Failed;
                if r.shards == Some(0) && r.reason.is_none() {
                    r.reason = Some("not in the cluster after the restore".into());
                }
            }
        }
        end.finished = true;
    }
    Ok((end, summary))
}
