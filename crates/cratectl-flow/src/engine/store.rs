//! The SQLite store as this process uses it: duroxide's [`SqliteProvider`] behind one wrapper
//! that fixes two things its dispatchers would otherwise do to a long-running worker.
//!
//! * **No lock fights.** duroxide's SQLite transactions start deferred (`BEGIN`), read, then
//!   write; when another connection of the same process committed in between, SQLite answers
//!   `database is locked` at once, without waiting for its busy timeout. With a fleet in flight
//!   the runtime retried, gave up, and failed workflows as poison. Every transaction of this
//!   process therefore goes through one async lock (a SQLite file has one writer anyway). Other
//!   processes on the same file (a CLI starting or signalling) still rely on SQLite's busy timeout
//!   and duroxide's retries; they write rarely.
//! * **Waiting instead of spinning.** The SQLite provider ignores the dispatchers' long-poll
//!   timeout: an idle worker queried its queues every few milliseconds from every dispatcher slot
//!   (two-thirds of a core doing nothing). Here a fetch that finds nothing waits until this
//!   process enqueues something for that queue, until the earliest delayed item it knows of (a
//!   durable timer) is due, or until the poll timeout passes — which bounds how late work from
//!   another process or an expired lock of a crashed worker is noticed.
//!
//! * **A worker scope.** A foreground `restart` runs its own workflows only, leaving other open
//!   operations to `cratectl worker`. duroxide's dispatchers take whatever is queued, so the
//!   store hands out only items of the instances in scope ([`Store::restrict_to`]): an item of
//!   another instance is put back at once, invisible for [`OUT_OF_SCOPE_DELAY`] and without
//!   counting as an attempt (so it never turns poison), and the next one is looked at.
//!
//! One [`Store`] is shared by every client and worker of a state directory in this process (see
//! [`Store::open`]), so a workflow started or signalled here wakes this process's worker at once.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ::duroxide::providers::sqlite::SqliteProvider;
use ::duroxide::providers::{
    DispatcherCapabilityFilter, ExecutionMetadata, OrchestrationItem, Provider, ProviderAdmin, ProviderError,
    ScheduledActivityIdentifier, SessionFetchConfig, TagFilter, WorkItem,
};
use ::duroxide::{Event, SystemStats};
use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio::sync::Notify;

/// One queue's wake-ups: waiting fetchers, and the instants at which delayed items become
/// visible.
#[derive(Default)]
struct Queue {
    ready: Notify,
    due: Mutex<BinaryHeap<Reverse<Instant>>>,
}

impl Queue {
    /// Something became visible now: wake one waiting fetcher (which wakes the next when it found
    /// work, see [`Store::fetch`]).
    fn wake(&self) {
        self.ready.notify_one();
    }

    /// Something becomes visible after `delay`: remember when, and let a waiting fetcher shorten
    /// its wait.
    fn wake_after(&self, delay: Duration) {
        if delay.is_zero() {
            return self.wake();
        }
        // A millisecond late rather than early: the provider compares whole milliseconds.
        let at = Instant::now() + delay + Duration::from_millis(1);
        self.due
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Reverse(at));
        self.wake();
    }

    /// The earliest known due instant after `tried` (the start of a fetch that found nothing):
    /// ones before it are dropped, as that fetch saw their items; later ones stay, even if they
    /// passed meanwhile (the caller then tries again at once).
    fn next_due(&self, tried: Instant) -> Option<Instant> {
        let mut due = self.due.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(Reverse(at)) = due.peek() {
            if *at <= tried {
                due.pop();
            } else {
                return Some(*at);
            }
        }
        None
    }
}

/// How long an item of an instance out of this worker's scope stays invisible after it was
/// put back: another worker process picks it up after this at the latest, and this one looks at
/// it again no more often.
pub const OUT_OF_SCOPE_DELAY: Duration = Duration::from_secs(2);

/// duroxide's SQLite provider, serialized and woken as described in the module documentation.
pub struct Store {
    inner: SqliteProvider,
    /// Held around every transaction of this process.
    serial: tokio::sync::Mutex<()>,
    orchestrations: Queue,
    activities: Queue,
    /// The instances this process's worker runs; `None`: every one.
    scope: std::sync::RwLock<Option<Arc<HashSet<String>>>>,
}

/// An exclusive lock on `<path>.open-lock`, waited for; released when dropped (or when the
/// process dies).
async fn lock_beside(path: &Path) -> Result<std::fs::File, String> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".open-lock");
    let lock_path = path.with_file_name(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", lock_path.display()));
            }
        }
    }
}

