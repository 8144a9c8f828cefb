//! Faults injected through `POST /_sim/faults`, observed the way cratectl would observe them:
//! kube-rs errors, CrateDB error codes (SQL with Basic auth by the direct route, as the pod proxy
//! drops credentials), pods and nodes that misbehave.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::Request;
use base64::Engine;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::time::{Instant, timeout};
use tower::ServiceExt;

mod common;

use cratesim::clock::Clock;
use cratesim::serve::Sim;

fn sim() -> Sim {
    Sim::new(Clock::new(1.0), &[common::shape("alpha", false, "pw")]).unwrap()
}

async fn post(sim: &Sim, path: &str, body: Value, auth: bool) -> (u16, Value) {
    let mut request = Request::post(path).header("content-type", "application/json");
    if auth {
        let basic = base64::engine::general_purpose::STANDARD.encode("system:pw");
        request = request.header("authorization", format!("Basic {basic}"));
    }
    let response = sim
        .router()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn inject(sim: &Sim, faults: Value) {
    let (status, body) = post(sim, "/_sim/faults", json!({ "faults": faults }), false).await;
    assert_eq!(status, 200, "{body}");
}

async fn sql(sim: &Sim, stmt: &str) -> (u16, Value) {
    post(
        sim,
        "/_crate/cratedb/crate-data-hot-alpha-0/_sql",
        json!({ "stmt": stmt }),
        true,
    )
    .await
}

async fn node_count(sim: &Sim) -> i64 {
    sql(sim, "SELECT count(*) FROM sys.nodes").await.1["rows"][0][0]
        .as_i64()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn api_error_bursts_fail_the_next_matching_requests() {
    let sim = sim();
    inject(
        &sim,
        json!([{"kind": "api_error", "verb": "DELETE", "resource": "pods", "code": 503, "count": 2}]),
    )
    .await;
    let pods: Api<Pod> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    // Reads are not affected.
    pods.get("crate-data-hot-alpha-0").await.unwrap();
    for _ in 0..2 {
        let err = pods
            .delete("crate-data-hot-alpha-0", &DeleteParams::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, kube::Error::Api(ref s) if s.code == 503 && s.reason == "ServiceUnavailable"),
            "{err:?}"
        );
    }
    pods.delete("crate-data-hot-alpha-0", &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn bad_fault_requests_are_refused_with_the_reason() {
    let sim = sim();
    let (status, body) = post(
        &sim,
        "/_sim/faults",
        json!({"faults": [{"kind": "meteor"}]}),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("meteor"), "{body}");
    let (status, body) = post(
        &sim,
        "/_sim/faults",
        json!({"faults": [{"kind": "node_crash", "namespace": "cratedb", "cluster": "nope", "node": "x"}]}),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("cratedb/nope"),
        "{body}"
    );
    let (status, _) = post(
        &sim,
        "/_sim/faults",
        json!({"faults": [{"kind": "api_error", "code": 418, "count": 1}]}),
        false,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(start_paused = true)]
async fn a_statement_can_be_made_to_fail_with_a_cratedb_error() {
    let sim = sim();
    inject(
        &sim,
        json!([{"kind": "statement_fails", "namespace": "cratedb", "cluster": "alpha",
        "pattern": "DECOMMISSION", "code": 5000, "message": "SQLParseException[boom]"}]),
    )
    .await;
    let (status, body) = sql(&sim, "ALTER CLUSTER DECOMMISSION 'data-hot-2'").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], 5000);
    assert_eq!(node_count(&sim).await, 3, "nothing was decommissioned");
}

#[tokio::test(start_paused = true)]
async fn a_crashed_node_restarts_its_container_and_rejoins() {
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    let uid = pods.get("crate-data-hot-alpha-1").await.unwrap().uid();
    inject(
        &sim,
        json!([{"kind": "node_crash", "namespace": "cratedb", "cluster": "alpha", "node": "data-hot-1"}]),
    )
    .await;
    assert_eq!(node_count(&sim).await, 2);
    let mut restarted = None;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let pod = pods.get("crate-data-hot-alpha-1").await.unwrap();
        let status = pod.status.clone().unwrap().container_statuses.unwrap().remove(0);
        if status.restart_count == 1 && status.ready && node_count(&sim).await == 3 {
            restarted = Some(pod);
            break;
        }
    }
    let pod = restarted.expect("the container restarted and the node rejoined");
    assert_eq!(pod.uid(), uid, "a container restart keeps the pod");
}

#[tokio::test(start_paused = true)]
async fn a_node_that_never_rejoins_keeps_its_pod_unready_until_released() {
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    inject(&sim, json!([{"kind": "node_never_rejoins", "namespace": "cratedb", "cluster": "alpha", "node": "data-hot-2"}])).await;
    pods.delete("crate-data-hot-alpha-2", &DeleteParams::default())
        .await
        .unwrap();
    let ready = |pod: &Pod| {
        pod.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|c| c[0].ready)
    };
    tokio::time::sleep(Duration::from_secs(600)).await;
    let pod = pods.get("crate-data-hot-alpha-2").await.unwrap();
    assert!(
        pod.metadata.deletion_timestamp.is_none() && !ready(&pod),
        "replaced but never Ready"
    );
    assert_eq!(node_count(&sim).await, 2);
    inject(
        &sim,
        json!([{"kind": "node_rejoins", "namespace": "cratedb", "cluster": "alpha", "node": "data-hot-2"}]),
    )
    .await;
    let mut back = false;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if ready(&pods.get("crate-data-hot-alpha-2").await.unwrap()) && node_count(&sim).await == 3 {
            back = true;
            break;
        }
    }
    assert!(back);
}

