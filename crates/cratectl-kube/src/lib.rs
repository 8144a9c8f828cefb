//! cratectl's Kubernetes adapter (kube-rs): kubeconfig resolution as kubectl does it, the
//! `CrateDB` custom resource, discovery of clusters, StatefulSets, pods and nodes, Leases,
//! Secrets, and the pod proxy to CrateDB's HTTP port.
