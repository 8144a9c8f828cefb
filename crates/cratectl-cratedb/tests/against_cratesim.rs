//! The client against cratesim over a real socket, with a 20× clock (a pod restart takes well
//! under a second). Each test starts its own simulator, talks to CrateDB nodes through the
//! direct URL `/_crate/<namespace>/<pod>/` with [`DirectTransport`], and drives the cluster
//! through the Kubernetes API and `POST /_sim/faults` as a user would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cratectl_core::readings::TableHealthLevel;
use cratectl_cratedb::{
    BoxFuture, Client, Credentials, DirectOptions, DirectTransport, Error, ErrorKind, HttpSend, RetryPolicy,
    Secret, SqlErrorKind, TransportError, UnreachableKind,
};
use cratesim::clock::Clock;
use cratesim::operator::ClusterShape;
use cratesim::serve::Running;
use serde_json::{Value, json};

const PASSWORD: &str = "Sim-Passw0rd-xyz";
const NAMESPACE: &str = "cratedb";
const CLUSTER: &str = "alpha";

struct Env {
    sim: Running,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.sim.task.abort();
    }
}

fn pod(n: u32) -> String {
    format!("crate-data-hot-{CLUSTER}-{n}")
}

impl Env {
    /// A simulator with one three-data-node cluster, once its reads say it is healthy.
    async fn start() -> Env {
        let mut shape = ClusterShape::new(CLUSTER, NAMESPACE);
        shape.system_password = PASSWORD.into();
        let sim = cratesim::serve::start("127.0.0.1:0", Clock::new(20.0), &[shape])
            .await
            .unwrap();
        let env = Env { sim };
        let client = env.client(0, PASSWORD, fast_retries());
        wait_for(Duration::from_secs(10), || async {
            let r = client.cluster_reading().await.ok()?;
            (r.nodes.len() == 3
                && r.master_node.is_some()
                && r.max_severity.unwrap_or(1) <= 1
                && r.in_flight.initializing + r.in_flight.relocating == 0)
                .then_some(())
        })
        .await
        .expect("the simulated cluster becomes healthy");
        env
    }

    fn base(&self) -> String {
        format!("http://{}", self.sim.addr)
    }

    fn transport(&self, n: u32) -> Arc<dyn HttpSend> {
        let url = format!("{}/_crate/{NAMESPACE}/{}", self.base(), pod(n));
        Arc::new(DirectTransport::new(&url, &DirectOptions::default()).unwrap())
    }

    fn client(&self, n: u32, password: &str, retry: RetryPolicy) -> Client {
        Client::new(self.transport(n), credentials(password), retry)
    }

    async fn faults(&self, faults: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/_sim/faults", self.base()))
            .json(&json!({ "faults": faults }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
}

fn credentials(password: &str) -> Credentials {
    Credentials::Basic {
        user: "system".into(),
        password: Secret::new(password),
    }
}

/// Retries quick enough for tests.
fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
    }
}

/// Polls `f` every 10 ms until it yields something or `timeout` passes.
async fn wait_for<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Counts the requests that reach the transport; optionally answers the first `fail_first`
/// itself with `failure` (status, body), as a proxy or gateway in front of CrateDB would.
struct Counting {
    inner: Arc<dyn HttpSend>,
    calls: AtomicU32,
    fail_first: u32,
    failure: (u16, &'static str),
}

impl Counting {
    fn new(inner: Arc<dyn HttpSend>) -> Arc<Counting> {
        Counting::failing(inner, 0, (200, ""))
    }

