//! `cratesim`: serve a simulated Kubernetes API with CrateDB clusters, for demos and for tests
//! that drive real clients (kubectl, the Python Kubernetes client).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cratesim::clock::Clock;
use cratesim::operator::ClusterShape;
use cratesim::serve::{kubeconfig, start, write_kubeconfig};

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
    /// Number of CrateDB clusters (named cluster-1, cluster-2, ...).
    #[arg(long, default_value_t = 1)]
    clusters: u32,
    /// Data nodes per cluster (one data group, `hot`).
    #[arg(long, default_value_t = 3)]
    data_nodes: u32,
    /// Dedicated master nodes per cluster (0, or 3 and more).
    #[arg(long, default_value_t = 0)]
    masters: u32,
    /// Namespace the clusters live in.
    #[arg(long, default_value = "cratedb")]
    namespace: String,
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
    let shapes: Vec<ClusterShape> = (1..=args.clusters)
        .map(|i| ClusterShape {
            name: format!("cluster-{i}"),
            namespace: args.namespace.clone(),
            version: "5.10.3".into(),
            masters: args.masters,
            data_groups: vec![("hot".into(), args.data_nodes)],
            dc_util_hook: i % 2 == 1,
            system_password: format!("cratesim-password-{i}"),
        })
        .collect();
    let running = match start(&args.listen, Clock::new(args.time_scale), &shapes).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    eprintln!("cratesim: Kubernetes API on http://{}", running.addr);
    if let Some(path) = &args.kubeconfig_out {
        if let Err(e) = write_kubeconfig(path, &kubeconfig(running.addr, &args.namespace)) {
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