/// The stores open in this process, by database file.
fn open_stores() -> &'static Mutex<HashMap<PathBuf, Weak<Store>>> {
    static STORES: OnceLock<Mutex<HashMap<PathBuf, Weak<Store>>>> = OnceLock::new();
    STORES.get_or_init(Default::default)
}

impl Store {
    /// The store of the database file `path` (created if missing), shared with every other user of
    /// that file in this process.
    pub async fn open(path: &Path) -> Result<Arc<Store>, String> {
        let key = std::fs::canonicalize(path.parent().unwrap_or(Path::new(".")))
            .map(|dir| dir.join(path.file_name().unwrap_or_default()))
            .unwrap_or_else(|_| path.to_path_buf());
        // One opener at a time: opening runs duroxide's schema migrations.
        static OPENING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _opening = OPENING.lock().await;
        if let Some(store) = Self::shared(&key) {
            return Ok(store);
        }
        // In other processes too (a worker and a CLI started at the same moment on a new state
        // directory): two migrating at once fail with "duplicate column name".
        let _migrating = lock_beside(path).await?;
        let url = format!("sqlite:{}?mode=rwc", path.display());
        let inner = SqliteProvider::new(&url, None).await.map_err(|e| e.to_string())?;
        let store = Arc::new(Store {
            inner,
            serial: tokio::sync::Mutex::new(()),
            orchestrations: Queue::default(),
            activities: Queue::default(),
            scope: std::sync::RwLock::new(None),
        });
        let mut stores = open_stores().lock().unwrap_or_else(|p| p.into_inner());
        stores.retain(|_, weak| weak.strong_count() > 0);
        stores.insert(key, Arc::downgrade(&store));
        Ok(store)
    }

    /// Lets this process's worker run only `instances` (`None`: every instance).
    pub fn restrict_to(&self, instances: Option<HashSet<String>>) {
        *self.scope.write().unwrap_or_else(|p| p.into_inner()) = instances.map(Arc::new);
    }

    fn in_scope(&self, instance: &str) -> bool {
        self.scope
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_none_or(|only| only.contains(instance))
    }

    fn shared(key: &Path) -> Option<Arc<Store>> {
        open_stores()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .and_then(Weak::upgrade)
    }

    /// Fetches from one queue: tries now; when there is nothing, waits for a wake-up, the next
    /// due item or `poll_timeout`, and tries once more. A fetch that found work wakes the next
    /// waiting fetcher, as more may be queued.
    async fn fetch<'a, T>(
        &self,
        queue: &Queue,
        poll_timeout: Duration,
        mut attempt: impl FnMut() -> BoxFuture<'a, Result<Option<T>, ProviderError>> + Send,
    ) -> Result<Option<T>, ProviderError> {
        let deadline = Instant::now() + poll_timeout;
        loop {
            let woken = queue.ready.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let (found, tried) = {
                let _serial = self.serial.lock().await;
                let tried = Instant::now();
                (attempt().await?, tried)
            };
            if found.is_some() {
                queue.wake();
                return Ok(found);
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            let until = queue.next_due(tried).map_or(deadline, |due| due.min(deadline));
            let _ = tokio::time::timeout_at(until.into(), woken).await;
        }
    }
}

/// When a timer item becomes visible, from its wall-clock fire time.
fn delay_until(fire_at_ms: u64) -> Duration {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Duration::from_millis(fire_at_ms.saturating_sub(now_ms))
}

#[async_trait]
impl Provider for Store {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn version(&self) -> &str {
        self.inner.version()
    }

    async fn fetch_orchestration_item(
        &self,
        lock_timeout: Duration,
        poll_timeout: Duration,
        filter: Option<&DispatcherCapabilityFilter>,
    ) -> Result<Option<(OrchestrationItem, String, u32)>, ProviderError> {
        self.fetch(&self.orchestrations, poll_timeout, || {
            Box::pin(async move {
                loop {
                    let found = self
                        .inner
                        .fetch_orchestration_item(lock_timeout, Duration::ZERO, filter)
                        .await?;
                    match found {
                        Some((item, token, _)) if !self.in_scope(&item.instance) => {
                            self.inner
                                .abandon_orchestration_item(&token, Some(OUT_OF_SCOPE_DELAY), true)
                                .await?;
                        }
                        other => return Ok(other),
                    }
                }
            })
        })
        .await
    }

