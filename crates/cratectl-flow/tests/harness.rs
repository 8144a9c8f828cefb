//! The per-cluster harness on its own, independent of the restart: a small probe operation
//! takes the Lease, records the settings, holds allocation, excludes a node, and then waits a
//! long time (health stuck YELLOW, so the stable gate is never satisfied). Against cratesim:
//!
//! * the Lease is renewed through the wait (it lasts 1 s; the wait lasts several);
//! * the saga removes exactly the exclusion it added, while one written meanwhile survives;
//! * a cancel (a hard stop) is compensated from what the workflow published;
//! * `stop` ends the run with everything put back;
//! * a worker that goes away mid-wait is replaced, and the new one finishes and cleans up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::Setup;
use cratectl_core::op::report::{ClusterCommon, ClusterOutcome, ClusterState};
use cratectl_core::op::saga::exclusion_list;
use cratectl_flow::activities::At;
use cratectl_flow::activities::common::{AwaitStable, StableIn};
use cratectl_flow::engine::duroxide::{self as dx, DuroxideClient, DxActivities, DxWorker, WorkerOptions};
use cratectl_flow::engine::{
    EngineClient, EngineWorker, InstanceState, InstanceStatus, WfResult, WorkflowCtx,
};
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::harness::{ClusterOp, Step};
use cratectl_flow::model::{CONTROL_MAILBOX, ClusterRef, Common, Control, Gate, OpenState};
use cratesim::faults::Fault;
use cratesim::operator::ClusterShape;
use serde::{Deserialize, Serialize};

