//! What activities run with on a worker: Kubernetes connections (one per kubeconfig/context,
//! reused) and credentials for CrateDB. None of it is recorded in history: a worker on another
//! machine brings its own.

use std::collections::HashMap;
use std::sync::Arc;

use cratectl_core::health::{Observation, Reading, Verdict, assess};
use cratectl_cratedb::{Client, Credentials, RetryPolicy, Secret};
use cratectl_kube::discovery::PodInfo;
use cratectl_kube::transport::PortForward;
use cratectl_kube::{Cluster, Kube, KubeTarget, discover};
use tokio::sync::Mutex;

use crate::engine::ActivityError;
use crate::model::{AuthSpec, ClusterRef, NEEDS_TOKEN_COMMAND, TargetSpec};

/// A Kubernetes failure as an activity's: retryable when the API server may answer better later.
pub fn kube_error(e: &cratectl_kube::KubeError) -> ActivityError {
    ActivityError::transient_if(e.is_transient(), e.to_string())
}

/// A CrateDB failure as an activity's: retryable when CrateDB may answer better later (a lost
/// connection, a 503), permanent for a refusal (a missing privilege, an unknown table).
///
/// A token command that failed or timed out is retryable here (not in the client, which would
/// run it again at once): an identity provider's hiccup should not end an operation, and the
/// step's budget bounds the tries. A token CrateDB refused is not.
pub fn cratedb_error(e: &cratectl_cratedb::Error) -> ActivityError {
    let token_command_failed = matches!(e, cratectl_cratedb::Error::Token { .. });
    ActivityError::transient_if(e.is_transient() || token_command_failed, e.to_string())
}

/// The worker's environment.
#[derive(Default)]
pub struct ActivityEnv {
    /// Credentials given to the worker (flags or environment), used instead of the cluster's
    /// Secret. Never serialized.
    pub credentials: Option<Credentials>,
    kubes: Mutex<HashMap<TargetSpec, Kube>>,
    /// DECOMMISSION statements sent by this worker, by call id: CrateDB
    /// answers one only when the node is about to leave (minutes to hours), so it runs in the
    /// background and the wait for the node to leave checks here whether it failed.
    decommissions: std::sync::Mutex<HashMap<String, DecommissionCall>>,
    /// Makes this worker's call ids unlike any other worker's (`<pid>.<start nanos>`).
    instance: String,
    calls: std::sync::atomic::AtomicU64,
}

/// The answer to one DECOMMISSION: unset while it runs, `Err` when it failed.
pub type DecommissionCall = Arc<std::sync::OnceLock<Result<(), String>>>;

