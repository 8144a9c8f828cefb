//! The Kubernetes API machinery (being written).
