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

    /// Whether trying again may help: no answer from the API server (unreachable, a timeout),
    /// or an answer that says "later" (429, 500, 502, 503, 504). A kubeconfig problem, an
    /// unknown context, a 4xx refusal (401, 403, 404, 409, 422) or an answer we cannot use is
    /// not.
    pub fn is_transient(&self) -> bool {
        match self {
            KubeError::Api { status: None, .. } => true,
            KubeError::Api {
                status: Some(code), ..
            } => matches!(code, 429 | 500 | 502 | 503 | 504),
            KubeError::Kubeconfig { .. }
            | KubeError::UnknownContext { .. }
            | KubeError::Unexpected { .. } => false,
        }
    }

    /// Whether the API server could not be reached at all (no HTTP answer).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, KubeError::Api { status: None, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::KubeError;

    fn api(status: Option<u16>) -> KubeError {
        KubeError::Api {
            what: "reading".into(),
            context: "ctx".into(),
            reason: "r".into(),
            status,
        }
    }

    #[test]
    fn only_answers_that_say_later_and_no_answer_are_transient() {
        for code in [429, 500, 502, 503, 504] {
            assert!(api(Some(code)).is_transient(), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 422] {
            assert!(!api(Some(code)).is_transient(), "{code}");
        }
        assert!(api(None).is_transient());
        assert!(
            !KubeError::Unexpected {
                what: "w".into(),
                reason: "r".into()
            }
            .is_transient()
        );
    }
}
