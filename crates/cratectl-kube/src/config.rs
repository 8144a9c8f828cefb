//! Connecting to a Kubernetes API as kubectl does: the kubeconfig from `--kubeconfig`, else the
//! files in `KUBECONFIG` (merged, first wins), else `~/.kube/config`; the context from
//! `--context`, else the file's current context.
//!
//! Flags versus environment variables is the binary's business; here a [`KubeTarget`] says
//! exactly which file (if any) and which context (if any) were asked for, and errors say what
//! was tried.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::KubeError;

/// Which kubeconfig and context to use; `None` means kubectl's default.
#[derive(Clone, Debug, Default)]
pub struct KubeTarget {
    /// A kubeconfig file; `None`: `KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// A context in it; `None`: its current context.
    pub context: Option<String>,
}

/// kubectl's default: the files listed in `KUBECONFIG` (missing ones skipped, the rest merged,
/// first wins), else `~/.kube/config`. Returns the configuration and how to name its source.
fn read_default() -> Result<(Kubeconfig, String), KubeError> {
    let listed: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
        .map(|value| {
            std::env::split_paths(&value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or_else(|| KubeError::Kubeconfig {
                source_desc: "~/.kube/config".into(),
                message: "no kubeconfig found: pass --kubeconfig or set KUBECONFIG (HOME is not set)".into(),
            })?;
        let path = home.join(".kube").join("config");
        if !path.exists() {
            return Err(KubeError::Kubeconfig {
                source_desc: path.display().to_string(),
                message: "no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config"
                    .into(),
            });
        }
        let config = Kubeconfig::read_from(&path).map_err(|e| KubeError::Kubeconfig {
            source_desc: path.display().to_string(),
            message: e.to_string(),
        })?;
        return Ok((config, path.display().to_string()));
    }
    let source = format!(
        "KUBECONFIG={}",
        listed
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    );
    let mut merged: Option<Kubeconfig> = None;
    for path in listed.iter().filter(|p| p.exists()) {
        let config = Kubeconfig::read_from(path).map_err(|e| KubeError::Kubeconfig {
            source_desc: path.display().to_string(),
            message: e.to_string(),
        })?;
        merged = Some(match merged {
            None => config,
            Some(m) => m.merge(config).map_err(|e| KubeError::Kubeconfig {
                source_desc: source.clone(),
                message: e.to_string(),
            })?,
        });
    }
    let config = merged.ok_or_else(|| KubeError::Kubeconfig {
        source_desc: source.clone(),
        message: "none of these files exists".into(),
    })?;
    Ok((config, source))
}

/// A connection to one Kubernetes API: the client and where it points.
#[derive(Clone)]
pub struct Kube {
    pub client: Client,
    /// The same connection without kube-rs' transparent retries of 429/503/504, for requests
    /// whose refusal is an answer: an eviction a PodDisruptionBudget refuses is a 429, which the
    /// default client would retry for minutes instead of letting us report the budget.
    pub once: Client,
    /// The context name (for messages: "context prod-eu").
    pub context: String,
    /// The API server URL (for messages; never carries credentials).
    pub server: String,
}

impl std::fmt::Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("context", &self.context)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Kube {
    /// Reads the kubeconfig `target` names and builds a client for its context. Nothing is sent
    /// to the API server yet.
    pub async fn connect(target: &KubeTarget) -> Result<Kube, KubeError> {
        let (kubeconfig, source) = match &target.kubeconfig {
            Some(path) => (
                Kubeconfig::read_from(path).map_err(|e| KubeError::Kubeconfig {
                    source_desc: path.display().to_string(),
                    message: e.to_string(),
                })?,
                path.display().to_string(),
            ),
            None => read_default()?,
        };
        let context = match &target.context {
            Some(context) => {
                if !kubeconfig.contexts.iter().any(|c| &c.name == context) {
                    return Err(KubeError::UnknownContext {
                        context: context.clone(),
                        kubeconfig: source,
                        available: kubeconfig.contexts.iter().map(|c| c.name.clone()).collect(),
                    });
                }
                context.clone()
            }
            None => kubeconfig
                .current_context
                .clone()
                .ok_or_else(|| KubeError::Kubeconfig {
                    source_desc: source.clone(),
                    message: "it sets no current-context: pass --context".into(),
                })?,
        };
        let options = KubeConfigOptions {
            context: Some(context.clone()),
            ..KubeConfigOptions::default()
        };
        let config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| KubeError::Kubeconfig {
                source_desc: format!("{source} (context {context})"),
                message: e.to_string(),
            })?;
        let server = config.cluster_url.to_string();
        let mut no_retry = config.clone();
        no_retry.default_retry = false;
        let build = |config: Config| {
            Client::try_from(config).map_err(|e| KubeError::Kubeconfig {
                source_desc: format!("{source} (context {context})"),
                message: e.to_string(),
            })
        };
        let client = build(config)?;
        let once = build(no_retry)?;
        Ok(Kube {
            client,
            once,
            context,
            server,
        })
    }

    /// Wraps an existing client (tests drive the simulator in-process this way).
    pub fn from_client(client: Client, context: &str, server: &str) -> Kube {
        Kube {
            once: client.clone(),
            client,
            context: context.into(),
            server: server.into(),
        }
    }

    /// "context C at URL", for messages.
    pub fn describe(&self) -> String {
        format!("context {} ({})", self.context, self.server.trim_end_matches('/'))
    }
}
