//! One module per operation, each with its workflows, its own activities, its inputs and
//! records, and its dry run. What they share is the harness ([`crate::harness`]), the common
//! activities ([`crate::activities::common`]) and the records of [`crate::model`].

pub mod restart;
pub mod restore;
pub mod scale;
pub mod suspend;

/// Every registered workflow, in one list that each engine adapter expands: a Rust name for
/// engines that need a type per workflow, the registered name, the input type and the
/// workflow function. A new operation adds its lines here and no engine needs changing.
/// `$m` is called once with the whole list.
#[macro_export]
#[doc(hidden)]
macro_rules! for_every_workflow {
    ($m:ident) => {
        $m! {
            RestartRequestWf: $crate::ops::restart::model::RESTART_REQUEST,
                $crate::ops::restart::model::RestartRequest, $crate::ops::restart::workflow::restart_request;
            RestartClusterWf: $crate::ops::restart::model::RESTART_CLUSTER,
                $crate::ops::restart::model::ClusterInput, $crate::ops::restart::workflow::restart_cluster;
            ScaleRequestWf: $crate::ops::scale::model::SCALE_REQUEST,
                $crate::ops::scale::model::ScaleRequest, $crate::ops::scale::workflow::scale_request;
            ScaleClusterWf: $crate::ops::scale::model::SCALE_CLUSTER,
                $crate::ops::scale::model::ScaleClusterInput, $crate::ops::scale::workflow::scale_cluster;
            RestoreRequestWf: $crate::ops::restore::model::RESTORE_REQUEST,
                $crate::ops::restore::model::RestoreRequest, $crate::ops::restore::workflow::restore_request;
            RestoreClusterWf: $crate::ops::restore::model::RESTORE_CLUSTER,
                $crate::ops::restore::model::RestoreClusterInput, $crate::ops::restore::workflow::restore_cluster;
            SuspendRequestWf: $crate::ops::suspend::model::SUSPEND_REQUEST,
                $crate::ops::suspend::model::SuspendRequest, $crate::ops::suspend::workflow::suspend_request;
            SuspendClusterWf: $crate::ops::suspend::model::SUSPEND_CLUSTER,
                $crate::ops::suspend::model::SuspendClusterInput, $crate::ops::suspend::workflow::suspend_cluster;
            ResumeRequestWf: $crate::ops::suspend::model::RESUME_REQUEST,
                $crate::ops::suspend::model::ResumeRequest, $crate::ops::suspend::workflow::resume_request;
            ResumeClusterWf: $crate::ops::suspend::model::RESUME_CLUSTER,
                $crate::ops::suspend::model::ResumeClusterInput, $crate::ops::suspend::workflow::resume_cluster;
        }
    };
}