const PROBE: &str = "harness_probe.v1";
/// The node name the probe excludes (no such node: nothing relocates).
const OURS: &str = "leaving-node-7";
/// An exclusion someone else writes while the probe runs.
const THEIRS: &str = "their-node-9";

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ProbeInput {
    child_id: String,
    at: At,
    common: Common,
    /// How long the probe waits.
    wait: Duration,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct ProbeReport {
    #[serde(flatten)]
    common: ClusterCommon,
}

impl ClusterOutcome for ProbeReport {
    fn common(&self) -> &ClusterCommon {
        &self.common
    }
    fn common_mut(&mut self) -> &mut ClusterCommon {
        &mut self.common
    }
}

/// The probe operation: everything through the harness, nothing of the restart.
async fn probe<C: WorkflowCtx>(ctx: &C, input: ProbeInput) -> WfResult<ProbeReport> {
    let mut op = ClusterOp::start(
        ctx,
        input.at.clone(),
        input.child_id.clone(),
        input.common.clone(),
        ProbeReport::default(),
        None,
    )
    .await?;
    let outcome = probe_steps(&mut op, &input).await;
    op.finish(outcome).await
}

async fn probe_steps<C: WorkflowCtx>(op: &mut ClusterOp<'_, C, ProbeReport>, input: &ProbeInput) -> Step<()> {
    op.take_lease().await?;
    op.record_settings().await?;
    op.hold_allocation(&[], None).await?;
    op.exclude_nodes(&[OURS.to_string()]).await?;
    let at = op.at.clone();
    let gate = op.common.gate.clone();
    op.wait_up_to::<AwaitStable, String>("probe wait", "a long wait", input.wait, |budget| StableIn {
        at: at.clone(),
        avoid: None,
        polls: gate.polls,
        interval: gate.interval,
        budget,
    })
    .await?;
    op.check_control().await?;
    Ok(())
}

/// A worker running only the probe, on `state`.
async fn probe_worker(state: &Path) -> DxWorker {
    let activities = cratectl_flow::activities::register(DxActivities::new(Arc::new(ActivityEnv::new(None))));
    let workflows = dx::register(
        dx::workflows(),
        PROBE,
        |ctx: dx::DxCtx, input: ProbeInput| async move { probe(&ctx, input).await },
    )
    .build();
    DxWorker::start(state, activities, workflows, &WorkerOptions::default())
        .await
        .unwrap()
}

struct Probe {
    setup: Setup,
    client: DuroxideClient,
    state: std::path::PathBuf,
    cluster: ClusterRef,
}

impl Probe {
    /// Serves one cluster whose health is stuck YELLOW (the probe's wait never ends early),
    /// with min_availability preset at both levels.
    async fn new(name: &str) -> Probe {
        let setup = Setup::start(name, &[ClusterShape::new("alpha", "cratedb")]).await;
        setup.preset_settings("alpha").await;
        setup.faults(&[Fault::HealthStuckYellow {
            namespace: "cratedb".into(),
            cluster: "alpha".into(),
            stuck: true,
        }]);
        let state = setup.dir.join("probe-state");
        let client = DuroxideClient::open(&state).await.unwrap();
        let cluster = ClusterRef {
            namespace: "cratedb".into(),
            resource: "alpha".into(),
            name: "alpha".into(),
        };
        Probe {
            setup,
            client,
            state,
            cluster,
        }
    }

    async fn start(&self, id: &str, wait: Duration) {
        let input = ProbeInput {
            child_id: id.to_string(),
            at: At {
                target: self.setup.target.clone(),
                cluster: self.cluster.clone(),
            },
            common: Common {
                gate: Gate {
                    polls: 3,
                    interval: Duration::from_millis(100),
                },
                health_timeout: Duration::from_secs(60),
                lease_duration: Duration::from_secs(1),
                maintenance: None,
                ignore_maintenance_windows: false,
            },
            wait,
        };
        self.client
            .start(PROBE, id, serde_json::to_string(&input).unwrap())
            .await
            .unwrap();
    }

    async fn status(&self, id: &str) -> InstanceStatus {
        self.client.status(id).await.unwrap().unwrap()
    }

    fn report(status: &InstanceStatus) -> Option<ProbeReport> {
        let progress: serde_json::Value = serde_json::from_str(status.progress.as_deref()?).ok()?;
        serde_json::from_value(progress["report"].clone()).ok()
    }

    /// Waits until the probe's published step is `step`.
    async fn until_step(&self, id: &str, step: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.status(id).await;
            let report = Probe::report(&status);
            if report.as_ref().and_then(|r| r.common.current_step.as_deref()) == Some(step) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never at step {step}: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn until_ended(&self, id: &str) -> InstanceStatus {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            let status = self.status(id).await;
            if status.state.is_terminal() {
                return status;
            }
            assert!(tokio::time::Instant::now() < deadline, "never ended: {status:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The exclusion list as CrateDB has it now.
    async fn exclusions(&self) -> Vec<String> {
        let env = ActivityEnv::new(None);
        let (kube, found) = env.cluster(&self.setup.target, &self.cluster).await.unwrap();
        let client = env.client_avoiding(&kube, &found, None).await.unwrap();
        exclusion_list(&client.settings().await.unwrap())
    }

    /// Someone else adds their own exclusion (keeping ours), as an operator would by hand.
    async fn someone_else_excludes_theirs(&self) {
        assert_eq!(self.exclusions().await, vec![OURS.to_string()]);
        for level in ["TRANSIENT", "PERSISTENT"] {
            self.setup
                .sql(
                    "alpha",
                    &format!(
                        "SET GLOBAL {level} \"cluster.routing.allocation.exclude._name\" = '{OURS},{THEIRS}'"
                    ),
                )
                .await;
        }
    }

    /// Their exclusion kept and ours gone, the allocation hold lifted, min_availability as
    /// preset, the Lease released.
    async fn assert_put_back(&self, context: &str) {
        assert_eq!(
            self.exclusions().await,
            vec![THEIRS.to_string()],
            "only our exclusion removed; {context}"
        );
        let settings = self.setup.sim_cluster("alpha")["settings"].clone();
        let text = settings.to_string().to_lowercase();
        assert!(
            !text.contains("primaries"),
            "allocation hold lifted; {context}: {settings}"
        );
        assert!(
            text.contains("full"),
            "min_availability as preset; {context}: {settings}"
        );
        assert_eq!(
            self.setup.lease_holder("alpha").await,
            None,
            "Lease released; {context}"
        );
    }

    async fn stop(self) {
        self.setup.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_is_renewed_through_a_long_wait_and_only_our_exclusion_is_removed() {
    use k8s_openapi::api::coordination::v1::Lease;
    let probe = Probe::new("harness-lease").await;
    let worker = probe_worker(&probe.state).await;
    let id = "probe-lease";
    probe.start(id, Duration::from_secs(5)).await;
    probe.until_step(id, "probe wait").await;
    probe.someone_else_excludes_theirs().await;
    // The Lease lasts 1 s; across 3 s of the wait it stays ours and fresh.
    let api: kube::Api<Lease> = kube::Api::namespaced(probe.setup.kube(), "cratedb");
    let mut renewals = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let lease = api.get("cratectl-alpha").await.unwrap();
        let spec = lease.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some(id));
        let renewed = spec.renew_time.unwrap().0;
        let age = k8s_openapi::jiff::Timestamp::now().duration_since(renewed);
        assert!(
            age < k8s_openapi::jiff::SignedDuration::from_millis(1000),
            "the Lease lapsed during the wait (renewed {age:?} ago)"
        );
        renewals.insert(renewed);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(renewals.len() >= 3, "renewed again and again: {renewals:?}");
    let status = probe.until_ended(id).await;
    assert_eq!(status.state, InstanceState::Completed, "{status:?}");
    let report = Probe::report(&status).unwrap();
    assert_eq!(report.common.state, ClusterState::Succeeded, "{report:?}");
    assert_eq!(report.common.phase.as_deref(), Some("done"));
    probe.assert_put_back("after a completed run").await;
    worker.shutdown(Duration::from_secs(1)).await;
    probe.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_is_compensated_from_what_it_published() {
    let probe = Probe::new("harness-cancel").await;
    let worker = probe_worker(&probe.state).await;
    let id = "probe-cancel";
    probe.start(id, Duration::from_secs(600)).await;
    probe.until_step(id, "probe wait").await;
    probe.someone_else_excludes_theirs().await;
    probe.client.cancel(id, "testing cancel").await.unwrap();
    let status = probe.until_ended(id).await;
    assert_eq!(status.state, InstanceState::Cancelled, "{status:?}");
    assert_eq!(status.output.as_deref(), Some("cancelled: testing cancel"));
    // A hard stop cleans nothing up itself; compensation reads what it published.
    let open: OpenState = serde_json::from_str(status.progress.as_deref().unwrap()).unwrap();
    assert!(
        open.open.lease_holder.is_some() && open.open.saga.is_some(),
        "{open:?}"
    );
    assert_eq!(open.open.saga.as_ref().unwrap().excluded, vec![OURS.to_string()]);
    let undone = cratectl_flow::operations::compensate(&ActivityEnv::new(None), &open, &[])
        .await
        .unwrap();
    assert_eq!(undone, vec!["settings restored", "Lease released"], "{undone:?}");
    probe.assert_put_back("after cancel and compensation").await;
    worker.shutdown(Duration::from_secs(1)).await;
    probe.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_the_run_at_the_next_step_with_everything_put_back() {
    let probe = Probe::new("harness-stop").await;
    let worker = probe_worker(&probe.state).await;
    let id = "probe-stop";
    probe.start(id, Duration::from_secs(3)).await;
    probe.until_step(id, "probe wait").await;
    probe.someone_else_excludes_theirs().await;
    let stop = serde_json::to_string(&Control::Stop {
        reason: "change freeze".into(),
    })
    .unwrap();
    probe.client.signal(id, CONTROL_MAILBOX, stop).await.unwrap();
    let status = probe.until_ended(id).await;
    assert_eq!(status.state, InstanceState::Completed, "{status:?}");
    let report = Probe::report(&status).unwrap();
    assert_eq!(report.common.state, ClusterState::Stopped, "{report:?}");
    assert_eq!(
        report.common.reason.as_deref(),
        Some("stopped by operator: change freeze")
    );
    probe.assert_put_back("after stop").await;
    worker.shutdown(Duration::from_secs(1)).await;
    probe.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_gone_mid_wait_is_replaced_and_the_new_one_cleans_up() {
    let probe = Probe::new("harness-crash").await;
    let worker = probe_worker(&probe.state).await;
    let id = "probe-crash";
    probe.start(id, Duration::from_secs(4)).await;
    probe.until_step(id, "probe wait").await;
    probe.someone_else_excludes_theirs().await;
    // The worker goes away mid-wait (its in-flight activity cut short).
    worker.shutdown(Duration::ZERO).await;
    let status = probe.status(id).await;
    assert!(!status.state.is_terminal(), "{status:?}");
    // A new worker resumes the run from its history and ends it cleanly.
    let worker = probe_worker(&probe.state).await;
    let status = probe.until_ended(id).await;
    assert_eq!(status.state, InstanceState::Completed, "{status:?}");
    let report = Probe::report(&status).unwrap();
    assert_eq!(report.common.state, ClusterState::Succeeded, "{report:?}");
    probe.assert_put_back("after a new worker finished the run").await;
    worker.shutdown(Duration::from_secs(1)).await;
    probe.stop().await;
}
