//! JSON Web Tokens as cratectl needs to know them: what a token says about itself (expiry,
//! issuer, user, audience), when to fetch a new one, and what a token command printed.
//!
//! Nothing here checks a signature: CrateDB does that (against its issuer's JWK set). cratectl
//! reads the claims only to refuse a token that cannot work (malformed, already expired, too
//! short-lived for a workflow) and to refresh one before it expires. No error carries the
//! token or any part of it.
//!
//! The format is RFC 7519 (a JWS in compact serialization, RFC 7515 §7.1: three base64url
//! parts separated by `.`); `exp` is a NumericDate, seconds since the epoch, possibly
//! fractional (RFC 7519 §2).

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// What a token says about itself (its claims, unverified).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenInfo {
    /// `exp`: after this instant CrateDB refuses the token. `None`: the token does not expire.
    pub expires_at: Option<Timestamp>,
    /// `iss`: the issuer (for CrateDB, the URL of the JWK set).
    pub issuer: Option<String>,
    /// `username`: the claim CrateDB maps to a user.
    pub username: Option<String>,
    /// `aud`: one string or an array of strings in the token; empty when absent.
    pub audience: Vec<String>,
}

/// Why a text is not a JWT. Says nothing about the text itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtFormatError {
    #[error("expected three base64url parts separated by '.', found {0}")]
    Parts(usize),
    #[error("the claims (second part) are not base64url")]
    Base64,
    #[error("the claims (second part) are not a JSON object")]
    NotAnObject,
    #[error("claim {0:?} has the wrong type")]
    ClaimType(&'static str),
    #[error("claim \"exp\" is not a time cratectl can represent")]
    ExpOutOfRange,
}

/// Reads the claims of `token` (a compact JWS: `header.claims.signature`). The signature is
/// not checked.
pub fn inspect(token: &str) -> Result<TokenInfo, JwtFormatError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(JwtFormatError::Parts(parts.len()));
    }
    let bytes = base64url(parts[1]).ok_or(JwtFormatError::Base64)?;
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(JwtFormatError::NotAnObject);
    };
    let expires_at = match claims.get("exp") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => {
            let seconds = n.as_f64().ok_or(JwtFormatError::ClaimType("exp"))?;
            Some(timestamp(seconds)?)
        }
        Some(_) => return Err(JwtFormatError::ClaimType("exp")),
    };
    let string = |name: &'static str| match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JwtFormatError::ClaimType(name)),
    };
    let audience = match claims.get("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or(JwtFormatError::ClaimType("aud"))?,
        Some(_) => return Err(JwtFormatError::ClaimType("aud")),
    };
    Ok(TokenInfo {
        expires_at,
        issuer: string("iss")?,
        username: string("username")?,
        audience,
    })
}

/// Whether a token that expires at `expires_at` should be replaced at `now`, `before` ahead of
/// its expiry. A token without expiry never is.
pub fn refresh_due(expires_at: Option<Timestamp>, now: Timestamp, before: SignedDuration) -> bool {
    expires_at.is_some_and(|e| {
        // An expiry so early that `e - before` underflows: due.
        e.checked_sub(before).map_or(true, |due| now >= due)
    })
}

/// base64url, with or without `=` padding (RFC 7515 §2 says without; some issuers pad).
fn base64url(part: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()
}

/// A NumericDate (seconds since the epoch, possibly fractional) as a Timestamp.
fn timestamp(seconds: f64) -> Result<Timestamp, JwtFormatError> {
    if !seconds.is_finite() {
        return Err(JwtFormatError::ExpOutOfRange);
    }
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9).round() as i32;
    // `as i64` saturates; out-of-range values fail in `Timestamp::new`.
    let (whole, nanos) = if nanos >= 1_000_000_000 {
        (whole as i64 + 1, 0)
    } else {
        (whole as i64, nanos)
    };
    Timestamp::new(whole, nanos).map_err(|_| JwtFormatError::ExpOutOfRange)
}

