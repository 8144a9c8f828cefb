//! Credentials, and the secret newtype that keeps them out of logs, errors and status records.
//!
//! A [`Secret`] has no `Serialize`, and its `Debug` and `Display` print `[redacted]`, so the
//! only way to see it is [`Secret::expose`], which this crate calls in exactly one place: when
//! it builds the `Authorization` header (marked sensitive, and never logged).

use std::fmt;

use base64::Engine;
use http::HeaderValue;

use crate::token::{TokenError, TokenSource};

/// A password or token. Prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Never log or format the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

/// How requests authenticate to CrateDB (docs/cratedb-behaviour.md#authentication).
///
/// `None` sends no `Authorization` header: CrateDB then takes the TLS client certificate's CN,
/// else `auth.trust.http_default_user` (`crate`). CrateDB itself never accepts Basic and Bearer
/// together, and neither does this type.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Credentials {
    #[default]
    None,
    /// HTTP Basic. The password may be empty (CrateDB's `trust` method ignores it).
    Basic { user: String, password: Secret },
    /// A JWT (`Authorization: Bearer …`), HTTP only.
    Bearer(Secret),
    /// A JWT from a token command, refreshed before it expires and once after CrateDB refused
    /// it (see [`crate::token`]); sent as `Bearer`.
    TokenCommand(TokenSource),
}

impl Credentials {
    /// What the credentials are, without the secret: `user "system" with a password`.
    pub fn describe(&self) -> String {
        match self {
            Credentials::None => "no credentials".to_string(),
            Credentials::Basic { user, password } if password.is_empty() => {
                format!("user {user:?} without a password")
            }
            Credentials::Basic { user, .. } => format!("user {user:?} with a password"),
            Credentials::Bearer(_) => "a bearer token".to_string(),
            Credentials::TokenCommand(_) => "a bearer token from a token command".to_string(),
        }
    }

    /// Whether these are a JWT (given, or from a token command).
    pub fn is_token(&self) -> bool {
        matches!(self, Credentials::Bearer(_) | Credentials::TokenCommand(_))
    }

    /// The credentials to send now: a token command's current token (run the command if none
    /// is cached or it is due) as `Bearer`, anything else as it is.
    pub(crate) async fn resolve(&self) -> Result<Credentials, TokenError> {
        match self {
            Credentials::TokenCommand(source) => Ok(Credentials::Bearer(source.token().await?)),
            other => Ok(other.clone()),
        }
    }

    /// The `Authorization` header, marked sensitive (so `http`'s own Debug hides it too).
    /// `Err` when the credentials cannot be a header value (a control character): the caller
    /// must fail rather than send no header, which CrateDB could take as the trusted default
    /// user.
    pub(crate) fn authorization(&self) -> Result<Option<HeaderValue>, InvalidCredentials> {
        let text = match self {
            Credentials::None => return Ok(None),
            Credentials::Basic { user, password } => {
                let pair = format!("{user}:{}", password.expose());
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
            }
            Credentials::Bearer(token) => format!("Bearer {}", token.expose()),
            // `resolve` first: a token command has no header of its own.
            Credentials::TokenCommand(_) => return Err(InvalidCredentials),
        };
        // The error of `from_str` says nothing about the value; ours says even less.
        let mut value = HeaderValue::from_str(&text).map_err(|_| InvalidCredentials)?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    /// The secrets, to scrub from anything a server sends back.
    pub(crate) fn secrets(&self) -> Vec<String> {
        match self {
            Credentials::None => Vec::new(),
            Credentials::Basic { user, password } => {
                let mut secrets = vec![password.expose().to_string()];
                // The encoded pair, in case something echoes the header.
                let pair = format!("{user}:{}", password.expose());
                secrets.push(base64::engine::general_purpose::STANDARD.encode(pair));
                secrets
            }
            Credentials::Bearer(token) => vec![token.expose().to_string()],
            Credentials::TokenCommand(source) => source.secrets(),
        }
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect()
    }
}

/// Credentials that cannot be sent as an HTTP header (they contain a control character).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the credentials contain a character that cannot be sent in an HTTP header")]
pub(crate) struct InvalidCredentials;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c = Credentials::Basic {
            user: "system".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!c.describe().contains("hunter2"));
        let b = Credentials::Bearer("tok-123".into());
        assert!(!format!("{b:?}").contains("tok-123"));
        assert_eq!(format!("{}", Secret::new("x")), "[redacted]");
        let header = c.authorization().unwrap().unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("c3lzdGVt"));
        let bad = Credentials::Bearer("line\nbreak".into());
        assert_eq!(bad.authorization(), Err(InvalidCredentials));
    }
}
