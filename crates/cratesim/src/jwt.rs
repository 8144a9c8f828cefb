//! The JWT issuer the simulated CrateDB trusts, and CrateDB's check of a bearer token.
//!
//! CrateDB's `jwt` authentication method (CrateDB's
//! `server/src/main/java/io/crate/auth/JWTAuthenticationMethod.java`; its documentation,
//! "Authentication methods" → JWT, `docs/admin/auth/methods.rst`) reads the token's `iss` and
//! `username` claims, finds the user (by its `jwt` properties `{iss, username, aud}`, or, when
//! `auth.host_based.jwt.iss` is set on the node, by the `username` claim alone), fetches the
//! issuer's JWK set from the URL `iss` names, picks the key by the token's `kid`, checks the RS256
//! signature and then the claims: `exp` when present, `iss`, `username` and `aud` (the user's
//! `aud`, else `auth.host_based.jwt.aud`, else the cluster id). The reasons are auth0 java-jwt's
//! and jwks-rsa's texts.
//!
//! The simulator is its own issuer: one RS256 key pair generated per process ([`issuer`]), whose
//! public half it serves at [`JWKS_PATH`] and which every simulated node resolves any `iss` to (a
//! model never makes HTTP requests). [`mint`] signs tokens with it for tests; `POST
//! /_sim/jwt/token` does the same over HTTP, with `exp` taken from the simulated clock.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value, json};

/// Where the simulator serves its JWK set (the well-known path of RFC 8615 that issuers use).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The `kid` of the simulator's one key.
pub const KID: &str = "cratesim-rs256-1";

/// The key pair tokens are signed with.
pub struct Issuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The public key's modulus and exponent, base64url (as a JWK writes them).
    n: String,
    e: String,
}

/// The process's issuer, its key generated on first use (2048-bit RSA).
pub fn issuer() -> Result<&'static Issuer, String> {
    static ISSUER: OnceLock<Result<Issuer, String>> = OnceLock::new();
    ISSUER
        .get_or_init(|| {
            let mut rng = rsa::rand_core::OsRng;
            let key = rsa::RsaPrivateKey::new(&mut rng, 2048)
                .map_err(|e| format!("cannot generate an RSA key: {e}"))?;
            let der = key
                .to_pkcs1_der()
                .map_err(|e| format!("cannot encode the RSA key: {e}"))?;
            let n = key.n().to_bytes_be();
            let e = key.e().to_bytes_be();
            Ok(Issuer {
                encoding: EncodingKey::from_rsa_der(der.as_bytes()),
                decoding: DecodingKey::from_rsa_raw_components(&n, &e),
                n: URL_SAFE_NO_PAD.encode(n),
                e: URL_SAFE_NO_PAD.encode(e),
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

impl Issuer {
    /// The JWK set (RFC 7517 §5) with the public key.
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID, "n": self.n, "e": self.e,
        }]})
    }
}

/// A token signed by the simulator's issuer (RS256, `kid` [`KID`]) with `claims` (a JSON
/// object: `iss`, `username`, `aud`, anything) and, if given, `exp` (whole seconds).
pub fn mint(claims: &Value, exp: Option<Timestamp>) -> Result<String, String> {
    mint_with(claims, exp, Some(KID))
}

/// As [`mint`], with another `kid` or none (for tests of what CrateDB refuses).
pub fn mint_with(claims: &Value, exp: Option<Timestamp>, kid: Option<&str>) -> Result<String, String> {
    let issuer = issuer()?;
    let mut claims: Map<String, Value> = match claims {
        Value::Object(map) => map.clone(),
        _ => return Err("the claims must be a JSON object".to_string()),
    };
    if let Some(exp) = exp {
        claims.insert("exp".into(), json!(exp.as_second()));
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, &claims, &issuer.encoding)
        .map_err(|e| format!("cannot sign the token: {e}"))
}

/// `POST /_sim/jwt/token`: the claims, and how long the token lives in simulated seconds
/// (none: no `exp`). `{"claims": {"iss": …, "username": …, "aud": …}, "ttl_s": 20}`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub claims: Value,
    #[serde(default)]
    pub ttl_s: Option<u64>,
}

impl TokenRequest {
    /// The token, its `exp` `ttl_s` after `now` (the simulated wall clock).
    pub fn mint(&self, now: Timestamp) -> Result<String, String> {
        let exp = match self.ttl_s {
            None => None,
            Some(ttl) => Some(
                i64::try_from(ttl)
                    .ok()
                    .and_then(|s| now.checked_add(jiff::SignedDuration::from_secs(s)).ok())
                    .ok_or_else(|| format!("ttl_s {ttl} is out of range"))?,
            ),
        };
        mint(&self.claims, exp)
    }
}

/// The claims of a token, unverified (what CrateDB reads to find the user).
pub(crate) fn claims_unverified(token: &str) -> Result<Map<String, Value>, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "The token was expected to have 3 parts, but got {}.",
            parts.len()
        ));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(parts[1].trim_end_matches('='))
        .map_err(|_| "The string '…' doesn't have a valid JSON format.".to_string())?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("The string '…' doesn't have a valid JSON format.".to_string()),
    }
}

