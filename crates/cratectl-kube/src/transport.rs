//! How cratectl reaches a pod's CrateDB from outside the cluster: [`HttpSend`] transports
//! through the Kubernetes API.
//!
//! * [`PortForward`] (the one to use): a port-forward to the pod's port 4200, as
//!   `kubectl port-forward` makes, carrying one HTTP/1.1 exchange. The tunnel carries the
//!   request bytes untouched, so CrateDB sees the `Authorization` header; the container
//!   runtime dials `localhost:4200` inside the pod, so CrateDB sees the client as 127.0.0.1.
//! * [`PodProxy`]: the API server's pod proxy (`/api/v1/namespaces/N/pods/P:4200/proxy/…`).
//!   **Credentials do not reach CrateDB this way**: the API server authenticates the caller with
//!   the `Authorization` header and deletes it before it proxies the request
//!   (kubernetes/kubernetes#34076, #38775), and dials the pod from its own address. With the
//!   host-based auth the CrateDB operator always configures, every request then gets a 401
//!   (`password authentication failed for user "crate"`). Only for clusters that trust the
//!   caller (host-based auth off).
//!
//! Both return whatever HTTP answer arrived, as the [`HttpSend`] contract asks: the API
//! server's refusal (a `Status`: no such pod, an injected 503 …) is returned as the response it
//! was, for the client to classify; only "no response at all" is a [`TransportError`].

use std::future::Future;
use std::time::Duration;

use cratectl_cratedb::{
    BoxFuture, HttpSend, RequestTimeout, TransportError, TransportErrorKind, error_chain,
};
use http::header::{AUTHORIZATION, HOST};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::Kube;

/// CrateDB's HTTP port in the operator's pods.
pub const CRATEDB_HTTP_PORT: u16 = 4200;

/// Default for opening a port-forward (the upgrade through the API server and kubelet).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for one whole request, unless it carries a [`RequestTimeout`] (as
/// `DirectTransport`'s default).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a finished exchange waits for the tunnel to close cleanly before dropping it.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long a failed exchange waits for the pod's reason on the error channel (it arrives
/// before the tunnel closes, so this is only a safety margin).
const ERROR_GRACE: Duration = Duration::from_millis(500);

