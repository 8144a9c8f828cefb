//! The object store: every object as JSON, one global resourceVersion counter, an event log
//! with a compaction floor, and a broadcast channel that watches subscribe to.
//!
//! resourceVersions are decimal strings of one global counter, as clients treat them as opaque
//! and compare only for equality. Every write bumps the counter and stamps the object.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::status::ApiError;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches replay and stream it.
#[derive(Clone, Debug)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    /// The resource's store key (its plural).
    pub resource: &'static str,
    pub namespace: String,
    pub name: String,
    /// The object after the change (for `Deleted`, its last state with the new rv).
    pub object: Value,
    /// The object before the change (`None` for `Added`), so a watch with selectors can tell
    /// "started matching" (ADDED) and "stopped matching" (DELETED) from MODIFIED, as the API
    /// server does.
    pub previous: Option<Value>,
}

/// How many events the log keeps before compacting; older watches get 410 Gone.
const LOG_CAPACITY: usize = 10_000;

/// The objects and their history.
pub struct Store {
    objects: BTreeMap<(&'static str, String, String), Value>,
    rv: u64,
    log: VecDeque<Event>,
    /// Events with an rv at or below this are no longer in the log.
    floor: u64,
    uid_counter: u64,
    events: broadcast::Sender<Event>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    pub fn new() -> Store {
        let (events, _) = broadcast::channel(4096);
        Store {
            objects: BTreeMap::new(),
            rv: 1,
            log: VecDeque::new(),
            floor: 1,
            uid_counter: 0,
            events,
        }
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch may start from.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Subscribe to future events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Events after `rv` still in the log, oldest first.
    pub fn events_since(&self, rv: u64) -> Vec<Event> {
        self.log.iter().filter(|e| e.rv > rv).cloned().collect()
    }

    /// Wakes everything subscribed (the controllers) without changing any object; watches ignore
    /// it (it names no resource).
    pub fn touch(&self) {
        let event = Event {
            rv: self.rv,
            kind: EventType::Modified,
            resource: "",
            namespace: String::new(),
            name: String::new(),
            object: Value::Null,
            previous: None,
        };
        let _ = self.events.send(event);
    }

    /// Forget the log up to now: watches from an older rv get 410 Gone (a fault knob).
    pub fn compact(&mut self) {
        self.log.clear();
        self.floor = self.rv;
    }

    /// A fresh UID, unique within this simulator.
    pub fn new_uid(&mut self) -> String {
        self.uid_counter += 1;
        let n = self.uid_counter;
        // Shaped like a v4 UUID, deterministic so test runs are reproducible.
        let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            mixed >> 32,
            (mixed >> 16) & 0xffff,
            mixed & 0xfff,
            (mixed >> 44) & 0xfff,
            n
        )
    }

    pub fn get(&self, resource: &'static str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(resource, namespace.to_string(), name.to_string()))
    }

    /// All objects of a resource, in one namespace or (with `None`) all, by namespace then name.
    pub fn list(&self, resource: &'static str, namespace: Option<&str>) -> Vec<&Value> {
        self.objects
            .range((resource, String::new(), String::new())..)
            .take_while(|((r, _, _), _)| *r == resource)
            .filter(|((_, ns, _), _)| namespace.is_none_or(|want| want == ns))
            .map(|(_, v)| v)
            .collect()
    }

    fn record(
        &mut self,
        kind: EventType,
        resource: &'static str,
        namespace: &str,
        name: &str,
        object: Value,
        previous: Option<Value>,
    ) {
        let event = Event {
            rv: self.rv,
            kind,
            resource,
            namespace: namespace.to_string(),
            name: name.to_string(),
            object,
            previous,
        };
        if self.log.len() == LOG_CAPACITY
            && let Some(old) = self.log.pop_front()
        {
            self.floor = old.rv;
        }
        self.log.push_back(event.clone());
        // No receiver is fine: nobody is watching.
        let _ = self.events.send(event);
    }

    /// Creates an object; fills uid, resourceVersion, creationTimestamp and generation.
    pub fn create(
        &mut self,
        resource: &'static str,
        qualified: &str,
        namespace: &str,
        mut object: Value,
        now: &str,
    ) -> Result<Value, ApiError> {
        let name = object_name(&object).ok_or_else(|| {
            ApiError::invalid(qualified, "", "metadata.name: Required value: name is required")
        })?;
        let key = (resource, namespace.to_string(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(qualified, &name));
        }
        self.rv += 1;
        let uid = self.new_uid();
        let meta = metadata_mut(&mut object);
        meta.insert("uid".into(), json!(uid));
        meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        meta.entry("creationTimestamp").or_insert(json!(now));
        meta.insert("generation".into(), json!(1));
        if !namespace.is_empty() {
            meta.insert("namespace".into(), json!(namespace));
        }
        self.objects.insert(key, object.clone());
        self.record(EventType::Added, resource, namespace, &name, object.clone(), None);
        Ok(object)
    }

    /// Replaces an object. A `metadata.resourceVersion` in the new object that differs from the
    /// stored one is a 409 Conflict. `generation` grows when `spec` changes.
    pub fn replace(
        &mut self,
        resource: &'static str,
        qualified: &str,
        namespace: &str,
        name: &str,
        mut object: Value,
    ) -> Result<Value, ApiError> {
        let key = (resource, namespace.to_string(), name.to_string());
        let Some(current) = self.objects.get(&key) else {
            return Err(ApiError::not_found(qualified, name));
        };
        if let Some(rv) = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && Some(rv)
                != current
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
        {
            return Err(ApiError::conflict(qualified, name));
        }
        let generation = current
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let spec_changed = current.get("spec") != object.get("spec");
        let keep: Vec<(String, Value)> = ["uid", "creationTimestamp", "namespace", "name"]
            .iter()
            .filter_map(|k| {
                current
                    .pointer(&format!("/metadata/{k}"))
                    .map(|v| (k.to_string(), v.clone()))
            })
            .collect();
        self.rv += 1;
        let meta = metadata_mut(&mut object);
        for (k, v) in keep {
            meta.insert(k, v);
        }
        meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        meta.insert(
            "generation".into(),
            json!(if spec_changed { generation + 1 } else { generation }),
        );
        let previous = self.objects.insert(key, object.clone());
        self.record(
            EventType::Modified,
            resource,
            namespace,
            name,
            object.clone(),
            previous,
        );
        Ok(object)
    }

    /// Removes an object now (the caller handles graceful deletion).
    pub fn remove(
        &mut self,
        resource: &'static str,
        qualified: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let key = (resource, namespace.to_string(), name.to_string());
        let Some(previous) = self.objects.remove(&key) else {
            return Err(ApiError::not_found(qualified, name));
        };
        self.rv += 1;
        let mut object = previous.clone();
        metadata_mut(&mut object).insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.record(
            EventType::Deleted,
            resource,
            namespace,
            name,
            object.clone(),
            Some(previous),
        );
        Ok(object)
    }
}

/// Checks DeleteOptions' `preconditions` (`uid`, `resourceVersion`) against the stored object,
/// as the API server does right before it deletes (a plain DELETE, or the delete an eviction
/// ends in): a precondition that does not hold is a 409 Conflict, and nothing is deleted.
pub fn check_preconditions(
    qualified: &str,
    name: &str,
    current: &Value,
    options: &Value,
) -> Result<(), ApiError> {
    let meta = |field: &str| {
        current
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
    };
    if let Some(uid) = options.pointer("/preconditions/uid").and_then(Value::as_str)
        && meta("uid") != Some(uid)
    {
        return Err(ApiError::precondition_failed(
            qualified,
            name,
            &format!(
                "UID in precondition: {uid}, UID in object meta: {}",
                meta("uid").unwrap_or("")
            ),
        ));
    }
    if let Some(rv) = options
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        && meta("resourceVersion") != Some(rv)
    {
        return Err(ApiError::precondition_failed(
            qualified,
            name,
            &format!("ResourceVersion in precondition: {rv}"),
        ));
    }
    Ok(())
}

/// `metadata.name`, if the object has one.
pub fn object_name(object: &Value) -> Option<String> {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// `metadata` as a mutable map, created if missing.
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    as_map(
        as_map(object)
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new())),
    )
}

/// `value` as a map, replacing it with an empty one if it is not an object.
pub fn as_map(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("the value was just made an object"),
    }
}
