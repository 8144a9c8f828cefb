//! `cratesim`: serve a simulated Kubernetes API with CrateDB clusters, for demos and for tests
//! that drive real clients (kubectl, the Python Kubernetes client).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cratesim::clock::Clock;
use cratesim::operator::{ClusterShape, limits};
use cratesim::scenario::Scenario;
use cratesim::serve::{Sim, kubeconfig, serve, write_kubeconfig};

/// A simulated Kubernetes API server running CrateDB clusters.
#[derive(Parser)]
#[command(name = "cratesim", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulator until interrupted.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Write a kubeconfig (context `cratesim`) here once the server accepts connections.
    #[arg(long, value_name = "PATH")]
    kubeconfig_out: Option<PathBuf>,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Simulate what this YAML scenario file describes: Kubernetes nodes (taints, annotations,
    /// cordons), clusters (node groups, dc_util hook, tables) and faults in force from the start.
    /// See crates/cratesim/scenarios/example.yaml. Excludes the shape flags below.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["clusters", "data_nodes", "masters", "tables", "namespace"])]
    scenario: Option<PathBuf>,
    /// Number of CrateDB clusters (named cluster-1, cluster-2, ...; odd ones get the dc_util
    /// preStop hook).
    #[arg(long, default_value_t = 1)]
    clusters: u32,
    /// Data nodes per cluster (one data group, `hot`).
    #[arg(long, default_value_t = 3)]
    data_nodes: u32,
    /// Dedicated master nodes per cluster (0: the data nodes are master-eligible).
    #[arg(long, default_value_t = 0)]
    masters: u32,
    /// Tables per cluster: T tables doc.t1 ... doc.tT (4 shards, 1 replica) instead of the
    /// default doc.events and the partitioned doc.metrics.
    #[arg(long, value_name = "T")]
    tables: Option<u32>,
    /// Namespace the clusters live in.
    #[arg(long, default_value = "cratedb")]
    namespace: String,
}

/// The simulator the flags or the scenario file describe, and the namespace for the
/// kubeconfig's context.
fn build(args: &ServeArgs, clock: Clock) -> Result<(Sim, String), String> {
    if let Some(path) = &args.scenario {
        let scenario = Scenario::load(path)?;
        let namespace = scenario.clusters[0].namespace.clone();
        return Ok((Sim::from_scenario(clock, &scenario)?, namespace));
    }
    if args.clusters == 0 {
        return Err("--clusters must be at least 1".into());
    }
    if args.data_nodes == 0 {
        return Err("--data-nodes must be at least 1".into());
    }
    // Checked before the shapes are built: `--clusters` and `--tables` size vectors.
    if usize::try_from(args.clusters).unwrap_or(usize::MAX) > limits::CLUSTERS {
        return Err(format!(
            "--clusters {} is over the limit of {}",
            args.clusters,
            limits::CLUSTERS
        ));
    }
    let nodes = u64::from(args.masters) + u64::from(args.data_nodes);
    if nodes > limits::NODES_PER_CLUSTER {
        return Err(format!(
            "--masters {} and --data-nodes {} make {nodes} CrateDB nodes per cluster, over the limit of {}",
            args.masters,
            args.data_nodes,
            limits::NODES_PER_CLUSTER
        ));
    }
    if let Some(tables) = args.tables
        && usize::try_from(tables).unwrap_or(usize::MAX) > limits::TABLES_PER_CLUSTER
    {
        return Err(format!(
            "--tables {tables} is over the limit of {} per cluster",
            limits::TABLES_PER_CLUSTER
        ));
    }
    let shapes: Vec<ClusterShape> = (1..=args.clusters)
        .map(|i| {
            let mut shape = ClusterShape::new(&format!("cluster-{i}"), &args.namespace);
            shape.masters = args.masters;
            shape.data_groups = vec![("hot".into(), args.data_nodes)];
            shape.dc_util_hook = i % 2 == 1;
            shape.system_password = format!("cratesim-password-{i}");
            if let Some(tables) = args.tables {
                shape.tables = ClusterShape::numbered_tables(tables);
            }
            shape
        })
        .collect();
    Ok((Sim::new(clock, &shapes)?, args.namespace.clone()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let Command::Serve(args) = Cli::parse().command;
    if !(args.time_scale > 0.0 && args.time_scale.is_finite()) {
        eprintln!(
            "error: --time-scale must be a positive number (got {})",
            args.time_scale
        );
        return ExitCode::from(2);
    }
    let (sim, namespace) = match build(&args, Clock::new(args.time_scale)) {
        Ok(built) => built,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let running = match serve(&args.listen, sim).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    eprintln!("cratesim: Kubernetes API on http://{}", running.addr);
    if let Some(path) = &args.kubeconfig_out {
        if let Err(e) = write_kubeconfig(path, &kubeconfig(running.addr, &namespace)) {
            eprintln!("error: cannot write kubeconfig {}: {e}", path.display());
            return ExitCode::from(1);
        }
        eprintln!(
            "cratesim: kubeconfig written to {} (context cratesim)",
            path.display()
        );
    }
    tokio::select! {
        result = running.task => match result {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) => { eprintln!("error: server stopped: {e}"); ExitCode::from(1) }
            Err(e) => { eprintln!("error: server task failed: {e}"); ExitCode::from(1) }
        },
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}