/// A GET through the router: status and JSON body.
async fn get(sim: &Sim, path: &str) -> (u16, Value) {
    let response = sim
        .router()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// An open watch: its events, one JSON object per line, as they arrive.
struct Watch {
    body: BodyDataStream,
    buffer: Vec<u8>,
}

impl Watch {
    async fn open(sim: &Sim, path: &str) -> Watch {
        let response = sim
            .router()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        Watch {
            body: response.into_body().into_data_stream(),
            buffer: Vec::new(),
        }
    }

    /// The next event, or `None` once the stream has ended.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).unwrap());
            }
            let chunk = self.body.next().await?.unwrap();
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// Whether the stream ends within `within` of simulated time (events before the end are
    /// skipped); `false` if it is still open then.
    async fn ends_within(&mut self, within: Duration) -> bool {
        timeout(within, async { while self.next().await.is_some() {} })
            .await
            .is_ok()
    }
}

fn rv(sim: &Sim) -> u64 {
    sim.server.store().rv()
}

/// Lets the simulated cluster settle (pods Ready, nodes joined); instant under the paused clock.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(60)).await;
}

const POD: &str = "/api/v1/namespaces/cratedb/pods/crate-data-hot-alpha-0";
const STS: &str = "/apis/apps/v1/namespaces/cratedb/statefulsets/crate-data-hot-alpha";

