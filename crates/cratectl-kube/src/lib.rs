//! cratectl's Kubernetes adapter (kube-rs): kubeconfig resolution as kubectl does it, the
//! `CrateDB` custom resource, discovery of clusters, StatefulSets, pods and nodes, Leases,
//! Secrets, and the ways to CrateDB's HTTP port through the API (port-forward, pod proxy). It
//! reads and applies; every decision is in `cratectl-core`.
//!
//! * [`config`] — kubeconfig and context, the client.
//! * [`crd`] — the `CrateDB` resource type.
//! * [`discovery`] — clusters and what runs them, in a few list calls.
//! * [`lease`] — the per-cluster operation lock: read, take, renew, release.
//! * [`labels`] — the operator's `dc-util-routing-owner` label on StatefulSets.
//! * [`pods`] — read a pod, stop it only if it is still the pod meant (evict or delete), and
//!   wait, by watching, for it to go and for its replacement to be Ready.
//! * [`scale`] — what a scale reads (the resource's counts and the operator's markers, the
//!   StatefulSets' command lines) and its guarded writes (replicas, command, labels).
//! * [`restore`] — a restore's Secrets (temporary repository keys, user passwords), the
//!   operator's `spec.cluster.restoreSnapshot`, and the grand-central Deployment.
//! * [`suspend`] — the suspend record on the resource, the data counts in one patch, the backup
//!   CronJobs, the data volume claims.
//! * [`secrets`] — the `system` user's password from the operator's Secret.
//! * [`transport`] — CrateDB through the Kubernetes API: [`transport::PortForward`] (keeps the
//!   credentials) and [`transport::PodProxy`] (drops them).
//! * [`error`] — errors that say what was tried and why it failed.

pub mod config;
pub mod crd;
pub mod discovery;
pub mod error;
pub mod labels;
pub mod lease;
pub mod pods;
pub mod restore;
pub mod scale;
pub mod secrets;
pub mod suspend;
pub mod transport;

pub use config::{Kube, KubeTarget};
pub use discovery::{Cluster, Discovery, discover};
pub use error::KubeError;
pub use lease::Acquire;
pub use pods::{PodState, StopOutcome, WaitError};
