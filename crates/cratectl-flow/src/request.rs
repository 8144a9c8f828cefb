//! The top-level workflow of every operation: the id the user sees runs one child workflow per
//! cluster (`<request id>.<namespace>.<cluster>`, the Lease holder), `parallel` lanes at a
//! time, and returns the report. A failed cluster does not stop the others. Control messages
//! (`stop`, `force_restart`) sent to the request reach clusters whose workflow starts later:
//! the request reads its mailbox before starting each.
//!
//! Deterministic code only, like every workflow.

use std::sync::Mutex;
use std::time::Duration;

use cratectl_core::op::OperationKind;
use cratectl_core::op::lanes::lanes;
use cratectl_core::op::report::{ClusterOutcome, ClusterState, OperationReport};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::engine::{WfResult, WorkflowCtx};
use crate::model::{CONTROL_MAILBOX, ClusterRef, Control, RequestProgress, child_id};

/// How one operation's request runs its clusters.
pub struct Request<'r, I, R> {
    pub kind: OperationKind,
    pub request_id: &'r str,
    pub clusters: &'r [ClusterRef],
    /// Clusters run at once (each cluster: one disruption at a time, always).
    pub parallel: usize,
    /// The registered name of the operation's cluster workflow.
    pub child_workflow: &'static str,
    /// The cluster workflow's input for cluster `index`, its child id, and a `force_restart`
    /// reason the request received before it started.
    pub input: &'r (dyn Fn(usize, &str, Option<String>) -> I + Sync),
    /// A cluster's report before anything ran.
    pub pending: &'r (dyn Fn(&ClusterRef, &str) -> R + Sync),
}

/// Control messages the request itself received.
#[derive(Default)]
struct RequestControl {
    forced: Option<String>,
    stopped: Option<String>,
}

/// Runs the request: every cluster's workflow, then the report.
pub async fn run_request<C, I, R>(ctx: &C, request: Request<'_, I, R>) -> WfResult<OperationReport<R>>
where
    C: WorkflowCtx,
    I: Serialize,
    R: ClusterOutcome + Serialize + DeserializeOwned,
{
    let started_at = ctx.now().await?;
    let child_ids: Vec<String> = request
        .clusters
        .iter()
        .map(|c| child_id(request.request_id, c))
        .collect();
    ctx.set_progress(&RequestProgress {
        request_id: request.request_id.to_string(),
        started_at: Some(started_at),
        clusters: request.clusters.to_vec(),
        child_ids: child_ids.clone(),
    });
    let control = Mutex::new(RequestControl::default());
    let futures: Vec<_> = lanes(request.clusters.len(), request.parallel)
        .into_iter()
        .map(|indices| run_lane(ctx, &request, &child_ids, indices, &control))
        .collect();
    let mut results: Vec<(usize, R)> = ctx.join(futures).await.into_iter().flatten().collect();
    results.sort_by_key(|(index, _)| *index);
    let clusters: Vec<R> = results.into_iter().map(|(_, report)| report).collect();
    let finished_at = ctx.now().await?;
    let report = OperationReport {
        workflow_id: request.request_id.to_string(),
        operation: request.kind,
        state: OperationReport::overall(&clusters),
        started_at: Some(started_at),
        finished_at: Some(finished_at),
        clusters,
        progressed_at: Some(finished_at),
    };
    ctx.set_progress(&report);
    Ok(report)
}

async fn run_lane<C, I, R>(
    ctx: &C,
    request: &Request<'_, I, R>,
    child_ids: &[String],
    indices: Vec<usize>,
    control: &Mutex<RequestControl>,
) -> Vec<(usize, R)>
where
    C: WorkflowCtx,
    I: Serialize,
    R: ClusterOutcome + Serialize + DeserializeOwned,
{
    let mut out = Vec::new();
    for index in indices {
        let cluster = &request.clusters[index];
        while let Some(message) = ctx.recv_or_timeout(CONTROL_MAILBOX, Duration::ZERO).await {
            let mut flags = control.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match serde_json::from_str::<Control>(&message) {
                Ok(Control::ForceRestart { reason }) => flags.forced = Some(reason),
                Ok(Control::Stop { reason }) => flags.stopped = Some(reason),
                Err(e) => ctx.log(&format!("ignoring an unreadable control message: {e}")),
            }
        }
        let (forced, stopped) = {
            let flags = control.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (flags.forced.clone(), flags.stopped.clone())
        };
        if let Some(reason) = stopped {
            let mut report = (request.pending)(cluster, &child_ids[index]);
            let common = report.common_mut();
            common.state = ClusterState::Stopped;
            common.reason = Some(format!("stopped by operator before it started: {reason}"));
            out.push((index, report));
            continue;
        }
        let input = (request.input)(index, &child_ids[index], forced);
        let report = match ctx
            .child::<_, R>(request.child_workflow, &child_ids[index], &input)
            .await
        {
            Ok(report) => report,
            Err(e) => {
                let mut report = (request.pending)(cluster, &child_ids[index]);
                let common = report.common_mut();
                common.state = ClusterState::Failed;
                common.reason = Some(format!("the cluster's workflow ended abnormally: {}", e.message));
                report
            }
        };
        out.push((index, report));
    }
    out
}