#[tokio::test(start_paused = true)]
async fn latency_delays_matching_requests_by_simulated_time() {
    let sim = sim();
    let client = Client::new(sim.router(), "cratedb");
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let sets: Api<StatefulSet> = Api::default_namespaced(client);
    inject(
        &sim,
        json!([{"kind": "api_latency", "verb": "get", "resource": "pods", "latency_ms": 250}]),
    )
    .await;
    let started = Instant::now();
    pods.get("crate-data-hot-alpha-0").await.unwrap();
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(250)..Duration::from_millis(260)).contains(&waited),
        "{waited:?}"
    );
    let started = Instant::now();
    sets.get("crate-data-hot-alpha").await.unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "other resources are not delayed"
    );

    // Jitter stays within its bound; clearing the API faults removes the latency.
    inject(
        &sim,
        json!([{"kind": "api_latency", "verb": "GET", "resource": "pods", "latency_ms": 100, "jitter_ms": 50, "seed": 1}]),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        pods.get("crate-data-hot-alpha-0").await.unwrap();
        seen.push(started.elapsed());
    }
    assert!(
        seen.iter()
            .all(|d| (Duration::from_millis(100)..Duration::from_millis(160)).contains(d)),
        "{seen:?}"
    );
    assert!(seen.iter().any(|d| *d != seen[0]), "jitter varies: {seen:?}");
    inject(&sim, json!([{"kind": "clear_api_faults"}])).await;
    let started = Instant::now();
    pods.get("crate-data-hot-alpha-0").await.unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn latency_is_simulated_time_under_a_scaled_clock() {
    // 10 simulated seconds per real second: 2 simulated seconds are 200 ms of tokio time.
    let sim = Sim::new(Clock::new(10.0), &[common::shape("alpha", false, "pw")]).unwrap();
    inject(&sim, json!([{"kind": "api_latency", "latency_ms": 2000}])).await;
    let started = Instant::now();
    assert_eq!(get(&sim, POD).await.0, 200);
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(200)..Duration::from_millis(210)).contains(&waited),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_rate_fails_every_or_some_matching_requests_reproducibly() {
    let sim = sim();
    inject(
        &sim,
        json!([{"kind": "api_error_rate", "verb": "GET", "resource": "pods", "code": 500, "rate": 1.0}]),
    )
    .await;
    for _ in 0..50 {
        let (status, body) = get(&sim, POD).await;
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["reason"], "InternalError");
    }
    assert_eq!(get(&sim, STS).await.0, 200, "other resources are served");
    let pods: Api<Pod> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    let err = pods.get("crate-data-hot-alpha-0").await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 500), "{err:?}");

    // clear_api_errors drops rates too.
    inject(&sim, json!([{"kind": "clear_api_errors"}])).await;
    assert_eq!(get(&sim, POD).await.0, 200);

    // A rate below 1 fails some but not all; the same seed fails the same requests.
    let pattern = |sim: Sim| async move {
        inject(
            &sim,
            json!([{"kind": "api_error_rate", "resource": "pods", "code": 503, "rate": 0.3, "seed": 42}]),
        )
        .await;
        let mut failed = Vec::new();
        for _ in 0..200 {
            failed.push(get(&sim, POD).await.0 == 503);
        }
        failed
    };
    let first = pattern(sim).await;
    let failures = first.iter().filter(|&&f| f).count();
    assert!(
        (20..120).contains(&failures),
        "{failures} of 200 failed at rate 0.3"
    );
    assert_eq!(
        first,
        pattern(self::sim()).await,
        "reproducible with the same seed"
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_api_fault_values_are_refused_and_nothing_is_applied() {
    let sim = sim();
    let (status, body) = post(
        &sim,
        "/_sim/faults",
        json!({"faults": [
            {"kind": "api_latency", "latency_ms": 1000},
            {"kind": "api_error_rate", "code": 500, "rate": 1.5}]}),
        false,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("rate 1.5"), "{body}");
    let started = Instant::now();
    assert_eq!(get(&sim, POD).await.0, 200);
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "the latency before it was not applied"
    );
    let (status, body) = post(
        &sim,
        "/_sim/faults",
        json!({"faults": [{"kind": "drop_watches", "resource": "pod"}]}),
        false,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("\"pod\""), "{body}");
}

/// `max(severity)` of `sys.health`: 1 GREEN, 2 YELLOW, 3 RED.
async fn severity(sim: &Sim) -> i64 {
    let (status, body) = sql(sim, "SELECT max(severity) FROM sys.health").await;
    assert_eq!(status, 200, "{body}");
    body["rows"][0][0].as_i64().unwrap_or(1)
}