/// What a token command printed: the token and, when the token says nothing of its expiry,
/// the expiry the command gave beside it.
#[derive(Clone, PartialEq, Eq)]
pub struct CommandToken {
    pub token: String,
    /// The token's `exp`, else the `expiry` of the JSON output, else `None`.
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for CommandToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why a token command's output cannot be used. Never quotes the output.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenOutputError {
    #[error("the token command printed nothing")]
    Empty,
    #[error(
        "the token command printed more than one line that is not a JSON object (expected the token alone on one line, or {{\"token\": …, \"expiry\": …}})"
    )]
    Lines,
    #[error("the token command printed a JSON object without a string \"token\"")]
    NoToken,
    #[error("the token command printed an \"expiry\" that is not an RFC 3339 time")]
    Expiry,
    #[error("the token command printed something that is not a JWT: {0}")]
    NotJwt(JwtFormatError),
}

/// Parses a token command's standard output: the token alone (surrounding whitespace and one
/// trailing newline allowed), or a JSON object with a string `token` and optionally `expiry`
/// (RFC 3339; the shape `{"expiry", "refresh", "token"}` of several credential helpers, other
/// keys ignored). The JSON expiry counts only when the token itself has no `exp`.
pub fn parse_command_output(output: &str) -> Result<CommandToken, TokenOutputError> {
    let text = output.trim();
    if text.is_empty() {
        return Err(TokenOutputError::Empty);
    }
    let (token, fallback) = if text.starts_with('{') {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
            return Err(TokenOutputError::NoToken);
        };
        let Some(Value::String(token)) = map.get("token") else {
            return Err(TokenOutputError::NoToken);
        };
        let expiry = match map.get("expiry") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.parse::<Timestamp>().map_err(|_| TokenOutputError::Expiry)?),
            Some(_) => return Err(TokenOutputError::Expiry),
        };
        (token.trim().to_string(), expiry)
    } else {
        if text.lines().count() != 1 {
            return Err(TokenOutputError::Lines);
        }
        (text.to_string(), None)
    };
    let info = inspect(&token).map_err(TokenOutputError::NotJwt)?;
    Ok(CommandToken {
        token,
        expires_at: info.expires_at.or(fallback),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

    fn token_with(claims: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k1"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn claims_are_read() {
        let info = inspect(&token_with(
            r#"{"exp": 1767225600, "iss": "https://idp/jwks", "username": "ops", "aud": "c1"}"#,
        ))
        .unwrap();
        assert_eq!(info.expires_at, Some("2026-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(info.issuer.as_deref(), Some("https://idp/jwks"));
        assert_eq!(info.username.as_deref(), Some("ops"));
        assert_eq!(info.audience, ["c1"]);

        let info = inspect(&token_with(r#"{"exp": 1767225600.25, "aud": ["a", "b"]}"#)).unwrap();
        assert_eq!(info.expires_at, Some("2026-01-01T00:00:00.25Z".parse().unwrap()));
        assert_eq!(info.audience, ["a", "b"]);

        let info = inspect(&token_with("{}")).unwrap();
        assert_eq!(info, TokenInfo::default());
    }

    #[test]
    fn padding_is_accepted() {
        let claims = r#"{"username":"a"}"#;
        let padded = format!("e30.{}.x", URL_SAFE.encode(claims));
        assert!(padded.contains('='), "{padded}");
        assert_eq!(inspect(&padded).unwrap().username.as_deref(), Some("a"));
    }

    #[test]
    fn malformed_tokens_are_refused_without_quoting_them() {
        let secret = "s3cr3t-value";
        for (text, error) in [
            (secret.to_string(), JwtFormatError::Parts(1)),
            (format!("a.{secret}.b.c"), JwtFormatError::Parts(4)),
            (format!("a.{secret}!.b"), JwtFormatError::Base64),
            (
                format!("a.{}.b", URL_SAFE_NO_PAD.encode("[1]")),
                JwtFormatError::NotAnObject,
            ),
            (token_with(r#"{"exp": "soon"}"#), JwtFormatError::ClaimType("exp")),
            (token_with(r#"{"aud": [1]}"#), JwtFormatError::ClaimType("aud")),
            (token_with(r#"{"iss": 3}"#), JwtFormatError::ClaimType("iss")),
            (token_with(r#"{"exp": 1e300}"#), JwtFormatError::ExpOutOfRange),
        ] {
            let got = inspect(&text).unwrap_err();
            assert_eq!(got, error, "{text}");
            assert!(!got.to_string().contains(secret));
        }
    }

    #[test]
    fn refresh_is_due_before_expiry() {
        let exp: Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let five = SignedDuration::from_mins(5);
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert!(!refresh_due(Some(exp), at("2026-01-01T00:04:59Z"), five));
        assert!(refresh_due(Some(exp), at("2026-01-01T00:05:00Z"), five));
        assert!(refresh_due(Some(exp), at("2026-01-01T00:11:00Z"), five));
        assert!(!refresh_due(None, at("2099-01-01T00:00:00Z"), five));
        assert!(refresh_due(Some(Timestamp::MIN), Timestamp::MIN, five));
    }

    #[test]
    fn command_output_one_line_or_json() {
        let with_exp = token_with(r#"{"exp": 1767225600}"#);
        let without = token_with(r#"{"username": "u"}"#);
        let parsed = parse_command_output(&format!("{with_exp}\n")).unwrap();
        assert_eq!(parsed.token, with_exp);
        assert_eq!(parsed.expires_at, Some("2026-01-01T00:00:00Z".parse().unwrap()));

        // The JSON expiry only when the token has none.
        let json = format!(r#"{{"token": "{with_exp}", "expiry": "2030-01-01T00:00:00Z"}}"#);
        assert_eq!(
            parse_command_output(&json).unwrap().expires_at,
            Some("2026-01-01T00:00:00Z".parse().unwrap())
        );
        let json = format!(
            r#"{{"expiry": "2026-02-01T00:00:00+01:00", "refresh": "r", "token": "{without}", "x": 1}}"#
        );
        let parsed = parse_command_output(&json).unwrap();
        assert_eq!(parsed.token, without);
        assert_eq!(parsed.expires_at, Some("2026-01-31T23:00:00Z".parse().unwrap()));
        assert_eq!(parse_command_output(&without).unwrap().expires_at, None);
        assert!(!format!("{parsed:?}").contains(&without));
    }

    #[test]
    fn bad_command_output_is_named_not_quoted() {
        let secret = token_with(r#"{"username": "s3cr3t"}"#);
        for (text, error) in [
            ("  \n".to_string(), TokenOutputError::Empty),
            (format!("{secret}\n{secret}"), TokenOutputError::Lines),
            (format!(r#"{{"tok": "{secret}"}}"#), TokenOutputError::NoToken),
            (format!(r#"{{"token": "{secret}""#), TokenOutputError::NoToken),
            (
                format!(r#"{{"token": "{secret}", "expiry": "tomorrow"}}"#),
                TokenOutputError::Expiry,
            ),
            (
                "not-a-jwt".to_string(),
                TokenOutputError::NotJwt(JwtFormatError::Parts(1)),
            ),
        ] {
            let got = parse_command_output(&text).unwrap_err();
            assert_eq!(got, error);
            assert!(!got.to_string().contains(&secret) && !got.to_string().contains("s3cr3t"));
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any input: an answer, never a panic, and an error never quotes it.
            #[test]
            fn inspect_never_panics_nor_leaks(text in "\\PC{0,80}") {
                if let Err(e) = inspect(&text) {
                    let message = e.to_string();
                    prop_assert!(text.len() < 4 || !message.contains(&text));
                }
                let _ = parse_command_output(&text);
            }

            /// `exp` round-trips at whole and fractional seconds within jiff's range.
            #[test]
            fn exp_round_trips(seconds in 0i64..253_402_207_200i64, millis in 0u32..1000) {
                let exp = format!("{seconds}.{millis:03}");
                let info = inspect(&token_with(&format!(r#"{{"exp": {exp}}}"#))).unwrap();
                let expected = Timestamp::new(seconds, (millis * 1_000_000) as i32).unwrap();
                let got = info.expires_at.unwrap();
                // f64 carries ~15-16 digits: within a millisecond.
                prop_assert!((got - expected).abs() <= SignedDuration::from_millis(1));
            }

            /// Refresh is due exactly from `before` ahead of expiry on.
            #[test]
            fn refresh_due_is_monotonic(offset in -100_000i64..100_000, before in 0i64..10_000) {
                let exp: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
                let now = exp + SignedDuration::from_secs(offset);
                let due = refresh_due(Some(exp), now, SignedDuration::from_secs(before));
                prop_assert_eq!(due, offset >= -before);
            }
        }
    }
}
