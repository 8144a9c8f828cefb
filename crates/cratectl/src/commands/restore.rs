//! `cratectl restore`: parse what to restore and from where, read what the checks need, refuse
//! what must be refused (exit 2, nothing recorded), then record the restore as a durable
//! workflow and either return (`--async`) or run it here with progress
//! ([`crate::commands::run`]).
//!
//! The checks are `cratectl_core::restore::plan::check` over the facts the workflow's own
//! first activity reads ([`read_facts`]), so what the CLI refuses and what the workflow would
//! refuse are the same decision; the workflow checks again once it holds the Lease.

use std::io::IsTerminal;

use cratectl_core::op::{OperationKind, request_id};
use cratectl_core::restore::input::{Scope, check_byte_rate, check_snapshot_name};
use cratectl_core::restore::plan::{self, GcMode};
use cratectl_core::restore::report::{RestoreClusterReport, TableResult};
use cratectl_core::restore::repository::Provider;
use cratectl_flow::activities::At;
use cratectl_flow::engine::EngineError;
use cratectl_flow::model::{ClusterRef, Gate};
use cratectl_flow::ops::restore::activities::{FactsIn, read_facts};
use cratectl_flow::ops::restore::dry_run;
use cratectl_flow::ops::restore::model::{
    RESTORE_REQUEST, RepositoryChoice, RestoreOptions, RestoreRequest, Timeouts, Tuning,
};
use jiff::Timestamp;

use crate::cli::{GcTablesArg, GlobalArgs, OutputFormat, ProviderArg, RestoreArgs};
use crate::commands::progress::Steps;
use crate::commands::run::{
    Mode as RunMode, ask, foreground, load_maintenance, note_held_lease, print_dry_run, print_started,
    refuse_busy, refuse_open_operations, target_spec,
};
use crate::commands::workflows::{activity_env, engine_error, open_store, place};
use crate::connect;
use crate::exit::{CliError, CliResult};