#[tokio::test(start_paused = true)]
async fn fault_values_that_make_no_sense_are_refused_naming_field_value_and_range() {
    let sim = sim();
    let cluster = |kind: &str, field: &str, value: Value| {
        let mut fault = json!({"kind": kind, "namespace": "cratedb", "cluster": "alpha"});
        fault[field] = value;
        fault
    };
    let statement_fails = |code: u32| {
        json!({"kind": "statement_fails", "namespace": "cratedb", "cluster": "alpha",
               "pattern": "sys.health", "code": code, "message": "boom"})
    };
    for (fault, named) in [
        // Each of these made the next recovery panic on a Duration overflow (or was a no-op).
        (
            cluster("slow_recovery", "factor", json!(1e308)),
            "slow_recovery factor 1e308 is out of range: use a number above 0 and at most 1000",
        ),
        (
            cluster("slow_recovery", "factor", json!(1001)),
            "slow_recovery factor 1001.0 ",
        ),
        (
            cluster("slow_recovery", "factor", json!(0)),
            "slow_recovery factor 0.0 ",
        ),
        (
            cluster("slow_recovery", "factor", json!(-4)),
            "slow_recovery factor -4.0 ",
        ),
        (
            json!({"kind": "api_error", "code": 503, "count": 0}),
            "api_error count 0 is out of range: use 1 to 4294967295",
        ),
        (
            json!({"kind": "api_latency", "latency_ms": 86_400_000u64}),
            "api_latency latency_ms 86400000 is out of range: use 0 to 3600000",
        ),
        (
            json!({"kind": "api_latency", "latency_ms": 10, "jitter_ms": u64::MAX}),
            "api_latency jitter_ms 18446744073709551615 is out of range: use 0 to 3600000",
        ),
        (
            statement_fails(200),
            "statement_fails code 200 is not a CrateDB error code: use 4000 to 5999",
        ),
        (statement_fails(9000), "statement_fails code 9000 "),
    ] {
        // A valid fault first: a refused request applies none of its faults.
        let request = json!({"faults": [
            {"kind": "health_stuck_yellow", "namespace": "cratedb", "cluster": "alpha", "stuck": true},
            fault.clone()]});
        let (status, body) = post(&sim, "/_sim/faults", request, false).await;
        assert_eq!(status, 400, "{fault}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(named), "{fault}: {message}");
    }
    assert_eq!(severity(&sim).await, 1, "nothing was applied: still GREEN");
    assert_eq!(node_count(&sim).await, 3);

    // The cluster still recovers at its own pace from a crash: no recovery was slowed to
    // forever, and none panics.
    inject(
        &sim,
        json!([{"kind": "node_crash", "namespace": "cratedb", "cluster": "alpha", "node": "data-hot-1"}]),
    )
    .await;
    let mut green = false;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if node_count(&sim).await == 3 && severity(&sim).await == 1 {
            green = true;
            break;
        }
    }
    assert!(green, "the crashed node rejoined and the cluster is GREEN again");

    // The largest values allowed are taken.
    inject(
        &sim,
        json!([
            cluster("slow_recovery", "factor", json!(1000)),
            {"kind": "api_error", "code": 503, "count": u32::MAX, "resource": "secrets"},
            {"kind": "api_latency", "latency_ms": 3_600_000, "jitter_ms": 3_600_000, "resource": "leases"},
            statement_fails(40410),
        ]),
    )
    .await;
    let (status, body) = sql(&sim, "SELECT max(severity) FROM sys.health").await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!(40410)), "{body}");
}

#[tokio::test(start_paused = true)]
async fn drop_watches_ends_open_watches_and_later_watches_work() {
    let sim = sim();
    settle().await;
    let from = rv(&sim);
    let mut pods = Watch::open(
        &sim,
        &format!("/api/v1/namespaces/cratedb/pods?watch=1&resourceVersion={from}"),
    )
    .await;
    let mut sets = Watch::open(
        &sim,
        &format!("/apis/apps/v1/namespaces/cratedb/statefulsets?watch=1&resourceVersion={from}"),
    )
    .await;
    inject(&sim, json!([{"kind": "drop_watches", "resource": "pods"}])).await;
    assert!(
        pods.ends_within(Duration::from_secs(5)).await,
        "the pod watch ended"
    );
    assert!(
        !sets.ends_within(Duration::from_secs(5)).await,
        "a watch of another resource stays open"
    );
    inject(&sim, json!([{"kind": "drop_watches"}])).await;
    assert!(
        sets.ends_within(Duration::from_secs(5)).await,
        "every watch ended"
    );

    // A watch opened afterwards sees changes.
    let mut pods = Watch::open(
        &sim,
        &format!(
            "/api/v1/namespaces/cratedb/pods?watch=1&resourceVersion={}",
            rv(&sim)
        ),
    )
    .await;
    let api: Api<Pod> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    api.delete("crate-data-hot-alpha-2", &DeleteParams::default())
        .await
        .unwrap();
    let event = timeout(Duration::from_secs(5), pods.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event["type"], "MODIFIED", "{event}");
    assert_eq!(event["object"]["metadata"]["name"], "crate-data-hot-alpha-2");
    assert!(event["object"]["metadata"]["deletionTimestamp"].is_string());
}

