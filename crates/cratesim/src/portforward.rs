//! `pods/<name>/portforward`: a TCP tunnel to a pod's ports through the API server, over
//! WebSocket, as kube-rs' `Api::<Pod>::portforward(name, &[4200])` and other clients of the
//! `v4.channel.k8s.io` protocol use it. `kubectl port-forward` is how people reach CrateDB from
//! outside the cluster, and unlike the pod proxy it keeps the `Authorization` header: the tunnel
//! carries the HTTP bytes untouched.
//!
//! What a real cluster does, and where each behaviour comes from:
//!
//! * **Before the upgrade, the API server** (`PortForwardREST.Connect`, `pod.PortForwardLocation`
//!   in kubernetes/pkg/registry/core/pod): a pod that does not exist is a 404 Status; a pod
//!   without a node is a 400 `pod <name> does not have a host assigned`; a request that does not
//!   ask for an upgrade is a 400 `Upgrade request required` (the upgrade-aware proxy it
//!   hands the request to requires one).
//! * **The kubelet's WebSocket handler** (kubelet/pkg/cri/streaming/portforward/websocket.go,
//!   apimachinery's `wsstream`): the ports come from the `ports` query parameter
//!   (comma-separated; errors are a plain-text 400 such as `query parameter "ports" is
//!   required`). The subprotocol is the first one the client offers, in its order, out of
//!   `v4.channel.k8s.io` (binary), `v4.base64.channel.k8s.io` (text, base64) and none at all
//!   (binary); kube-rs offers `v5.channel.k8s.io, v4.channel.k8s.io` and gets v4, which
//!   port-forward has no v5 of. None acceptable: 403 (`golang.org/x/net/websocket`'s answer
//!   to a failed handshake). Each port gets two channels, data `2i` and error `2i + 1`; every
//!   frame starts with its channel byte (an ASCII digit in base64 mode), and the first frame on
//!   each channel carries the port, 2 bytes little-endian. Frames for other channels, or for an
//!   error channel, are ignored.
//! * **The container runtime** (containerd's `portForward`, internal/cri/server/
//!   sandbox_portforward_linux.go) dials `localhost:PORT` inside the pod's network namespace,
//!   so **CrateDB sees the connection come from 127.0.0.1**: the operator's host-based auth
//!   trusts user `crate` from there without a password, and asks `system` for its password (see
//!   [`crate::cratedb::spec::Peer`]). A refused dial (the node's process is not running, or
//!   nothing listens on the port) is one message on the port's error channel, wrapped by the
//!   kubelet as `error forwarding port P to pod <sandbox id>, uid : …`, and the connection
//!   closes. When CrateDB closes the connection (after a 401, or when the node stops) the
//!   runtime's copy ends and the kubelet closes the WebSocket (a Close frame, 1000).
//!
//! The pod end of the tunnel is served as HTTP/1.1 by hyper on one half of an in-memory duplex
//! pipe, with the same handler as the other routes to CrateDB ([`crate::proxy::forward`] with
//! [`Via::PortForward`]); the other half is bridged to the WebSocket frames. A request on a
//! tunnel whose node has stopped closes the connection, as a dying node resets its connections.
//!
//! Not simulated: SPDY (`Upgrade: SPDY/3.1`, what kubectl before 1.31 speaks, and what it falls
//! back to) and SPDY tunnelled over WebSocket (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31+);
//! both are refused with a message saying so. CrateDB's other ports (4300 transport, 5432
//! PostgreSQL) answer on the error channel that their protocol is not simulated. The kubelet's
//! idle timeout (4 hours) is not modelled.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::mpsc;

use crate::kube::ApiServer;
use crate::kube::api::Incoming;
use crate::kube::query::Query;
use crate::kube::status::ApiError;
use crate::proxy::{self, Via};

/// The subprotocols the kubelet's port-forward handler accepts (`""`: none requested).
const BINARY: &str = "v4.channel.k8s.io";
const BASE64: &str = "v4.base64.channel.k8s.io";

/// kubectl 1.31+'s SPDY-over-WebSocket tunnel, which the API server (not the kubelet) serves.
const SPDY_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";

/// The port CrateDB serves HTTP on in the operator's pods.
const HTTP_PORT: u16 = 4200;

/// The largest request body the pod end reads (CrateDB's `http.max_content_length`, 100mb).
const MAX_BODY: usize = 100 * 1024 * 1024;

/// How the frames of the negotiated subprotocol encode the channel and the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Codec {
    /// `v4.channel.k8s.io` or no subprotocol: binary frames, the channel as the first byte.
    Binary,
    /// `v4.base64.channel.k8s.io`: text frames, the channel as an ASCII digit, data in base64.
    Base64,
}

