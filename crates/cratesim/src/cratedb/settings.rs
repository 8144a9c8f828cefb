//! Cluster settings: the runtime settings CrateDB knows, their defaults, validation, the
//! transient and persistent levels, and the nested `sys.cluster.settings` object.
//!
//! The effective value of a setting is transient over persistent over default
//! (docs/cratedb-behaviour.md#cluster-settings). Values are stored as text, as CrateDB stores them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::model::Availability;
use super::sql::types::ColType;

/// Why a setting could not be set or reset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum SettingError {
    /// Unknown setting (SQLParseException, 4000).
    #[error("Setting '{0}' is not supported")]
    NotSupported(String),
    /// A static setting (UnsupportedFeatureException, 4004).
    #[error("Setting '{0}' cannot be set/reset at runtime")]
    Static(String),
    /// A bad value (SQLParseException, 4000).
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// One of the values (case-insensitive); rendered lowercase; `label` names it in errors.
    Enum(&'static [&'static str], &'static str),
    /// `graceful_stop.min_availability`: anything accepted, rendered as the parsed UPPERCASE value.
    Availability,
    Text,
    Bool,
    Int,
    Time,
}

struct Def {
    name: &'static str,
    default: &'static str,
    kind: Kind,
    dynamic: bool,
}

const fn def(name: &'static str, default: &'static str, kind: Kind) -> Def {
    Def {
        name,
        default,
        kind,
        dynamic: true,
    }
}

const ALLOCATION_ENABLE: &[&str] = &["all", "none", "primaries", "new_primaries"];
const REBALANCE_ENABLE: &[&str] = &["all", "none", "primaries", "replicas"];
const ALLOW_REBALANCE: &[&str] = &["always", "indices_primaries_active", "indices_all_active"];

pub(crate) const ENABLE: &str = "cluster.routing.allocation.enable";
pub(crate) const EXCLUDE_NAME: &str = "cluster.routing.allocation.exclude._name";
pub(crate) const EXCLUDE_ID: &str = "cluster.routing.allocation.exclude._id";
pub(crate) const MIN_AVAILABILITY: &str = "cluster.graceful_stop.min_availability";
pub(crate) const GRACEFUL_TIMEOUT: &str = "cluster.graceful_stop.timeout";
pub(crate) const GRACEFUL_FORCE: &str = "cluster.graceful_stop.force";
pub(crate) const CONCURRENT_RECOVERIES: &str = "cluster.routing.allocation.node_concurrent_recoveries";
pub(crate) const INITIAL_PRIMARIES: &str = "cluster.routing.allocation.node_initial_primaries_recoveries";