    async fn ack_orchestration_item(
        &self,
        lock_token: &str,
        execution_id: u64,
        history_delta: Vec<Event>,
        worker_items: Vec<WorkItem>,
        orchestrator_items: Vec<WorkItem>,
        metadata: ExecutionMetadata,
        cancelled_activities: Vec<ScheduledActivityIdentifier>,
    ) -> Result<(), ProviderError> {
        let activities = !worker_items.is_empty();
        let delays: Vec<Duration> = orchestrator_items
            .iter()
            .map(|item| match item {
                WorkItem::TimerFired { fire_at_ms, .. } => delay_until(*fire_at_ms),
                _ => Duration::ZERO,
            })
            .collect();
        let result = {
            let _serial = self.serial.lock().await;
            self.inner
                .ack_orchestration_item(
                    lock_token,
                    execution_id,
                    history_delta,
                    worker_items,
                    orchestrator_items,
                    metadata,
                    cancelled_activities,
                )
                .await
        };
        if activities {
            self.activities.wake();
        }
        for delay in delays {
            self.orchestrations.wake_after(delay);
        }
        // The instance's lock is released: messages that arrived meanwhile are visible now.
        self.orchestrations.wake();
        result
    }

    async fn abandon_orchestration_item(
        &self,
        lock_token: &str,
        delay: Option<Duration>,
        ignore_attempt: bool,
    ) -> Result<(), ProviderError> {
        let result = {
            let _serial = self.serial.lock().await;
            self.inner
                .abandon_orchestration_item(lock_token, delay, ignore_attempt)
                .await
        };
        self.orchestrations.wake_after(delay.unwrap_or_default());
        result
    }

    async fn read(&self, instance: &str) -> Result<Vec<Event>, ProviderError> {
        self.inner.read(instance).await
    }

    async fn read_with_execution(
        &self,
        instance: &str,
        execution_id: u64,
    ) -> Result<Vec<Event>, ProviderError> {
        self.inner.read_with_execution(instance, execution_id).await
    }

    async fn append_with_execution(
        &self,
        instance: &str,
        execution_id: u64,
        new_events: Vec<Event>,
    ) -> Result<(), ProviderError> {
        let _serial = self.serial.lock().await;
        self.inner
            .append_with_execution(instance, execution_id, new_events)
            .await
    }

    async fn enqueue_for_worker(&self, item: WorkItem) -> Result<(), ProviderError> {
        let result = {
            let _serial = self.serial.lock().await;
            self.inner.enqueue_for_worker(item).await
        };
        self.activities.wake();
        result
    }

    async fn fetch_work_item(
        &self,
        lock_timeout: Duration,
        poll_timeout: Duration,
        session: Option<&SessionFetchConfig>,
        tag_filter: &TagFilter,
    ) -> Result<Option<(WorkItem, String, u32)>, ProviderError> {
        self.fetch(&self.activities, poll_timeout, || {
            Box::pin(async move {
                loop {
                    let found = self
                        .inner
                        .fetch_work_item(lock_timeout, Duration::ZERO, session, tag_filter)
                        .await?;
                    match found {
                        Some((WorkItem::ActivityExecute { ref instance, .. }, ref token, _))
                            if !self.in_scope(instance) =>
                        {
                            self.inner
                                .abandon_work_item(token, Some(OUT_OF_SCOPE_DELAY), true)
                                .await?;
                        }
                        other => return Ok(other),
                    }
                }
            })
        })
        .await
    }

    async fn ack_work_item(&self, token: &str, completion: Option<WorkItem>) -> Result<(), ProviderError> {
        let completes = completion.is_some();
        let result = {
            let _serial = self.serial.lock().await;
            self.inner.ack_work_item(token, completion).await
        };
        if completes {
            self.orchestrations.wake();
        }
        result
    }

    async fn renew_work_item_lock(&self, token: &str, extend_for: Duration) -> Result<(), ProviderError> {
        let _serial = self.serial.lock().await;
        self.inner.renew_work_item_lock(token, extend_for).await
    }

    async fn renew_session_lock(
        &self,
        owner_ids: &[&str],
        extend_for: Duration,
        idle_timeout: Duration,
    ) -> Result<usize, ProviderError> {
        let _serial = self.serial.lock().await;
        self.inner
            .renew_session_lock(owner_ids, extend_for, idle_timeout)
            .await
    }