/// Answers a `pods/<name>/portforward` request: an error, or the upgrade to the tunnel.
pub async fn connect(
    server: &Arc<ApiServer>,
    namespace: &str,
    name: &str,
    query: &Query,
    parts: &mut Parts,
) -> Response {
    match open(server, namespace, name, query, parts).await {
        Ok(response) | Err(response) => response,
    }
}

async fn open(
    server: &Arc<ApiServer>,
    namespace: &str,
    name: &str,
    query: &Query,
    parts: &mut Parts,
) -> Result<Response, Response> {
    // The API server: the pod, and the node it runs on.
    let pod = server
        .store()
        .get("pods", namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found("pods", name).into_response())?;
    if pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(
            ApiError::bad_request(format!("pod {name} does not have a host assigned")).into_response(),
        );
    }
    // Its upgrade-aware proxy requires an upgrade.
    let headers = &parts.headers;
    if !header_has_token(headers, "connection", "upgrade") {
        return Err(ApiError::bad_request("Upgrade request required".into()).into_response());
    }
    if !header_has_token(headers, "upgrade", "websocket") {
        return Err(ApiError::bad_request(
            "cratesim: port-forward over SPDY (Upgrade: SPDY/3.1) is not simulated; use a WebSocket \
             client of the v4.channel.k8s.io protocol (kube-rs' Api::<Pod>::portforward)"
                .into(),
        )
        .into_response());
    }
    // The kubelet: ports, then the subprotocol.
    let ports = ports(query).map_err(|text| (StatusCode::BAD_REQUEST, text).into_response())?;
    let offered = offered_protocols(headers);
    let Some(chosen) = offered
        .iter()
        .find(|p| ["", BINARY, BASE64].contains(&p.as_str()))
        .cloned()
    else {
        if offered.iter().any(|p| p == SPDY_TUNNEL) {
            return Err((
                StatusCode::FORBIDDEN,
                format!(
                    "cratesim: port-forward as SPDY tunnelled over WebSocket ({SPDY_TUNNEL}, kubectl 1.31 and later) \
                     is not simulated; use a client of {BINARY} (kube-rs' Api::<Pod>::portforward)"
                ),
            )
                .into_response());
        }
        return Err(StatusCode::FORBIDDEN.into_response());
    };
    let upgrade = WebSocketUpgrade::from_request_parts(parts, &())
        .await
        .map_err(|rejection| {
            ApiError::bad_request(format!(
                "cratesim: a port-forward needs a real connection that can be upgraded \
                 (in-process calls cannot): {}",
                rejection.body_text()
            ))
            .into_response()
        })?;
    let (upgrade, codec) = match chosen.as_str() {
        "" => (upgrade, Codec::Binary),
        BINARY => (upgrade.protocols([BINARY]), Codec::Binary),
        _ => (upgrade.protocols([BASE64]), Codec::Base64),
    };
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or(name)
        .to_string();
    let tunnel = Tunnel {
        server: server.clone(),
        namespace: namespace.to_string(),
        pod: name.to_string(),
        sandbox: hex_id(&uid, 64),
        netns: netns_path(&uid),
        codec,
    };
    Ok(upgrade.on_upgrade(move |socket| tunnel.run(socket, ports)))
}

/// Whether the comma-separated header `name` contains `token` (case-insensitive).
fn header_has_token(headers: &HeaderMap, name: &str, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The subprotocols the client offers, in its order (`[""]` for none), as
/// `golang.org/x/net/websocket` reads `Sec-WebSocket-Protocol`.
fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    let offered: Vec<String> = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if offered.is_empty() {
        vec![String::new()]
    } else {
        offered
    }
}

/// The `ports` query parameter as the kubelet parses it (`NewV4Options`), or its error text.
fn ports(query: &Query) -> Result<Vec<u16>, String> {
    let Some(text) = query.get("ports") else {
        return Err("query parameter \"ports\" is required".into());
    };
    text.split(',')
        .map(|p| {
            let port: u16 = p
                .trim()
                .parse()
                .map_err(|e| format!("unable to parse \"{text}\" as a port: {e}"))?;
            if port < 1 {
                return Err(format!("port \"{text}\" must be > 0"));
            }
            Ok(port)
        })
        .collect()
}

/// A hex identifier of `len` digits derived from `seed` (a pod sandbox id looks like this).
fn hex_id(seed: &str, len: usize) -> String {
    let mut out = String::new();
    let mut round = 0u64;
    while out.len() < len {
        let mut hasher = DefaultHasher::new();
        (seed, round).hash(&mut hasher);
        out.push_str(&format!("{:016x}", hasher.finish()));
        round += 1;
    }
    out.truncate(len);
    out
}

