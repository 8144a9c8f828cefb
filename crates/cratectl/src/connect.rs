//! Addressing: from the global flags (already merged with the environment and `.env` by clap)
//! to a Kubernetes connection, a discovered cluster, and CrateDB clients.
//!
//! A cluster is addressed by name (its CrateDB resource name or `spec.cluster.name`) through
//! Kubernetes, or without Kubernetes by `--cluster-url`. Through Kubernetes, CrateDB is reached
//! over a port-forward to one pod's port 4200 (the API server's pod proxy would drop the
//! credentials), as the `system` user with the password from the cluster's Secret, unless
//! `--username`/`--password`/`--token` say otherwise.
//!
//! Errors follow the exit-code table: an unknown or ambiguous name is invalid input (2, with the
//! closest names); a cluster or API server that cannot be reached is a failure (1) naming what
//! was tried and why. No message carries a credential.

use std::sync::{Arc, OnceLock};

use cratectl_core::jwt;
use cratectl_core::topology::closest_names;
use cratectl_cratedb::{
    Client, Credentials, DirectOptions, DirectTransport, RetryPolicy, Secret, TokenSource,
};
use cratectl_kube::discovery::{Cluster, Discovery, PodInfo, discover};
use cratectl_kube::secrets::system_password;
use cratectl_kube::{Kube, KubeError, KubeTarget};
use jiff::Timestamp;

use crate::cli::GlobalArgs;
use crate::exit::{CliError, CliResult};

/// Connects to Kubernetes as the flags say.
pub async fn kube(global: &GlobalArgs) -> CliResult<Kube> {
    let target = KubeTarget {
        kubeconfig: global.kubeconfig.clone(),
        context: global.context.clone(),
    };
    // A kubeconfig that cannot be read or a context it lacks is invalid input (exit 2).
    Kube::connect(&target)
        .await
        .map_err(|e| CliError::invalid(e.to_string()))
}

/// Maps an adapter error from reading Kubernetes to the exit-code table: the API server was
/// asked and failed or refused (exit 1); the message names the context and what was tried.
pub fn kube_error(error: KubeError) -> CliError {
    CliError::failed(error.to_string())
}

/// Discovers clusters in `--namespace` (or all namespaces).
pub async fn discovery(kube: &Kube, global: &GlobalArgs) -> CliResult<Discovery> {
    discover(kube, global.namespace.as_deref())
        .await
        .map_err(kube_error)
}