#[tokio::test(start_paused = true)]
async fn expire_watches_answers_older_watches_with_410_gone() {
    let sim = sim();
    settle().await;
    let (_, list) = get(&sim, "/api/v1/namespaces/cratedb/pods").await;
    let listed = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let secrets: Api<Secret> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "later"}})).unwrap(),
        )
        .await
        .unwrap();
    // Before compaction the log still has it.
    let mut watch = Watch::open(
        &sim,
        &format!("/api/v1/namespaces/cratedb/pods?watch=1&resourceVersion={listed}"),
    )
    .await;
    assert!(!watch.ends_within(Duration::from_secs(1)).await);

    inject(&sim, json!([{"kind": "expire_watches"}])).await;
    let now = rv(&sim);
    let mut watch = Watch::open(
        &sim,
        &format!("/api/v1/namespaces/cratedb/pods?watch=1&resourceVersion={listed}"),
    )
    .await;
    let event = watch.next().await.unwrap();
    assert_eq!(event["type"], "ERROR", "{event}");
    assert_eq!(event["object"]["kind"], "Status");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
    assert_eq!(
        event["object"]["message"],
        format!("too old resource version: {listed} ({now})")
    );
    assert!(watch.next().await.is_none(), "the stream ends after the error");
    // From now on watches work.
    let mut watch = Watch::open(
        &sim,
        &format!("/api/v1/namespaces/cratedb/pods?watch=1&resourceVersion={now}"),
    )
    .await;
    assert!(!watch.ends_within(Duration::from_secs(1)).await);
}