/// The network namespace a CNI plugin would have made for the pod.
fn netns_path(seed: &str) -> String {
    let id = hex_id(&format!("netns/{seed}"), 32);
    format!(
        "/var/run/netns/cni-{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    )
}

/// One upgraded port-forward connection.
struct Tunnel {
    server: Arc<ApiServer>,
    namespace: String,
    pod: String,
    /// The pod sandbox id: the kubelet's streaming server passes it as the "pod name".
    sandbox: String,
    netns: String,
    codec: Codec,
}

impl Tunnel {
    /// Runs the tunnel until every port is done or the client goes away.
    async fn run(self, socket: WebSocket, ports: Vec<u16>) {
        let (mut sink, mut stream) = socket.split();
        let (frames, mut outgoing) = mpsc::channel::<(u8, Vec<u8>)>(32);
        let codec = self.codec;
        let mut writer = tokio::spawn(async move {
            while let Some((channel, data)) = outgoing.recv().await {
                if sink.send(encode(codec, channel, &data)).await.is_err() {
                    return;
                }
            }
            // Every port is done: the kubelet closes the connection (`wsstream.Conn.Close`).
            let close = CloseFrame {
                code: 1000,
                reason: "".into(),
            };
            let _ = sink.send(Message::Close(Some(close))).await;
            let _ = sink.close().await;
        });

        // The first frame on every channel: its port, 2 bytes little-endian.
        for (i, port) in ports.iter().enumerate() {
            for channel in [data_channel(i), data_channel(i) + 1] {
                let _ = frames.send((channel, port.to_le_bytes().to_vec())).await;
            }
        }
        let mut inputs: Vec<Option<WriteHalf<DuplexStream>>> = Vec::with_capacity(ports.len());
        for (i, port) in ports.iter().enumerate() {
            match self.dial(*port) {
                Ok(()) => {
                    let (near, far) = tokio::io::duplex(64 * 1024);
                    tokio::spawn(serve_pod_end(
                        far,
                        self.server.clone(),
                        self.namespace.clone(),
                        self.pod.clone(),
                    ));
                    let (reader, writer) = tokio::io::split(near);
                    tokio::spawn(pump(reader, data_channel(i), frames.clone()));
                    inputs.push(Some(writer));
                }
                Err(reason) => {
                    let message = format!(
                        "error forwarding port {port} to pod {}, uid : {reason}",
                        self.sandbox
                    );
                    let _ = frames.send((data_channel(i) + 1, message.into_bytes())).await;
                    inputs.push(None);
                }
            }
        }
        // The writer ends (and closes the connection) once every port's pump has ended.
        drop(frames);

        loop {
            tokio::select! {
                _ = &mut writer => return,
                message = stream.next() => {
                    let frame = match message {
                        Some(Ok(Message::Binary(data))) => decode(codec, &data),
                        Some(Ok(Message::Text(text))) => decode(codec, text.as_bytes()),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                        // The client closed the connection or went away: end of input on every
                        // port; the pod ends finish what they are doing and close.
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    };
                    // Data for a port's data channel; anything else is ignored, as `wsstream`
                    // ignores frames for write-only or unknown channels.
                    if let Some((channel, data)) = frame
                        && channel % 2 == 0
                        && let Some(slot) = inputs.get_mut(usize::from(channel / 2))
                        && let Some(input) = slot
                        && input.write_all(&data).await.is_err()
                    {
                        *slot = None;
                    }
                }
            }
        }
        for input in inputs.iter_mut().flatten() {
            let _ = input.shutdown().await;
        }
        drop(inputs);
        let _ = writer.await;
    }

    /// What the runtime's dial of `localhost:port` inside the pod does: `Ok` if CrateDB
    /// listens, else containerd's error (1.7/2.0: IPv4, then IPv6).
    fn dial(&self, port: u16) -> Result<(), String> {
        if port == HTTP_PORT && proxy::node_listening(&self.server, &self.namespace, &self.pod) {
            return Ok(());
        }
        if matches!(port, 4300 | 5432) && proxy::node_listening(&self.server, &self.namespace, &self.pod) {
            let what = if port == 4300 {
                "the transport protocol"
            } else {
                "the PostgreSQL wire protocol"
            };
            return Err(format!(
                "cratesim: CrateDB listens on port {port}, but {what} is not simulated (only HTTP on {HTTP_PORT} is)"
            ));
        }
        Err(format!(
            "failed to execute portforward in network namespace \"{netns}\": failed to connect to \
             localhost:{port} inside namespace \"{sandbox}\", IPv4: dial tcp4 127.0.0.1:{port}: \
             connect: connection refused IPv6 dial tcp6 [::1]:{port}: connect: connection refused ",
            netns = self.netns,
            sandbox = self.sandbox,
        ))
    }
}

/// The data channel of the `i`th port (its error channel is the next one).
fn data_channel(i: usize) -> u8 {
    // kube-rs allows at most 128 ports, so 2 * 127 fits; beyond, frames would be misrouted,
    // which the real server does too (a byte channel).
    (2 * i).min(254) as u8
}

fn encode(codec: Codec, channel: u8, data: &[u8]) -> Message {
    match codec {
        Codec::Binary => {
            let mut frame = Vec::with_capacity(data.len() + 1);
            frame.push(channel);
            frame.extend_from_slice(data);
            Message::Binary(Bytes::from(frame))
        }
        Codec::Base64 => {
            let text = format!(
                "{}{}",
                char::from(b'0'.wrapping_add(channel)),
                base64::engine::general_purpose::STANDARD.encode(data)
            );
            Message::Text(text.into())
        }
    }
}

/// A frame's channel and data; `None` for an empty frame or undecodable base64.
fn decode(codec: Codec, frame: &[u8]) -> Option<(u8, Vec<u8>)> {
    let (&first, rest) = frame.split_first()?;
    match codec {
        Codec::Binary => Some((first, rest.to_vec())),
        Codec::Base64 => {
            let data = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
            Some((first.wrapping_sub(b'0'), data))
        }
    }
}

/// Copies what the pod end writes into frames on `channel`, until it closes.
async fn pump(mut reader: ReadHalf<DuplexStream>, channel: u8, frames: mpsc::Sender<(u8, Vec<u8>)>) {
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if frames.send((channel, buffer[..n].to_vec())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Serves HTTP/1.1 on the pod end of a tunnel, as the node would on `localhost:4200`.
async fn serve_pod_end(io: DuplexStream, server: Arc<ApiServer>, namespace: String, pod: String) {
    let service = hyper::service::service_fn(move |request| {
        let (server, namespace, pod) = (server.clone(), namespace.clone(), pod.clone());
        async move { tunnelled(&server, &namespace, &pod, request).await }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// One request that came through the tunnel. An `Err` closes the connection without an
/// answer: the node is gone.
async fn tunnelled(
    server: &ApiServer,
    namespace: &str,
    pod: &str,
    request: http::Request<hyper::body::Incoming>,
) -> Result<Response, std::io::Error> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(Body::new(body), MAX_BODY)
        .await
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let query = Query::parse(parts.uri.query());
    let incoming = Incoming {
        method: &parts.method,
        query: &query,
        accept: header("accept"),
        content_type: header("content-type"),
        authorization: parts.headers.get("authorization").and_then(|v| v.to_str().ok()),
        body: &body,
    };
    let rest = parts.uri.path().trim_start_matches('/');
    proxy::forward(server, namespace, pod, rest, &incoming, Via::PortForward)
        .await
        .map_err(|refused| std::io::Error::new(std::io::ErrorKind::ConnectionReset, refused.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_as_the_kubelet_does() {
        assert_eq!(ports(&Query::parse(Some("ports=4200"))), Ok(vec![4200]));
        assert_eq!(ports(&Query::parse(Some("&ports=80%2C1234"))), Ok(vec![80, 1234]));
        assert_eq!(
            ports(&Query::parse(None)),
            Err("query parameter \"ports\" is required".into())
        );
        assert!(
            ports(&Query::parse(Some("ports=0")))
                .unwrap_err()
                .contains("must be > 0")
        );
        assert!(
            ports(&Query::parse(Some("ports=x")))
                .unwrap_err()
                .starts_with("unable to parse \"x\" as a port")
        );
    }

    #[test]
    fn subprotocols_are_read_in_the_clients_order() {
        let mut headers = HeaderMap::new();
        assert_eq!(offered_protocols(&headers), [""]);
        headers.insert(
            "sec-websocket-protocol",
            "v5.channel.k8s.io, v4.channel.k8s.io".parse().unwrap(),
        );
        assert_eq!(offered_protocols(&headers), ["v5.channel.k8s.io", BINARY]);
    }

    #[test]
    fn frames_carry_the_channel_first() {
        let Message::Binary(frame) = encode(Codec::Binary, 1, &4200u16.to_le_bytes()) else {
            panic!("binary");
        };
        assert_eq!(&frame[..], [1, 0x68, 0x10]);
        let Message::Text(text) = encode(Codec::Base64, 1, b"\n") else {
            panic!("text");
        };
        assert_eq!(text.as_str(), "1Cg==");
        assert_eq!(decode(Codec::Base64, b"0Zm9vCg=="), Some((0, b"foo\n".to_vec())));
        assert_eq!(decode(Codec::Binary, &[0, 1, 2]), Some((0, vec![1, 2])));
        assert_eq!(decode(Codec::Binary, &[]), None);
    }

    #[test]
    fn sandbox_ids_look_like_containerds() {
        let id = hex_id("uid-1", 64);
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id, hex_id("uid-1", 64), "stable");
        assert!(netns_path("uid-1").starts_with("/var/run/netns/cni-"));
    }
}