const DEFS: &[Def] = &[
    def(ENABLE, "all", Kind::Enum(ALLOCATION_ENABLE, "allocation.enable")),
    def(
        "cluster.routing.rebalance.enable",
        "all",
        Kind::Enum(REBALANCE_ENABLE, "rebalance.enable"),
    ),
    def(
        "cluster.routing.allocation.allow_rebalance",
        "indices_all_active",
        Kind::Enum(ALLOW_REBALANCE, "allow_rebalance"),
    ),
    def(
        "cluster.routing.allocation.cluster_concurrent_rebalance",
        "2",
        Kind::Int,
    ),
    def(CONCURRENT_RECOVERIES, "2", Kind::Int),
    def(INITIAL_PRIMARIES, "4", Kind::Int),
    def(EXCLUDE_NAME, "", Kind::Text),
    def(EXCLUDE_ID, "", Kind::Text),
    def("cluster.routing.allocation.exclude._ip", "", Kind::Text),
    def("cluster.routing.allocation.exclude._host", "", Kind::Text),
    def("cluster.routing.allocation.include._name", "", Kind::Text),
    def("cluster.routing.allocation.include._id", "", Kind::Text),
    def("cluster.routing.allocation.include._ip", "", Kind::Text),
    def("cluster.routing.allocation.include._host", "", Kind::Text),
    def("cluster.routing.allocation.require._name", "", Kind::Text),
    def("cluster.routing.allocation.require._id", "", Kind::Text),
    def("cluster.routing.allocation.require._ip", "", Kind::Text),
    def("cluster.routing.allocation.require._host", "", Kind::Text),
    def(
        "cluster.routing.allocation.disk.threshold_enabled",
        "true",
        Kind::Bool,
    ),
    def("cluster.routing.allocation.disk.watermark.low", "85%", Kind::Text),
    def(
        "cluster.routing.allocation.disk.watermark.high",
        "90%",
        Kind::Text,
    ),
    def(
        "cluster.routing.allocation.disk.watermark.flood_stage",
        "95%",
        Kind::Text,
    ),
    def("cluster.max_shards_per_node", "1000", Kind::Int),
    def(MIN_AVAILABILITY, "primaries", Kind::Availability),
    def(GRACEFUL_TIMEOUT, "2h", Kind::Time),
    def(GRACEFUL_FORCE, "false", Kind::Bool),
    def("indices.recovery.max_bytes_per_sec", "40mb", Kind::Text),
    def("stats.enabled", "true", Kind::Bool),
    def("stats.jobs_log_size", "10000", Kind::Int),
    def("stats.operations_log_size", "10000", Kind::Int),
    def("stats.service.interval", "24h", Kind::Time),
    Def {
        name: "gateway.expected_data_nodes",
        default: "-1",
        kind: Kind::Int,
        dynamic: false,
    },
    Def {
        name: "gateway.recover_after_data_nodes",
        default: "-1",
        kind: Kind::Int,
        dynamic: false,
    },
    Def {
        name: "gateway.expected_nodes",
        default: "-1",
        kind: Kind::Int,
        dynamic: false,
    },
    Def {
        name: "gateway.recover_after_nodes",
        default: "-1",
        kind: Kind::Int,
        dynamic: false,
    },
    Def {
        name: "gateway.recover_after_time",
        default: "5m",
        kind: Kind::Time,
        dynamic: false,
    },
];

/// Group settings that take any attribute key (`cluster.routing.allocation.exclude.zone`).
const GROUP_PREFIXES: &[&str] = &[
    "cluster.routing.allocation.exclude.",
    "cluster.routing.allocation.include.",
    "cluster.routing.allocation.require.",
];

fn lookup(name: &str) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.name == name)
}

fn is_group_member(name: &str) -> bool {
    GROUP_PREFIXES
        .iter()
        .any(|p| name.len() > p.len() && name.starts_with(p))
}

/// Parses a CrateDB time value: plain milliseconds or `<n>(ms|s|m|h|d)`.
pub(crate) fn parse_time(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<u64>() {
        return Some(Duration::from_millis(ms));
    }
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n = number.parse::<u64>().ok()?;
    let per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    // Too many milliseconds for a u64 is not a time value (the product would overflow).
    n.checked_mul(per_unit).map(Duration::from_millis)
}

/// A JSON value as the text CrateDB stores for a setting.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Checks `value` for `name`; returns the text to store.
fn validate(name: &str, value: &Value) -> Result<String, SettingError> {
    let text = as_text(value);
    if is_group_member(name) {
        return Ok(text);
    }
    let def = lookup(name).ok_or_else(|| SettingError::NotSupported(name.to_string()))?;
    if !def.dynamic {
        return Err(SettingError::Static(name.to_string()));
    }
    match def.kind {
        Kind::Enum(values, label) => {
            if values.iter().any(|v| v.eq_ignore_ascii_case(&text)) {
                Ok(text)
            } else {
                Err(SettingError::Invalid(format!(
                    "Illegal {label} value [{}]",
                    text.to_uppercase()
                )))
            }
        }
        Kind::Bool => match text.as_str() {
            "true" | "false" => Ok(text),
            _ => Err(SettingError::Invalid(format!(
                "Failed to parse value [{text}] as only [true] or [false] are allowed."
            ))),
        },
        Kind::Int => text.parse::<i64>().map(|_| text.clone()).map_err(|_| {
            SettingError::Invalid(format!("Failed to parse value [{text}] for setting [{name}]"))
        }),
        Kind::Time => parse_time(&text).map(|_| text.clone()).ok_or_else(|| {
            SettingError::Invalid(format!(
                "failed to parse setting [{name}] with value [{text}] as a time value: unit is missing or \
                 unrecognized"
            ))
        }),
        Kind::Availability | Kind::Text => Ok(text),
    }
}

/// Transient and persistent cluster settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Settings {
    transient: BTreeMap<String, String>,
    persistent: BTreeMap<String, String>,
}

