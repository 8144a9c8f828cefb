//! `cratectl demo`: a real rolling restart of a simulated fleet, through the whole stack.
//!
//! cratesim serves a Kubernetes API on loopback with two CrateDB clusters of three nodes and
//! replicated tables — `shop`, whose pods have the operator's dc_util preStop hook, and
//! `telemetry`, without one, so cratectl decommissions its nodes itself — on a clock running
//! [`TIME_SCALE`] times faster than real time. Then the same code as `cratectl restart` runs
//! against it: a kubeconfig, kube-rs over HTTP, CrateDB through port-forwards with the
//! Secrets' passwords, the workflow engine on a SQLite file in a temporary state directory,
//! progress and the final report. Short gate settings keep it well under a minute. Afterwards
//! it prints what the simulator saw (nodes down at once, pods replaced, settings restored) and
//! how to run the same against a real cluster. Nothing outside the temporary directory is
//! touched, and the directory is removed at the end.

use std::path::PathBuf;
use std::time::Duration;

use cratesim::clock::Clock;
use cratesim::operator::ClusterShape;
use cratesim::serve::{Sim, kubeconfig, serve, write_kubeconfig};
use serde_json::Value;

use crate::cli::{DemoArgs, GlobalArgs, OrderArg, OutputFormat, RestartArgs, RestartTuning};
use crate::commands::restart;
use crate::commands::run::Mode;
use crate::exit::{CliError, CliResult};
use crate::output::print;

/// Simulated seconds per real second.
pub const TIME_SCALE: f64 = 20.0;
const NAMESPACE: &str = "cratedb";
const CONTEXT: &str = "cratesim";
/// (cluster, dc_util preStop hook)
const FLEET: [(&str, bool); 2] = [("shop", true), ("telemetry", false)];