    async fn cleanup_orphaned_sessions(&self, idle_timeout: Duration) -> Result<usize, ProviderError> {
        let _serial = self.serial.lock().await;
        self.inner.cleanup_orphaned_sessions(idle_timeout).await
    }

    async fn abandon_work_item(
        &self,
        token: &str,
        delay: Option<Duration>,
        ignore_attempt: bool,
    ) -> Result<(), ProviderError> {
        let result = {
            let _serial = self.serial.lock().await;
            self.inner.abandon_work_item(token, delay, ignore_attempt).await
        };
        self.activities.wake_after(delay.unwrap_or_default());
        result
    }

    async fn renew_orchestration_item_lock(
        &self,
        token: &str,
        extend_for: Duration,
    ) -> Result<(), ProviderError> {
        let _serial = self.serial.lock().await;
        self.inner.renew_orchestration_item_lock(token, extend_for).await
    }

    async fn enqueue_for_orchestrator(
        &self,
        item: WorkItem,
        delay: Option<Duration>,
    ) -> Result<(), ProviderError> {
        let result = {
            let _serial = self.serial.lock().await;
            self.inner.enqueue_for_orchestrator(item, delay).await
        };
        self.orchestrations.wake_after(delay.unwrap_or_default());
        result
    }

    /// duroxide's management calls, unserialized and waking no one: cratectl only reads through
    /// them (instance information for `status` and `list`).
    fn as_management_capability(&self) -> Option<&dyn ProviderAdmin> {
        self.inner.as_management_capability()
    }

    async fn get_custom_status(
        &self,
        instance: &str,
        last_seen_version: u64,
    ) -> Result<Option<(Option<String>, u64)>, ProviderError> {
        self.inner.get_custom_status(instance, last_seen_version).await
    }

    async fn get_kv_value(&self, instance: &str, key: &str) -> Result<Option<String>, ProviderError> {
        self.inner.get_kv_value(instance, key).await
    }

    async fn get_kv_all_values(&self, instance: &str) -> Result<HashMap<String, String>, ProviderError> {
        self.inner.get_kv_all_values(instance).await
    }