impl Settings {
    /// `SET GLOBAL [TRANSIENT|PERSISTENT] name = value`, validated first.
    pub(crate) fn set(&mut self, name: &str, value: &Value, persistent: bool) -> Result<(), SettingError> {
        let text = validate(name, value)?;
        let level = if persistent {
            &mut self.persistent
        } else {
            &mut self.transient
        };
        level.insert(name.to_string(), text);
        Ok(())
    }

    /// Validates a whole `SET GLOBAL` before applying any of it.
    pub(crate) fn check(name: &str, value: &Value) -> Result<(), SettingError> {
        validate(name, value).map(|_| ())
    }

    /// `RESET GLOBAL name`: clears the setting, or every setting under the prefix, at both levels.
    pub(crate) fn reset(&mut self, name: &str) -> Result<(), SettingError> {
        let prefix = format!("{name}.");
        let known = lookup(name).is_some()
            || is_group_member(name)
            || DEFS.iter().any(|d| d.name.starts_with(&prefix))
            || GROUP_PREFIXES
                .iter()
                .any(|p| p.starts_with(&prefix) || *p == prefix);
        if !known {
            return Err(SettingError::NotSupported(name.to_string()));
        }
        if let Some(def) = lookup(name)
            && !def.dynamic
        {
            return Err(SettingError::Static(name.to_string()));
        }
        for level in [&mut self.transient, &mut self.persistent] {
            level.retain(|k, _| k != name && !k.starts_with(&prefix));
        }
        Ok(())
    }

    /// A full cluster restart: transient settings are not kept, persistent ones are.
    pub(crate) fn drop_transient(&mut self) {
        self.transient.clear();
    }

    /// Effective text: transient over persistent over default.
    pub(crate) fn get(&self, name: &str) -> String {
        self.transient
            .get(name)
            .or_else(|| self.persistent.get(name))
            .cloned()
            .or_else(|| lookup(name).map(|d| d.default.to_string()))
            .unwrap_or_default()
    }

    pub(crate) fn allocation_enable(&self) -> String {
        self.get(ENABLE).to_ascii_lowercase()
    }

    pub(crate) fn availability(&self) -> Availability {
        Availability::parse(&self.get(MIN_AVAILABILITY))
    }

    pub(crate) fn graceful_timeout(&self) -> Duration {
        parse_time(&self.get(GRACEFUL_TIMEOUT)).unwrap_or(Duration::from_secs(7200))
    }

