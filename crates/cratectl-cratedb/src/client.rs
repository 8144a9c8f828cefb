//! The client: `POST /_sql?types` and `GET /` (docs/cratedb-behaviour.md#http-endpoint) over a
//! [`HttpSend`], with credentials, typed errors and [retries](crate::retry).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::error::{Error, UnreachableKind, from_failed_response};
use crate::redact::{self, Scrubber};
use crate::retry::{Idempotency, RetryPolicy};
use crate::secret::Credentials;
use crate::transport::{HttpSend, RequestTimeout};

/// A CrateDB client for one node (one transport). Cheap to clone.
#[derive(Clone)]
pub struct Client {
    transport: Arc<dyn HttpSend>,
    credentials: Credentials,
    retry: RetryPolicy,
    request_timeout: Option<Duration>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("via", &self.transport.describe())
            .field("credentials", &self.credentials.describe())
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// A result-set or row-count answer (docs/cratedb-behaviour.md#results).
#[derive(Clone, Debug, PartialEq)]
pub struct SqlResult {
    /// Output column names (`node['name']`, an alias, …).
    pub cols: Vec<String>,
    /// Type ids per column (docs/cratedb-behaviour.md#column-types), nested for arrays
    /// (`[100, 4]`).
    pub col_types: Vec<Value>,
    /// One empty row for row-count statements (DDL, SET, ALTER …).
    pub rows: Vec<Vec<Value>>,
    /// Rows returned, or rows affected; -1 when unknown.
    pub rowcount: i64,
    /// How long CrateDB took, as it reports it.
    pub duration: Duration,
}

impl SqlResult {
    /// The index of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.cols.iter().position(|c| c == name)
    }
}

/// The answer to a bulk request (docs/cratedb-behaviour.md#results).
#[derive(Clone, Debug, PartialEq)]
pub struct BulkResult {
    pub results: Vec<BulkItem>,
    pub duration: Duration,
}

/// One item of a bulk answer: `rowcount` -2 means it failed.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkItem {
    pub rowcount: i64,
    /// The per-item error (CrateDB 5.10+; only the first 10 per shard carry one).
    pub error: Option<BulkItemError>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BulkItemError {
    pub code: i64,
    pub message: String,
}

/// `GET /` (docs/cratedb-behaviour.md#the-root-endpoint): who answered.
#[derive(Clone, Debug, PartialEq)]
pub struct RootInfo {
    /// `false` (with `status` 503) when the node sees no elected master.
    pub ok: bool,
    pub status: u16,
    /// The node name.
    pub name: String,
    pub cluster_name: String,
    /// `version.number`.
    pub version: String,
}

#[derive(Deserialize)]
struct RawResult {
    cols: Vec<String>,
    #[serde(default)]
    col_types: Vec<Value>,
    rows: Vec<Vec<Value>>,
    rowcount: i64,
    duration: f64,
}

#[derive(Deserialize)]
struct RawBulk {
    results: Vec<RawBulkItem>,
    duration: f64,
}

#[derive(Deserialize)]
struct RawBulkItem {
    rowcount: i64,
    #[serde(default)]
    error: Option<RawBulkError>,
}

#[derive(Deserialize)]
struct RawBulkError {
    code: i64,
    message: String,
}

#[derive(Deserialize)]
struct RawRoot {
    #[serde(default = "yes")]
    ok: bool,
    name: String,
    cluster_name: String,
    version: RawVersion,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct RawVersion {
    number: String,
}

/// One call, as the retry loop sees it.
struct Call<'a> {
    method: http::Method,
    path: &'static str,
    body: Option<Vec<u8>>,
    idempotency: Idempotency,
    /// For logs and errors: the loggable statement, or `GET /`.
    what: &'a str,
    args: usize,
    scrub: Scrubber,
}

/// The `duration` CrateDB reports (milliseconds, a float) as a Duration: nothing for a value
/// that is not a positive number, and at most `Duration::MAX` for one too large to hold
/// (`Duration::from_secs_f64` would panic on the server's say-so).
fn millis(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX)
    } else {
        Duration::ZERO
    }
}

