//! cratesim: a faithful simulation of a Kubernetes API server running CrateDB clusters.
//!
//! No real Kubernetes or CrateDB can run where cratectl is tested, yet everything it does must
//! be tested end to end. cratesim is the cluster those tests run against, faithful enough that
//! clients nobody here wrote (kubectl, the Python Kubernetes client, CrateDB's `crash`) accept
//! it. It depends on no other crate of the workspace.
//!
//! * [`kube`] — the API machinery: object store with resourceVersions and an event log,
//!   discovery, CRUD, watches, Tables and Status errors, served over HTTP.
//! * [`cratedb`] — the CrateDB cluster model: nodes, tables and shards, health, allocation,
//!   settings, decommission, snapshots, and the `/_sql` statement catalogue.
//! * [`databases`] — the CrateDB clusters, and which pod runs which node.
//! * [`dc_util`] — what the operator's dc_util hooks do to `cluster.routing.allocation.enable`.
//! * [`evidence`] — what happened, for tests to assert on (`GET /_sim/report`).
//! * [`faults`] — faults injected at run time (`POST /_sim/faults`).
//! * [`nodes`] — the Kubernetes nodes, with taints, annotations and cordons.
//! * [`operator`] — the CrateDB operator stand-in that materialises `CrateDB` resources.
//! * [`operator_controller`] — the operator stand-in's reconcile loop: scale, suspend, resume.
//! * [`scenario`] — scenario files: clusters, nodes and faults for `cratesim serve --scenario`.
//! * [`proxy`] — HTTP to a pod's CrateDB node (pod proxy, direct URLs, port-forwards), with
//!   what CrateDB sees of each (credentials, client address).
//! * [`portforward`] — the `pods/<name>/portforward` subresource: a WebSocket tunnel to a pod.
//! * [`serve`] — serving over sockets, and the kubeconfig for clients.
//! * [`controllers`] — the StatefulSet controller and kubelet, on simulated time.
//! * [`clock`] — simulated time.

pub mod clock;
pub mod controllers;
pub mod cratedb;
pub mod databases;
pub mod dc_util;
pub mod evidence;
pub mod faults;
pub mod jwt;
pub mod kube;
pub mod nodes;
pub mod operator;
pub mod operator_controller;
pub mod portforward;
pub mod proxy;
pub mod scenario;
pub mod serve;
