//! Only retryable activity failures are tried again: a permanent refusal fails the step on its
//! first attempt, a transient one is tried the step's number of times. Run on the embedded
//! engine with activities that count their calls, so the attempts are counted, not guessed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cratectl_flow::engine::duroxide::{self as dx, DuroxideClient, DxActivities, DxWorker, WorkerOptions};
use cratectl_flow::engine::{
    Activity, ActivityError, ActivityOptions, ActivitySink, EngineClient, EngineWorker, ErrorKind,
    InstanceState, RunActivity, WfResult, WorkflowCtx,
};

/// Calls made to each test activity.
#[derive(Default)]
struct Calls {
    permanent: AtomicU32,
    transient: AtomicU32,
    heals: AtomicU32,
}

/// Always refused: a retry cannot help.
struct Refused;
impl Activity for Refused {
    const NAME: &'static str = "test_refused";
    type In = ();
    type Out = ();
}
impl RunActivity<Calls> for Refused {
    async fn run(env: Arc<Calls>, _: ()) -> Result<(), ActivityError> {
        env.permanent.fetch_add(1, Ordering::SeqCst);
        Err(ActivityError::permanent(
            "permission denied: missing privilege AL",
        ))
    }
}

/// Always a transient failure.
struct Flaky;
impl Activity for Flaky {
    const NAME: &'static str = "test_flaky";
    type In = ();
    type Out = ();
}
impl RunActivity<Calls> for Flaky {
    async fn run(env: Arc<Calls>, _: ()) -> Result<(), ActivityError> {
        env.transient.fetch_add(1, Ordering::SeqCst);
        Err(ActivityError::retryable("503 Service Unavailable"))
    }
}

/// Fails transiently once, then succeeds.
struct Heals;
impl Activity for Heals {
    const NAME: &'static str = "test_heals";
    type In = ();
    type Out = u32;
}
impl RunActivity<Calls> for Heals {
    async fn run(env: Arc<Calls>, _: ()) -> Result<u32, ActivityError> {
        let n = env.heals.fetch_add(1, Ordering::SeqCst) + 1;
        if n == 1 {
            Err(ActivityError::retryable("connection refused"))
        } else {
            Ok(n)
        }
    }
}

/// Calls each activity with three attempts and reports what each call ended with.
async fn probe<C: WorkflowCtx>(ctx: &C, _: ()) -> WfResult<Vec<String>> {
    let three = ActivityOptions {
        backoff: Duration::from_millis(10),
        ..ActivityOptions::retried(3)
    };
    let refused = ctx.activity::<Refused>(&(), three).await;
    let flaky = ctx.activity::<Flaky>(&(), three).await;
    let heals = ctx.activity::<Heals>(&(), three).await;
    Ok(vec![
        format!("{refused:?}"),
        format!("{flaky:?}"),
        format!("{heals:?}"),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_retryable_failures_are_tried_again() {
    let dir = std::env::temp_dir().join(format!("cratectl-engine-retries-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let calls = Arc::new(Calls::default());
    let activities = DxActivities::new(calls.clone())
        .add::<Refused>()
        .add::<Flaky>()
        .add::<Heals>();
    let workflows = dx::register(
        dx::workflows(),
        "probe.v1",
        |ctx: dx::DxCtx, input: ()| async move { probe(&ctx, input).await },
    )
    .build();
    let worker = DxWorker::start(&dir, activities, workflows, &WorkerOptions::default())
        .await
        .unwrap();
    let client = DuroxideClient::open(&dir).await.unwrap();
    client.start("probe.v1", "probe-1", "null".into()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = client.status("probe-1").await.unwrap().unwrap();
        if status.state.is_terminal() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the probe did not end: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    worker.shutdown(Duration::from_secs(1)).await;
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(status.state, InstanceState::Completed, "{status:?}");
    let out: Vec<String> = serde_json::from_str(status.output.as_deref().unwrap()).unwrap();
    assert_eq!(
        calls.permanent.load(Ordering::SeqCst),
        1,
        "a refusal is not retried"
    );
    assert_eq!(
        calls.transient.load(Ordering::SeqCst),
        3,
        "a transient failure: every attempt"
    );
    assert_eq!(calls.heals.load(Ordering::SeqCst), 2, "retried until it worked");
    assert!(out[0].contains("missing privilege AL"), "{out:?}");
    assert!(out[0].contains(&format!("{:?}", ErrorKind::Permanent)), "{out:?}");
    assert!(out[1].contains("503"), "{out:?}");
    assert!(out[1].contains(&format!("{:?}", ErrorKind::Retryable)), "{out:?}");
    assert_eq!(out[2], "Ok(2)");
}

#[test]
fn a_step_budget_gives_as_many_tries_as_its_backoffs_allow() {
    // 1 + 2 + 4 + 8 s of backoff fit in 15 s: five tries; 16 s more do not.
    assert_eq!(ActivityOptions::within(Duration::from_secs(15)).attempts, 5);
    assert_eq!(ActivityOptions::within(Duration::from_secs(30)).attempts, 5);
    assert_eq!(ActivityOptions::within(Duration::from_secs(31)).attempts, 6);
    assert_eq!(ActivityOptions::within(Duration::ZERO).attempts, 1);
    // Backoffs are capped at 30 s: an hour's budget is many tries, not one.
    assert!(ActivityOptions::within(Duration::from_secs(3600)).attempts > 100);
}

#[test]
fn errors_from_the_engine_itself_are_not_retried() {
    let ours = ActivityError::retryable("503");
    assert_eq!(ActivityError::decode(&ours.encode()), ours);
    let engine = ActivityError::decode("timeout: activity timed out");
    assert_eq!(engine.kind, ErrorKind::Permanent);
    assert_eq!(engine.message, "timeout: activity timed out");
}