impl Client {
    pub fn new(transport: Arc<dyn HttpSend>, credentials: Credentials, retry: RetryPolicy) -> Client {
        Client {
            transport,
            credentials,
            retry,
            request_timeout: None,
        }
    }

    /// What requests go to (the transport's `describe()`).
    pub fn via(&self) -> String {
        self.transport.describe()
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// A client whose requests may take up to `timeout` (for statements CrateDB answers only
    /// when done, like `ALTER CLUSTER DECOMMISSION` or a snapshot with
    /// `wait_for_completion`). The transport's default applies otherwise.
    pub fn with_request_timeout(&self, timeout: Duration) -> Client {
        Client {
            request_timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// A client with another retry policy.
    pub fn with_retry_policy(&self, retry: RetryPolicy) -> Client {
        Client {
            retry,
            ..self.clone()
        }
    }

    /// Runs `stmt` with `args` (`?` or `$1` placeholders), treated as **not idempotent**:
    /// retried only when it certainly did not run (see [`crate::retry`]).
    pub async fn sql(&self, stmt: &str, args: &[Value]) -> Result<SqlResult, Error> {
        self.sql_with(stmt, args, Idempotency::NotIdempotent).await
    }

    /// Runs a statement that may run twice without harm (reads; `SET GLOBAL` to an absolute
    /// value): every transient failure is retried.
    pub async fn sql_idempotent(&self, stmt: &str, args: &[Value]) -> Result<SqlResult, Error> {
        self.sql_with(stmt, args, Idempotency::Idempotent).await
    }

    pub async fn sql_with(
        &self,
        stmt: &str,
        args: &[Value],
        idempotency: Idempotency,
    ) -> Result<SqlResult, Error> {
        let loggable = redact::for_message(stmt);
        let call = Call {
            method: http::Method::POST,
            path: "/_sql?types",
            body: Some(json!({"stmt": stmt, "args": args}).to_string().into_bytes()),
            idempotency,
            what: &loggable,
            args: args.len(),
            scrub: Scrubber::for_statement(&self.credentials.secrets(), stmt, &[args]),
        };
        let via = self.via();
        let raw: RawResult = self
            .call(&call, |response, scrub| {
                parse_json(&via, &loggable, response, scrub)
            })
            .await?;
        Ok(SqlResult {
            cols: raw.cols,
            col_types: raw.col_types,
            rows: raw.rows,
            rowcount: raw.rowcount,
            duration: millis(raw.duration),
        })
    }

    /// Runs `stmt` once per row of `bulk_args` in one request (INSERT, UPDATE, DELETE only),
    /// treated as not idempotent. An empty `bulk_args` sends nothing.
    pub async fn sql_bulk(&self, stmt: &str, bulk_args: &[Vec<Value>]) -> Result<BulkResult, Error> {
        if bulk_args.is_empty() {
            // CrateDB would treat `"bulk_args": []` as a bulk request with no results, but an
            // empty request is not worth a round trip.
            return Ok(BulkResult {
                results: Vec::new(),
                duration: Duration::ZERO,
            });
        }
        let loggable = redact::for_message(stmt);
        let arg_rows: Vec<&[Value]> = bulk_args.iter().map(Vec::as_slice).collect();
        let call = Call {
            method: http::Method::POST,
            path: "/_sql?types",
            body: Some(
                json!({"stmt": stmt, "bulk_args": bulk_args})
                    .to_string()
                    .into_bytes(),
            ),
            idempotency: Idempotency::NotIdempotent,
            what: &loggable,
            args: bulk_args.len(),
            scrub: Scrubber::for_statement(&self.credentials.secrets(), stmt, &arg_rows),
        };
        let via = self.via();
        let raw: RawBulk = self
            .call(&call, |response, scrub| {
                parse_json(&via, &loggable, response, scrub)
            })
            .await?;
        Ok(BulkResult {
            results: raw
                .results
                .into_iter()
                .map(|item| BulkItem {
                    rowcount: item.rowcount,
                    error: item.error.map(|e| BulkItemError {
                        code: e.code,
                        message: call.scrub.apply(&e.message),
                    }),
                })
                .collect(),
            duration: millis(raw.duration),
        })
    }

    /// `GET /`: the node's name, cluster name and version. A node that sees no elected
    /// master answers 503 with `ok: false`, which is returned as data, not as an error.
    pub async fn root(&self) -> Result<RootInfo, Error> {
        let call = Call {
            method: http::Method::GET,
            path: "/",
            body: None,
            idempotency: Idempotency::Idempotent,
            what: "GET /",
            args: 0,
            scrub: Scrubber::new(self.credentials.secrets()),
        };
        let via = self.via();
        self.call(&call, |response, scrub| {
            let status = response.status().as_u16();
            match serde_json::from_slice::<RawRoot>(response.body()) {
                Ok(raw) if response.status().is_success() || status == 503 => Ok(RootInfo {
                    ok: raw.ok && status == 200,
                    status,
                    name: raw.name,
                    cluster_name: raw.cluster_name,
                    version: raw.version.number,
                }),
                _ if !response.status().is_success() => Err(from_failed_response(&via, "", response, scrub)),
                Err(e) => Err(Error::protocol(
                    &via,
                    format!(
                        "GET / answered {status} with a body that is not CrateDB's ({}): {}",
                        scrub.apply(&e.to_string()),
                        scrub.snippet(response.body())
                    ),
                )),
                Ok(_) => Err(Error::protocol(&via, format!("GET / answered {status}"))),
            }
        })
        .await
    }

    /// The request for `call` with `credentials` (already resolved: no token command).
    fn request(&self, call: &Call<'_>, credentials: &Credentials) -> Result<http::Request<Vec<u8>>, Error> {
        let mut builder = http::Request::builder()
            .method(call.method.clone())
            .uri(call.path)
            .header(ACCEPT, "application/json");
        if call.body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let authorization = credentials.authorization().map_err(|e| Error::Unreachable {
            via: self.via(),
            reason: format!("cannot build the request: {e}"),
            cause: UnreachableKind::InvalidRequest,
        })?;
        if let Some(authorization) = authorization {
            builder = builder.header(AUTHORIZATION, authorization);
        }
        if let Some(timeout) = self.request_timeout {
            builder = builder.extension(RequestTimeout(timeout));
        }
        builder
            .body(call.body.clone().unwrap_or_default())
            .map_err(|e| Error::Unreachable {
                via: self.via(),
                // http's builder errors name the part, not the header value.
                reason: format!("cannot build the request: {e}"),
                cause: UnreachableKind::InvalidRequest,
            })
    }

    /// Sends `call` until it succeeds, fails for good, or runs out of attempts.
    ///
    /// A JWT refused by CrateDB (401 `jwt authentication failed…`) is the one failure this
    /// loop answers itself: with a token command, the command runs again and the request is
    /// sent once more (not counted as an attempt: it was refused before anything ran); a second
    /// refusal, or a refused static token, is [`Error::TokenRefused`].
    async fn call<T>(
        &self,
        call: &Call<'_>,
        parse: impl Fn(&http::Response<Vec<u8>>, &Scrubber) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let via = self.via();
        let mut attempt = 1;
        let mut refreshed = false;
        loop {
            let credentials = self.credentials.resolve().await.map_err(|e| Error::Token {
                via: via.clone(),
                detail: e.to_string(),
            })?;
            // The token in use now, too (a token command's may be newer than `call.scrub`).
            let scrub = call.scrub.with(credentials.secrets());
            let request = self.request(call, &credentials)?;
            let started = Instant::now();
            tracing::debug!(%via, stmt = call.what, args = call.args, attempt, "sending");
            let outcome = match self.transport.send(request).await {
                Err(e) => Err(Error::unreachable(&via, &e, &scrub)),
                Ok(response) => parse(&response, &scrub),
            };
            let elapsed_ms = started.elapsed().as_millis() as u64;
            match outcome {
                Ok(value) => {
                    tracing::debug!(%via, stmt = call.what, attempt, elapsed_ms, "done");
                    return Ok(value);
                }
                Err(Error::Unauthorized { via, message }) if credentials.is_token() => {
                    let jwt_refused = message.starts_with("jwt authentication failed");
                    match (&self.credentials, &credentials) {
                        (Credentials::TokenCommand(source), Credentials::Bearer(sent))
                            if jwt_refused && !refreshed =>
                        {
                            tracing::info!(%via, stmt = call.what, attempt, "CrateDB refused the token; running the token command again");
                            source
                                .refresh_after_rejection(sent)
                                .await
                                .map_err(|e| Error::Token {
                                    via: via.clone(),
                                    detail: e.to_string(),
                                })?;
                            refreshed = true;
                        }
                        _ => {
                            tracing::debug!(%via, stmt = call.what, attempt, elapsed_ms, "token refused");
                            return Err(Error::TokenRefused { via, reason: message });
                        }
                    }
                }
                Err(error) if self.retry.should_retry(&error, call.idempotency, attempt) => {
                    let delay = self.retry.backoff(attempt);
                    tracing::info!(
                        %via, stmt = call.what, attempt, elapsed_ms,
                        retry_in_ms = delay.as_millis() as u64, %error,
                        "transient failure, retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(error) => {
                    tracing::debug!(%via, stmt = call.what, attempt, elapsed_ms, %error, "failed");
                    return Err(error);
                }
            }
        }
    }
}

/// A 2xx JSON body as `T`, or the classified failure.
fn parse_json<T: serde::de::DeserializeOwned>(
    via: &str,
    stmt: &str,
    response: &http::Response<Vec<u8>>,
    scrub: &Scrubber,
) -> Result<T, Error> {
    if !response.status().is_success() {
        return Err(from_failed_response(via, stmt, response, scrub));
    }
    serde_json::from_slice(response.body()).map_err(|e| {
        Error::protocol(
            via,
            format!(
                "`{stmt}` answered {} with a body that is not CrateDB's result ({}): {}",
                response.status().as_u16(),
                scrub.apply(&e.to_string()),
                scrub.snippet(response.body())
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::error::ErrorKind;
    use crate::secret::Secret;
    use crate::transport::{BoxFuture, TransportError, TransportErrorKind};

    const PASSWORD: &str = "Tr0ub4dor-and-3";

    type Responder = Box<
        dyn Fn(u32, &http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, TransportError> + Send + Sync,
    >;

    /// A transport that answers from a function of the attempt number and the request.
    struct Scripted {
        calls: AtomicU32,
        respond: Responder,
    }

    impl Scripted {
        fn new(
            respond: impl Fn(u32, &http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, TransportError>
            + Send
            + Sync
            + 'static,
        ) -> Arc<Scripted> {
            Arc::new(Scripted {
                calls: AtomicU32::new(0),
                respond: Box::new(respond),
            })
        }
    }

    impl HttpSend for Scripted {
        fn send(
            &self,
            request: http::Request<Vec<u8>>,
        ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let answer = (self.respond)(n, &request);
            Box::pin(async move { answer })
        }

        fn describe(&self) -> String {
            "pod cratedb/crate-data-hot-a-1 via a test".into()
        }
    }

    fn response(status: u16, body: impl Into<Vec<u8>>) -> http::Response<Vec<u8>> {
        let mut r = http::Response::new(body.into());
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
        r
    }

    fn ok_result() -> http::Response<Vec<u8>> {
        response(
            200,
            r#"{"cols":["name"],"col_types":[4],"rows":[["n1"]],"rowcount":1,"duration":1.5}"#,
        )
    }

    fn client(transport: Arc<Scripted>, retry: RetryPolicy) -> Client {
        Client::new(
            transport,
            Credentials::Basic {
                user: "system".into(),
                password: Secret::new(PASSWORD),
            },
            retry,
        )
    }

    /// Everything a hostile or buggy server could echo back.
    fn echo_everything(request: &http::Request<Vec<u8>>) -> String {
        format!(
            "{} {}",
            request
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            String::from_utf8_lossy(request.body())
        )
    }

    #[tokio::test]
    async fn a_server_echoing_secrets_cannot_put_them_into_errors() {
        let stmt = "ALTER USER bob SET (password = 'b0b-s3cret-pw')";
        type Body = Box<dyn Fn(&http::Request<Vec<u8>>) -> http::Response<Vec<u8>> + Send + Sync>;
        let bodies: Vec<Body> = vec![
            Box::new(|r| {
                let echo = echo_everything(r);
                response(
                    400,
                    json!({"error": {"code": 4000, "message": format!("SQLParseException[{echo}]")}})
                        .to_string(),
                )
            }),
            Box::new(|r| response(401, echo_everything(r))),
            Box::new(|r| response(500, echo_everything(r))),
            Box::new(|r| response(200, echo_everything(r))),
        ];
        for body in bodies {
            let transport = Scripted::new(move |_, r| Ok(body(r)));
            let client = client(transport, RetryPolicy::none());
            for args in [vec![], vec![json!("arg-s3cret-pw")]] {
                let error = client.sql(stmt, &args).await.unwrap_err();
                for text in [error.to_string(), format!("{error:?}"), format!("{client:?}")] {
                    for secret in [PASSWORD, "b0b-s3cret-pw", "arg-s3cret-pw", "c3lzdGVt"] {
                        assert!(!text.contains(secret), "{secret} in {text}");
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn logs_carry_statements_but_no_secrets() {
        Recorder::install();
        LOGS.with(|logs| logs.borrow_mut().clear());

        let transport = Scripted::new(|n, r| {
            if n == 0 {
                Err(TransportError::new(
                    TransportErrorKind::Connect,
                    "connection refused",
                ))
            } else if String::from_utf8_lossy(r.body()).contains("ALTER USER") {
                Ok(response(
                    200,
                    r#"{"cols":[],"col_types":[],"rows":[[]],"rowcount":1,"duration":0.5}"#,
                ))
            } else {
                Ok(ok_result())
            }
        });
        let retry = RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let client = client(transport, retry);
        client
            .sql("ALTER USER bob SET (password = 'b0b-s3cret-pw')", &[])
            .await
            .unwrap();
        client
            .sql_idempotent("SELECT name FROM sys.nodes WHERE name = ?", &[json!("arg-value")])
            .await
            .unwrap();
        let logs = LOGS.with(|logs| logs.borrow().clone());
        assert!(
            logs.contains("ALTER USER bob SET (password = '[redacted]')"),
            "{logs}"
        );
        assert!(
            logs.contains("SELECT name FROM sys.nodes WHERE name = ?"),
            "{logs}"
        );
        assert!(logs.contains("retrying"), "{logs}");
        for secret in [PASSWORD, "b0b-s3cret-pw", "arg-value", "c3lzdGVt", "Basic"] {
            assert!(!logs.contains(secret), "{secret} in {logs}");
        }
    }

    thread_local! {
        /// What the [`Recorder`] saw on this thread (a current-thread tokio test runs on one).
        static LOGS: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }

    /// A subscriber that writes every event's fields, at every level, into [`LOGS`] of the
    /// thread that emitted it. It is installed as the *global* default once: a thread-local
    /// default (`set_default`) races with tests on other threads that register the same
    /// callsites without a subscriber, and tracing may then cache "never interested".
    struct Recorder;

    impl Recorder {
        fn install() {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                let _ = tracing::subscriber::set_global_default(Recorder);
            });
        }

        fn push(text: &str) {
            LOGS.with(|logs| logs.borrow_mut().push_str(text));
        }
    }

    struct Fields<'a>(&'a mut String);

    impl tracing::field::Visit for Fields<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    impl tracing::Subscriber for Recorder {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }

        fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            let mut line = String::from("span");
            span.record(&mut Fields(&mut line));
            Recorder::push(&line);
            tracing::span::Id::from_u64(1)
        }

        fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
            let mut line = String::new();
            values.record(&mut Fields(&mut line));
            Recorder::push(&line);
        }

        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

        fn event(&self, event: &tracing::Event<'_>) {
            let mut line = format!("{}:", event.metadata().level());
            event.record(&mut Fields(&mut line));
            line.push('\n');
            Recorder::push(&line);
        }

        fn enter(&self, _: &tracing::span::Id) {}

        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn a_reported_duration_out_of_range_does_not_panic() {
        assert_eq!(millis(1.5), Duration::from_micros(1500));
        assert_eq!(millis(1e308), Duration::MAX);
        assert_eq!(millis(f64::MAX), Duration::MAX);
        assert_eq!(millis(-3.0), Duration::ZERO);
        assert_eq!(millis(f64::NAN), Duration::ZERO);
        assert_eq!(millis(f64::INFINITY), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_sleeps_on_tokio_time_and_is_bounded() {
        let transport = Scripted::new(|n, _| {
            if n < 4 {
                Err(TransportError::new(
                    TransportErrorKind::Connect,
                    "connection refused",
                ))
            } else {
                Ok(ok_result())
            }
        });
        let c = client(transport.clone(), RetryPolicy::default());
        let started = Instant::now();
        let result = c.sql("SELECT name FROM sys.nodes", &[]).await.unwrap();
        assert_eq!(result.rows, [[json!("n1")]]);
        assert_eq!(result.duration, Duration::from_micros(1500));
        assert_eq!(transport.calls.load(Ordering::SeqCst), 5);
        assert_eq!(started.elapsed(), Duration::from_millis(250 + 500 + 1000 + 2000));

        // A timeout may have let a write run: not retried unless idempotent.
        let transport =
            Scripted::new(|_, _| Err(TransportError::new(TransportErrorKind::Timeout, "timed out")));
        let c = client(transport.clone(), RetryPolicy::default());
        let error = c.sql("DELETE FROM doc.t", &[]).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unreachable(UnreachableKind::Timeout));
        assert_eq!(transport.calls.load(Ordering::SeqCst), 1);
        c.sql_idempotent("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(transport.calls.load(Ordering::SeqCst), 1 + 5);
    }

    /// A token command printing `tok-1`, `tok-2`, … (JWT-shaped, no expiry) one per run.
    fn counting_token_source(name: &str) -> (crate::token::TokenSource, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("cratectl-client-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let count = dir.join("count");
        let command = format!(
            "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; echo e30.e30.tok-$n",
            c = count.display()
        );
        (
            crate::token::TokenSource::new(command, jiff::SignedDuration::from_mins(5)),
            dir,
        )
    }

    fn bearer(r: &http::Request<Vec<u8>>) -> String {
        r.headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    #[tokio::test]
    async fn a_refused_token_from_a_command_is_refreshed_once_and_the_request_sent_again() {
        let (source, dir) = counting_token_source("refresh");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        // CrateDB accepts tok-2 only.
        let transport = Scripted::new(move |_, r| {
            let header = bearer(r);
            record.lock().unwrap().push(header.clone());
            if header == "Bearer e30.e30.tok-2" {
                Ok(ok_result())
            } else {
                Ok(response(
                    401,
                    "jwt authentication failed for user ops. Reason: The Token has expired on 2026-01-01T00:00:00Z.\n",
                ))
            }
        });
        let c = Client::new(
            transport,
            Credentials::TokenCommand(source.clone()),
            RetryPolicy::none(),
        );
        c.sql("DELETE FROM doc.t", &[]).await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            ["Bearer e30.e30.tok-1", "Bearer e30.e30.tok-2"],
            "the write was sent again after the refusal (it did not run)"
        );
        assert_eq!(source.runs(), 2);
        // Cached: no run for the next request.
        c.sql("SELECT 1", &[]).await.unwrap();
        assert_eq!(source.runs(), 2);

        // Refused twice: the second refusal is the error, with CrateDB's reason, no token.
        let (source, _) = counting_token_source("refresh-twice");
        let transport =
            Scripted::new(|_, _| Ok(response(401, "jwt authentication failed for user \"ops\"\n")));
        let c = Client::new(
            transport.clone(),
            Credentials::TokenCommand(source.clone()),
            RetryPolicy::default(),
        );
        let error = c.sql("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "CrateDB refused the token: jwt authentication failed for user \"ops\""
        );
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
        assert_eq!(transport.calls.load(Ordering::SeqCst), 2);
        assert_eq!(source.runs(), 2);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_refused_static_token_is_not_retried() {
        let transport = Scripted::new(|_, r| {
            // A hostile server echoing the header.
            Ok(response(
                401,
                format!("jwt authentication failed for user x {}", bearer(r)),
            ))
        });
        let c = Client::new(
            transport.clone(),
            Credentials::Bearer(Secret::new("e30.e30.static-s3cret")),
            RetryPolicy::default(),
        );
        let error = c.sql("SELECT 1", &[]).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("CrateDB refused the token: jwt authentication failed"),
            "{error}"
        );
        assert!(!error.to_string().contains("static-s3cret"), "{error}");
        assert_eq!(transport.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failing_token_command_sends_nothing() {
        let transport = Scripted::new(|_, _| Ok(ok_result()));
        let source = crate::token::TokenSource::new(
            "echo e30.e30.printed-s3cret; echo 'no session' >&2; exit 4",
            jiff::SignedDuration::from_mins(5),
        );
        let c = Client::new(
            transport.clone(),
            Credentials::TokenCommand(source),
            RetryPolicy::default(),
        );
        let error = c.root().await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "the token command (--token-command) failed (exit status 4): no session"
        );
        assert_eq!(transport.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn root_reports_a_node_without_master_as_data() {
        let transport = Scripted::new(|_, r| {
            assert_eq!(r.uri().path(), "/");
            assert_eq!(r.method(), http::Method::GET);
            Ok(response(
                503,
                r#"{"ok": false, "status": 503, "name": "data-hot-0", "cluster_name": "a",
                    "version": {"number": "6.1.0", "build_hash": "x"}}"#,
            ))
        });
        let root = client(transport, RetryPolicy::none()).root().await.unwrap();
        assert!(!root.ok);
        assert_eq!(
            (root.status, root.name.as_str(), root.version.as_str()),
            (503, "data-hot-0", "6.1.0")
        );
    }

    #[tokio::test]
    async fn requests_carry_json_auth_and_a_timeout_when_asked() {
        let seen = Arc::new(Mutex::new(None));
        let record = seen.clone();
        let transport = Scripted::new(move |_, r| {
            *record.lock().unwrap() = Some((
                r.uri().to_string(),
                r.headers().get(CONTENT_TYPE).cloned(),
                r.headers().get(AUTHORIZATION).map(|v| v.is_sensitive()),
                r.extensions().get::<RequestTimeout>().copied(),
                serde_json::from_slice::<Value>(r.body()).unwrap(),
            ));
            Ok(ok_result())
        });
        let c = client(transport, RetryPolicy::none()).with_request_timeout(Duration::from_secs(7200));
        c.sql("SELECT name FROM sys.nodes WHERE name = ?", &[json!("n1")])
            .await
            .unwrap();
        let (uri, content_type, sensitive, timeout, body) = seen.lock().unwrap().take().unwrap();
        assert_eq!(uri, "/_sql?types");
        assert_eq!(content_type.unwrap(), "application/json");
        assert_eq!(sensitive, Some(true));
        assert_eq!(timeout, Some(RequestTimeout(Duration::from_secs(7200))));
        assert_eq!(
            body,
            json!({"stmt": "SELECT name FROM sys.nodes WHERE name = ?", "args": ["n1"]})
        );
    }

    #[tokio::test]
    async fn bulk_items_carry_their_errors() {
        let transport = Scripted::new(|_, r| {
            let body: Value = serde_json::from_slice(r.body()).unwrap();
            assert_eq!(body["bulk_args"], json!([[1], [1]]));
            Ok(response(
                200,
                r#"{"cols":[],"duration":2.0,"results":[{"rowcount":1},{"rowcount":-2,"error":{"code":4091,"message":"DuplicateKeyException[A document with the same primary key exists already]"}}]}"#,
            ))
        });
        let bulk = client(transport, RetryPolicy::none())
            .sql_bulk(
                "INSERT INTO doc.t (id) VALUES (?)",
                &[vec![json!(1)], vec![json!(1)]],
            )
            .await
            .unwrap();
        assert_eq!(bulk.results.len(), 2);
        assert_eq!(bulk.results[1].rowcount, -2);
        assert_eq!(bulk.results[1].error.as_ref().unwrap().code, 4091);
    }
}
