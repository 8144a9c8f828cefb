//! HTTP to a pod's CrateDB node: the Kubernetes pod proxy
//! (`/api/v1/namespaces/<ns>/pods/<pod>:4200/proxy/<path>`, how cratectl reaches CrateDB from
//! outside the cluster) and a direct prefix (`/_crate/<ns>/<pod>/<path>`, for clients such as
//! `crash` that take a base URL). Both serve `GET /` and `POST /_sql` from the node's model.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::cratedb::{Auth, ReplyBody, SqlReply};
use crate::databases::node_of_pod;
use crate::kube::ApiServer;
use crate::kube::api::Incoming;
use crate::kube::status::ApiError;

/// The longest a request waits for CrateDB to finish what it answers only when done
/// (DECOMMISSION, snapshots with `wait_for_completion`), in simulated time.
const MAX_WAIT: Duration = Duration::from_secs(4 * 3600);

/// How a refused connection looks through the API server's proxy.
fn refused(ip: &str) -> ApiError {
    ApiError::service_unavailable(format!(
        "error trying to reach service: dial tcp {ip}:4200: connect: connection refused"
    ))
}

/// Serves `method rest` on the CrateDB node of pod `target` (`<pod>` or `<pod>:4200`).
pub async fn forward(
    server: &ApiServer,
    namespace: &str,
    target: &str,
    rest: &str,
    request: &Incoming<'_>,
) -> Result<Response, ApiError> {
    let Incoming {
        method,
        query,
        authorization,
        body,
        ..
    } = *request;
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
        if !model.has_node(&node.node) || !model.node_process_running(&node.node) {
            return Err(refused(&ip));
        }
        match (method, path) {
            (&Method::GET | &Method::HEAD, "") => {
                model.advance(now);
                let root = model.root(&node.node);
                let status = root.get("status").and_then(Value::as_u64).unwrap_or(200);
                return Ok(text_response(
                    status as u16,
                    "application/json; charset=UTF-8",
                    model.root_text(&node.node),
                    false,
                ));
            }
            (&Method::POST, p) if p == "_sql" || p.starts_with("_sql/") || p.starts_with("_sql?") => {
                let auth = match authorization.map(Auth::from_authorization_header) {
                    None => None,
                    Some(Ok(auth)) => Some(auth),
                    Some(Err(text)) => {
                        return Ok(text_response(401, "text/plain; charset=UTF-8", text, true));
                    }
                };
                let (types, trace) = (query.crate_flag("types"), query.crate_flag("error_trace"));
                let reply = model.sql(&node.node, types, trace, body, auth.as_ref(), now);
                server.evidence.observe(&node.key(), model, server.clock.now());
                reply
            }
            _ => {
                return Ok(text_response(
                    404,
                    "text/plain; charset=UTF-8",
                    format!("No handler found for uri [/{path}] and method [{method}]"),
                    false,
                ));
            }
        }
    };
    if let Some(wait) = &reply.wait {
        let deadline = server.clock.elapsed() + MAX_WAIT;
        while !server
            .databases
            .lock()
            .get(&node.key())
            .is_none_or(|m| m.wait_done(wait))
            && server.clock.elapsed() < deadline
        {
            tokio::time::sleep(server.clock.real(Duration::from_millis(250))).await;
        }
    }
    Ok(sql_response(&reply))
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