/// The one cluster `name` addresses. Unknown: exit 2 with the closest names; ambiguous (the
/// same name in two namespaces): exit 2 naming them.
pub fn pick<'d>(
    discovery: &'d Discovery,
    name: &str,
    kube: &Kube,
    global: &GlobalArgs,
) -> CliResult<&'d Cluster> {
    let matches: Vec<&Cluster> = discovery
        .clusters
        .iter()
        .filter(|c| c.name == name || c.resource == name)
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => {
            let scope = global
                .namespace
                .as_deref()
                .map_or_else(|| "any namespace".to_string(), |ns| format!("namespace {ns}"));
            let mut known: Vec<String> = discovery.clusters.iter().map(|c| c.name.clone()).collect();
            known.extend(
                discovery
                    .clusters
                    .iter()
                    .filter(|c| c.resource != c.name)
                    .map(|c| c.resource.clone()),
            );
            let close = closest_names(name, &known);
            let hint = if close.is_empty() {
                if known.is_empty() {
                    " (no CrateDB clusters found)".to_string()
                } else {
                    format!(" (known: {})", known.join(", "))
                }
            } else {
                format!("; did you mean {}?", close.join(", "))
            };
            Err(CliError::invalid(format!(
                "unknown cluster {name:?} in {scope} ({}){hint}",
                kube.describe()
            )))
        }
        many => Err(CliError::invalid(format!(
            "cluster name {name:?} is ambiguous: {}; pass --namespace",
            many.iter().map(|c| c.qualified()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Finds the cluster `name` (connect, discover, pick).
pub async fn find(global: &GlobalArgs, name: &str) -> CliResult<(Kube, Discovery, Cluster)> {
    let kube = kube(global).await?;
    let discovery = discovery(&kube, global).await?;
    let cluster = pick(&discovery, name, &kube, global)?.clone();
    Ok((kube, discovery, cluster))
}

/// Credentials given on the command line or in the environment, if any.
pub fn explicit_credentials(global: &GlobalArgs) -> Option<Credentials> {
    if let Some(source) = token_source(global) {
        return Some(Credentials::TokenCommand(source));
    }
    if let Some(token) = &global.token {
        return Some(Credentials::Bearer(Secret::new(token.clone())));
    }
    if global.password.is_some() || global.username.is_some() {
        return Some(Credentials::Basic {
            user: global.username.clone().unwrap_or_else(|| "system".into()),
            password: Secret::new(global.password.clone().unwrap_or_default()),
        });
    }
    None
}

/// The process's one token source for `--token-command`: every client shares its token and
/// its refresh guard.
pub fn token_source(global: &GlobalArgs) -> Option<TokenSource> {
    static SOURCE: OnceLock<TokenSource> = OnceLock::new();
    let command = global.token_command.as_ref()?;
    Some(
        SOURCE
            .get_or_init(|| TokenSource::new(command.clone(), global.token_refresh_before))
            .clone(),
    )
}

/// Checks a static `--token` before anything runs (exit 2, the token never printed): it must
/// be a JWT and not have expired; a command that runs a workflow (`runs_workflow`) refuses one
/// that expires at all, since the workflow can outlive it and would then be unable to put the
/// cluster's settings back. A token without `exp` is accepted.
pub fn check_token(global: &GlobalArgs, runs_workflow: bool, now: Timestamp) -> CliResult {
    let Some(token) = &global.token else {
        return Ok(());
    };
    let info = jwt::inspect(token)
        .map_err(|_| CliError::invalid("--token is not a JWT (expected three base64url parts)"))?;
    let Some(exp) = info.expires_at else {
        return Ok(());
    };
    if now >= exp {
        return Err(CliError::invalid(format!("the token expired at {exp}")));
    }
    if runs_workflow {
        return Err(CliError::invalid(format!(
            "--token expires (at {exp}), and a workflow can outlive it: it would then be unable to \
             put the cluster's settings back; give --token-command (or CRATEDB_TOKEN_COMMAND), a \
             command that prints a fresh token, instead"
        )));
    }
    Ok(())
}

/// The credentials for `cluster`: explicit ones, else `system` with the Secret's password.
pub async fn credentials(kube: &Kube, cluster: &Cluster, global: &GlobalArgs) -> CliResult<Credentials> {
    if let Some(explicit) = explicit_credentials(global) {
        return Ok(explicit);
    }
    let password = system_password(kube, cluster).await.map_err(|e| {
        CliError::failed(format!(
            "cannot read the system user's password of {}: {e} (pass --username/--password, --token or --token-command instead)",
            cluster.qualified()
        ))
    })?;
    Ok(Credentials::Basic {
        user: "system".into(),
        password: Secret::new(password),
    })
}

/// A client for one pod of `cluster`, over a port-forward.
pub fn pod_client(kube: &Kube, cluster: &Cluster, pod: &PodInfo, credentials: Credentials) -> Client {
    cratectl_flow::env::pod_client(kube, cluster, pod, credentials)
}

/// A client for `--cluster-url`, with the explicit credentials (none if not given).
pub fn url_client(url: &str, global: &GlobalArgs) -> CliResult<Client> {
    let transport = DirectTransport::new(url, &DirectOptions::default())
        .map_err(|e| CliError::invalid(format!("--cluster-url: {e}")))?;
    Ok(Client::new(
        Arc::new(transport),
        explicit_credentials(global).unwrap_or(Credentials::None),
        RetryPolicy::default(),
    ))
}

/// What a command is about: a cluster found through Kubernetes, or a URL.
pub enum Target {
    Kube {
        kube: Kube,
        discovery: Discovery,
        cluster: Box<Cluster>,
    },
    Url {
        url: String,
        client: Client,
    },
}

impl Target {
    /// "namespace/name" or the URL, for messages.
    pub fn label(&self) -> String {
        match self {
            Target::Kube { cluster, .. } => cluster.qualified(),
            Target::Url { url, .. } => url.clone(),
        }
    }
}

/// Resolves a command's cluster argument: `--cluster-url` wins; else the name through
/// Kubernetes. Neither: exit 2.
pub async fn target(global: &GlobalArgs, name: Option<&str>) -> CliResult<Target> {
    if let Some(url) = &global.cluster_url {
        let client = url_client(url, global)?;
        return Ok(Target::Url {
            url: url.clone(),
            client,
        });
    }
    let Some(name) = name else {
        return Err(CliError::invalid(
            "name a cluster (its CrateDB resource name or spec.cluster.name), or pass --cluster-url URL",
        ));
    };
    let (kube, discovery, cluster) = find(global, name).await?;
    Ok(Target::Kube {
        kube,
        discovery,
        cluster: Box::new(cluster),
    })
}

/// A client for the target: the URL's, or one pod's (the first Ready one).
pub async fn client(target: &Target, global: &GlobalArgs) -> CliResult<Client> {
    match target {
        Target::Url { client, .. } => Ok(client.clone()),
        Target::Kube { kube, cluster, .. } => {
            let pod = cluster.reading_pod(None).map_err(CliError::failed)?;
            let credentials = credentials(kube, cluster, global).await?;
            Ok(pod_client(kube, cluster, pod, credentials))
        }
    }
}

/// Maps a CrateDB client error to the exit-code table: every one of them is a failure (1); the
/// message already names what was tried.
pub fn db_error(error: cratectl_cratedb::Error) -> CliError {
    CliError::failed(error.to_string())
}
