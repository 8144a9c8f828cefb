//! Tokens that refresh themselves: a command (`/bin/sh -c CMD`) that prints a JWT, run when a
//! token is needed and again shortly before the token expires.
//!
//! The token lives in memory only, behind the [`TokenSource`] every clone of a client shares.
//! One refresh runs at a time per source: callers that find the token due while another runs
//! the command wait for its answer instead of running it again. Errors name the command's exit
//! status and the first line of its standard error; its standard output (the token) and the
//! command line itself never appear in one.

use std::fmt;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cratectl_core::jwt::{self, CommandToken};
use jiff::{SignedDuration, Timestamp};
use tokio::io::AsyncReadExt;

use crate::secret::Secret;

/// The longest a token command may run.
pub const TOKEN_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The default of `--token-refresh-before`.
pub const DEFAULT_REFRESH_BEFORE: SignedDuration = SignedDuration::from_mins(5);

/// At most this much of the command's standard output is read (a token is a few KiB).
const MAX_OUTPUT: u64 = 1024 * 1024;

/// The clock a source reads to decide whether its token is due (wall time; tests may give
/// another one).
pub type Now = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// A token command and the token it last printed. Cheap to clone; clones share the token and
/// the refresh guard.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    command: String,
    refresh_before: SignedDuration,
    timeout: Duration,
    now: Now,
    current: std::sync::Mutex<Option<CommandToken>>,
    /// Tokens handed out before (the last few), to scrub from anything a server sends back.
    previous: std::sync::Mutex<Vec<String>>,
    /// Held while the command runs: one refresh in flight.
    refresh: tokio::sync::Mutex<()>,
    runs: AtomicU64,
}

/// Why no token could be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("cannot run the token command (--token-command) with /bin/sh: {0}")]
    Spawn(String),
    #[error("the token command (--token-command) did not finish within {}s", .0.as_secs())]
    Timeout(Duration),
    #[error("the token command (--token-command) failed ({status}){}", stderr_suffix(.stderr))]
    Failed { status: String, stderr: String },
    #[error("the token command (--token-command) printed more than 1 MiB")]
    TooLong,
    #[error("{0}")]
    Output(#[from] jwt::TokenOutputError),
    #[error("the token command (--token-command) printed a token that expired at {0}")]
    Expired(Timestamp),
}

fn stderr_suffix(line: &str) -> String {
    if line.is_empty() {
        " with nothing on standard error".to_string()
    } else {
        format!(": {line}")
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("command", &"[redacted]")
            .field("refresh_before", &self.inner.refresh_before)
            .finish()
    }
}

/// Two sources are equal when they are the same source (clones of one).
impl PartialEq for TokenSource {
    fn eq(&self, other: &TokenSource) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for TokenSource {}

impl TokenSource {
    /// A source running `command` with `/bin/sh -c`, refreshing `refresh_before` ahead of the
    /// token's expiry (a negative value counts as zero), on the wall clock.
    pub fn new(command: impl Into<String>, refresh_before: SignedDuration) -> TokenSource {
        TokenSource {
            inner: Arc::new(Inner {
                command: command.into(),
                refresh_before: refresh_before.max(SignedDuration::ZERO),
                timeout: TOKEN_COMMAND_TIMEOUT,
                now: Arc::new(Timestamp::now),
                current: std::sync::Mutex::new(None),
                previous: std::sync::Mutex::new(Vec::new()),
                refresh: tokio::sync::Mutex::new(()),
                runs: AtomicU64::new(0),
            }),
        }
    }

    /// The same command on another clock (a new source: nothing cached).
    pub fn with_clock(self, now: Now) -> TokenSource {
        self.rebuild(|inner| inner.now = now)
    }

    /// The same command with another time limit (a new source: nothing cached).
    pub fn with_timeout(self, timeout: Duration) -> TokenSource {
        self.rebuild(|inner| inner.timeout = timeout)
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> TokenSource {
        let mut inner = Inner {
            command: self.inner.command.clone(),
            refresh_before: self.inner.refresh_before,
            timeout: self.inner.timeout,
            now: self.inner.now.clone(),
            current: std::sync::Mutex::new(None),
            previous: std::sync::Mutex::new(Vec::new()),
            refresh: tokio::sync::Mutex::new(()),
            runs: AtomicU64::new(0),
        };
        change(&mut inner);
        TokenSource {
            inner: Arc::new(inner),
        }
    }

    /// How often the command has run.
    pub fn runs(&self) -> u64 {
        self.inner.runs.load(Ordering::SeqCst)
    }

    pub fn refresh_before(&self) -> SignedDuration {
        self.inner.refresh_before
    }

    /// A token that is not due for refresh: the cached one, else a fresh one from the command.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        if let Some(token) = self.usable() {
            return Ok(token);
        }
        let _guard = self.inner.refresh.lock().await;
        // Another caller may have refreshed while this one waited.
        if let Some(token) = self.usable() {
            return Ok(token);
        }
        self.run().await
    }

