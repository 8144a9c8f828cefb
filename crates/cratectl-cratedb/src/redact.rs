//! Keeping secrets out of logs and errors.
//!
//! * [`loggable`]: the statement text as it may be logged or put into an error. A statement
//!   whose text mentions a word that suggests a secret has every string literal masked.
//! * [`Scrubber`]: removes known secrets (the credentials; the literals and string arguments of
//!   a sensitive statement) from text a server sends back, since an error message may echo
//!   parts of the statement (`mismatched input ''s3cret''`).

use std::borrow::Cow;

use serde_json::Value;

const MASK: &str = "[redacted]";

/// Words that make a statement sensitive (compared case-insensitively, as substrings, so
/// `secret_key`, `access_key`, `sas_token` and `password` all match). Over-matching only masks
/// literals that were harmless.
const SENSITIVE_WORDS: &[&str] = &["password", "secret", "key", "token", "credential", "jwt"];

/// Longest statement text kept in an error message.
const MAX_STMT_CHARS: usize = 300;
/// Longest server text kept in an error message.
const MAX_SNIPPET_CHARS: usize = 500;

pub(crate) fn is_sensitive(stmt: &str) -> bool {
    let lower = stmt.to_ascii_lowercase();
    SENSITIVE_WORDS.iter().any(|w| lower.contains(w))
}

/// The single-quoted string literals of `stmt` (with `''` unescaped), and their byte ranges.
fn literals(stmt: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut out = Vec::new();
    let bytes = stmt.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            let start = i;
            let mut value = String::new();
            let mut j = i + 1;
            let mut chunk_start = j;
            loop {
                if j >= bytes.len() {
                    // Unterminated: everything to the end is the literal.
                    value.push_str(&stmt[chunk_start..]);
                    break;
                }
                if bytes[j] == b'\'' {
                    value.push_str(&stmt[chunk_start..j]);
                    if bytes.get(j + 1) == Some(&b'\'') {
                        value.push('\'');
                        j += 2;
                        chunk_start = j;
                        continue;
                    }
                    j += 1;
                    break;
                }
                j += 1;
            }
            out.push((start..j.min(bytes.len()), value));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// `stmt` as it may be logged: unchanged, unless it is [sensitive](is_sensitive), then with
/// every string literal replaced by `'[redacted]'`.
pub(crate) fn loggable(stmt: &str) -> Cow<'_, str> {
    if !is_sensitive(stmt) {
        return Cow::Borrowed(stmt);
    }
    let mut out = String::with_capacity(stmt.len());
    let mut last = 0;
    for (range, _) in literals(stmt) {
        out.push_str(&stmt[last..range.start]);
        out.push('\'');
        out.push_str(MASK);
        out.push('\'');
        last = range.end;
    }
    out.push_str(&stmt[last..]);
    Cow::Owned(out)
}

/// [`loggable`], shortened for an error message.
pub(crate) fn for_message(stmt: &str) -> String {
    shorten(&loggable(stmt), MAX_STMT_CHARS)
}

fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

/// Removes known secrets from text.
#[derive(Clone, Default)]
pub(crate) struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    pub(crate) fn new(mut secrets: Vec<String>) -> Scrubber {
        secrets.retain(|s| !s.is_empty());
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Scrubber { secrets }
    }

    /// The credentials' secrets, plus — for a sensitive statement — its literals and string
    /// arguments.
    pub(crate) fn for_statement(credentials: &[String], stmt: &str, args: &[&[Value]]) -> Scrubber {
        let mut secrets = credentials.to_vec();
        if is_sensitive(stmt) {
            secrets.extend(literals(stmt).into_iter().map(|(_, v)| v));
            for args in args {
                collect_strings(args, &mut secrets);
            }
        }
        Scrubber::new(secrets)
    }

    /// These secrets and `more`.
    pub(crate) fn with(&self, more: Vec<String>) -> Scrubber {
        let mut secrets = self.secrets.clone();
        secrets.extend(more);
        Scrubber::new(secrets)
    }

    pub(crate) fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// A body as text for a message: lossy UTF-8, control characters replaced, shortened,
    /// scrubbed.
    pub(crate) fn snippet(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        // Scrub before shortening, so a secret cut in half cannot survive.
        let scrubbed = self.apply(text.trim());
        let cleaned: String = scrubbed
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        shorten(&cleaned, MAX_SNIPPET_CHARS)
    }
}

fn collect_strings(values: &[Value], out: &mut Vec<String>) {
    for v in values {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => collect_strings(items, out),
            Value::Object(map) => {
                let items: Vec<Value> = map.values().cloned().collect();
                collect_strings(&items, out);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_statements_lose_their_literals() {
        assert_eq!(
            loggable("ALTER USER system SET (password = 'it''s s3cret')"),
            "ALTER USER system SET (password = '[redacted]')"
        );
        assert_eq!(
            loggable("CREATE REPOSITORY r TYPE s3 WITH (bucket = 'b', secret_key = 'abc', access_key = 'k')"),
            "CREATE REPOSITORY r TYPE s3 WITH (bucket = '[redacted]', secret_key = '[redacted]', access_key = '[redacted]')"
        );
        assert_eq!(
            loggable("CREATE USER u WITH (password = 'unterminated"),
            "CREATE USER u WITH (password = '[redacted]'"
        );
        let plain = "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'";
        assert_eq!(loggable(plain), plain);
    }

    #[test]
    fn scrubbing_covers_literals_and_string_args_of_sensitive_statements() {
        let s = Scrubber::for_statement(
            &["pw".into()],
            "ALTER USER u SET (password = 'it''s s3cret', x = ?)",
            &[&[json!("argsecret"), json!(5)]],
        );
        let text = s.apply("mismatched input 'it's s3cret' near argsecret with pw");
        assert!(
            !text.contains("s3cret") && !text.contains("argsecret") && !text.contains("pw"),
            "{text}"
        );
        // Not sensitive: only the credentials are scrubbed.
        let s = Scrubber::for_statement(&["pw".into()], "SELECT 'x'", &[&[json!("y")]]);
        assert_eq!(s.apply("x y pw"), "x y [redacted]");
    }
}