/// Removes the demo's scratch directory however the demo ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn run(args: DemoArgs, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.or(top).unwrap_or_default();
    // Commentary goes where it does not break a JSON or YAML report.
    let say = |text: &str| -> CliResult {
        if format == OutputFormat::Text {
            print(text)
        } else {
            eprint!("{text}");
            Ok(())
        }
    };

    let scratch = Scratch(std::env::temp_dir().join(format!("cratectl-demo-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    std::fs::create_dir_all(&scratch.0).map_err(|e| {
        CliError::failed(format!(
            "cannot create the demo's directory {}: {e}",
            scratch.0.display()
        ))
    })?;

    // On Temporal: a dev server of the demo's own, with its web UI, for as long as the demo runs.
    let temporal = temporal_dev_server(&global).await?;

    let shapes: Vec<ClusterShape> = FLEET
        .iter()
        .map(|(name, hook)| {
            let mut shape = ClusterShape::new(name, NAMESPACE);
            shape.dc_util_hook = *hook;
            shape
        })
        .collect();
    let sim = Sim::new(Clock::new(TIME_SCALE), &shapes)
        .map_err(|e| CliError::failed(format!("cannot build the simulated clusters: {e}")))?;
    let running = serve("127.0.0.1:0", sim)
        .await
        .map_err(|e| CliError::failed(format!("cannot serve the simulator: {e}")))?;
    let kubeconfig_path = scratch.0.join("kubeconfig");
    write_kubeconfig(&kubeconfig_path, &kubeconfig(running.addr, NAMESPACE))
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", kubeconfig_path.display())))?;
    let before = running.server.report();

    say(&format!(
        "cratectl demo: a simulated Kubernetes API with two CrateDB clusters of three nodes each is serving on \
         http://{addr} (time runs {TIME_SCALE}x faster):\n  \
         shop       pods with the operator's dc_util preStop hook (deleting a pod decommissions its node)\n  \
         telemetry  no hook: cratectl decommissions each node itself before deleting its pod\n\
         Both clusters are restarted for real: Kubernetes through kube-rs over HTTP, CrateDB through port-forwards,\n\
         the workflow recorded in {state}.\n\n",
        addr = running.addr,
        state = match &temporal {
            Some(server) => server.describe(),
            None => scratch.0.join("state").display().to_string(),
        },
    ))?;

    // Only the demo's own cluster: no credentials or context from the caller's environment.
    let demo_global = GlobalArgs {
        kubeconfig: Some(kubeconfig_path),
        context: Some(CONTEXT.into()),
        namespace: None,
        state_dir: Some(scratch.0.join("state")),
        cluster_url: None,
        username: None,
        password: None,
        token: None,
        token_command: None,
        ..global
    };
    let demo_global = match &temporal {
        Some(server) => server.select(demo_global),
        None => demo_global,
    };
    let restart_args = |dry_run: bool| RestartArgs {
        clusters: FLEET.iter().map(|(name, _)| name.to_string()).collect(),
        dry_run,
        run_async: false,
        maintenance_config: None,
        ignore_maintenance_windows: false,
        skip_hook_warning: false,
        only_on_suspended_nodes: false,
        order: OrderArg::MastersFirst,
        parallel: 2,
        yes: true,
        min_availability: None,
        no_eviction: false,
        tuning: fast_tuning(),
        output: Some(format),
    };

    if format == OutputFormat::Text {
        say("1. The plan (what `cratectl restart --dry-run` prints; it changes nothing):\n\n")?;
        // A plan that would refuse is shown and the restart below reports the same refusal.
        let _ = restart::execute(restart_args(true), &demo_global, format, Mode::Demo).await;
        say("\n2. The restart, both clusters at once (--parallel 2), one pod at a time in each:\n\n")?;
    }
    let result = restart::execute(restart_args(false), &demo_global, format, Mode::Demo).await;
    if matches!(&result, Err(e) if e.exit == crate::exit::Exit::Interrupted) {
        running.task.abort();
        return result;
    }

    let after = running.server.report();
    say(&format!(
        "\nWhat the simulator saw:\n{}",
        evidence(&before, &after)
    ))?;
    say(
        "\nThe same against a real cluster (your kubeconfig; add --namespace NS to narrow discovery):\n  \
         cratectl cluster list --context <ctx>                    # clusters, health, dc_util hook\n  \
         cratectl restart --context <ctx> <cluster> --dry-run     # the plan; changes nothing\n  \
         cratectl restart --context <ctx> <cluster>               # restart, one pod at a time, with progress\n  \
         cratectl restart --context <ctx> <cluster> --async       # or record it, and run `cratectl worker`\n  \
         cratectl scale --context <ctx> <cluster> hot=5 --dry-run # what adding two nodes would do\n  \
         cratectl snapshot list --context <ctx> <cluster>         # its repositories and snapshots\n  \
         cratectl restore --context <ctx> <cluster> --snapshot <s> --repository <r> --tables-all --dry-run\n  \
         cratectl suspend --context <ctx> <cluster> --dry-run     # stop every node; `resume` brings it back\n",
    )?;
    running.task.abort();
    result
}

/// The demo's gate: three stable readings 200 ms apart, and limits that end a stuck demo soon.
fn fast_tuning() -> RestartTuning {
    RestartTuning {
        stable_polls: 3,
        poll_interval: Duration::from_millis(200),
        health_timeout: Duration::from_secs(120),
        pod_ready_timeout: Duration::from_secs(120),
        rejoin_timeout: Duration::from_secs(120),
        decommission_timeout: Duration::from_secs(300),
        eviction_timeout: Duration::from_secs(60),
        hold_timeout: Duration::from_secs(60),
    }
}

/// One line per cluster from the simulator's evidence report: most nodes down at once, pods
/// replaced, settings compared with before the restart.
fn evidence(before: &Value, after: &Value) -> String {
    let empty = Vec::new();
    let mut out = String::new();
    for cluster in after["clusters"].as_array().unwrap_or(&empty) {
        let name = cluster["name"].as_str().unwrap_or("?");
        let pods = cluster["pods"].as_array().unwrap_or(&empty);
        let replaced = pods
            .iter()
            .filter(|p| p["uids"].as_array().is_some_and(|u| u.len() == 2))
            .count();
        let settings_before = before["clusters"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == cluster["name"]))
            .map(|c| &c["settings"]);
        let restored = settings_before == Some(&cluster["settings"]);
        out.push_str(&format!(
            "  {name:<10} at most {} node(s) down at a time; {replaced} of {} pods replaced exactly once; settings {}\n",
            cluster["max_unavailable_nodes"],
            pods.len(),
            if restored {
                "back to what they were"
            } else {
                "NOT as before (run `cratectl doctor`)"
            }
        ));
    }
    out
}