    /// A new token after CrateDB refused `rejected`: the command runs again unless another
    /// caller already replaced that token meanwhile.
    pub async fn refresh_after_rejection(&self, rejected: &Secret) -> Result<Secret, TokenError> {
        let _guard = self.inner.refresh.lock().await;
        if let Some(current) = self.current()
            && current.token != rejected.expose()
        {
            return Ok(Secret::new(current.token));
        }
        self.run().await
    }

    /// Every token this source handed out lately, to scrub from server messages.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut out = lock(&self.inner.previous).clone();
        if let Some(current) = self.current() {
            out.push(current.token);
        }
        out
    }

    fn current(&self) -> Option<CommandToken> {
        lock(&self.inner.current).clone()
    }

    fn usable(&self) -> Option<Secret> {
        let current = self.current()?;
        let now = (self.inner.now)();
        (!jwt::refresh_due(current.expires_at, now, self.inner.refresh_before))
            .then(|| Secret::new(current.token))
    }

    /// Runs the command (the caller holds the refresh guard) and caches its token.
    async fn run(&self) -> Result<Secret, TokenError> {
        self.inner.runs.fetch_add(1, Ordering::SeqCst);
        let fresh = run_command(&self.inner.command, self.inner.timeout).await?;
        let now = (self.inner.now)();
        if let Some(exp) = fresh.expires_at {
            if now >= exp {
                return Err(TokenError::Expired(exp));
            }
            if jwt::refresh_due(Some(exp), now, self.inner.refresh_before) {
                tracing::debug!(
                    expires_at = %exp,
                    "the token command printed a token that expires within --token-refresh-before; \
                     it will run again for the next request"
                );
            }
        }
        let secret = Secret::new(fresh.token.clone());
        let replaced = lock(&self.inner.current).replace(fresh);
        if let Some(old) = replaced {
            let mut previous = lock(&self.inner.previous);
            previous.push(old.token);
            let excess = previous.len().saturating_sub(4);
            previous.drain(..excess);
        }
        tracing::debug!(runs = self.runs(), "token command gave a new token");
        Ok(secret)
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// `/bin/sh -c command`, its standard output parsed, within `timeout`.
async fn run_command(command: &str, timeout: Duration) -> Result<CommandToken, TokenError> {
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| TokenError::Spawn(e.to_string()))?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let finished = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                // One byte more than allowed tells "too long" from "exactly the limit".
                let _ = s.take(MAX_OUTPUT + 1).read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(64 * 1024).read_to_end(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await;
        (status, out, err)
    };
    let (status, out, err) = match tokio::time::timeout(timeout, finished).await {
        Ok(done) => done,
        // `kill_on_drop`: the child goes with the future.
        Err(_) => return Err(TokenError::Timeout(timeout)),
    };
    let status = status.map_err(|e| TokenError::Spawn(e.to_string()))?;
    if !status.success() {
        let status = match status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        return Err(TokenError::Failed {
            status,
            stderr: scrub_stderr(&first_line(&err), command, &out),
        });
    }
    if out.len() as u64 > MAX_OUTPUT {
        return Err(TokenError::TooLong);
    }
    let text = String::from_utf8_lossy(&out);
    Ok(jwt::parse_command_output(&text)?)
}

