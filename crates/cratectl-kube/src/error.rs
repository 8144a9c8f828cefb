//! The adapter's errors. Each names what was tried (kubeconfig, context, object) and why it
//! failed, and none carries credentials: kube-rs' errors name URLs and statuses, never tokens.

/// What went wrong talking to Kubernetes.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The kubeconfig could not be read or used.
    #[error("kubeconfig {source_desc}: {message}")]
    Kubeconfig { source_desc: String, message: String },

    /// `--context` names a context the kubeconfig does not have.
    #[error("context {context:?} is not in kubeconfig {kubeconfig} (contexts: {})", available.join(", "))]
    UnknownContext {
        context: String,
        kubeconfig: String,
        available: Vec<String>,
    },

    /// The API server answered with an error or could not be reached.
    #[error("{what} ({context}): {reason}")]
    Api {
        what: String,
        context: String,
        reason: String,
        /// HTTP status when the server answered (401, 403, 404 …).
        status: Option<u16>,
    },

    /// The API server answered something the adapter cannot use.
    #[error("{what}: {reason}")]
    Unexpected { what: String, reason: String },
}

impl KubeError {
    /// Maps a kube-rs error from doing `what` in `context`.
    pub fn api(what: impl Into<String>, context: &str, error: kube::Error) -> KubeError {
        let (reason, status) = match &error {
            kube::Error::Api(status) => {
                let hint = match status.code {
                    401 => " - authentication failed: check the kubeconfig's credentials (an expired token?)",
                    403 => " - permission denied: the kubeconfig's user lacks the RBAC rights for this",
                    _ => "",
                };
                (
                    format!("{} ({}){hint}", status.message, status.code),
                    Some(status.code),
                )
            }
            other => (format!("cannot reach the API server: {other}"), None),
        };
        KubeError::Api {
            what: what.into(),
            context: context.into(),
            reason,
            status,
        }
    }

    /// Whether this is the API server saying the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            KubeError::Api {
                status: Some(404),
                ..
            }
        )
    }

    /// Whether the API server could not be reached at all (no HTTP answer).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, KubeError::Api { status: None, .. })
    }
}