/// What the verifier requires of a token.
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub username: &'a str,
    pub audience: &'a str,
}

/// Why a token fails: CrateDB's reasons for a signature or claim check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    Expired(String),
    Other(String),
}

impl Rejection {
    pub(crate) fn message(&self) -> &str {
        match self {
            Rejection::Expired(m) | Rejection::Other(m) => m,
        }
    }
}

/// Checks `token` as CrateDB's `JWTAuthenticationMethod` does, at simulated time `now`: the key by
/// `kid`, the RS256 signature, then `exp` (if present), `iss`, `username`, `aud`.
pub(crate) fn verify(token: &str, expected: &Expected<'_>, now: Timestamp) -> Result<(), Rejection> {
    let other = |m: String| Rejection::Other(m);
    let issuer = issuer().map_err(other)?;
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| other("The token was expected to have 3 parts, but got 1.".to_string()))?;
    if header.kid.as_deref() != Some(KID) {
        return Err(other(format!(
            "No key found in {} with kid {}",
            expected.issuer,
            header.kid.as_deref().unwrap_or("null")
        )));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &issuer.decoding, &validation)
        .map_err(|_| {
            other(
                "The Token's Signature resulted invalid when verified using the Algorithm: SHA256withRSA"
                    .to_string(),
            )
        })?
        .claims;
    if let Some(exp) = claims.get("exp").and_then(Value::as_f64) {
        let exp = Timestamp::from_second(exp.floor() as i64).unwrap_or(Timestamp::MIN);
        if now > exp {
            return Err(Rejection::Expired(format!("The Token has expired on {exp}.")));
        }
    }
    let claim = |name: &str| claims.get(name).filter(|v| !v.is_null());
    let missing = |name: &str| other(format!("The Claim '{name}' is not present in the JWT."));
    match claim("iss") {
        None => return Err(missing("iss")),
        Some(v) if v.as_str() != Some(expected.issuer) => {
            return Err(other(
                "The Claim 'iss' value doesn't match the required issuer.".to_string(),
            ));
        }
        Some(_) => {}
    }
    match claim("username") {
        None => return Err(missing("username")),
        Some(v) if v.as_str() != Some(expected.username) => {
            return Err(other(
                "The Claim 'username' value doesn't match the required one.".to_string(),
            ));
        }
        Some(_) => {}
    }
    let audience: Vec<&str> = match claim("aud") {
        None => return Err(missing("aud")),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(_) => Vec::new(),
    };
    if !audience.contains(&expected.audience) {
        return Err(other(
            "The Claim 'aud' value doesn't contain the required audience.".to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "http://idp/jwks",
            username: "ops",
            audience: "c1",
        }
    }

    #[test]
    fn signed_tokens_pass_and_every_claim_is_checked() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let claims = json!({"iss": "http://idp/jwks", "username": "ops", "aud": "c1"});
        let token = mint(&claims, Some(now + jiff::SignedDuration::from_secs(20))).unwrap();
        assert_eq!(verify(&token, &expected(), now), Ok(()));
        assert_eq!(
            verify(&token, &expected(), now + jiff::SignedDuration::from_secs(21)),
            Err(Rejection::Expired(
                "The Token has expired on 2026-01-01T00:00:20Z.".into()
            ))
        );
        let forever = mint(&claims, None).unwrap();
        assert_eq!(verify(&forever, &expected(), Timestamp::MAX), Ok(()));

        for (claims, reason) in [
            (
                json!({"username": "ops", "aud": "c1"}),
                "The Claim 'iss' is not present in the JWT.",
            ),
            (
                json!({"iss": "x", "username": "ops", "aud": "c1"}),
                "The Claim 'iss' value doesn't match the required issuer.",
            ),
            (
                json!({"iss": "http://idp/jwks", "username": "dev", "aud": "c1"}),
                "The Claim 'username' value doesn't match the required one.",
            ),
            (
                json!({"iss": "http://idp/jwks", "username": "ops", "aud": ["c2", "c3"]}),
                "The Claim 'aud' value doesn't contain the required audience.",
            ),
        ] {
            let token = mint(&claims, None).unwrap();
            assert_eq!(
                verify(&token, &expected(), now),
                Err(Rejection::Other(reason.into()))
            );
        }

        let no_kid = mint_with(&claims, None, None).unwrap();
        assert_eq!(
            verify(&no_kid, &expected(), now).unwrap_err().message(),
            "No key found in http://idp/jwks with kid null"
        );
        // A signature over other claims.
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims =
            URL_SAFE_NO_PAD.encode(r#"{"iss":"http://idp/jwks","username":"root","aud":"c1"}"#);
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert!(
            verify(&forged, &expected(), now)
                .unwrap_err()
                .message()
                .starts_with("The Token's Signature resulted invalid")
        );
        assert_eq!(issuer().unwrap().jwks()["keys"][0]["kid"], KID);
    }
}