/// `--repository`, `--repository-secret` or `--from-resource`: exactly one.
fn repository_choice(args: &RestoreArgs) -> Result<RepositoryChoice, String> {
    let given = [
        args.repository.is_some(),
        args.repository_secret.is_some(),
        args.from_resource,
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if given != 1 {
        return Err(format!(
            "choose where the snapshot is: --repository, --repository-secret or --from-resource{}",
            if given > 1 { " (only one of them)" } else { "" }
        ));
    }
    Ok(match (&args.repository, &args.repository_secret) {
        (Some(name), _) if name.trim().is_empty() => return Err("--repository is empty".into()),
        (Some(name), _) => RepositoryChoice::Existing { name: name.clone() },
        (_, Some(secret)) if secret.trim().is_empty() => return Err("--repository-secret is empty".into()),
        (_, Some(secret)) => RepositoryChoice::Secret {
            secret: secret.clone(),
            provider: match args.provider {
                ProviderArg::S3 => Provider::S3,
                ProviderArg::Azure => Provider::Azure,
            },
        },
        (None, None) => RepositoryChoice::Resource,
    })
}

pub async fn run(args: RestoreArgs, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.or(top).unwrap_or_default();
    if global.cluster_url.is_some() {
        return Err(CliError::invalid(
            "restore needs Kubernetes; --cluster-url is not supported",
        ));
    }
    let scope = Scope::from_options(
        args.all,
        args.metadata,
        args.tables_all,
        &args.tables,
        &args.partitions,
        &args.sections,
    )
    .map_err(CliError::invalid)?;
    check_snapshot_name(&args.snapshot).map_err(CliError::invalid)?;
    let repository = repository_choice(&args).map_err(CliError::invalid)?;
    if let Some(rate) = &args.max_restore_bytes_per_sec {
        if !repository.is_temporary() {
            return Err(CliError::invalid(
                "--max-restore-bytes-per-sec sets the temporary repository's rate; an existing --repository keeps \
                 its own",
            ));
        }
        check_byte_rate("--max-restore-bytes-per-sec", rate).map_err(CliError::invalid)?;
    }
    check_byte_rate("--recovery-max-bytes-per-sec", &args.recovery_max_bytes_per_sec)
        .map_err(CliError::invalid)?;
    let maintenance = match &args.maintenance_config {
        Some(path) => Some(load_maintenance(path)?),
        None => None,
    };
    let kube = connect::kube(&global).await?;
    let discovery = connect::discovery(&kube, &global).await?;
    let cluster = connect::pick(&discovery, &args.cluster, &kube, &global)?.clone();
    if let (Some((_, config)), false) = (&maintenance, args.ignore_maintenance_windows)
        && let Err(e) = config.schedule(&cluster.name)
    {
        return Err(CliError::invalid(e.to_string()));
    }
    let now = Timestamp::now();
    refuse_busy(&cluster, now, OperationKind::Restore)?;
    let cluster_ref = ClusterRef {
        namespace: cluster.namespace.clone(),
        resource: cluster.resource.clone(),
        name: cluster.name.clone(),
    };
    let target = target_spec(&global, &kube)?;
    let env = activity_env(&global);
    let read = read_facts(
        &env,
        &FactsIn {
            at: At {
                target: target.clone(),
                cluster: cluster_ref.clone(),
            },
            snapshot: args.snapshot.clone(),
            repository: repository.clone(),
            read_through: None,
        },
    )
    .await
    .map_err(|e| {
        CliError::failed(format!(
            "cannot read what the checks need from {}: {}; nothing was started",
            cluster.qualified(),
            e.message
        ))
    })?;
    let gc_tables = match args.gc_tables {
        GcTablesArg::Auto => GcMode::Auto,
        GcTablesArg::Skip => GcMode::Skip,
    };
    let request = RestoreRequest {
        request_id: request_id(OperationKind::Restore, std::slice::from_ref(&cluster.name), now),
        target,
        clusters: vec![cluster_ref],
        options: RestoreOptions {
            snapshot: args.snapshot.clone(),
            scope: scope.clone(),
            repository,
            max_restore_bytes_per_sec: args
                .max_restore_bytes_per_sec
                .clone()
                .unwrap_or_else(|| RestoreOptions::default().max_restore_bytes_per_sec),
            tuning: (!args.no_tune).then(|| Tuning {
                recovery_max_bytes_per_sec: args.recovery_max_bytes_per_sec.clone(),
                concurrent_rebalance: args.concurrent_rebalance,
            }),
            gc_tables,
            allow_partial: args.allow_partial,
            maintenance: maintenance.map(|(spec, _)| spec),
            ignore_maintenance_windows: args.ignore_maintenance_windows,
            gate: Gate {
                polls: args.stable_polls,
                interval: args.poll_interval,
            },
            timeouts: Timeouts {
                health: args.health_timeout,
                restore: args.restore_timeout,
            },
            ..RestoreOptions::default()
        },
    };

    if args.dry_run {
        let mut plan = dry_run::dry_run(env, &request, &read).await;
        for c in &mut plan.clusters {
            note_held_lease(&cluster, now, &mut c.refused);
        }
        return print_dry_run(format, &plan.text(), &plan, plan.refused());
    }

    let mut refusals = read.problems.clone();
    if let Err(more) = plan::check(
        &plan::Request {
            scope: scope.clone(),
            allow_partial: args.allow_partial,
            gc_tables,
        },
        &read.facts,
    ) {
        refusals.extend(more);
    }
    if !refusals.is_empty() {
        refusals.push("nothing was started".into());
        return Err(CliError::invalid(refusals.join("\n")));
    }
    let dir = place(&global)?;
    let ops = open_store(&dir).await?;
    refuse_open_operations(
        &ops,
        std::slice::from_ref(&cluster),
        now,
        OperationKind::Restore,
        &request.target,
        &global,
    )
    .await?;
    if (scope.replaces_users() || scope.replaces_settings()) && !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::invalid(format!(
                "restoring {} replaces {} of {} and needs confirmation, but standard input is not a terminal; pass \
                 --yes (nothing was started)",
                scope.keyword(),
                replaced(&scope),
                cluster.qualified()
            )));
        }
        confirm(&scope, &cluster.qualified())?;
    }
    ops.start(RESTORE_REQUEST, &request.request_id, &request)
        .await
        .map_err(|e| match e {
            EngineError::AlreadyExists(id) => CliError::invalid(format!(
                "restore {id} already exists (one was started for this cluster in the same second); try again"
            )),
            other => engine_error(other),
        })?;
    let id = request.request_id.clone();
    tracing::info!(workflow_id = %id, "restore recorded");
    if args.run_async {
        return print_started(format, &ops, &id, &dir, "restore").await;
    }
    foreground::<RestoreClusterReport>(&ops, &id, &global, format, RunMode::User, &dir, "restore").await
}

/// What a restore of `scope` replaces, for the confirmation.
fn replaced(scope: &Scope) -> &'static str {
    match (scope.replaces_users(), scope.replaces_settings()) {
        (true, true) => "the users (and the system password) and the persistent settings",
        (true, false) => "the users (and the system password)",
        _ => "the persistent settings",
    }
}

/// A restore that replaces users or settings, on a terminal without --yes: ask.
fn confirm(scope: &Scope, cluster: &str) -> CliResult {
    eprintln!(
        "RESTORE … {} replaces {} of {cluster} with the snapshot's{}.",
        scope.keyword(),
        replaced(scope),
        if scope.replaces_users() {
            " (the system and gc_admin passwords are set back from the cluster's Secrets right after)"
        } else {
            ""
        }
    );
    ask("Restore?")
}

/// A restore's progress: tables and partitions restored of planned, and a line per one as it
/// ends.
impl Steps for RestoreClusterReport {
    fn done_total(&self) -> (usize, usize) {
        let done = self
            .tables
            .iter()
            .filter(|t| t.result != TableResult::Pending)
            .count();
        (done, self.tables.len())
    }

    fn step_results(&self) -> Vec<(String, String)> {
        self.tables
            .iter()
            .filter(|t| t.result != TableResult::Pending)
            .map(|t| {
                let name = match &t.partition_ident {
                    Some(p) => format!("{} partition {p}", t.table),
                    None => t.table.clone(),
                };
                let mut line = format!("{name} {}", t.result.as_str());
                if let Some(reason) = &t.reason {
                    line.push_str(&format!(": {reason}"));
                }
                (name, line)
            })
            .collect()
    }
}
