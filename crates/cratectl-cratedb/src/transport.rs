//! How a request reaches a CrateDB node: the [`HttpSend`] trait, and [`DirectTransport`] for a
//! URL. `cratectl-kube` implements the trait for a port-forward and for the pod proxy.
//!
//! # The contract for implementations
//!
//! * Request paths are relative to the node's HTTP root (`/`, `/_sql?types`); the transport
//!   prefixes its own base (`http://host:4200`, `/api/v1/namespaces/N/pods/P:4200/proxy`).
//! * Every HTTP response is returned as it is, **whatever its status**: the client tells a
//!   CrateDB error from a proxy's or gateway's error by the body. A [`TransportError`] means no
//!   response arrived, and its [`kind`](TransportError::kind) must say honestly whether the
//!   request may have reached the server (this decides whether a write may be retried).
//! * Honour a [`RequestTimeout`] in the request's extensions when present (long statements such
//!   as `ALTER CLUSTER DECOMMISSION` ask for more time than the default).
//! * Never log headers, and never put a header value into an error or into `describe()`.
//!
//! **Beware, for the pod proxy:** the Kubernetes API server authenticates the caller with the
//! `Authorization` header and then removes it before it forwards a proxied request
//! (kubernetes/kubernetes#38775), so CrateDB never sees Basic or Bearer credentials sent
//! through `/api/v1/namespaces/N/pods/P:4200/proxy`: it then authenticates the request as
//! coming from the API server's address without credentials (`auth.trust.http_default_user`
//! where trust applies, else a 401). A port-forward (a TCP tunnel) keeps the header.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

/// A boxed, sendable future (what [`HttpSend::send`] returns; keeps the trait object-safe).
pub type BoxFuture<'a, T> = futures::future::BoxFuture<'a, T>;

/// Sends one HTTP request to one CrateDB node.
pub trait HttpSend: Send + Sync {
    /// Sends `request` (path relative to the node's HTTP root) and returns the response,
    /// whatever its status.
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>>;

    /// What requests go to, for messages: `pod cratedb/crate-data-hot-a-1 via the Kubernetes
    /// API`, or the URL. Never credentials.
    fn describe(&self) -> String;
}

/// A per-request timeout, set in `http::Request::extensions()`; transports honour it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTimeout(pub Duration);

/// Why no response arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportErrorKind {
    /// No connection could be made (refused, DNS, no route, connect timeout). The request was
    /// **not** sent.
    Connect,
    /// The TLS handshake failed (an untrusted or invalid certificate). Not sent; retrying does
    /// not help.
    Tls,
    /// No complete response in time. The request may have been received and executed.
    Timeout,
    /// The connection broke (reset, closed early, a body error). The request may have been
    /// received and executed.
    Io,
    /// The request could not be built (nothing sent; retrying does not help).
    Request,
}

/// No response arrived. The detail never carries credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub detail: String,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, detail: impl Into<String>) -> TransportError {
        TransportError {
            kind,
            detail: detail.into(),
        }
    }

    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }
}

/// Settings of a [`DirectTransport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectOptions {
    /// For the TCP connection and TLS handshake. Default 5 s.
    pub connect_timeout: Duration,
    /// For one whole request, unless the request carries a [`RequestTimeout`]. Default 30 s.
    pub request_timeout: Duration,
    /// A PEM file of CA certificates to trust **in addition to** the built-in (Mozilla/webpki)
    /// roots, for clusters whose certificates a private CA signed. There is deliberately no
    /// option to skip verification.
    pub ca_bundle: Option<PathBuf>,
}

impl Default for DirectOptions {
    fn default() -> Self {
        DirectOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            ca_bundle: None,
        }
    }
}

