//! The rules for tokens on the command line: a static `--token` must be a JWT that has not
//! expired, and a workflow command refuses one that expires at all (exit 2, nothing recorded,
//! the token never printed); `--token-command` conflicts with `--token` and `--password`, and
//! comes from flags over the environment over `.env` like every other option.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Env, shape, stderr, stdout};

/// A JWT-shaped token (unsigned: these tests never get as far as CrateDB accepting it).
fn token(claims: &str) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

fn env(name: &str) -> Env {
    Env::start(name, &[shape("alpha", "alpha-pw", false)])
}

fn assert_refused(out: &std::process::Output, message: &str, secret: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(message), "{err}");
    assert!(stdout(out).is_empty(), "{}", stdout(out));
    assert!(!err.contains(secret), "the token was printed: {err}");
}

#[test]
fn a_static_token_must_be_a_jwt_that_has_not_expired() {
    let env = env("token-static");
    let state = env.state_dir().display().to_string();
    let not_jwt = "plain-s3cret-value";
    for (args, vars) in [
        (vec!["--token", not_jwt, "cluster", "health", "alpha"], vec![]),
        (
            vec!["cluster", "health", "alpha"],
            vec![("CRATEDB_TOKEN", not_jwt)],
        ),
    ] {
        let out = env.cratectl_with(&args, &vars);
        assert_refused(
            &out,
            "error: --token is not a JWT (expected three base64url parts)",
            not_jwt,
        );
    }

    let expired = token(r#"{"exp": 1700000000, "username": "ops"}"#);
    let out = env.cratectl(&["--token", &expired, "sql", "alpha", "SELECT 1"]);
    assert_refused(&out, "the token expired at 2023-11-14T22:13:20Z", &expired);

    // A workflow command refuses a token that expires at all, naming the way out.
    let later = token(r#"{"exp": 4102444800, "username": "ops"}"#);
    for command in [
        vec!["restart", "alpha", "--yes"],
        vec!["scale", "alpha", "hot=4", "--yes"],
        vec!["worker"],
    ] {
        let mut args = vec!["--token", later.as_str(), "--state-dir", state.as_str()];
        args.extend(command.iter().copied());
        let out = env.cratectl(&args);
        assert_refused(&out, "--token-command", &later);
        assert!(stderr(&out).contains("2100-01-01T00:00:00Z"), "{}", stderr(&out));
    }
    assert!(!env.state_dir().exists(), "nothing was recorded");

    // Without `exp` it is accepted (and then refused by CrateDB, whose reason is shown).
    let forever = token(r#"{"username": "ops"}"#);
    let out = env.cratectl(&["--token", &forever, "sql", "alpha", "SELECT 1"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("CrateDB refused the token: jwt authentication failed"),
        "{err}"
    );
    assert!(!err.contains(&forever), "{err}");
}

#[test]
fn a_token_command_conflicts_with_a_token_and_a_password() {
    let env = env("token-conflicts");
    for args in [
        vec!["--token-command", "true", "--token", "a.b.c", "cluster", "list"],
        vec!["--token-command", "true", "--password", "pw", "cluster", "list"],
    ] {
        let out = env.cratectl(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));
    }
}

/// Flags beat `CRATEDB_TOKEN_COMMAND`, which beats `.env`: each command leaves a mark.
#[test]
fn the_token_command_comes_from_flags_then_environment_then_dotenv() {
    let env = env("token-precedence");
    let url = env.direct_url("cratedb", "crate-data-hot-alpha-0");
    let command = |mark: &str| {
        format!(
            "touch {}; echo {}",
            env.dir.join(mark).display(),
            token(r#"{"username": "ops"}"#)
        )
    };
    std::fs::write(
        env.dir.join(".env"),
        format!("CRATEDB_TOKEN_COMMAND='{}'\n", command("from-dotenv")),
    )
    .unwrap();
    let marks = |env: &Env| -> Vec<String> {
        let mut found: Vec<String> = ["from-dotenv", "from-env", "from-flag"]
            .iter()
            .filter(|m| env.dir.join(m).exists())
            .map(|m| m.to_string())
            .collect();
        found.sort();
        for m in &found {
            std::fs::remove_file(env.dir.join(m)).unwrap();
        }
        found
    };
    let sql = ["--cluster-url", url.as_str(), "sql", "SELECT 1"];

    let out = env.cratectl(&sql);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(marks(&env), ["from-dotenv"]);

    let from_env = command("from-env");
    let out = env.cratectl_with(&sql, &[("CRATEDB_TOKEN_COMMAND", from_env.as_str())]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(marks(&env), ["from-env"]);

    let from_flag = command("from-flag");
    let mut args = vec!["--token-command", from_flag.as_str()];
    args.extend(sql);
    let out = env.cratectl_with(&args, &[("CRATEDB_TOKEN_COMMAND", from_env.as_str())]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(marks(&env), ["from-flag"]);
    // CrateDB refused the token (the simulator trusts no issuer here): its reason, no token.
    assert!(
        stderr(&out).contains("CrateDB refused the token: jwt authentication failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_failing_token_command_names_its_status_and_stderr() {
    let env = env("token-fails");
    let url = env.direct_url("cratedb", "crate-data-hot-alpha-0");
    let out = env.cratectl(&[
        "--cluster-url",
        &url,
        "--token-command",
        "echo e30.e30.printed-s3cret; echo 'not logged in' >&2; exit 7",
        "sql",
        "SELECT 1",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the token command (--token-command) failed (exit status 7): not logged in"),
        "{err}"
    );
    assert!(!err.contains("printed-s3cret"), "{err}");
}
