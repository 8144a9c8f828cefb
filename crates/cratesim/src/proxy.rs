//! HTTP to a pod's CrateDB node, three ways, each as CrateDB would see it:
//!
//! * the Kubernetes **pod proxy** (`/api/v1/namespaces/<ns>/pods/<pod>:4200/proxy/<path>`). A
//!   real API server authenticates the caller with the `Authorization` header and then deletes
//!   it (`WithAuthentication` in k8s.io/apiserver: "authorization header is not required anymore
//!   in case of a successful authentication"; kubernetes/kubernetes#34076, #38775), and dials
//!   the pod from its own address. So CrateDB never sees Basic or Bearer credentials this way:
//!   the request runs as `auth.trust.http_default_user` (`crate`) from a remote address, which
//!   the operator's host-based auth refuses with its plain-text 401;
//! * a direct prefix (`/_crate/<ns>/<pod>/<path>`, for clients such as `crash` that take a base
//!   URL): a client inside the cluster dialling the pod IP, headers as sent, a remote address;
//! * a **port-forward** ([`crate::portforward`]): the tunnel carries the request bytes untouched,
//!   and the runtime dials `localhost:4200` inside the pod's network namespace, so CrateDB sees
//!   the header and the loopback address (which the operator's host-based auth trusts for user
//!   `crate`).
//!
//! All serve `GET /` and `POST /_sql` from the node's model.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::cratedb::spec::Peer;
use crate::cratedb::{Auth, ReplyBody, SqlReply, Wait};
use crate::databases::node_of_pod;
use crate::kube::ApiServer;
use crate::kube::api::Incoming;
use crate::kube::status::ApiError;

/// The longest a request waits for CrateDB to finish what it answers only when done
/// (DECOMMISSION, snapshots with `wait_for_completion`), in simulated time.
const MAX_WAIT: Duration = Duration::from_secs(4 * 3600);

/// How a request reaches the node (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The API server's pod proxy: `Authorization` removed, the API server's address.
    PodProxy,
    /// In the cluster, by pod IP (`/_crate/…`): headers as sent, a remote address.
    PodIp,
    /// A port-forward's tunnel: headers as sent, the pod's loopback address.
    PortForward,
}

impl Via {
    /// The address CrateDB sees the connection come from.
    fn peer(self) -> Peer {
        match self {
            Via::PodProxy | Via::PodIp => Peer::Remote,
            Via::PortForward => Peer::Loopback,
        }
    }
}

/// How a refused connection looks through the API server's proxy.
fn refused(ip: &str) -> ApiError {
    ApiError::service_unavailable(format!(
        "error trying to reach service: dial tcp {ip}:4200: connect: connection refused"
    ))
}

/// CrateDB's answer to failed authentication: 401, the message and a newline as plain text,
/// `WWW-Authenticate`, and the connection closed (`HttpAuthUpstreamHandler.sendUnauthorized`).
fn unauthorized(message: &str) -> Response {
    let mut text = message.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let mut response = text_response(401, "text/plain; charset=UTF-8", text, true);
    if let Ok(value) = "close".parse() {
        response.headers_mut().insert("connection", value);
    }
    response
}

/// Whether pod `pod`'s CrateDB node listens on port 4200 now: the pod runs, and so does the
/// node's process.
pub fn node_listening(server: &ApiServer, namespace: &str, pod: &str) -> bool {
    let Some(pod) = server.store().get("pods", namespace, pod).cloned() else {
        return false;
    };
    if pod.pointer("/status/phase").and_then(Value::as_str) != Some("Running") {
        return false;
    }
    let Some(node) = node_of_pod(&pod) else {
        return false;
    };
    server
        .databases
        .lock()
        .get(&node.key())
        .is_some_and(|m| m.has_node(&node.node) && m.node_process_running(&node.node))
}