impl ActivityEnv {
    pub fn new(credentials: Option<Credentials>) -> ActivityEnv {
        ActivityEnv {
            credentials,
            kubes: Mutex::new(HashMap::new()),
            decommissions: std::sync::Mutex::new(HashMap::new()),
            instance: format!(
                "{}.{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ),
            calls: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A new id for a DECOMMISSION of `node` (recorded in history, so the wait for the node
    /// asks about this very call).
    pub fn decommission_id(&self, node: &str) -> String {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{node}@{}#{n}", self.instance)
    }

    /// Registers call `id` as sent by this worker; the sender records the answer in the
    /// returned slot.
    pub fn decommission_sent(&self, id: &str) -> DecommissionCall {
        let call = DecommissionCall::default();
        self.decommissions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), call.clone());
        call
    }

    /// Whether this worker sent call `id` (no: another worker did, or this one before it was
    /// restarted).
    pub fn decommission_known(&self, id: &str) -> bool {
        self.decommissions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
    }

    /// Why the DECOMMISSION call `id` failed, if this worker sent it and it did. (A call of
    /// another worker, or of this one before a restart, is not known: the wait then only
    /// watches the node.)
    pub fn decommission_failed(&self, id: &str) -> Option<String> {
        let calls = self.decommissions.lock().unwrap_or_else(|p| p.into_inner());
        match calls.get(id).and_then(|call| call.get()) {
            Some(Err(why)) => Some(why.clone()),
            _ => None,
        }
    }

    /// The Kubernetes client for `target`, connected once.
    ///
    /// Every activity comes here first, so this is where a worker without a token command
    /// refuses an operation that was started with one (permanently: no retry brings it one).
    pub async fn kube(&self, target: &TargetSpec) -> Result<Kube, ActivityError> {
        if !self.can_run(target) {
            return Err(ActivityError::permanent(NEEDS_TOKEN_COMMAND));
        }
        let mut kubes = self.kubes.lock().await;
        if let Some(kube) = kubes.get(target) {
            return Ok(kube.clone());
        }
        let kube = Kube::connect(&KubeTarget {
            kubeconfig: target.kubeconfig.clone(),
            context: target.context.clone(),
        })
        .await
        .map_err(|e| kube_error(&e))?;
        kubes.insert(target.clone(), kube.clone());
        Ok(kube)
    }

    /// The cluster as Kubernetes shows it now.
    pub async fn cluster(
        &self,
        target: &TargetSpec,
        cluster: &ClusterRef,
    ) -> Result<(Kube, Cluster), ActivityError> {
        let kube = self.kube(target).await?;
        let discovery = discover(&kube, Some(&cluster.namespace))
            .await
            .map_err(|e| kube_error(&e))?;
        let found = discovery
            .clusters
            .into_iter()
            .find(|c| c.resource == cluster.resource && c.namespace == cluster.namespace)
            .ok_or_else(|| {
                ActivityError::permanent(format!(
                    "CrateDB resource {}/{} no longer exists",
                    cluster.namespace, cluster.resource
                ))
            })?;
        Ok((kube, found))
    }

    /// Whether this worker has what an operation recorded with `target` needs.
    pub fn can_run(&self, target: &TargetSpec) -> bool {
        match target.auth {
            None => true,
            Some(AuthSpec::TokenCommand) => {
                matches!(self.credentials, Some(Credentials::TokenCommand(_)))
            }
        }
    }

    /// The credentials for `cluster`: the worker's own, else `system` with the Secret's password.
    pub async fn credentials(&self, kube: &Kube, cluster: &Cluster) -> Result<Credentials, ActivityError> {
        if let Some(credentials) = &self.credentials {
            return Ok(credentials.clone());
        }
        let password = cratectl_kube::secrets::system_password(kube, cluster)
            .await
            .map_err(|e| {
                kube_error(&e).context(format!(
                    "cannot read the system user's password of {}",
                    cluster.qualified()
                ))
            })?;
        Ok(Credentials::Basic {
            user: "system".into(),
            password: Secret::new(password),
        })
    }

    /// A CrateDB client through a Ready pod of `cluster` other than `avoid` (ARCHITECTURE §1.2:
    /// never read through the node being disrupted).
    pub async fn client_avoiding(
        &self,
        kube: &Kube,
        cluster: &Cluster,
        avoid: Option<&str>,
    ) -> Result<Client, ActivityError> {
        // No Ready pod now: pods come back, so this is worth another try.
        let pod = reading_pod(cluster, avoid).map_err(ActivityError::retryable)?;
        let credentials = self.credentials(kube, cluster).await?;
        Ok(pod_client(kube, cluster, pod, credentials))
    }

    /// Clients for every Ready pod of `cluster` but `avoid`, in pod order (for a write that
    /// must get through while one node is going away).
    pub async fn clients(
        &self,
        kube: &Kube,
        cluster: &Cluster,
        avoid: Option<&str>,
    ) -> Result<Vec<Client>, ActivityError> {
        let credentials = self.credentials(kube, cluster).await?;
        Ok(cluster
            .ready_pods()
            .filter(|p| Some(p.name.as_str()) != avoid)
            .map(|p| pod_client(kube, cluster, p, credentials.clone()))
            .collect())
    }

    /// One health verdict of `cluster`, read through a pod other than `avoid`.
    pub async fn verdict(&self, kube: &Kube, cluster: &Cluster, avoid: Option<&str>) -> Verdict {
        match self.client_avoiding(kube, cluster, avoid).await {
            Err(why) => judge(
                cluster,
                Reading::Unreachable {
                    tried: cluster.qualified(),
                    error: why.message,
                },
            ),
            Ok(client) => verdict_through(&client, cluster).await,
        }
    }
}

/// One health verdict of `cluster`, read now through `client`.
pub async fn verdict_through(client: &Client, cluster: &Cluster) -> Verdict {
    let reading = match client.cluster_reading().await {
        Ok(reading) => Reading::Read(reading),
        Err(e) => Reading::Unreachable {
            tried: client.via(),
            error: e.to_string(),
        },
    };
    judge(cluster, reading)
}

fn judge(cluster: &Cluster, reading: Reading) -> Verdict {
    assess(&Observation {
        expected_nodes: cluster.desired_nodes(),
        expected_node_names: expected_node_names(cluster),
        suspended: cluster.suspended(),
        reading,
    })
}

/// What a polling activity reads through: the cluster as discovered and a client to a pod other
/// than the one being disrupted, kept across the polls of one activity run (every poll is still
/// a fresh query) and rebuilt after a failed read, when the pod may be gone.
pub struct Poller<'e> {
    env: &'e ActivityEnv,
    target: TargetSpec,
    cluster: ClusterRef,
    avoid: Option<String>,
    current: Option<(Cluster, Client)>,
}

impl<'e> Poller<'e> {
    pub fn new(
        env: &'e ActivityEnv,
        target: &TargetSpec,
        cluster: &ClusterRef,
        avoid: Option<&str>,
    ) -> Poller<'e> {
        Poller {
            env,
            target: target.clone(),
            cluster: cluster.clone(),
            avoid: avoid.map(str::to_string),
            current: None,
        }
    }

    /// The cluster and a client, discovering them if needed.
    pub async fn reader(&mut self) -> Result<(&Cluster, &Client), ActivityError> {
        if self.current.is_none() {
            let (kube, cluster) = self.env.cluster(&self.target, &self.cluster).await?;
            let client = self
                .env
                .client_avoiding(&kube, &cluster, self.avoid.as_deref())
                .await?;
            self.current = Some((cluster, client));
        }
        match &self.current {
            Some((cluster, client)) => Ok((cluster, client)),
            None => Err(ActivityError::retryable("no reader")),
        }
    }