#[tokio::test(start_paused = true)]
async fn the_kube_watcher_recovers_from_dropped_and_expired_watches_by_relisting() {
    let sim = sim();
    settle().await;
    let client = Client::new(sim.router(), "cratedb");
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let secrets: Api<Secret> = Api::default_namespaced(client);
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let stream = watcher(pods.clone(), watcher::Config::default());
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    let next = async |events: &mut tokio::sync::mpsc::UnboundedReceiver<
        Result<watcher::Event<Pod>, watcher::Error>,
    >| {
        timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("the watcher delivers within 30 simulated seconds")
            .expect("the watcher runs")
    };
    // The initial list.
    let mut listed = 0;
    loop {
        match next(&mut events).await.unwrap() {
            watcher::Event::Init => {}
            watcher::Event::InitApply(_) => listed += 1,
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(listed, 3);

    // Another resource moves the store on, then the log is compacted and the watch dropped: the
    // watcher's resourceVersion is now too old, it gets 410 and lists again.
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "later"}})).unwrap(),
        )
        .await
        .unwrap();
    inject(
        &sim,
        json!([{"kind": "expire_watches"}, {"kind": "drop_watches"}]),
    )
    .await;
    let mut gone = false;
    let mut relisted = 0;
    loop {
        match next(&mut events).await {
            Err(watcher::Error::WatchError(status)) => {
                assert_eq!(status.code, 410, "{status:?}");
                gone = true;
            }
            Err(other) => panic!("unexpected {other:?}"),
            Ok(watcher::Event::Init) => {}
            Ok(watcher::Event::InitApply(_)) => relisted += 1,
            Ok(watcher::Event::InitDone) => break,
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(gone, "the watcher saw 410 Gone");
    assert_eq!(relisted, 3, "and listed again");

    // It keeps delivering events.
    pods.delete("crate-data-hot-alpha-1", &DeleteParams::default())
        .await
        .unwrap();
    loop {
        if let Ok(watcher::Event::Apply(pod)) = next(&mut events).await
            && pod.name_any() == "crate-data-hot-alpha-1"
            && pod.metadata.deletion_timestamp.is_some()
        {
            break;
        }
    }
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn watches_that_allow_bookmarks_get_one_about_every_simulated_minute() {
    let sim = sim();
    settle().await;
    let from = rv(&sim);
    let path = format!(
        "/api/v1/namespaces/cratedb/secrets?watch=1&allowWatchBookmarks=true&timeoutSeconds=150&resourceVersion={from}"
    );
    let mut watch = Watch::open(&sim, &path).await;
    let mut plain = Watch::open(
        &sim,
        &path.replace("allowWatchBookmarks=true", "allowWatchBookmarks=false"),
    )
    .await;
    let opened = Instant::now();
    let secrets: Api<Secret> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    let created = secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "later"}})).unwrap(),
        )
        .await
        .unwrap();
    let created_rv: u64 = created.resource_version().unwrap().parse().unwrap();
    let added = watch.next().await.unwrap();
    assert_eq!(added["type"], "ADDED");

    let mut bookmarks = Vec::new();
    while let Some(event) = watch.next().await {
        assert_eq!(event["type"], "BOOKMARK", "{event}");
        let rv: u64 = event["object"]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(rv >= created_rv && rv <= self::rv(&sim), "{event}");
        assert_eq!(
            event["object"],
            json!({"kind": "Secret", "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string()}})
        );
        bookmarks.push(opened.elapsed().as_secs());
    }
    assert_eq!(bookmarks, [60, 120], "every 60 s until the 150 s timeout");
    assert_eq!(opened.elapsed(), Duration::from_secs(150));

    let mut types = Vec::new();
    while let Some(event) = plain.next().await {
        types.push(event["type"].as_str().unwrap().to_string());
    }
    assert_eq!(types, ["ADDED"], "no bookmarks unless asked for");
}

/// The watch semantics the tests above rely on: from a resourceVersion, with a selector, an
/// object that starts matching is ADDED, one that stops matching DELETED, as the API server
/// judges it on the object before and after each change.
#[tokio::test(start_paused = true)]
async fn a_watch_with_a_selector_reports_objects_entering_and_leaving_it() {
    let sim = sim();
    settle().await;
    let mut watch = Watch::open(
        &sim,
        &format!(
            "/api/v1/namespaces/cratedb/secrets?watch=1&labelSelector=tier%3Da&timeoutSeconds=10&resourceVersion={}",
            rv(&sim)
        ),
    )
    .await;
    let secrets: Api<Secret> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    let secret = |name: &str, tier: &str| -> Secret {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"tier": tier}}})).unwrap()
    };
    let patch = |value: Value| kube::api::Patch::Merge(value);
    let params = kube::api::PatchParams::default();
    secrets
        .create(&PostParams::default(), &secret("one", "a"))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &secret("two", "b"))
        .await
        .unwrap();
    secrets
        .patch(
            "one",
            &params,
            &patch(json!({"stringData": null, "data": {"k": "dg=="}})),
        )
        .await
        .unwrap();
    secrets
        .patch(
            "one",
            &params,
            &patch(json!({"metadata": {"labels": {"tier": "b"}}})),
        )
        .await
        .unwrap();
    secrets
        .patch(
            "two",
            &params,
            &patch(json!({"metadata": {"labels": {"tier": "a"}}})),
        )
        .await
        .unwrap();
    secrets.delete("two", &DeleteParams::default()).await.unwrap();
    secrets.delete("one", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while let Some(event) = watch.next().await {
        seen.push(format!(
            "{} {}",
            event["type"].as_str().unwrap(),
            event["object"]["metadata"]["name"].as_str().unwrap()
        ));
    }
    assert_eq!(
        seen,
        [
            "ADDED one",
            "MODIFIED one",
            "DELETED one",
            "ADDED two",
            "DELETED two"
        ]
    );
}