/// Serves `method rest` on the CrateDB node of pod `target` (`<pod>` or `<pod>:4200`).
///
/// An `Err` is a refused connection, as the API server's proxy reports it; through a
/// port-forward it means the tunnel's connection to the node is gone.
pub async fn forward(
    server: &ApiServer,
    namespace: &str,
    target: &str,
    rest: &str,
    request: &Incoming<'_>,
    via: Via,
) -> Result<Response, ApiError> {
    let Incoming {
        method,
        query,
        authorization,
        body,
        ..
    } = *request;
    let authorization = match via {
        Via::PodProxy => None,
        Via::PodIp | Via::PortForward => authorization,
    };
    let auth = match authorization.map(Auth::from_authorization_header) {
        None => Auth::http_default_user(via.peer()),
        Some(Ok(auth)) => auth.from_peer(via.peer()),
        Some(Err(text)) => return Ok(unauthorized(&text)),
    };
    let (pod_name, port) = target.split_once(':').unwrap_or((target, "4200"));
    let pod = server
        .store()
        .get("pods", namespace, pod_name)
        .cloned()
        .ok_or_else(|| ApiError::not_found("pods", pod_name))?;
    let ip = pod
        .pointer("/status/podIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let running = pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
    let node = node_of_pod(&pod).ok_or_else(|| refused(&ip))?;
    if port != "4200" || !running {
        return Err(refused(&ip));
    }
    let now = server.clock.elapsed();
    let path = rest.trim_start_matches('/');
    let reply = {
        let mut databases = server.databases.lock();
        let model = databases.get_mut(&node.key()).ok_or_else(|| refused(&ip))?;
        // Up to now first: a node whose process exited a moment ago refuses the connection
        // (it must not be let in and then answer as a node that is down).
        model.advance(now);
        if !model.has_node(&node.node) || !model.node_process_running(&node.node) {
            return Err(refused(&ip));
        }
        let answer = match (method, path) {
            (&Method::GET | &Method::HEAD, "") => {
                model.advance(now);
                match model.authenticate(&node.node, Some(&auth)) {
                    Err(text) => Err(unauthorized(&text)),
                    Ok(_) => {
                        let root = model.root(&node.node);
                        let status = root.get("status").and_then(Value::as_u64).unwrap_or(200);
                        Err(text_response(
                            status as u16,
                            "application/json; charset=UTF-8",
                            model.root_text(&node.node),
                            false,
                        ))
                    }
                }
            }
            (&Method::POST, p) if p == "_sql" || p.starts_with("_sql/") || p.starts_with("_sql?") => {
                let (types, trace) = (query.crate_flag("types"), query.crate_flag("error_trace"));
                let reply = model.sql(&node.node, types, trace, body, Some(&auth), now);
                server.evidence.observe(&node.key(), model, server.clock.now());
                Ok(reply)
            }
            _ => Err(text_response(
                404,
                "text/plain; charset=UTF-8",
                format!("No handler found for uri [/{path}] and method [{method}]"),
                false,
            )),
        };
        server.wake_if_sooner(model.next_change_at());
        // `Err`: answered without SQL (the root, a refusal, an unknown path).
        match answer {
            Ok(reply) => reply,
            Err(response) => return Ok(response),
        }
    };
    if let Some(wait) = &reply.wait {
        let deadline = server.clock.elapsed() + MAX_WAIT;
        while !wait_done(server, &node.key(), wait) && server.clock.elapsed() < deadline {
            tokio::time::sleep(server.clock.real(Duration::from_millis(250))).await;
        }
    }
    Ok(sql_response(&reply))
}

/// Whether what `wait` waits for is done, the model first brought up to now: nothing else
/// need run meanwhile (the controllers only wake for the changes they know of), and the
/// simulated clock moves on while the request waits. The lock is taken for this check only.
fn wait_done(server: &ApiServer, key: &(String, String), wait: &Wait) -> bool {
    let mut databases = server.databases.lock();
    match databases.get_mut(key) {
        Some(model) => {
            model.advance(server.clock.elapsed());
            server.wake_if_sooner(model.next_change_at());
            model.wait_done(wait)
        }
        None => true,
    }
}

fn text_response(status: u16, content_type: &str, text: String, www_authenticate: bool) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        Body::from(text),
    )
        .into_response();
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert("content-type", value);
    }
    if www_authenticate && let Ok(value) = "Basic realm=\"CrateDB Authenticator\"".parse() {
        response.headers_mut().insert("www-authenticate", value);
    }
    response
}

fn sql_response(reply: &SqlReply) -> Response {
    let www_authenticate = matches!(
        reply.body,
        ReplyBody::PlainText {
            www_authenticate: true,
            ..
        }
    );
    let mut response = text_response(
        reply.status,
        reply.content_type(),
        reply.body_text(),
        www_authenticate,
    );
    if matches!(
        reply.body,
        ReplyBody::PlainText {
            close_connection: true,
            ..
        }
    ) && let Ok(value) = "close".parse()
    {
        response.headers_mut().insert("connection", value);
    }
    response
}
