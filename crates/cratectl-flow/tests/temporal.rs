//! What only the Temporal adapter does, against a real dev server: a workflow task that keeps
//! failing is reported as stuck, a message sent before any worker ran the instance is kept,
//! the compensation record and claim are kept by the server for every client, and `list` shows only the
//! operations of its own task queue (not children, not compensation records).

#![cfg(feature = "temporal")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::TestEngine;
use common::temporal_server::TemporalServer;
use cratectl_flow::engine::any::AnyEngine;
use cratectl_flow::engine::{Engine, EngineClient, EngineError, EngineWorker, InstanceState, WorkerLimits};
use cratectl_flow::env::ActivityEnv;

async fn server(test: &str) -> Option<(TemporalServer, AnyEngine)> {
    if !TestEngine::Temporal.available(test) {
        return None;
    }
    let server = TemporalServer::start().await;
    let engine = server.engine(test);
    Some((server, engine))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_task_that_keeps_failing_is_reported_as_stuck() {
    let Some((_server, engine)) = server("stuck").await else {
        return;
    };
    let client = engine.client().await.unwrap();
    // No worker registers this type: each workflow task fails and is retried, and the instance
    // stays running, as it would after a nondeterminism.
    client
        .start("no_such_workflow.v1", "stuck-1", "{}".into())
        .await
        .unwrap();
    let worker = engine
        .start_worker(Arc::new(ActivityEnv::new(None)), WorkerLimits::default(), None)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = client.status("stuck-1").await.unwrap().unwrap();
        if status.stuck.is_some() || tokio::time::Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    worker.shutdown(Duration::from_secs(1)).await;
    assert_eq!(status.state, InstanceState::Running, "{status:?}");
    let stuck = status.stuck.expect("reported as stuck");
    assert!(stuck.contains("workflow task has failed"), "{stuck}");
    assert!(
        stuck.contains("no_such_workflow.v1"),
        "names the failure: {stuck}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_kept_by_the_server_and_what_list_shows() {
    let Some((_server, engine)) = server("records").await else {
        return;
    };
    let client = engine.client().await.unwrap();
    let other = engine.client().await.unwrap();

    // Start refuses an id that exists, running or not.
    client
        .start("restart_request.v3", "records-1", r#"{"clusters":[]}"#.into())
        .await
        .unwrap();
    assert!(matches!(
        client.start("restart_request.v3", "records-1", "{}".into()).await,
        Err(EngineError::AlreadyExists(_))
    ));
    // Not yet picked up by any worker: pending, with its input from the memo.
    let status = client.status("records-1").await.unwrap().unwrap();
    assert_eq!(status.state, InstanceState::Pending, "{status:?}");
    assert_eq!(status.input.as_deref(), Some(r#"{"clusters":[]}"#));
    assert_eq!(status.workflow, "restart_request.v3");
    // A signal before any worker ran it is accepted (kept by the server).
    client
        .signal("records-1", "control", "\"stop\"".into())
        .await
        .unwrap();
    assert!(matches!(
        client.signal("nobody", "control", "x".into()).await,
        Err(EngineError::NotFound(_))
    ));

    // The compensation record: once, seen by another client, idempotent.
    assert!(!other.is_compensated("records-1.cratedb.alpha").await);
    client.mark_compensated("records-1.cratedb.alpha").await;
    client.mark_compensated("records-1.cratedb.alpha").await;
    assert!(other.is_compensated("records-1.cratedb.alpha").await);

    // The compensation claim: one holder at a time across clients; released, it can be taken
    // again; a holder that died (no release) loses it when its time is up.
    let child = "records-1.cratedb.beta";
    assert!(
        client
            .claim_compensation(child, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !other
            .claim_compensation(child, Duration::from_secs(60))
            .await
            .unwrap()
    );
    client.release_compensation(child).await;
    assert!(
        other
            .claim_compensation(child, Duration::from_secs(2))
            .await
            .unwrap()
    );
    assert!(
        !client
            .claim_compensation(child, Duration::from_secs(60))
            .await
            .unwrap()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if client
            .claim_compensation(child, Duration::from_secs(60))
            .await
            .unwrap()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a claim whose holder never released it lapses"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    client.release_compensation(child).await;

    // Cancel is a terminate with the reason as given, with no worker running.
    client.cancel("records-1", "operator abort").await.unwrap();
    let status = client.status("records-1").await.unwrap().unwrap();
    assert_eq!(status.state, InstanceState::Cancelled);
    assert_eq!(status.output.as_deref(), Some("cancelled: operator abort"));
    assert!(matches!(
        client.cancel("nobody", "x").await,
        Err(EngineError::NotFound(_))
    ));

    // list: the operation, not the compensation record (another task queue); visibility may
    // lag a moment behind.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let ids = loop {
        let ids: Vec<String> = client.list().await.unwrap().into_iter().map(|s| s.id).collect();
        if !ids.is_empty() || tokio::time::Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ids, vec!["records-1".to_string()]);
}
