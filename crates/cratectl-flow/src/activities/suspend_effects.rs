//! Undoing what a suspend stopped besides the nodes: the backup CronJobs it suspended and the
//! Deployments (grand-central, backup-metrics) it scaled to 0 come back as the record says, and
//! the record is removed. One activity for the resume's last step and for the cleanup (and
//! compensation) of a suspend that ended before its first StatefulSet change.

use std::sync::Arc;

use cratectl_core::suspend::record::SuspendRecord;
use cratectl_kube::restore::set_deployment_replicas;
use cratectl_kube::suspend::{remove_record, set_cronjob_suspended};
use serde::{Deserialize, Serialize};

use super::At;
use crate::engine::{Activity, ActivityError, ActivitySink, RunActivity};
use crate::env::{ActivityEnv, kube_error};

/// Registers this module's activity.
pub fn register<S: ActivitySink<ActivityEnv>>(sink: S) -> S {
    sink.add::<UndoSuspendEffects>()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuspendUndoIn {
    pub at: At,
    pub record: SuspendRecord,
}

/// CronJobs resumed, Deployments scaled back, then the record removed (only the record of the
/// same workflow: another suspend's record is never touched). Each step is a no-op when done
/// already; answers what it did.
pub struct UndoSuspendEffects;
impl Activity for UndoSuspendEffects {
    const NAME: &'static str = "suspend_undo_effects";
    type In = SuspendUndoIn;
    type Out = Vec<String>;
}
impl RunActivity<ActivityEnv> for UndoSuspendEffects {
    async fn run(env: Arc<ActivityEnv>, input: SuspendUndoIn) -> Result<Vec<String>, ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        let ns = &input.at.cluster.namespace;
        let mut done = Vec::new();
        for name in &input.record.cronjobs {
            set_cronjob_suspended(&kube, ns, name, false)
                .await
                .map_err(|e| kube_error(&e))?;
            done.push(format!("CronJob {name} resumed"));
        }
        for (name, replicas) in &input.record.deployments {
            set_deployment_replicas(&kube, ns, name, *replicas)
                .await
                .map_err(|e| kube_error(&e))?;
            done.push(format!("Deployment {name} back to {replicas}"));
        }
        if remove_record(
            &kube,
            ns,
            &input.at.cluster.resource,
            Some(&input.record.workflow_id),
        )
        .await
        .map_err(|e| kube_error(&e))?
        {
            done.push("suspend record removed".to_string());
        }
        Ok(done)
    }
}
