//! Bearer tokens as CrateDB's `jwt` method checks them, at the model level and over HTTP: users
//! found by their `jwt` properties or, with `auth.host_based.jwt.iss` on the command line, by the
//! `username` claim; the signature of the simulator's issuer; `exp` by the simulated clock;
//! CrateDB's 401 texts; and the count of tokens accepted, refused and expired.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cratesim::cratedb::{Auth, BearerStats, ClusterSpec, CrateCluster, GatewaySettings, NodeSpec, Timings};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

const EPOCH_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const ISS: &str = "http://127.0.0.1:1/.well-known/jwks.json";

fn cluster() -> CrateCluster {
    let mut c = CrateCluster::new(
        ClusterSpec {
            name: "c".into(),
            version: "5.10.3".into(),
            nodes: vec![NodeSpec {
                name: "n0".into(),
                master_eligible: true,
                data: true,
            }],
            tables: vec![],
            system_password: "pw".into(),
            timings: Timings::default(),
        },
        Duration::ZERO,
    );
    c.set_epoch_ms(EPOCH_MS);
    c
}

fn at(seconds: u64) -> Timestamp {
    Timestamp::from_millisecond(EPOCH_MS).unwrap() + SignedDuration::from_secs(seconds as i64)
}

fn sql(c: &mut CrateCluster, auth: &Auth, stmt: &str, now: u64) -> (u16, String) {
    let body = serde_json::to_vec(&json!({"stmt": stmt})).unwrap();
    let reply = c.sql("n0", false, false, &body, Some(auth), Duration::from_secs(now));
    (reply.status, reply.body_text())
}

fn bearer(token: &str) -> Auth {
    Auth::from_authorization_header(&format!("Bearer {token}")).unwrap()
}

#[test]
fn users_are_found_by_their_jwt_properties_and_tokens_expire_by_the_simulated_clock() {
    let mut c = cluster();
    let system = Auth::basic("system", "pw");
    let (status, _) = sql(
        &mut c,
        &system,
        &format!(
            r#"CREATE USER ops WITH (jwt = {{"iss" = '{ISS}', "username" = 'ops-id', "aud" = 'c-aud'}})"#
        ),
        0,
    );
    assert_eq!(status, 200);
    let (_, users) = sql(&mut c, &system, "SELECT jwt FROM sys.users WHERE name = 'ops'", 0);
    let users: Value = serde_json::from_str(&users).unwrap();
    assert_eq!(
        users["rows"][0][0],
        json!({"iss": ISS, "username": "ops-id", "aud": "c-aud"})
    );

    let claims = json!({"iss": ISS, "username": "ops-id", "aud": "c-aud"});
    let token = cratesim::jwt::mint(&claims, Some(at(20))).unwrap();
    let (status, body) = sql(&mut c, &bearer(&token), "SELECT CURRENT_USER", 5);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ops\""), "{body}");

    let (status, body) = sql(&mut c, &bearer(&token), "SELECT 1", 21);
    assert_eq!(status, 401);
    assert_eq!(
        body,
        format!(
            "jwt authentication failed for user ops. Reason: The Token has expired on {}.\n",
            at(20)
        )
    );

    // No user with these properties.
    let stranger =
        cratesim::jwt::mint(&json!({"iss": ISS, "username": "who", "aud": "c-aud"}), None).unwrap();
    let (status, body) = sql(&mut c, &bearer(&stranger), "SELECT 1", 21);
    assert_eq!(
        (status, body.as_str()),
        (401, "jwt authentication failed for user \"\"\n")
    );

    // A token without kid, and one for another audience.
    let no_kid = cratesim::jwt::mint_with(&claims, None, None).unwrap();
    let (_, body) = sql(&mut c, &bearer(&no_kid), "SELECT 1", 21);
    assert!(
        body.ends_with(&format!("Reason: No key found in {ISS} with kid null\n")),
        "{body}"
    );
    let other_aud =
        cratesim::jwt::mint(&json!({"iss": ISS, "username": "ops-id", "aud": "another"}), None).unwrap();
    let (_, body) = sql(&mut c, &bearer(&other_aud), "SELECT 1", 21);
    assert!(
        body.ends_with("The Claim 'aud' value doesn't contain the required audience.\n"),
        "{body}"
    );

    assert_eq!(
        c.bearer_stats(),
        BearerStats {
            accepted: 1,
            rejected: 4,
            expired: 1
        }
    );
}

#[test]
fn with_the_issuer_on_the_command_line_the_username_claim_names_the_user() {
    let mut c = cluster();
    let settings = GatewaySettings::from_command_line([
        format!("-Cauth.host_based.jwt.iss={ISS}").as_str(),
        "-Cauth.host_based.jwt.aud=fleet",
    ]);
    c.set_node_gateway("n0", settings);
    c.add_user("ops", None);
    let token = cratesim::jwt::mint(&json!({"iss": ISS, "username": "ops", "aud": "fleet"}), None).unwrap();
    assert_eq!(sql(&mut c, &bearer(&token), "SELECT 1", 1).0, 200);

    let token = cratesim::jwt::mint(&json!({"iss": ISS, "username": "bob", "aud": "fleet"}), None).unwrap();
    let (status, body) = sql(&mut c, &bearer(&token), "SELECT 1", 1);
    assert_eq!(
        (status, body.as_str()),
        (401, "jwt authentication failed for user \"bob\"\n")
    );

    let token = cratesim::jwt::mint(
        &json!({"iss": "https://elsewhere", "username": "ops", "aud": "fleet"}),
        None,
    )
    .unwrap();
    let (_, body) = sql(&mut c, &bearer(&token), "SELECT 1", 1);
    assert_eq!(
        body,
        "jwt authentication failed for user ops. Reason: The Claim 'iss' value doesn't match the required issuer.\n"
    );
}

/// Over HTTP: the JWK set at its well-known path, and tokens minted on the simulated clock.
#[tokio::test]
async fn the_simulator_serves_its_jwk_set_and_mints_tokens() {
    let clock = cratesim::clock::Clock::new(1.0);
    let running = cratesim::serve::start("127.0.0.1:0", clock.clone(), &[])
        .await
        .unwrap();
    // A plain HTTP/1.1 exchange, without pulling in a client.
    let jwks = http_request(running.addr, "GET", "/.well-known/jwks.json", "").await;
    let jwks: Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], cratesim::jwt::KID);
    assert_eq!(jwks["keys"][0]["alg"], "RS256");

    let body = json!({"claims": {"iss": ISS, "username": "ops", "aud": "x"}, "ttl_s": 20}).to_string();
    let before = clock.now().as_second();
    let token = http_request(running.addr, "POST", "/_sim/jwt/token", &body).await;
    let after = clock.now().as_second();
    let exp = claims_of(token.trim())["exp"].as_i64().unwrap();
    assert!(
        (before + 20..=after + 20).contains(&exp),
        "exp {exp}, minted between {before} and {after}"
    );
    running.task.abort();
}

/// The claims of a token (no signature check), without depending on cratectl's crates.
fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let claims = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap()
}

async fn http_request(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        // One chunk is enough for these answers.
        let (_, chunk) = rest.split_once("\r\n").unwrap();
        return chunk
            .rsplit_once("\r\n0\r\n")
            .map_or(chunk, |(c, _)| c)
            .trim_end()
            .to_string();
    }
    rest.to_string()
}
