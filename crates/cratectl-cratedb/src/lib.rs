//! cratectl's CrateDB client: `POST /_sql` with parameters and auth, CrateDB's error codes as
//! typed errors, retries for transient failures only, and typed reads of the system tables that
//! operations gate on. The transport is pluggable: a direct URL ([`DirectTransport`]), or a
//! port-forward through the Kubernetes API (`cratectl-kube`'s `PortForward`, implementing
//! [`HttpSend`]; its `PodProxy` cannot carry credentials: the API server drops the
//! `Authorization` header of proxied requests).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use cratectl_cratedb::{Client, Credentials, DirectOptions, DirectTransport, RetryPolicy, Secret};
//!
//! let transport = DirectTransport::new("https://crate-my-cluster.cratedb:4200", &DirectOptions::default())?;
//! let credentials = Credentials::Basic { user: "system".into(), password: Secret::new("…") };
//! let client = Client::new(Arc::new(transport), credentials, RetryPolicy::default());
//! let reading = client.cluster_reading().await?;
//! println!("{} nodes, max severity {:?}", reading.nodes.len(), reading.max_severity);
//! # Ok(()) }
//! ```
//!
//! # Safety rules this crate keeps
//!
//! * **Credentials never leave the `Authorization` header.** [`Secret`] prints `[redacted]`;
//!   headers are never logged; messages a server sends back are scrubbed of the credentials
//!   before they become an [`Error`].
//! * **Statements are logged (at `debug`), arguments never are** (only their number). A
//!   statement that may carry a secret in a literal — its text mentions `password`, `secret`,
//!   `key`, `token`, `credential` or `jwt` (`ALTER USER … SET (password = '…')`,
//!   `CREATE REPOSITORY … WITH (secret_key = '…')`) — is logged and put into errors with every
//!   string literal replaced by `'[redacted]'`, and the literals and string arguments of such a
//!   statement are scrubbed from the server's error messages too.
//! * **Only transient failures are retried, and a write only when it is safe**: see [`retry`].

mod client;
mod error;
mod reads;
mod redact;
pub mod restore;
pub mod retry;
mod secret;
pub mod token;
mod transport;

pub use client::{BulkItem, BulkItemError, BulkResult, Client, RootInfo, SqlResult};
pub use error::{Error, ErrorKind, SqlErrorKind, UnreachableKind};
pub use reads::{HealthReading, statements};
pub use retry::{Idempotency, RetryPolicy};
pub use secret::{Credentials, Secret};
pub use token::{TokenError, TokenSource};
pub use transport::{
    BoxFuture, ConfigError, DirectOptions, DirectTransport, HttpSend, RequestTimeout, TransportError,
    TransportErrorKind, error_chain,
};
