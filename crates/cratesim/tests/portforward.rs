//! The `pods/<name>/portforward` subresource through kube-rs' `Api::<Pod>::portforward` (the
//! WebSocket `v4.channel.k8s.io` protocol) over a real socket, HTTP/1.1 to CrateDB inside the
//! tunnel; and what CrateDB sees of the three ways in: a port-forward comes from 127.0.0.1 with
//! its `Authorization` header, the pod proxy from the API server without it, the direct route
//! from a pod IP with it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use kube::{Client, Config};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

use cratesim::clock::Clock;
use cratesim::operator::ClusterShape;
use cratesim::serve::{Running, start};

const PASSWORD: &str = "pw-pf-1";
const POD: &str = "crate-data-hot-alpha-1";

struct Env {
    sim: Running,
    pods: Api<Pod>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.sim.task.abort();
    }
}

async fn env_with(clock: f64, shapes: &[ClusterShape]) -> Env {
    let sim = start("127.0.0.1:0", Clock::new(clock), shapes).await.unwrap();
    let config = Config::new(format!("http://{}", sim.addr).parse().unwrap());
    let client = Client::try_from(config).unwrap();
    let pods = Api::namespaced(client, "cratedb");
    Env { sim, pods }
}

async fn env() -> Env {
    env_with(10.0, &[common::shape("alpha", false, PASSWORD)]).await
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// What one HTTP exchange through a port-forward gave.
#[derive(Debug)]
enum Outcome {
    /// Status, headers, body.
    Answered(u16, http::HeaderMap, String),
    /// The pod refused: the message on the port's error channel.
    Refused(String),
}

/// One request to port 4200 of `pod` through a fresh port-forward.
async fn through_port_forward(
    pods: &Api<Pod>,
    pod: &str,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: &str,
) -> Outcome {
    let mut forwarder = pods.portforward(pod, &[4200]).await.unwrap();
    let stream = forwarder.take_stream(4200).unwrap();
    let error = forwarder.take_error(4200).unwrap();
    let exchange = async {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        let connection = tokio::spawn(connection);
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost:4200")
            .header("content-type", "application/json");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = sender
            .send_request(request.body(Full::new(Bytes::from(body.to_string()))).unwrap())
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        drop(sender);
        let _ = connection.await;
        Ok::<_, String>((parts, bytes))
    };
    let outcome = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("the exchange ends");
    let outcome = match outcome {
        Ok((parts, bytes)) => Outcome::Answered(
            parts.status.as_u16(),
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        ),
        Err(transport) => match tokio::time::timeout(Duration::from_secs(5), error).await {
            Ok(Some(message)) => Outcome::Refused(message),
            other => panic!("the connection failed ({transport}) without a message: {other:?}"),
        },
    };
    closes(forwarder).await;
    outcome
}

/// Waits for the tunnel to end. When the server closed first (CrateDB closed the connection,
/// or the port was refused), kube-rs' own Close frame comes too late and `join` reports that
/// (`SendAfterClosing`): not a failure of the tunnel.
async fn closes(forwarder: kube::api::Portforwarder) {
    let joined = tokio::time::timeout(Duration::from_secs(5), forwarder.join())
        .await
        .expect("the port-forward closes");
    if let Err(e) = joined {
        assert!(
            e.to_string().contains("failed to send a WebSocket message"),
            "{e}"
        );
    }
}

async fn sql_via_port_forward(
    pods: &Api<Pod>,
    pod: &str,
    authorization: Option<&str>,
    stmt: &str,
) -> Outcome {
    let body = json!({ "stmt": stmt }).to_string();
    through_port_forward(pods, pod, "POST", "/_sql?types", authorization, &body).await
}

fn answered(outcome: Outcome) -> (u16, http::HeaderMap, String) {
    match outcome {
        Outcome::Answered(status, headers, body) => (status, headers, body),
        Outcome::Refused(message) => panic!("refused: {message}"),
    }
}

fn current_user(outcome: Outcome) -> String {
    let (status, _, body) = answered(outcome);
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    json["rows"][0][0].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_is_trusted_from_localhost_and_system_needs_its_password() {
    let env = env().await;
    // Without credentials the request runs as `crate` from 127.0.0.1: HBA entry 0 trusts it.
    let user = current_user(sql_via_port_forward(&env.pods, POD, None, "SELECT CURRENT_USER").await);
    assert_eq!(user, "crate");
    // The header crosses the tunnel untouched.
    let system = basic("system", PASSWORD);
    let user = current_user(sql_via_port_forward(&env.pods, POD, Some(&system), "SELECT CURRENT_USER").await);
    assert_eq!(user, "system");
    let (status, _, body) = answered(
        sql_via_port_forward(
            &env.pods,
            POD,
            Some(&system),
            "SELECT name FROM sys.nodes ORDER BY name",
        )
        .await,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#"[["data-hot-0"],["data-hot-1"],["data-hot-2"]]"#),
        "{body}"
    );

    // A wrong password is CrateDB's plain-text 401, and it closes the connection.
    let wrong = basic("system", "wrong");
    let (status, headers, body) =
        answered(sql_via_port_forward(&env.pods, POD, Some(&wrong), "SELECT 1").await);
    assert_eq!(status, 401);
    assert_eq!(body, "password authentication failed for user \"system\"\n");
    assert_eq!(
        headers["www-authenticate"],
        "Basic realm=\"CrateDB Authenticator\""
    );
    assert_eq!(headers["connection"], "close");

    // `GET /` is authenticated too, and answers the node's name.
    let (status, _, body) = answered(through_port_forward(&env.pods, POD, "GET", "/", None, "").await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["name"],
        "data-hot-1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pod_proxy_drops_credentials_and_the_direct_route_keeps_them() {
    let mut trusting = common::shape("beta", false, PASSWORD);
    trusting.host_based_auth = false;
    let env = env_with(10.0, &[common::shape("alpha", false, PASSWORD), trusting]).await;
    let http = reqwest::Client::new();
    let post = |path: String, authorization: Option<String>| {
        let mut request = http
            .post(format!("http://{}{path}", env.sim.addr))
            .header("content-type", "application/json")
            .body(json!({"stmt": "SELECT CURRENT_USER"}).to_string());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let system = Some(basic("system", PASSWORD));
    // The operator's HBA: the API server removed the header, so CrateDB sees user `crate` from a
    // remote address, and wants a password.
    let (status, body) = post(
        format!("/api/v1/namespaces/cratedb/pods/{POD}:4200/proxy/_sql"),
        system.clone(),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body, "password authentication failed for user \"crate\"\n");
    // `GET /` as well.
    let response = http
        .get(format!(
            "http://{}/api/v1/namespaces/cratedb/pods/{POD}:4200/proxy/",
            env.sim.addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // In the cluster, by pod IP, the header arrives.
    let (status, body) = post(format!("/_crate/cratedb/{POD}/_sql"), system.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#"[["system"]]"#), "{body}");
    // Without host-based auth (CrateDB's default) the proxy works, as `crate`: the password
    // never arrived.
    let (status, body) = post(
        "/api/v1/namespaces/cratedb/pods/crate-data-hot-beta-0:4200/proxy/_sql".into(),
        system.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#"[["crate"]]"#), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_before_and_after_the_upgrade() {
    let env = env().await;
    // A pod that does not exist: the API server's 404, before any upgrade.
    let Err(kube::Error::Api(status)) = env.pods.portforward("crate-data-hot-alpha-9", &[4200]).await else {
        panic!("404 expected");
    };
    assert_eq!(status.code, 404);
    assert_eq!(status.message, "pods \"crate-data-hot-alpha-9\" not found");

    // A port nothing listens on: the runtime's dial fails; the kubelet reports it on the
    // port's error channel and closes the connection.
    let mut forwarder = env.pods.portforward(POD, &[9999]).await.unwrap();
    let mut stream = forwarder.take_stream(9999).unwrap();
    let error = forwarder.take_error(9999).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), error)
        .await
        .unwrap()
        .expect("an error message");
    assert!(
        message.starts_with("error forwarding port 9999 to pod "),
        "{message}"
    );
    assert!(
        message.contains("failed to connect to localhost:9999 inside namespace")
            && message.contains("dial tcp4 127.0.0.1:9999: connect: connection refused"),
        "{message}"
    );
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "nothing on the data channel");
    drop(stream);
    closes(forwarder).await;

    // Two ports in one connection: each has its own channels, one works, one is refused.
    let mut forwarder = env.pods.portforward(POD, &[5432, 4200]).await.unwrap();
    let error = forwarder.take_error(5432).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), error)
        .await
        .unwrap()
        .unwrap();
    assert!(
        message.contains("PostgreSQL wire protocol is not simulated"),
        "{message}"
    );
    let mut http = forwarder.take_stream(4200).unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    http.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"name\" : \"data-hot-1\""), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_refuses_the_tunnel_until_it_runs_again() {
    // A slow clock, so the node stays down (the pod recreated, Pending for 3 simulated
    // seconds) long enough to look.
    let env = env_with(4.0, &[common::shape("alpha", false, PASSWORD)]).await;
    let uid = env.pods.get(POD).await.unwrap().metadata.uid;
    env.pods.delete(POD, &DeleteParams::default()).await.unwrap();
    let mut refused = None;
    for _ in 0..400 {
        match env.pods.portforward(POD, &[4200]).await {
            // Between the old pod's removal and the new one's creation: no such pod.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(other) => panic!("{other}"),
            Ok(mut forwarder) => {
                let error = forwarder.take_error(4200).unwrap();
                if let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(200), error).await {
                    refused = Some(message);
                    break;
                }
                forwarder.abort();
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let message = refused.expect("the tunnel was refused while the node was down");
    assert!(
        message.contains("failed to connect to localhost:4200")
            && message.contains("connect: connection refused"),
        "{message}"
    );
    // The new pod's node starts and the tunnel works again.
    let mut back = false;
    for _ in 0..200 {
        let pod = env.pods.get(POD).await.unwrap();
        let ready = pod
            .status
            .and_then(|s| s.conditions)
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ready && pod.metadata.uid != uid {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back, "the pod came back");
    let user = current_user(sql_via_port_forward(&env.pods, POD, None, "SELECT CURRENT_USER").await);
    assert_eq!(user, "crate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_protocol_as_the_kubelet_speaks_it() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::{Message, http::HeaderValue};
    let env = env().await;
    let url = format!(
        "ws://{}/api/v1/namespaces/cratedb/pods/{POD}/portforward?ports=4200",
        env.sim.addr
    );
    let open = |protocols: &'static str| {
        let mut request = url.clone().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static(protocols));
        tokio_tungstenite::connect_async(request)
    };
    // v5 is not offered for port-forward: the first acceptable protocol in the client's order.
    let (mut socket, response) = open("v5.channel.k8s.io, v4.channel.k8s.io").await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "v4.channel.k8s.io");
    for channel in [0u8, 1] {
        let Some(Ok(Message::Binary(frame))) = socket.next().await else {
            panic!("the port frame")
        };
        assert_eq!(&frame[..], [channel, 0x68, 0x10], "port 4200, little-endian");
    }
    let request = b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
    socket
        .send(Message::binary([&[0u8][..], &request[..]].concat()))
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut closed = None;
    while let Some(message) = socket.next().await {
        match message.unwrap() {
            Message::Binary(frame) => {
                assert_eq!(frame[0], 0, "data channel");
                answer.extend_from_slice(&frame[1..]);
            }
            Message::Close(frame) => {
                closed = frame;
                break;
            }
            _ => {}
        }
    }
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200 OK"));
    assert_eq!(
        closed.map(|f| u16::from(f.code)),
        Some(1000),
        "the kubelet closes once CrateDB closed"
    );

    // The base64 flavour: text frames, the channel as an ASCII digit.
    let (mut socket, response) = open("v4.base64.channel.k8s.io").await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "v4.base64.channel.k8s.io"
    );
    let Some(Ok(Message::Text(first))) = socket.next().await else {
        panic!("a text frame")
    };
    assert_eq!(first.as_str(), "0aBA=");
    // Nothing acceptable: the handshake is refused (403).
    let refused = open("v5.channel.k8s.io").await.unwrap_err();
    assert!(refused.to_string().contains("403"), "{refused}");
}

/// `wait_for_completion = true` answers once the snapshot (or the restore) is done, through a
/// port-forward as through the direct route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_snapshots_and_restores_answer_through_the_tunnel() {
    let env = env().await;
    let system = basic("system", PASSWORD);
    let run = |stmt: &'static str| {
        let pods = env.pods.clone();
        let system = system.clone();
        async move {
            let outcome = tokio::time::timeout(
                Duration::from_secs(60),
                sql_via_port_forward(&pods, POD, Some(&system), stmt),
            )
            .await
            .unwrap_or_else(|_| panic!("no answer to {stmt}"));
            let (status, _, body) = answered(outcome);
            assert_eq!(status, 200, "{stmt}: {body}");
            serde_json::from_str::<Value>(&body).unwrap()
        }
    };
    run("CREATE REPOSITORY r TYPE fs WITH (location = '/pf')").await;
    run("CREATE SNAPSHOT r.s ALL WITH (wait_for_completion = true)").await;
    let state = run("SELECT state FROM sys.snapshots").await;
    assert_eq!(state["rows"], json!([["SUCCESS"]]));
    run("DROP TABLE doc.events").await;
    run("RESTORE SNAPSHOT r.s TABLE doc.events WITH (wait_for_completion = true)").await;
    let restores = run("SELECT count(*) FROM sys.snapshot_restore").await;
    assert_eq!(restores["rows"], json!([[0]]));
}
