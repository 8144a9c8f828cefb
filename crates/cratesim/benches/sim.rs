//! Figures for the simulator (a bench binary; prints, asserts nothing):
//! how many clusters, pods and shards one process simulates and with how much memory, and the
//! latency of a kube-rs GET, of a `/_sql` round trip through the pod proxy, and of one through a
//! fresh port-forward (open, one HTTP/1.1 exchange, close: what cratectl does per request), over
//! loopback.
//!
//! `cargo bench -p cratesim --bench sim` (release build). Results go in crates/cratesim/README.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use cratesim::clock::Clock;
use cratesim::operator::ClusterShape;
use cratesim::serve::start;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::{Client, Config};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<38} n={:<5} mean {:>8.1} µs   p50 {:>8.1} µs   p99 {:>8.1} µs",
        samples.len(),
        mean.as_secs_f64() * 1e6,
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6
    );
}

#[tokio::main]
async fn main() {
    let clusters = 100;
    let data_nodes = 5;
    let before = rss_kib();
    let shapes: Vec<ClusterShape> = (0..clusters)
        .map(|i| {
            let mut shape = ClusterShape::new(&format!("c{i}"), "cratedb");
            shape.masters = 3;
            shape.data_groups = vec![("hot".into(), data_nodes)];
            shape.dc_util_hook = i % 2 == 0;
            shape.system_password = format!("pw{i}");
            // The pod proxy drops the Authorization header: measured on clusters that trust
            // the caller (CrateDB's default), as the operator's host-based auth would answer 401.
            shape.host_based_auth = false;
            shape
        })
        .collect();
    let started = Instant::now();
    let running = start("127.0.0.1:0", Clock::new(1.0), &shapes).await.unwrap();
    let built = started.elapsed();
    let pods = running.server.store().list("pods", None).len();
    // Each cluster has doc.events (6 shards) and doc.metrics (2 partitions x 2 shards), one replica.
    let shards = clusters * (6 + 2 * 2) * 2;
    println!("simulated: {clusters} clusters, {pods} pods, {shards} shard copies, built in {built:?}");
    println!(
        "memory: {} MiB resident for the simulation ({} MiB process)",
        (rss_kib() - before) / 1024,
        rss_kib() / 1024
    );

    let url = format!("http://{}", running.addr).parse().unwrap();
    let client = Client::try_from(Config::new(url)).unwrap();
    let api: Api<Pod> = Api::namespaced(client.clone(), "cratedb");
    for _ in 0..50 {
        api.get("crate-data-hot-c7-0").await.unwrap();
    }
    let mut gets = Vec::new();
    for i in 0..1000 {
        let t = Instant::now();
        api.get(&format!(
            "crate-data-hot-c{}-{}",
            i % clusters,
            i % data_nodes as usize
        ))
        .await
        .unwrap();
        gets.push(t.elapsed());
    }
    summary("kube-rs GET pod (loopback)", gets);

    let sql = |cluster: usize| {
        let body = r#"{"stmt":"SELECT count(*) FROM sys.nodes"}"#;
        http::Request::post(format!(
            "/api/v1/namespaces/cratedb/pods/crate-data-hot-c{cluster}-0:4200/proxy/_sql"
        ))
        .header("content-type", "application/json")
        .header(
            "authorization",
            format!("Basic {}", base64_encode(&format!("system:pw{cluster}"))),
        )
        .body(body.as_bytes().to_vec())
        .unwrap()
    };
    for _ in 0..50 {
        client.request_text(sql(3)).await.unwrap();
    }
    let mut round_trips = Vec::new();
    for i in 0..1000 {
        let t = Instant::now();
        let text = client.request_text(sql(i % clusters)).await.unwrap();
        round_trips.push(t.elapsed());
        assert!(text.contains("\"rows\":[[8]]"), "{text}");
    }
    summary("/_sql through the pod proxy (loopback)", round_trips);

    let forward = |cluster: usize| {
        let api = api.clone();
        async move {
            let mut forwarder = api
                .portforward(&format!("crate-data-hot-c{cluster}-0"), &[4200])
                .await
                .unwrap();
            let stream = forwarder.take_stream(4200).unwrap();
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            let connection = tokio::spawn(connection);
            let request = http::Request::post("/_sql")
                .header("host", "localhost:4200")
                .header("content-type", "application/json")
                .header("connection", "close")
                .body(Full::new(Bytes::from_static(
                    br#"{"stmt":"SELECT count(*) FROM sys.nodes"}"#,
                )))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            drop(sender);
            let _ = connection.await;
            forwarder.abort();
            String::from_utf8(body.to_vec()).unwrap()
        }
    };
    for _ in 0..50 {
        forward(3).await;
    }
    let mut forwards = Vec::new();
    for i in 0..1000 {
        let t = Instant::now();
        let text = forward(i % clusters).await;
        forwards.push(t.elapsed());
        assert!(text.contains("\"rows\":[[8]]"), "{text}");
    }
    summary("/_sql over a fresh port-forward", forwards);
    running.task.abort();
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
