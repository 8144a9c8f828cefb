//! A restart authenticated by a token command whose tokens live 20 seconds, carried to the end
//! by a worker that refreshes them: CrateDB (the simulator, whose clock here is the wall clock
//! cratectl reads, as a real CrateDB's is) never sees an expired token, and no token appears in
//! any output, log line or record. The request records only that it uses a token command, and
//! a worker without one refuses to run it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, FAST_RESTART, json_of, shape, stderr, stdout};
use serde_json::Value;

const ISS: &str = "https://idp.example/.well-known/jwks.json";

/// The token command: asks the simulator's issuer for a token living 20 simulated seconds for
/// user `ops`, and keeps a copy of each in `tokens` for the test to look for.
fn token_script(env: &Env) -> String {
    let dir = env.dir.display();
    let script = env.dir.join("token.sh");
    std::fs::write(
        &script,
        format!(
            "curl -sf -X POST -H 'content-type: application/json' \
             --data '{{\"claims\": {{\"iss\": \"{ISS}\", \"username\": \"ops\", \"aud\": \"fleet\"}}, \"ttl_s\": 20}}' \
             http://{addr}/_sim/jwt/token > {dir}/out.$$ || exit 3\n\
             cat {dir}/out.$$ >> {dir}/tokens\n\
             cat {dir}/out.$$\n\
             rm -f {dir}/out.$$\n",
            addr = env.addr,
        ),
    )
    .unwrap();
    format!("sh {}", script.display())
}

/// Every file under `dir`, as bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_token_command_carries_a_restart_through_many_token_lifetimes() {
    // The operator's command line carries the issuer: the `username` claim names the user.
    let mut alpha = shape("alpha", "alpha-pw", false);
    alpha.settings = vec![
        ("auth.host_based.jwt.iss".into(), ISS.into()),
        ("auth.host_based.jwt.aud".into(), "fleet".into()),
    ];
    let env = Env::start_scaled("restart-token", &[alpha], 1.0);
    env.server
        .databases
        .lock()
        .get_mut(&("cratedb".to_string(), "alpha".to_string()))
        .unwrap()
        .add_user("ops", None);
    let command = token_script(&env);
    let state = env.state_dir().display().to_string();
    let with_token = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(
            [
                "--state-dir",
                &state,
                "--token-command",
                &command,
                "--token-refresh-before",
                "10s",
                "--log-level",
                "trace",
            ]
            .map(String::from),
        );
        all
    };

    let mut args = vec!["restart", "alpha", "--async", "--yes", "-o", "json"];
    args.extend_from_slice(FAST_RESTART);
    let started_out = env.cratectl(&with_token(&args).iter().map(String::as_str).collect::<Vec<_>>());
    let started = json_of(&started_out, 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();

    // A worker without a token command refuses it, naming the option.
    let out = env.cratectl(&["worker", "--state-dir", &state]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("give the worker --token-command (or CRATEDB_TOKEN_COMMAND) too")
            && stderr(&out).contains(&id),
        "{}",
        stderr(&out)
    );

    // The worker with one runs it to the end; its log (at trace) goes to a file.
    let log_path = env.dir.join("worker.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let worker_args = with_token(&["worker"]);
    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_cratectl"))
        .current_dir(&env.dir)
        .arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .args(&worker_args)
        .env_remove("CRATEDB_TOKEN_COMMAND")
        .env_remove("CRATEDB_TOKEN")
        .env_remove("CRATEDB_PASSWORD")
        .env_remove("CRATEDB_USERNAME")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let started_at = env.server.clock.now();
    let mut last = Value::Null;
    let mut outputs = Vec::new();
    let done = env.wait_until(600, || {
        let out = env.cratectl(&["status", &id, "-o", "json", "--state-dir", &state]);
        last = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        outputs.push(out);
        last["state"] != "running" && last["state"] != Value::Null
    });
    let simulated = env.server.clock.now() - started_at;
    let term = std::process::Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exit = worker.wait().unwrap();
    let worker_log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        done,
        "the worker did not finish the restart: {last}\n{worker_log}"
    );
    assert_eq!(last["state"], "completed", "{last}\n{worker_log}");
    assert_eq!(last["clusters"][0]["state"], "succeeded", "{last}");
    assert_eq!(exit.code(), Some(0), "{worker_log}");
    assert!(
        worker_log.contains("TRACE") || worker_log.contains("DEBUG"),
        "logs at trace"
    );

    // Every pod replaced once, one node down at most; CrateDB saw tokens only while valid.
    let report = env.report();
    let seen = &report["clusters"][0];
    assert!(seen["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{seen}");
    for pod in seen["pods"].as_array().unwrap() {
        assert_eq!(pod["uids"].as_array().unwrap().len(), 2, "{pod}");
    }
    assert_eq!(seen["bearer"]["rejected"], 0, "{seen}");
    assert_eq!(seen["bearer"]["expired"], 0, "{seen}");
    assert!(seen["bearer"]["accepted"].as_u64().unwrap() > 0, "{seen}");

    // Several minutes of simulated time: many tokens, none used past its life.
    assert!(
        simulated.as_secs() >= 60,
        "the restart took {simulated:?} of simulated time"
    );
    let tokens_text = std::fs::read_to_string(env.dir.join("tokens")).unwrap();
    let tokens: Vec<&str> = tokens_text.lines().filter(|l| !l.is_empty()).collect();
    let lifetimes = (simulated.as_secs() / 20) as usize;
    assert!(
        tokens.len() >= lifetimes.saturating_sub(1),
        "{} tokens over {simulated:?}",
        tokens.len()
    );

    // No token, and not the command, in any output, log line or record.
    let mut texts = vec![
        ("worker log".to_string(), worker_log.clone().into_bytes()),
        ("restart stdout".to_string(), started_out.stdout.clone()),
        ("restart stderr".to_string(), started_out.stderr.clone()),
        (
            "refusing worker".to_string(),
            format!("{}{}", stdout(&out), stderr(&out)).into_bytes(),
        ),
    ];
    for out in &outputs {
        texts.push(("status".into(), [out.stdout.clone(), out.stderr.clone()].concat()));
    }
    let records = files_under(&env.state_dir());
    assert!(!records.is_empty());
    for (path, bytes) in &records {
        texts.push((path.display().to_string(), bytes.clone()));
    }
    for (what, bytes) in &texts {
        for token in &tokens {
            // The signature alone is enough to recognise a token.
            let signature = token.rsplit('.').next().unwrap();
            assert!(!contains(bytes, signature), "a token in {what}");
        }
        assert!(!contains(bytes, "token.sh"), "the token command in {what}");
    }
    assert!(
        records
            .iter()
            .any(|(_, bytes)| contains(bytes, r#""auth":"token_command""#)),
        "the request records that it uses a token command"
    );
}
