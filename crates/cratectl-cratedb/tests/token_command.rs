//! A token command against cratesim over a real socket: a shell script that asks the simulator
//! for tokens living 20 simulated seconds (`POST /_sim/jwt/token`), run by the client before each
//! token expires and once after CrateDB refused one. The client reads the simulated clock (a
//! 20× clock: a token lives one real second), so "before expiry" means what CrateDB means.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use cratectl_cratedb::{
    Client, Credentials, DirectOptions, DirectTransport, RetryPolicy, Secret, TokenSource,
};
use cratesim::clock::Clock;
use cratesim::cratedb::BearerStats;
use cratesim::operator::ClusterShape;
use jiff::SignedDuration;

const PASSWORD: &str = "Sim-Passw0rd-jwt";
const ISS: &str = "https://idp.example/.well-known/jwks.json";

struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bearer_stats(sim: &cratesim::serve::Running) -> BearerStats {
    let databases = sim.server.databases.lock();
    databases
        .get(&("cratedb".to_string(), "alpha".to_string()))
        .unwrap()
        .bearer_stats()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_before_they_expire_and_after_a_refusal() {
    let mut shape = ClusterShape::new("alpha", "cratedb");
    shape.system_password = PASSWORD.into();
    let clock = Clock::new(20.0);
    let sim = cratesim::serve::start("127.0.0.1:0", clock.clone(), &[shape])
        .await
        .unwrap();
    let url = format!("http://{}/_crate/cratedb/crate-data-hot-alpha-0", sim.addr);
    let transport = Arc::new(DirectTransport::new(&url, &DirectOptions::default()).unwrap());
    let system = Client::new(
        transport.clone(),
        Credentials::Basic {
            user: "system".into(),
            password: Secret::new(PASSWORD),
        },
        RetryPolicy::default(),
    );
    let create = |aud: &str| {
        format!(r#"CREATE USER ops WITH (jwt = {{"iss" = '{ISS}', "username" = 'ops-id', "aud" = '{aud}'}})"#)
    };
    system.sql(&create("a1"), &[]).await.unwrap();

    let dir = std::env::temp_dir().join(format!("cratectl-token-command-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = Scratch(dir.clone());
    std::fs::write(dir.join("aud"), "a1").unwrap();
    std::fs::write(dir.join("ttl"), "20").unwrap();
    let script = dir.join("token.sh");
    std::fs::write(
        &script,
        format!(
            "aud=$(cat {dir}/aud)\n\
             ttl=$(cat {dir}/ttl)\n\
             curl -sf -X POST -H 'content-type: application/json' \
             --data \"{{\\\"claims\\\": {{\\\"iss\\\": \\\"{ISS}\\\", \\\"username\\\": \\\"ops-id\\\", \\\"aud\\\": \\\"$aud\\\"}}, \\\"ttl_s\\\": $ttl}}\" \
             http://{addr}/_sim/jwt/token > {dir}/out || exit 3\n\
             cat {dir}/out >> {dir}/tokens\n\
             cat {dir}/out\n",
            dir = dir.display(),
            addr = sim.addr,
        ),
    )
    .unwrap();
    let sim_clock = clock.clone();
    let source = TokenSource::new(format!("sh {}", script.display()), SignedDuration::from_secs(10))
        .with_clock(Arc::new(move || sim_clock.now()));
    let ops = Client::new(
        transport,
        Credentials::TokenCommand(source.clone()),
        RetryPolicy::default(),
    );

    // Two simulated minutes of requests, one every few simulated seconds: each token is used
    // until 10 s before its expiry, so several tokens are needed, and none is refused.
    let until = clock.now() + SignedDuration::from_mins(2);
    let mut requests = 0;
    while clock.now() < until {
        let result = ops.sql("SELECT CURRENT_USER", &[]).await.unwrap();
        assert_eq!(result.rows[0][0], "ops");
        requests += 1;
        tokio::time::sleep(clock.real(Duration::from_secs(3))).await;
    }
    let runs = source.runs();
    // No request was refused over 120 s, and a token lives 20 s: at least 6 tokens were used.
    assert!(runs >= 6, "{runs} runs for {requests} requests");
    assert!(
        runs < requests,
        "tokens are reused: {runs} runs for {requests} requests"
    );
    assert_eq!(
        bearer_stats(&sim),
        BearerStats {
            accepted: requests,
            rejected: 0,
            expired: 0
        }
    );

    // From here on tokens live an hour (three real minutes), so that no refresh before expiry
    // can hide the refusal below, however slow the machine: requests go on until the command
    // has run once more and the cached token is a long one.
    std::fs::write(dir.join("ttl"), "3600").unwrap();
    let short = source.runs();
    while source.runs() == short {
        ops.sql("SELECT 1", &[]).await.unwrap();
        tokio::time::sleep(clock.real(Duration::from_secs(3))).await;
    }

    // The user's audience changes: CrateDB refuses the cached token once, the command runs again
    // (now with the new audience) and the request goes through.
    system.sql("DROP USER ops", &[]).await.unwrap();
    system.sql(&create("a2"), &[]).await.unwrap();
    std::fs::write(dir.join("aud"), "a2").unwrap();
    let before = source.runs();
    let result = ops.sql("SELECT CURRENT_USER", &[]).await.unwrap();
    assert_eq!(result.rows[0][0], "ops");
    assert_eq!(source.runs(), before + 1);
    let stats = bearer_stats(&sim);
    assert_eq!((stats.rejected, stats.expired), (1, 0), "{stats:?}");

    // A token command whose tokens CrateDB keeps refusing: one refresh, then the error with
    // CrateDB's reason; no token in it.
    std::fs::write(dir.join("aud"), "a3").unwrap();
    system.sql("DROP USER ops", &[]).await.unwrap();
    system.sql(&create("a4"), &[]).await.unwrap();
    let error = ops.sql("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "CrateDB refused the token: jwt authentication failed for user ops. Reason: The Claim 'aud' value doesn't contain the required audience."
    );
    let tokens = std::fs::read_to_string(dir.join("tokens")).unwrap();
    for token in tokens.lines() {
        assert!(!error.to_string().contains(token));
        assert!(!format!("{ops:?}").contains(token));
    }
    drop(scratch);
    sim.task.abort();
}