    async fn get_instance_stats(&self, instance: &str) -> Result<Option<SystemStats>, ProviderError> {
        self.inner.get_instance_stats(instance).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A fresh database file for one test.
    fn db(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cratectl-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("store.db")
    }

    fn start(instance: &str) -> WorkItem {
        WorkItem::StartOrchestration {
            instance: instance.to_string(),
            orchestration: "test".to_string(),
            version: Some("1.0.0".to_string()),
            input: "{}".to_string(),
            parent_instance: None,
            parent_id: None,
            parent_execution_id: None,
            execution_id: 1,
        }
    }

    fn metadata() -> ExecutionMetadata {
        ExecutionMetadata {
            orchestration_name: Some("test".to_string()),
            orchestration_version: Some("1.0.0".to_string()),
            ..Default::default()
        }
    }

    const LOCK: Duration = Duration::from_secs(60);
    /// Long enough that a fetch returning work well before it was woken, not timed out.
    const POLL: Duration = Duration::from_secs(120);
    const PATIENCE: Duration = Duration::from_secs(30);

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_fetches_and_acks_never_fail_and_take_each_item_once() {
        let store = Store::open(&db("concurrent")).await.unwrap();
        const ITEMS: usize = 120;
        let producer = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..ITEMS {
                    store
                        .enqueue_for_orchestrator(start(&format!("i{i}")), None)
                        .await
                        .unwrap();
                }
            })
        };
        let taken = Arc::new(Mutex::new(Vec::new()));
        let mut fetchers = Vec::new();
        for _ in 0..16 {
            let (store, taken) = (store.clone(), taken.clone());
            fetchers.push(tokio::spawn(async move {
                loop {
                    if taken.lock().unwrap().len() >= ITEMS {
                        return Ok::<(), ProviderError>(());
                    }
                    let Some((item, token, _)) = store
                        .fetch_orchestration_item(LOCK, Duration::from_millis(100), None)
                        .await?
                    else {
                        continue;
                    };
                    store
                        .ack_orchestration_item(&token, 1, vec![], vec![], vec![], metadata(), vec![])
                        .await?;
                    taken.lock().unwrap().push(item.instance);
                }
            }));
        }
        tokio::time::timeout(PATIENCE, producer).await.unwrap().unwrap();
        for fetcher in fetchers {
            tokio::time::timeout(PATIENCE, fetcher)
                .await
                .expect("the fetchers took every item")
                .unwrap()
                .expect("no provider error");
        }
        let mut taken = taken.lock().unwrap().clone();
        taken.sort();
        let mut expected: Vec<String> = (0..ITEMS).map(|i| format!("i{i}")).collect();
        expected.sort();
        assert_eq!(taken, expected, "each item taken exactly once");
    }

    #[tokio::test]
    async fn an_enqueue_wakes_a_waiting_fetch() {
        let store = Store::open(&db("wake")).await.unwrap();
        let fetch = {
            let store = store.clone();
            tokio::spawn(async move { store.fetch_orchestration_item(LOCK, POLL, None).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!fetch.is_finished(), "nothing queued yet: the fetch waits");
        store
            .enqueue_for_orchestrator(start("woken"), None)
            .await
            .unwrap();
        let (item, _, _) = tokio::time::timeout(PATIENCE, fetch)
            .await
            .expect("woken long before its poll timeout")
            .unwrap()
            .unwrap()
            .expect("the queued item");
        assert_eq!(item.instance, "woken");
    }

    #[tokio::test]
    async fn a_delayed_item_is_fetched_when_due() {
        let store = Store::open(&db("due")).await.unwrap();
        store
            .enqueue_for_orchestrator(start("later"), Some(Duration::from_millis(300)))
            .await
            .unwrap();
        let found = tokio::time::timeout(PATIENCE, store.fetch_orchestration_item(LOCK, POLL, None))
            .await
            .expect("fetched when due, long before the poll timeout")
            .unwrap()
            .expect("the delayed item");
        assert_eq!(found.0.instance, "later");
    }

    #[tokio::test]
    async fn an_idle_fetch_waits_out_its_poll_timeout_then_returns_nothing() {
        let store = Store::open(&db("idle")).await.unwrap();
        let began = Instant::now();
        let found = store
            .fetch_orchestration_item(LOCK, Duration::from_millis(300), None)
            .await
            .unwrap();
        assert!(found.is_none());
        assert!(
            began.elapsed() >= Duration::from_millis(300),
            "it waited instead of returning at once"
        );
    }

    #[tokio::test]
    async fn queued_activities_wake_a_waiting_worker_fetch_and_their_completion_an_orchestration_fetch() {
        let store = Store::open(&db("activities")).await.unwrap();
        // The instance the activity belongs to, started and acknowledged.
        store.enqueue_for_orchestrator(start("a"), None).await.unwrap();
        let (_, token, _) = store
            .fetch_orchestration_item(LOCK, POLL, None)
            .await
            .unwrap()
            .unwrap();
        store
            .ack_orchestration_item(&token, 1, vec![], vec![], vec![], metadata(), vec![])
            .await
            .unwrap();
        let fetch = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .fetch_work_item(LOCK, POLL, None, &TagFilter::default())
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!fetch.is_finished(), "nothing queued yet: the fetch waits");
        store
            .enqueue_for_worker(WorkItem::ActivityExecute {
                instance: "a".to_string(),
                execution_id: 1,
                id: 7,
                name: "step".to_string(),
                input: "{}".to_string(),
                session_id: None,
                tag: None,
            })
            .await
            .unwrap();
        let (_, token, _) = tokio::time::timeout(PATIENCE, fetch)
            .await
            .expect("woken long before its poll timeout")
            .unwrap()
            .unwrap()
            .expect("the queued activity");

        let orchestration = {
            let store = store.clone();
            tokio::spawn(async move { store.fetch_orchestration_item(LOCK, POLL, None).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!orchestration.is_finished(), "nothing for the orchestration yet");
        store
            .ack_work_item(
                &token,
                Some(WorkItem::ActivityCompleted {
                    instance: "a".to_string(),
                    execution_id: 1,
                    id: 7,
                    result: "{}".to_string(),
                }),
            )
            .await
            .unwrap();
        let (item, _, _) = tokio::time::timeout(PATIENCE, orchestration)
            .await
            .expect("the completion woke it")
            .unwrap()
            .unwrap()
            .expect("the completion");
        assert_eq!(item.instance, "a");
    }

    #[tokio::test]
    async fn one_store_per_file_in_a_process() {
        let path = db("shared");
        let a = Store::open(&path).await.unwrap();
        let b = Store::open(&path.parent().unwrap().join(".").join("store.db"))
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = Store::open(&db("shared-other")).await.unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
    }
}