    pub(crate) fn int(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    /// A comma-separated list setting, without empty entries.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }

    /// The two levels as the report shows them, keyed by dotted names.
    pub(crate) fn levels(&self) -> (Map<String, Value>, Map<String, Value>) {
        let to_map = |level: &BTreeMap<String, String>| {
            level
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        };
        (to_map(&self.transient), to_map(&self.persistent))
    }

    /// Persistent settings only (what `CREATE SNAPSHOT … ALL` saves).
    pub(crate) fn persistent(&self) -> BTreeMap<String, String> {
        self.persistent.clone()
    }

    /// Replaces every persistent setting with the snapshot's (restore of global state;
    /// CrateDB's `RestoreService` installs them with `Metadata.Builder.persistentSettings`), or
    /// with those of the snapshot's under `prefix` only; transient settings stay.
    pub(crate) fn restore_persistent(&mut self, saved: &BTreeMap<String, String>, prefix: Option<&str>) {
        self.persistent = saved
            .iter()
            .filter(|(k, _)| prefix.is_none_or(|p| k.starts_with(p)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }

    /// The nested effective object of `sys.cluster.settings`.
    pub(crate) fn nested(&self) -> Value {
        let mut root = Value::Object(Map::new());
        for def in DEFS {
            insert_path(&mut root, def.name, render(def, &self.get(def.name)));
        }
        root
    }
}

fn render(def: &Def, text: &str) -> Value {
    match def.kind {
        Kind::Enum(..) => Value::String(text.to_ascii_lowercase()),
        Kind::Availability => Value::String(
            match Availability::parse(text) {
                Availability::Full => "FULL",
                Availability::Primaries => "PRIMARIES",
                Availability::None => "NONE",
            }
            .to_string(),
        ),
        Kind::Bool => Value::Bool(text == "true"),
        Kind::Int => text.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
        Kind::Text | Kind::Time => Value::String(text.to_string()),
    }
}

fn insert_path(root: &mut Value, dotted: &str, leaf: Value) {
    let mut node = root;
    let parts: Vec<&str> = dotted.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let Value::Object(map) = node else { return };
        if i + 1 == parts.len() {
            map.insert((*part).to_string(), leaf);
            return;
        }
        node = map
            .entry((*part).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// The type tree of `sys.cluster.settings`, for col_types and unknown-column checks.
pub(crate) fn settings_type() -> ColType {
    let mut root = ColType::Object(Vec::new());
    for def in DEFS {
        let leaf = match def.kind {
            Kind::Bool => ColType::Boolean,
            Kind::Int => ColType::Integer,
            _ => ColType::Text,
        };
        root.insert_path(&def.name.split('.').collect::<Vec<_>>(), leaf);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn transient_wins_and_reset_clears_both_levels() {
        let mut s = Settings::default();
        s.set(ENABLE, &json!("primaries"), true).unwrap();
        s.set(ENABLE, &json!("none"), false).unwrap();
        assert_eq!(s.allocation_enable(), "none");
        s.reset("cluster.routing.allocation").unwrap();
        assert_eq!(s.allocation_enable(), "all");
        let (t, p) = s.levels();
        assert!(t.is_empty() && p.is_empty());
    }

    #[test]
    fn a_restore_replaces_persistent_settings_and_keeps_transient_ones() {
        let mut s = Settings::default();
        s.set(ENABLE, &json!("primaries"), true).unwrap();
        s.set(CONCURRENT_RECOVERIES, &json!(5), false).unwrap();
        let mut saved = BTreeMap::new();
        saved.insert(GRACEFUL_TIMEOUT.to_string(), "1h".to_string());
        saved.insert("crate.analysis.custom.analyzer.a".to_string(), "x".to_string());
        s.restore_persistent(&saved, None);
        let (transient, persistent) = s.levels();
        assert_eq!(persistent.len(), 2);
        assert!(!persistent.contains_key(ENABLE), "not in the snapshot: gone");
        assert_eq!(transient[CONCURRENT_RECOVERIES], json!("5"));
        s.restore_persistent(&saved, Some("crate.analysis.custom."));
        let (_, persistent) = s.levels();
        assert_eq!(
            persistent.keys().collect::<Vec<_>>(),
            ["crate.analysis.custom.analyzer.a"]
        );
    }

    #[test]
    fn validation_messages() {
        let mut s = Settings::default();
        assert_eq!(
            s.set(ENABLE, &json!("foo"), false).unwrap_err().to_string(),
            "Illegal allocation.enable value [FOO]"
        );
        assert_eq!(
            s.set("nope.x", &json!(1), false).unwrap_err().to_string(),
            "Setting 'nope.x' is not supported"
        );
        assert!(matches!(
            s.set("gateway.expected_data_nodes", &json!(3), false),
            Err(SettingError::Static(_))
        ));
        assert!(s.set(GRACEFUL_TIMEOUT, &json!("30m"), false).is_ok());
        assert!(s.set(GRACEFUL_TIMEOUT, &json!("30x"), false).is_err());
    }

    #[test]
    fn nested_rendering() {
        let mut s = Settings::default();
        s.set(MIN_AVAILABILITY, &json!("full"), false).unwrap();
        s.set(ENABLE, &json!("PRIMARIES"), false).unwrap();
        let n = s.nested();
        assert_eq!(n["cluster"]["graceful_stop"]["min_availability"], "FULL");
        assert_eq!(n["cluster"]["routing"]["allocation"]["enable"], "primaries");
        assert_eq!(n["cluster"]["routing"]["allocation"]["exclude"]["_name"], "");
        assert_eq!(n["cluster"]["graceful_stop"]["force"], false);
    }

    #[test]
    fn time_values() {
        assert_eq!(parse_time("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_time("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_time("x"), None);
        assert_eq!(
            parse_time("213503982334d"),
            Some(Duration::from_millis(213_503_982_334 * 86_400_000))
        );
        assert_eq!(parse_time("213503982335d"), None, "over u64::MAX milliseconds");
        assert_eq!(parse_time("18446744073709551615s"), None);
    }
}
