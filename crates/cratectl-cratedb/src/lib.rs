//! cratectl's CrateDB client: `POST /_sql` with parameters and auth, CrateDB's error codes as
//! typed errors, retries for transient failures only, and typed reads of the system tables that
//! operations gate on. The transport is pluggable: a direct URL, or the Kubernetes pod proxy
//! (provided by `cratectl-kube`).