/// `line` (from the command's standard error) with what could be a secret masked: the command
/// itself (a shell tracing with `set -x` echoes it, arguments and all), anything it printed on
/// standard output, words shaped like a JWT (three base64url parts), and the values of
/// `name=value` words whose name suggests a secret (`client_secret=…`, `password=…`).
fn scrub_stderr(line: &str, command: &str, stdout: &[u8]) -> String {
    let mut text = line.to_string();
    if command.trim().len() >= 4 {
        text = text.replace(command.trim(), "[the command]");
    }
    let printed = String::from_utf8_lossy(stdout);
    for word in printed.split_whitespace().filter(|w| w.len() >= 8) {
        text = text.replace(word, "[redacted]");
    }
    text.split(' ')
        .map(|word| {
            let bare = word.trim_matches(|c: char| "\"'(),;".contains(c));
            let parts: Vec<&str> = bare.split('.').collect();
            let jwt_like = parts.len() == 3
                && parts.iter().all(|p| {
                    p.len() >= 8
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                });
            if jwt_like {
                return "[redacted]".to_string();
            }
            if let Some((name, _)) = bare.split_once('=')
                && crate::redact::is_sensitive(name)
            {
                return format!("{name}=[redacted]");
            }
            word.to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first non-empty line of `bytes`, control characters replaced, at most 200 characters.
fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let mut out: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    if line.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_failing_command_s_stderr_shows_no_secret() {
        let command = "get-token --client-secret hunter2hunter2";
        let line = "+ get-token --client-secret hunter2hunter2 token=abc.def client_secret=s3 \
                    eyJhbGciOiJSUzI1NiJ9.eyJ1c2VybmFtZSI6ImEifQ.c2lnbmF0dXJlMTIz failed";
        let out = super::scrub_stderr(line, command, b"partial-output-xyz");
        assert_eq!(
            out,
            "+ [the command] token=[redacted] client_secret=[redacted] [redacted] failed"
        );
        let out = super::scrub_stderr(
            "error: partial-output-xyz was rejected",
            command,
            b"partial-output-xyz",
        );
        assert_eq!(out, "error: [redacted] was rejected");
        assert_eq!(
            super::scrub_stderr("curl: (7) Failed to connect", command, b""),
            "curl: (7) Failed to connect"
        );
    }
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn jwt_expiring(exp: Option<i64>) -> String {
        let claims = match exp {
            Some(exp) => format!(r#"{{"exp":{exp},"username":"ops"}}"#),
            None => r#"{"username":"ops"}"#.to_string(),
        };
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims))
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    /// `sh <dir>/token.sh` running `body`.
    fn script(dir: &std::path::Path, body: &str) -> String {
        let path = dir.join("token.sh");
        std::fs::write(&path, body).unwrap();
        format!("sh {}", path.display())
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cratectl-token-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn cached_until_due_then_refreshed_once_for_all_callers() {
        let dir = scratch("cache");
        let now = Arc::new(std::sync::atomic::AtomicI64::new(1_000));
        let clock = now.clone();
        // Each run prints a token expiring 600 s after the time the test set.
        let tokens = dir.join("tokens");
        for i in 0..3 {
            std::fs::write(dir.join(format!("t{i}")), jwt_expiring(Some(1_600 + 600 * i))).unwrap();
        }
        let cmd = script(
            &dir,
            &format!(
                "n=$(cat {tokens} 2>/dev/null || echo 0); echo $((n+1)) > {tokens}; sleep 0.2; cat {}/t$n\n",
                dir.display(),
                tokens = tokens.display()
            ),
        );
        let source = TokenSource::new(cmd, SignedDuration::from_mins(5))
            .with_clock(Arc::new(move || at(clock.load(Ordering::SeqCst))));
        let first = source.token().await.unwrap();
        assert_eq!(first.expose(), jwt_expiring(Some(1_600)));
        now.store(1_299, Ordering::SeqCst);
        assert_eq!(source.token().await.unwrap(), first, "not due yet");
        assert_eq!(source.runs(), 1);

        // Due (300 s before 1600): eight callers at once, one run.
        now.store(1_300, Ordering::SeqCst);
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let s = source.clone();
                tokio::spawn(async move { s.token().await })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap().expose(), jwt_expiring(Some(2_200)));
        }
        assert_eq!(source.runs(), 2);

        // A rejection refreshes, once, even though the token is not due.
        let second = source.token().await.unwrap();
        let third = source.refresh_after_rejection(&second).await.unwrap();
        assert_eq!(third.expose(), jwt_expiring(Some(2_800)));
        // A caller that saw the old token rejected too gets the new one, no new run.
        assert_eq!(source.refresh_after_rejection(&second).await.unwrap(), third);
        assert_eq!(source.runs(), 3);
        assert!(source.secrets().contains(&first.expose().to_string()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn failures_name_status_and_stderr_never_stdout() {
        let token = jwt_expiring(None);
        type Check = Box<dyn Fn(&TokenError) -> bool>;
        let cases: Vec<(String, Check)> = vec![
            (
                format!("echo {token}; echo 'login required' >&2; echo more >&2; exit 3"),
                Box::new(|e| {
                    e.to_string()
                        == "the token command (--token-command) failed (exit status 3): login required"
                }),
            ),
            (
                format!("echo {token}; exit 1"),
                Box::new(|e| {
                    e.to_string()
                        .ends_with("(exit status 1) with nothing on standard error")
                }),
            ),
            (
                "echo not-a-token".into(),
                Box::new(|e| matches!(e, TokenError::Output(_))),
            ),
            (
                format!("echo {}", jwt_expiring(Some(10))),
                Box::new(|e| *e == TokenError::Expired(at(10))),
            ),
        ];
        for (command, check) in cases {
            let source = TokenSource::new(command.clone(), DEFAULT_REFRESH_BEFORE);
            let error = source.token().await.unwrap_err();
            assert!(check(&error), "{command}: {error}");
            assert!(!error.to_string().contains(&token), "{error}");
            assert!(
                !error.to_string().contains("echo"),
                "the command is not quoted: {error}"
            );
        }
    }

    #[tokio::test]
    async fn a_command_that_hangs_is_bounded() {
        let source =
            TokenSource::new("sleep 30", DEFAULT_REFRESH_BEFORE).with_timeout(Duration::from_millis(300));
        let error = source.token().await.unwrap_err();
        assert_eq!(error, TokenError::Timeout(Duration::from_millis(300)));
    }
}