/// A port-forward to a pod's CrateDB, one fresh tunnel per request.
///
/// Each [`send`](HttpSend::send) opens a port-forward (WebSocket, `v4.channel.k8s.io`) to port
/// 4200, performs one HTTP/1.1 exchange over it and closes it: a fresh connection per request
/// is what health gating wants (a reused connection can outlive the node it was made to). The
/// bytes, credentials included, cross the API server and the kubelet inside the tunnel, as with
/// `kubectl port-forward`; they are protected in transit by the API connection's TLS.
///
/// Failures: the API server's refusal before the tunnel opens (no such pod, 403, 503) is
/// returned as its HTTP answer; a tunnel that cannot be opened at all, or a pod that refuses
/// the connection (its CrateDB is not running), is [`TransportErrorKind::Connect`] (nothing
/// reached CrateDB); no answer in time is `Timeout` (`Connect` while still opening the tunnel);
/// a tunnel that breaks during the exchange is `Io`.
#[derive(Clone)]
pub struct PortForward {
    pods: Api<Pod>,
    namespace: String,
    pod: String,
    context: String,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl std::fmt::Debug for PortForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortForward")
            .field("namespace", &self.namespace)
            .field("pod", &self.pod)
            .field("context", &self.context)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl PortForward {
    /// Port 4200 of `pod` in `namespace`. Nothing is sent until the first request.
    pub fn new(kube: &Kube, namespace: &str, pod: &str) -> PortForward {
        PortForward {
            pods: Api::namespaced(kube.client.clone(), namespace),
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            context: kube.context.clone(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// The longest opening a tunnel may take (default 10 s; never more than the request's
    /// own timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> PortForward {
        self.connect_timeout = timeout;
        self
    }

    /// The longest a request may take unless it carries a [`RequestTimeout`] (default 30 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> PortForward {
        self.request_timeout = timeout;
        self
    }

    async fn send_inner(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let timeout = request
            .extensions()
            .get::<RequestTimeout>()
            .map_or(self.request_timeout, |t| t.0);
        let deadline = Instant::now() + timeout;
        let request = self.outgoing(request)?;

        // Open the tunnel. Whatever fails here, nothing reached CrateDB.
        let opened = tokio::time::timeout_at(
            deadline.min(Instant::now() + self.connect_timeout),
            self.pods.portforward(&self.pod, &[CRATEDB_HTTP_PORT]),
        )
        .await;
        let mut forwarder = match opened {
            Err(_) => {
                return Err(TransportError::new(
                    TransportErrorKind::Connect,
                    format!(
                        "opening a port-forward to pod {}/{} timed out",
                        self.namespace, self.pod
                    ),
                ));
            }
            Ok(Err(kube::Error::Api(status))) => return Ok(status_response(&status)),
            Ok(Err(other)) => {
                return Err(TransportError::new(
                    TransportErrorKind::Connect,
                    format!(
                        "cannot open a port-forward to pod {}/{} through the Kubernetes API: {}",
                        self.namespace,
                        self.pod,
                        error_chain(&other)
                    ),
                ));
            }
            Ok(Ok(forwarder)) => Tunnel(forwarder),
        };
        let (Some(stream), Some(error)) = (
            forwarder.0.take_stream(CRATEDB_HTTP_PORT),
            forwarder.0.take_error(CRATEDB_HTTP_PORT),
        ) else {
            return Err(TransportError::new(
                TransportErrorKind::Connect,
                "the port-forward has no stream for port 4200",
            ));
        };
        // Resolves with the pod's reason if it refuses or breaks the connection, or with `None`
        // once the tunnel has closed (then it must not be polled again).
        let mut error = error;
        let mut tunnel_closed = false;
        let outcome = {
            // Dropped at the end of this block, with the HTTP connection and the stream.
            let exchange = exchange(stream, request);
            tokio::pin!(exchange);
            loop {
                tokio::select! {
                    biased;
                    reason = &mut error, if !tunnel_closed => match reason {
                        Some(reason) => break Err(self.refused(&reason)),
                        // Closed (CrateDB closed the connection after answering, say): the
                        // exchange finishes with what arrived.
                        None => tunnel_closed = true,
                    },
                    outcome = tokio::time::timeout_at(deadline, &mut exchange) => break match outcome {
                        Err(_) => Err(TransportError::new(
                            TransportErrorKind::Timeout,
                            format!("no answer from pod {}/{} within {timeout:?}", self.namespace, self.pod),
                        )),
                        Ok(Ok(response)) => Ok(response),
                        Ok(Err(broken)) => {
                            // The pod's reason, if it gave one, says more than the broken
                            // connection (it arrives before the tunnel closes).
                            let reason = if tunnel_closed {
                                None
                            } else {
                                tokio::time::timeout(ERROR_GRACE, &mut error).await.ok().flatten()
                            };
                            match reason {
                                Some(reason) => Err(self.refused(&reason)),
                                None => Err(TransportError::new(
                                    TransportErrorKind::Io,
                                    format!(
                                        "the port-forward to pod {}/{} broke: {broken}",
                                        self.namespace, self.pod
                                    ),
                                )),
                            }
                        }
                    },
                }
            }
        };
        // Close the tunnel: the exchange is over and its stream dropped, so kube-rs sends a
        // Close frame; wait briefly for the tunnel to end, then make sure it has.
        if outcome.is_ok() && !tunnel_closed {
            let _ = tokio::time::timeout(CLOSE_GRACE, &mut error).await;
        }
        drop(forwarder);
        outcome
    }

    /// `request` as it goes into the tunnel: a `Host` header (HTTP/1.1 requires one), and
    /// `Connection: close` (one exchange per tunnel).
    fn outgoing(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Request<Full<Bytes>>, TransportError> {
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        if !path.starts_with('/') {
            return Err(TransportError::new(
                TransportErrorKind::Request,
                format!("request path {path:?} is not absolute"),
            ));
        }
        parts.uri = path.parse().map_err(|e| {
            TransportError::new(TransportErrorKind::Request, format!("bad request path: {e}"))
        })?;
        parts.version = http::Version::HTTP_11;
        if !parts.headers.contains_key(HOST) {
            parts
                .headers
                .insert(HOST, http::HeaderValue::from_static("localhost:4200"));
        }
        parts
            .headers
            .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        Ok(http::Request::from_parts(parts, Full::new(Bytes::from(body))))
    }

    /// The pod refused or broke the tunnelled connection, with the kubelet's `reason`. A failed
    /// dial (CrateDB not listening: refused, no sandbox, a closed network namespace) means
    /// nothing was sent; anything else may have happened mid-request.
    fn refused(&self, reason: &str) -> TransportError {
        let not_sent = [
            "failed to connect",
            "connection refused",
            "dial tcp",
            "sandbox",
            "network namespace",
        ]
        .iter()
        .any(|s| reason.contains(s));
        let kind = if not_sent {
            TransportErrorKind::Connect
        } else {
            TransportErrorKind::Io
        };
        TransportError::new(
            kind,
            format!(
                "pod {}/{} refused the port-forward to port {CRATEDB_HTTP_PORT}: {reason}",
                self.namespace, self.pod
            ),
        )
    }
}

impl HttpSend for PortForward {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(self.send_inner(request))
    }

    fn describe(&self) -> String {
        format!(
            "pod {}/{} (port-forward, context {})",
            self.namespace, self.pod, self.context
        )
    }
}

/// An open port-forward; aborted when dropped, so no tunnel outlives its request.
struct Tunnel(kube::api::Portforwarder);

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One HTTP/1.1 exchange over `stream`: the response with its whole body.
async fn exchange<S>(
    stream: S,
    request: http::Request<Full<Bytes>>,
) -> Result<http::Response<Vec<u8>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| error_chain(&e))?;
    // The connection runs beside the request; it ends once the response is read (the request
    // said `Connection: close`) or when this future is dropped.
    let connection = AbortOnDrop(tokio::spawn(connection));
    let response = sender.send_request(request).await.map_err(|e| error_chain(&e))?;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.map_err(|e| error_chain(&e))?.to_bytes();
    drop(sender);
    drop(connection);
    Ok(http::Response::from_parts(parts, bytes.to_vec()))
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The API server's refusal as the HTTP answer it was: a `Status` object with its code.
fn status_response(status: &kube::core::Status) -> http::Response<Vec<u8>> {
    let mut body = serde_json::to_value(status).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(map) = &mut body {
        map.insert("kind".into(), "Status".into());
        map.insert("apiVersion".into(), "v1".into());
        map.entry("status").or_insert_with(|| "Failure".into());
    }
    let mut response = http::Response::new(body.to_string().into_bytes());
    *response.status_mut() = http::StatusCode::from_u16(status.code).unwrap_or(http::StatusCode::BAD_GATEWAY);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Requests through the API server's pod proxy, `/api/v1/namespaces/N/pods/P:4200/proxy/…`.
///
/// **Credentials do not reach CrateDB this way**: the API server removes the `Authorization`
/// header after authenticating the caller, and CrateDB sees the request come from the API
/// server's address without credentials (user `crate`). With the host-based auth the CrateDB
/// operator configures, that is a 401 for every request; use this only for clusters that trust
/// the caller (host-based auth off), and [`PortForward`] otherwise. The `Authorization` header
/// of a request is removed here, so CrateDB credentials are never sent to the API server either.
#[derive(Clone)]
pub struct PodProxy {
    client: kube::Client,
    namespace: String,
    pod: String,
    context: String,
    request_timeout: Duration,
}

impl std::fmt::Debug for PodProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodProxy")
            .field("namespace", &self.namespace)
            .field("pod", &self.pod)
            .field("context", &self.context)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl PodProxy {
    /// Port 4200 of `pod` in `namespace`, through the pod proxy.
    pub fn new(kube: &Kube, namespace: &str, pod: &str) -> PodProxy {
        PodProxy {
            client: kube.client.clone(),
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            context: kube.context.clone(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// The longest a request may take unless it carries a [`RequestTimeout`] (default 30 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> PodProxy {
        self.request_timeout = timeout;
        self
    }

    async fn send_inner(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let timeout = request
            .extensions()
            .get::<RequestTimeout>()
            .map_or(self.request_timeout, |t| t.0);
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        if !path.starts_with('/') {
            return Err(TransportError::new(
                TransportErrorKind::Request,
                format!("request path {path:?} is not absolute"),
            ));
        }
        parts.uri = format!(
            "/api/v1/namespaces/{}/pods/{}:{CRATEDB_HTTP_PORT}/proxy{path}",
            self.namespace, self.pod
        )
        .parse()
        .map_err(|e| TransportError::new(TransportErrorKind::Request, format!("bad request path: {e}")))?;
        // It would not reach CrateDB, and CrateDB's credentials are none of the API server's
        // business.
        parts.headers.remove(AUTHORIZATION);
        let request = http::Request::from_parts(parts, kube::client::Body::from(body));
        let call = async {
            let response = self.client.send(request).await.map_err(|e| classify_kube(&e))?;
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(|e| TransportError::new(TransportErrorKind::Io, error_chain(&e)))?
                .to_bytes();
            Ok(http::Response::from_parts(parts, bytes.to_vec()))
        };
        with_timeout(timeout, call, || {
            format!(
                "no answer from pod {}/{} through the pod proxy within {timeout:?}",
                self.namespace, self.pod
            )
        })
        .await
    }
}

impl HttpSend for PodProxy {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(self.send_inner(request))
    }

    fn describe(&self) -> String {
        format!(
            "pod {}/{} via the Kubernetes API's pod proxy (context {}; credentials do not reach CrateDB this way)",
            self.namespace, self.pod, self.context
        )
    }
}

async fn with_timeout<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, TransportError>>,
    message: impl FnOnce() -> String,
) -> Result<T, TransportError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result,
        Err(_) => Err(TransportError::new(TransportErrorKind::Timeout, message())),
    }
}