/// A transport that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid CrateDB URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "the CrateDB URL {url:?} carries user information; pass credentials separately (they would end up in logs)"
    )]
    CredentialsInUrl { url: String },
    #[error("cannot read the CA bundle {path}: {reason}")]
    CaBundle { path: PathBuf, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// HTTP(S) straight to a node URL, over reqwest with rustls. TLS certificates are verified
/// against the built-in roots plus an optional CA bundle.
///
/// The URL may carry a path prefix (`http://127.0.0.1:PORT/_crate/ns/pod`): request paths are
/// appended to it. It must not carry user information, a query or a fragment.
pub struct DirectTransport {
    client: reqwest::Client,
    /// Without a trailing slash.
    base: String,
    request_timeout: Duration,
}

impl fmt::Debug for DirectTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectTransport")
            .field("base", &self.base)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl DirectTransport {
    pub fn new(url: &str, options: &DirectOptions) -> Result<DirectTransport, ConfigError> {
        let parsed = Url::parse(url).map_err(|e| ConfigError::InvalidUrl {
            url: without_userinfo(url),
            reason: e.to_string(),
        })?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            let mut shown = parsed.clone();
            // Both setters only fail for URLs that cannot have credentials at all.
            let _ = shown.set_username("");
            let _ = shown.set_password(None);
            return Err(ConfigError::CredentialsInUrl {
                url: shown.to_string(),
            });
        }
        let invalid = |reason: &str| ConfigError::InvalidUrl {
            url: parsed.to_string(),
            reason: reason.to_string(),
        };
        if parsed.scheme() != "http" && parsed.scheme() != "https" {
            return Err(invalid("the scheme must be http or https"));
        }
        if parsed.host_str().is_none() {
            return Err(invalid("no host"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("a query or fragment is not allowed"));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("cratectl/", env!("CARGO_PKG_VERSION")))
            // The URL given is the node; following a redirect elsewhere would send the
            // credentials to a host nobody chose.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(parsed.scheme() == "https");
        if let Some(path) = &options.ca_bundle {
            let pem = std::fs::read(path).map_err(|e| ConfigError::CaBundle {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let certificates =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ConfigError::CaBundle {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            if certificates.is_empty() {
                return Err(ConfigError::CaBundle {
                    path: path.clone(),
                    reason: "no PEM certificate in the file".into(),
                });
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let client = builder.build().map_err(|e| ConfigError::Build(error_chain(&e)))?;
        Ok(DirectTransport {
            client,
            base: parsed.as_str().trim_end_matches('/').to_string(),
            request_timeout: options.request_timeout,
        })
    }

    async fn send_inner(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let timeout = request
            .extensions()
            .get::<RequestTimeout>()
            .map_or(self.request_timeout, |t| t.0);
        let (parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        if !path.starts_with('/') {
            return Err(TransportError::new(
                TransportErrorKind::Request,
                format!("request path {path:?} is not absolute"),
            ));
        }
        let url = Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| TransportError::new(TransportErrorKind::Request, format!("bad request URL: {e}")))?;
        let response = self
            .client
            .request(parts.method, url)
            .headers(parts.headers)
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| classify(&e))?;
        let mut out = http::Response::new(bytes.to_vec());
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

impl HttpSend for DirectTransport {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(self.send_inner(request))
    }

    fn describe(&self) -> String {
        self.base.clone()
    }
}

/// An error with its causes, each once (`error sending request …: connection refused`), for
/// transports' messages. reqwest's URLs in it carry no credentials: [`DirectTransport::new`]
/// refuses URLs with user information.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn classify(e: &reqwest::Error) -> TransportError {
    let detail = error_chain(e);
    let lower = detail.to_ascii_lowercase();
    let kind = if lower.contains("certificate") || lower.contains("tls handshake") {
        TransportErrorKind::Tls
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_builder() {
        TransportErrorKind::Request
    } else {
        TransportErrorKind::Io
    };
    TransportError::new(kind, detail)
}

/// `url` for a message, with anything between `://` and `@` removed.
fn without_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://[redacted]@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_credentials_are_refused_without_echoing_them() {
        let e =
            DirectTransport::new("https://system:hunter2@crate:4200", &DirectOptions::default()).unwrap_err();
        assert!(matches!(e, ConfigError::CredentialsInUrl { .. }));
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = DirectTransport::new("https://system:hunter2@[bad", &DirectOptions::default()).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
    }

    #[test]
    fn only_http_and_https_without_query() {
        let o = DirectOptions::default();
        assert!(DirectTransport::new("ftp://crate:4200", &o).is_err());
        assert!(DirectTransport::new("http://crate:4200/?x=1", &o).is_err());
        let t = DirectTransport::new("http://127.0.0.1:1/_crate/ns/pod/", &o).unwrap();
        assert_eq!(t.describe(), "http://127.0.0.1:1/_crate/ns/pod");
    }

    #[test]
    fn a_missing_ca_bundle_is_an_error() {
        let o = DirectOptions {
            ca_bundle: Some("/nonexistent/ca.pem".into()),
            ..DirectOptions::default()
        };
        let e = DirectTransport::new("https://crate:4200", &o).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[tokio::test]
    async fn connection_refused_is_a_connect_error() {
        // Bind and drop a listener to find a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = DirectTransport::new(&format!("http://127.0.0.1:{port}"), &DirectOptions::default()).unwrap();
        let e = t
            .send(http::Request::get("/").body(Vec::new()).unwrap())
            .await
            .unwrap_err();
        assert_eq!(e.kind, TransportErrorKind::Connect, "{e}");
    }
}