    /// One fresh health verdict through the current reader. A verdict without CrateDB's answer
    /// (the pod read through may be going) and a failure to get a reader at all both forget the
    /// reader, so the next poll finds another pod; the failure is returned as it is, to be
    /// retried or not by its kind.
    pub async fn verdict(&mut self) -> Result<Verdict, ActivityError> {
        let verdict = match self.reader().await {
            Ok((cluster, client)) => verdict_through(client, cluster).await,
            Err(why) => {
                self.invalidate();
                return Err(why);
            }
        };
        if verdict.fingerprint.is_none() {
            self.invalidate();
        }
        Ok(verdict)
    }

    /// Forgets the reader: the next poll discovers again.
    pub fn invalidate(&mut self) {
        self.current = None;
    }
}

/// Sleeps until the next tick of a fixed schedule (polls start `interval` apart, however long
/// each took); `false` when the next tick would pass `deadline`. A poll that overran its slot
/// moves the schedule on instead of being caught up: two polls never start less than
/// `interval` apart (the stable gate's window depends on it).
pub async fn next_tick(
    started: &mut tokio::time::Instant,
    interval: std::time::Duration,
    deadline: tokio::time::Instant,
) -> bool {
    let next = (*started + interval).max(tokio::time::Instant::now());
    if next > deadline {
        return false;
    }
    tokio::time::sleep_until(next).await;
    *started = next;
    true
}

/// A client for one pod of `cluster`, over a port-forward.
pub fn pod_client(kube: &Kube, cluster: &Cluster, pod: &PodInfo, credentials: Credentials) -> Client {
    let transport = PortForward::new(kube, &cluster.namespace, &pod.name);
    Client::new(Arc::new(transport), credentials, RetryPolicy::default())
}

/// The CrateDB node names the pods' command lines declare, when every pod declares one
/// ([`Cluster::expected_node_names`]).
pub fn expected_node_names(cluster: &Cluster) -> Vec<String> {
    cluster.expected_node_names()
}

/// The pod to read `cluster` through: the first Ready pod other than `avoid`, else an error
/// naming the pods ([`Cluster::reading_pod`]).
pub fn reading_pod<'c>(cluster: &'c Cluster, avoid: Option<&str>) -> Result<&'c PodInfo, String> {
    cluster.reading_pod(avoid)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::next_tick;

    #[tokio::test]
    async fn an_operation_started_with_a_token_command_needs_one() {
        use cratectl_cratedb::{Credentials, Secret, TokenSource};

        use super::ActivityEnv;
        use crate::model::{AuthSpec, NEEDS_TOKEN_COMMAND, TargetSpec};

        // Records written before `auth` existed still load, and mean "no token command".
        let old: TargetSpec = serde_json::from_str(r#"{"kubeconfig": null, "context": "c"}"#).unwrap();
        assert_eq!(old.auth, None);
        let target = TargetSpec {
            auth: Some(AuthSpec::TokenCommand),
            ..old.clone()
        };
        assert_eq!(
            serde_json::to_value(&target).unwrap()["auth"],
            "token_command",
            "only that a token command is used"
        );
        assert!(!serde_json::to_string(&old).unwrap().contains("auth"));

        let static_token = ActivityEnv::new(Some(Credentials::Bearer(Secret::new("a.b.c"))));
        assert!(static_token.can_run(&old));
        assert!(!static_token.can_run(&target));
        let error = static_token.kube(&target).await.unwrap_err();
        assert_eq!(error.message, NEEDS_TOKEN_COMMAND);
        let command = ActivityEnv::new(Some(Credentials::TokenCommand(TokenSource::new(
            "true",
            jiff::SignedDuration::from_mins(5),
        ))));
        assert!(command.can_run(&target));
    }

    #[tokio::test(start_paused = true)]
    async fn polls_start_at_least_an_interval_apart_even_after_an_overrun() {
        let interval = Duration::from_millis(100);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut tick = Instant::now();
        let first = tick;
        // A poll that took three intervals.
        tokio::time::advance(interval * 3).await;
        assert!(next_tick(&mut tick, interval, deadline).await);
        let second = tick;
        assert!(second - first >= interval * 3, "not scheduled in the past");
        // The next poll is a full interval after that one, not due at once.
        assert!(next_tick(&mut tick, interval, deadline).await);
        assert_eq!(tick - second, interval);
        assert_eq!(Instant::now(), tick, "it slept until the tick");
    }

    #[tokio::test(start_paused = true)]
    async fn no_tick_past_the_deadline() {
        let interval = Duration::from_millis(100);
        let mut tick = Instant::now();
        let deadline = tick + Duration::from_millis(150);
        assert!(next_tick(&mut tick, interval, deadline).await);
        assert!(!next_tick(&mut tick, interval, deadline).await);
    }
}