    fn failing(inner: Arc<dyn HttpSend>, fail_first: u32, failure: (u16, &'static str)) -> Arc<Counting> {
        Arc::new(Counting {
            inner,
            calls: AtomicU32::new(0),
            fail_first,
            failure,
        })
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl HttpSend for Counting {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.fail_first {
            let (status, body) = self.failure;
            let mut response = http::Response::new(body.as_bytes().to_vec());
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            return Box::pin(async move { Ok(response) });
        }
        self.inner.send(request)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// The pod proxy's answer for a pod whose container is not running.
const PROXY_DIAL_FAILED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"error trying to reach service: dial tcp 10.0.0.3:4200: connect: connection refused","reason":"ServiceUnavailable","code":503}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_reads_of_a_healthy_cluster() {
    let env = Env::start().await;
    let client = env.client(1, PASSWORD, RetryPolicy::default());

    let root = client.root().await.unwrap();
    assert!(root.ok);
    assert_eq!(root.name, "data-hot-1");
    assert_eq!(root.cluster_name, CLUSTER);
    assert_eq!(root.version, "5.10.3");

    let reading = client.cluster_reading().await.unwrap();
    assert_eq!(reading.via, client.via());
    let names: Vec<&str> = reading.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["data-hot-0", "data-hot-1", "data-hot-2"]);
    assert!(
        reading
            .nodes
            .iter()
            .all(|n| n.version.as_deref() == Some("5.10.3"))
    );
    assert!(reading.nodes.iter().all(|n| n.hostname.is_some()));
    let master = reading.master_node.clone().expect("a master");
    assert!(
        reading.nodes.iter().any(|n| n.id == master),
        "the master is a member"
    );
    assert!(matches!(reading.max_severity, None | Some(1)), "{reading:?}");
    assert!(reading.unhealthy_tables.is_empty());
    assert_eq!(reading.in_flight.initializing + reading.in_flight.relocating, 0);

    let settings = client.settings().await.unwrap();
    assert_eq!(
        settings.effective["cluster.routing.allocation.enable"],
        json!("all")
    );
    assert_eq!(
        settings.effective["cluster.routing.allocation.exclude._name"],
        json!("")
    );
    assert_eq!(
        settings.effective["cluster.graceful_stop.min_availability"],
        json!("PRIMARIES")
    );
    assert_eq!(
        settings.effective.len(),
        cratectl_core::readings::TOUCHED_SETTINGS.len()
    );

    // doc.events: 6 shards; doc.metrics: 2 partitions of 2 shards; one replica each.
    let counts = client.shard_counts().await.unwrap();
    assert_eq!(counts.values().sum::<u64>(), 2 * (6 + 2 * 2), "{counts:?}");
    assert!(counts.keys().all(|k| names.contains(&k.as_str())), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_setting_shows_in_the_effective_settings() {
    let env = Env::start().await;
    let client = env.client(0, PASSWORD, RetryPolicy::default());
    let set = client
        .sql_idempotent(
            r#"SET GLOBAL TRANSIENT "cluster.routing.allocation.enable" = 'primaries'"#,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(set.rowcount, 1);
    // Read through another node: settings are cluster-wide.
    let other = env.client(2, PASSWORD, RetryPolicy::default());
    let settings = other.settings().await.unwrap();
    assert_eq!(
        settings.effective["cluster.routing.allocation.enable"],
        json!("primaries")
    );
    client
        .sql_idempotent(r#"RESET GLOBAL "cluster.routing.allocation.enable""#, &[])
        .await
        .unwrap();
    let settings = other.settings().await.unwrap();
    assert_eq!(
        settings.effective["cluster.routing.allocation.enable"],
        json!("all")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_unauthorized_without_showing_it() {
    let env = Env::start().await;
    let wrong = "Wr0ng-Secret-42";
    let counting = Counting::new(env.transport(0));
    let client = Client::new(counting.clone(), credentials(wrong), RetryPolicy::default());
    let error = client.nodes().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error}");
    assert!(
        matches!(&error, Error::Unauthorized { message, .. } if message.contains("system")),
        "{error}"
    );
    assert_eq!(counting.calls(), 1, "401 is never retried");
    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{client:?}"),
        client.via(),
    ] {
        assert!(!text.contains(wrong), "{text}");
        assert!(!text.contains(PASSWORD), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_statement_failure_is_a_typed_sql_error() {
    let env = Env::start().await;
    env.faults(
        json!([{"kind": "statement_fails", "namespace": NAMESPACE, "cluster": CLUSTER,
        "pattern": "FROM sys.nodes", "code": 5031,
        "message": "ClusterBlockException[blocked by: [MASTER_NOT_DISCOVERED/2/no master];]"},
        {"kind": "statement_fails", "namespace": NAMESPACE, "cluster": CLUSTER,
        "pattern": "FROM sys.cluster", "code": 4004,
        "message": "UnsupportedFeatureException[nope]"}]),
    )
    .await;

    // 5031 is transient: retried up to the limit, then returned.
    let counting = Counting::new(env.transport(0));
    let client = Client::new(counting.clone(), credentials(PASSWORD), fast_retries());
    let error = client.nodes().await.unwrap_err();
    assert!(
        matches!(&error, Error::Sql { code: 5031, http_status: 503, message, .. }
            if message.starts_with("ClusterBlockException[")),
        "{error}"
    );
    assert_eq!(error.sql_kind(), Some(SqlErrorKind::ClusterUnavailable));
    assert_eq!(counting.calls(), fast_retries().max_attempts);
    assert!(error.to_string().contains(&client.via()), "{error}");

    // 4004 is the statement's fault: never retried.
    let counting = Counting::new(env.transport(0));
    let client = Client::new(counting.clone(), credentials(PASSWORD), fast_retries());
    let error = client.master_node().await.unwrap_err();
    assert_eq!(error.code(), Some(4004), "{error}");
    assert_eq!(error.sql_kind(), Some(SqlErrorKind::Unsupported));
    assert_eq!(counting.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_table_is_unknown_relation_and_not_retried() {
    let env = Env::start().await;
    let counting = Counting::new(env.transport(0));
    let client = Client::new(counting.clone(), credentials(PASSWORD), fast_retries());
    let error = client
        .sql_idempotent("SELECT name FROM sys.no_such_table", &[])
        .await
        .unwrap_err();
    assert_eq!(error.sql_kind(), Some(SqlErrorKind::UnknownRelation), "{error}");
    assert!(
        matches!(
            &error,
            Error::Sql {
                code: 4041,
                http_status: 404,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(counting.calls(), 1, "a 4xxx is never retried");

    let error = client
        .sql_idempotent("SELECT no_such_column FROM sys.nodes", &[])
        .await
        .unwrap_err();
    assert_eq!(error.sql_kind(), Some(SqlErrorKind::UnknownColumn), "{error}");
    let error = client.sql("SELEC 1", &[]).await.unwrap_err();
    assert_eq!(error.sql_kind(), Some(SqlErrorKind::Parse), "{error}");
    assert_eq!(counting.calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_is_unreachable_and_the_others_see_it_leave() {
    let env = Env::start().await;
    env.faults(json!([{"kind": "slow_recovery", "namespace": NAMESPACE, "cluster": CLUSTER, "factor": 2.0}]))
        .await;
    let response = reqwest::Client::new()
        .delete(format!(
            "{}/api/v1/namespaces/{NAMESPACE}/pods/{}",
            env.base(),
            pod(2)
        ))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    // While it stops, the node refuses new sessions (a plain-text 500,
    // docs/cratedb-behaviour.md#a-node-shutting-down); once stopped, its pod is gone (404) until
    // the StatefulSet recreates it, and then the connection is refused until the new node starts
    // (the proxy reports 503).
    let stopped = env.client(2, PASSWORD, RetryPolicy::none());
    let seen = std::sync::Mutex::new(Vec::new());
    let error = wait_for(Duration::from_secs(5), || async {
        match stopped.nodes().await {
            Err(e @ Error::Unreachable { .. }) => {
                seen.lock().unwrap().push(e.kind());
                matches!(
                    e.kind(),
                    ErrorKind::Unreachable(UnreachableKind::Gateway { status: 503, .. })
                )
                .then_some(e)
            }
            _ => None,
        }
    })
    .await
    .expect("the stopped node becomes unreachable");
    let seen = seen.into_inner().unwrap();
    assert!(
        seen.iter().all(|k| matches!(
            k,
            ErrorKind::Unreachable(
                UnreachableKind::ShuttingDown
                    | UnreachableKind::Gateway {
                        status: 503 | 404,
                        not_forwarded: true
                    }
            )
        )),
        "{seen:?}"
    );
    assert!(
        matches!(
            error.kind(),
            ErrorKind::Unreachable(UnreachableKind::Gateway {
                status: 503,
                not_forwarded: true
            })
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&pod(2)),
        "names what was tried: {error}"
    );
    assert!(!error.may_have_executed());

    let other = env.client(0, PASSWORD, RetryPolicy::default());
    let two = wait_for(Duration::from_secs(5), || async {
        let r = other.cluster_reading().await.ok()?;
        (r.nodes.len() == 2).then_some(r)
    })
    .await
    .expect("the others see the node leave");
    assert!(two.nodes.iter().all(|n| n.name != "data-hot-2"));

    // Its replicas are missing: YELLOW, with the tables (and partitions) named.
    let yellow = wait_for(Duration::from_secs(5), || async {
        let r = other.cluster_reading().await.ok()?;
        (r.max_severity == Some(2) && !r.unhealthy_tables.is_empty()).then_some(r)
    })
    .await
    .expect("health goes YELLOW while the node is away");
    assert!(
        yellow
            .unhealthy_tables
            .iter()
            .all(|t| t.health == TableHealthLevel::Yellow
                && t.missing_shards == 0
                && t.underreplicated_shards > 0),
        "{yellow:?}"
    );
    let events = yellow.unhealthy_tables.iter().find(|t| t.table == "events");
    assert_eq!(
        events.map(|t| (t.schema.as_str(), t.partition_ident.is_none())),
        Some(("doc", true))
    );
    assert!(
        yellow
            .unhealthy_tables
            .iter()
            .any(|t| t.table == "metrics" && t.partition_ident.is_some()),
        "{yellow:?}"
    );

    // The pod comes back with a new node process; its replicas recover (slowly: see the
    // fault above), then the cluster is GREEN with three nodes again.
    wait_for(Duration::from_secs(10), || async {
        let r = other.in_flight().await.ok()?;
        (r.initializing > 0).then_some(())
    })
    .await
    .expect("replicas recover onto the returning node");
    wait_for(Duration::from_secs(10), || async {
        let r = other.cluster_reading().await.ok()?;
        (r.nodes.len() == 3 && r.max_severity == Some(1) && r.in_flight == Default::default()).then_some(())
    })
    .await
    .expect("the cluster is GREEN again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_503_is_retried_and_succeeds() {
    let env = Env::start().await;
    let counting = Counting::failing(env.transport(0), 2, (503, PROXY_DIAL_FAILED));
    let client = Client::new(counting.clone(), credentials(PASSWORD), fast_retries());
    // Not idempotent, but the proxy says it could not dial the pod: nothing ran, so retried.
    let result = client.sql("SELECT name FROM sys.nodes", &[]).await.unwrap();
    assert_eq!(result.rows.len(), 3);
    assert_eq!(counting.calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_error_is_retried_only_for_idempotent_statements() {
    let env = Env::start().await;
    let bad_gateway = (502, "<html><body>502 Bad Gateway</body></html>");

    let counting = Counting::failing(env.transport(0), 1, bad_gateway);
    let client = Client::new(counting.clone(), credentials(PASSWORD), fast_retries());
    let error = client
        .sql(
            r#"SET GLOBAL TRANSIENT "cluster.routing.allocation.enable" = 'none'"#,
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::Unreachable(UnreachableKind::Gateway { status: 502, .. })
        ),
        "{error:?}"
    );
    assert!(error.may_have_executed());
    assert_eq!(counting.calls(), 1, "a write that may have run is not repeated");

    let counting = Counting::failing(env.transport(0), 1, bad_gateway);
    let client = Client::new(counting.clone(), credentials(PASSWORD), fast_retries());
    let settings = client.settings().await.unwrap();
    assert_eq!(counting.calls(), 2);
    assert_eq!(
        settings.effective["cluster.routing.allocation.enable"],
        json!("all")
    );

    // Attempts are bounded.
    let counting = Counting::failing(env.transport(0), 100, bad_gateway);
    let client = Client::new(counting.clone(), credentials(PASSWORD), fast_retries());
    client.nodes().await.unwrap_err();
    assert_eq!(counting.calls(), fast_retries().max_attempts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_and_bulk_requests() {
    let env = Env::start().await;
    let client = env.client(0, PASSWORD, RetryPolicy::default());
    let result = client
        .sql_idempotent(
            "SELECT name FROM sys.nodes WHERE name = ? ORDER BY name",
            &[json!("data-hot-1")],
        )
        .await
        .unwrap();
    assert_eq!(result.cols, ["name"]);
    assert_eq!(result.col_types, [json!(4)]);
    assert_eq!(result.rows, [[json!("data-hot-1")]]);
    assert_eq!(result.rowcount, 1);
    let empty = client
        .sql_bulk("INSERT INTO doc.events (x) VALUES (?)", &[])
        .await
        .unwrap();
    assert!(empty.results.is_empty());
}