/// A kube-rs failure to get an answer: `Connect` when no connection to the API server was made
/// (nothing sent), `Timeout`, `Request` when the request could not be authenticated or built,
/// `Io` otherwise (it may have been sent).
fn classify_kube(error: &kube::Error) -> TransportError {
    let kind = match error {
        kube::Error::Auth(_) | kube::Error::BuildRequest(_) | kube::Error::HttpError(_) => {
            TransportErrorKind::Request
        }
        other => {
            let mut kind = TransportErrorKind::Io;
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(other);
            while let Some(e) = source {
                if e.downcast_ref::<hyper_util::client::legacy::Error>()
                    .is_some_and(hyper_util::client::legacy::Error::is_connect)
                {
                    kind = TransportErrorKind::Connect;
                    break;
                }
                if let Some(io) = e.downcast_ref::<std::io::Error>() {
                    match io.kind() {
                        std::io::ErrorKind::ConnectionRefused => {
                            kind = TransportErrorKind::Connect;
                            break;
                        }
                        std::io::ErrorKind::TimedOut => {
                            kind = TransportErrorKind::Timeout;
                            break;
                        }
                        _ => {}
                    }
                }
                source = e.source();
            }
            kind
        }
    };
    TransportError::new(kind, format!("the Kubernetes API: {}", error_chain(error)))
}