/// The demo's Temporal dev server (`--engine temporal`).
#[cfg(feature = "temporal")]
struct DemoTemporal(cratectl_flow::engine::temporal_dev::DevServer);

#[cfg(feature = "temporal")]
impl DemoTemporal {
    fn describe(&self) -> String {
        format!(
            "a Temporal dev server at {} (task queue {DEMO_TASK_QUEUE}); watch it in the Temporal UI at {} while the demo runs",
            self.0.address,
            self.0.ui.as_deref().unwrap_or("-")
        )
    }

    fn select(&self, global: GlobalArgs) -> GlobalArgs {
        GlobalArgs {
            temporal_address: self.0.address.clone(),
            temporal_namespace: "default".into(),
            task_queue: DEMO_TASK_QUEUE.into(),
            temporal_tls_ca: None,
            temporal_tls_cert: None,
            temporal_tls_key: None,
            temporal_api_key: None,
            ..global
        }
    }
}

#[cfg(feature = "temporal")]
const DEMO_TASK_QUEUE: &str = "cratectl-demo";

/// Starts a dev server when the demo runs on Temporal; refuses (exit 2) without the `temporal`
/// CLI, saying how to get it.
#[cfg(feature = "temporal")]
async fn temporal_dev_server(global: &GlobalArgs) -> CliResult<Option<DemoTemporal>> {
    use cratectl_flow::engine::temporal_dev::{DevServer, DevServerOptions, HOW_TO_GET_CLI, find_cli};
    if global.engine != crate::cli::EngineKind::Temporal {
        return Ok(None);
    }
    // Where scripts/install-temporal-cli.sh puts it, when run from a checkout.
    let installed = PathBuf::from("target/temporal-venv/bin/temporal");
    let cli = find_cli(&[installed]).ok_or_else(|| {
        CliError::invalid(format!(
            "cratectl demo --engine temporal runs its own Temporal dev server and needs the `temporal` CLI: {HOW_TO_GET_CLI}"
        ))
    })?;
    let options = DevServerOptions {
        ui: true,
        ..DevServerOptions::default()
    };
    let server = DevServer::start(&cli, &options).await.map_err(|e| {
        CliError::failed(format!(
            "cannot start a Temporal dev server with {}: {e}",
            cli.display()
        ))
    })?;
    Ok(Some(DemoTemporal(server)))
}

/// Without the `temporal` feature the engine choice itself explains the problem.
#[cfg(not(feature = "temporal"))]
struct DemoTemporal;

#[cfg(not(feature = "temporal"))]
impl DemoTemporal {
    fn describe(&self) -> String {
        String::new()
    }

    fn select(&self, global: GlobalArgs) -> GlobalArgs {
        global
    }
}

#[cfg(not(feature = "temporal"))]
async fn temporal_dev_server(global: &GlobalArgs) -> CliResult<Option<DemoTemporal>> {
    // Refuses `--engine temporal` with the reason before anything is served.
    if global.engine == crate::cli::EngineKind::Temporal {
        crate::commands::workflows::place(global)?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evidence_compares_settings_and_counts_replacements() {
        let settings = json!({"transient": {}, "persistent": {}});
        let before = json!({"clusters": [{"name": "shop", "settings": settings}]});
        let after = json!({"clusters": [{"name": "shop", "max_unavailable_nodes": 1, "settings": settings,
            "pods": [{"name": "a", "uids": ["1", "2"]}, {"name": "b", "uids": ["3"]}]}]});
        let text = evidence(&before, &after);
        assert!(text.contains("at most 1 node(s) down"), "{text}");
        assert!(text.contains("1 of 2 pods replaced"), "{text}");
        assert!(text.contains("back to what they were"), "{text}");
    }
}
