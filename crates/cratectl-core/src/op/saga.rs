//! The settings saga of an operation (ARCHITECTURE §1.3): every cluster setting an operation
//! changes is recorded before the change and put back afterwards, on success, failure, cancel
//! and crash recovery alike.
//!
//! CrateDB's SQL shows only the **effective** value of a setting (transient over persistent over
//! default, [`crate::readings`]), so the saga records effective values, and a restore puts the
//! effective value back:
//!
//! * A setting that was at its default is restored with `RESET GLOBAL`, which clears both the
//!   transient and the persistent level, exactly as before whichever level we wrote.
//! * A setting that was not at its default is set back with `SET GLOBAL TRANSIENT` and
//!   `SET GLOBAL PERSISTENT`. Its effective value is then the one recorded; which levels held it
//!   before cannot be known over SQL.
//!
//! While the restart runs, a change writes both levels (transient first, as the operator does)
//! and never uses `RESET`: between the two statements of a RESET-then-SET the default would be
//! effective, and for `cluster.routing.allocation.enable` that is `all`, which lets CrateDB
//! rebuild replicas of a node that is only restarting.
//!
//! Values are compared the way CrateDB renders them: case-insensitively (it stores
//! `min_availability` as `PRIMARIES` whatever case was set), with JSON `false`, `"false"`, `5`
//! and `"5"` equal to their text, and surrounding blanks ignored. Node filters
//! (`*.exclude.*`, `*.include.*`, `*.require.*`) match node names case-sensitively, so they are
//! compared exactly (after trimming).
//!
//! One setting is set-valued: `cluster.routing.allocation.exclude._name`, the nodes CrateDB
//! moves every shard away from. Others (people, the crate-operator's scale-down) may add to it
//! while an operation runs, so its prior value is not what is put back: the saga records the
//! names *we* add ([`Saga::excluded`]) before adding them, and a restore removes exactly those
//! from the list as it is then ([`exclusion_statements`]), so names others wrote during the
//! operation survive. An empty remainder is RESET; otherwise both levels are set to the
//! remaining names, sorted, joined with `,`.
//!
//! Record once, before the first change ([`record`], then [`Saga::add`] for settings a later
//! step touches): a setting recorded after our own change would save our value as "prior".
//! The workflow stores the [`Saga`] in its status, so crash recovery and `doctor` can restore it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::readings::{SettingsReading, TOUCHED_SETTINGS};
use crate::sql::{self, Literal, SettingLevel};

/// The setting a restart holds while a node is down.
pub const ALLOCATION_ENABLE: &str = "cluster.routing.allocation.enable";

/// Its value during a restart: only primaries are allocated, so CrateDB does not rebuild the
/// replicas of a node that is coming back.
pub const ALLOCATION_DURING_RESTART: &str = "primaries";

/// One recorded setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedSetting {
    /// The dotted name (`cluster.routing.allocation.enable`).
    pub name: String,
    /// The effective value before we changed it, as CrateDB rendered it; the setting's default
    /// when the reading did not include it; `null` when neither is known.
    pub prior: Value,
}

/// The set-valued setting whose entries the saga tracks one by one.
pub const ALLOCATION_EXCLUDE_NAME: &str = "cluster.routing.allocation.exclude._name";

/// The settings to put back, in the order they were recorded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Saga {
    pub saved: Vec<SavedSetting>,
    /// Node names we added to [`ALLOCATION_EXCLUDE_NAME`] (recorded before the write), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
}

impl Saga {
    /// Records `names` not recorded yet (an earlier record, made before our own change, wins).
    pub fn add(&mut self, reading: &SettingsReading, names: &[&str]) {
        for name in names {
            if self.prior(name).is_some() {
                continue;
            }
            let prior = match reading.effective.get(*name) {
                Some(value) if !value.is_null() => value.clone(),
                _ => default_of(name).map_or(Value::Null, |d| Value::String(d.to_string())),
            };
            self.saved.push(SavedSetting {
                name: (*name).to_string(),
                prior,
            });
        }
    }

    /// The recorded value of `name`.
    pub fn prior(&self, name: &str) -> Option<&Value> {
        self.saved.iter().find(|s| s.name == name).map(|s| &s.prior)
    }

    pub fn is_empty(&self) -> bool {
        self.saved.is_empty() && self.excluded.is_empty()
    }

    /// Records that we are about to add `names` to the exclusion list, which holds `before`
    /// now ([`exclusion_list`]). Names already excluded by someone else are not ours and are
    /// not recorded: we never remove an exclusion we did not write.
    pub fn record_exclusions(&mut self, before: &[String], names: &[String]) {
        for name in names {
            if !before.contains(name) && !self.excluded.contains(name) {
                self.excluded.push(name.clone());
            }
        }
        self.excluded.sort();
    }

    /// The saga without `names` in its exclusions (they were removed on purpose, e.g. a node
    /// that left for good and whose exclusion was lifted).
    pub fn forget_exclusions(&mut self, names: &[String]) {
        self.excluded.retain(|n| !names.contains(n));
    }
}

/// The node names in the exclusion list of `reading` (CrateDB renders it as one
/// comma-separated string; blanks and empty entries are ignored).
pub fn exclusion_list(reading: &SettingsReading) -> Vec<String> {
    let text = match reading.effective.get(ALLOCATION_EXCLUDE_NAME) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => list_text(items),
        _ => String::new(),
    };
    let mut names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The statements that change the exclusion list of `reading` by adding `add` and removing
/// `remove` (each name exactly; others' entries untouched): nothing when only adding and the
/// list would not change, `RESET` when it would be empty, else both levels set to the names
/// sorted and joined with `,`. Removing always writes (see the comment inside).
pub fn exclusion_statements(reading: &SettingsReading, add: &[String], remove: &[String]) -> Vec<String> {
    let before = exclusion_list(reading);
    let mut after: Vec<String> = before
        .iter()
        .filter(|n| !remove.contains(n))
        .cloned()
        .chain(add.iter().cloned())
        .collect();
    after.sort();
    after.dedup();
    // Removing names always writes, even when the effective list (all `sys.cluster` shows:
    // transient over persistent) lacks them: another actor may have rewritten one level only
    // (the crate-operator's `reset_allocation` writes TRANSIENT), leaving our names at the
    // other, where they come back after a full-cluster restart drops the transient level.
    if after == before && remove.is_empty() {
        Vec::new()
    } else if after.is_empty() {
        vec![sql::reset_global(ALLOCATION_EXCLUDE_NAME)]
    } else {
        set_statements(ALLOCATION_EXCLUDE_NAME, &Literal::text(after.join(",")))
    }
}

/// Records the effective values of `names` from `reading`, before any change. A name the reading
/// lacks (or reads as null) is recorded as its [`TOUCHED_SETTINGS`] default; one without a
/// known default as `null`, which [`restore_statements`] RESETs and [`is_restored`] refuses to
/// vouch for.
pub fn record(reading: &SettingsReading, names: &[&str]) -> Saga {
    let mut saga = Saga::default();
    saga.add(reading, names);
    saga
}

/// The statements that set `name` to `value` during the restart: `SET GLOBAL TRANSIENT`, then
/// `SET GLOBAL PERSISTENT`, never `RESET` (see the module documentation).
pub fn set_statements(name: &str, value: &Literal) -> Vec<String> {
    vec![
        sql::set_global(SettingLevel::Transient, name, value),
        sql::set_global(SettingLevel::Persistent, name, value),
    ]
}

/// The statements that put every recorded scalar setting back, last recorded first (the
/// exclusions we added are removed by [`exclusion_statements`] against a fresh reading): `RESET GLOBAL` for
/// a setting that was at its default (or whose prior value is unknown), else `SET GLOBAL
/// TRANSIENT` and `PERSISTENT` to the prior value.
pub fn restore_statements(saga: &Saga) -> Vec<String> {
    let mut statements = Vec::new();
    for saved in saga.saved.iter().rev() {
        let name = saved.name.as_str();
        let at_default =
            default_of(name).is_some_and(|d| same(name, &saved.prior, &Value::String(d.to_string())));
        match prior_literal(&saved.prior) {
            Some(literal) if !at_default => statements.extend(set_statements(name, &literal)),
            _ => statements.push(sql::reset_global(name)),
        }
    }
    statements
}

/// Ok when every recorded setting's effective value in `now` equals the recorded one (compared
/// as in the module documentation); otherwise one line per difference, `<name> is "X", expected
/// "Y"`. A setting missing from `now`, or recorded as unknown, is a difference: nothing is
/// assumed restored.
pub fn is_restored(saga: &Saga, now: &SettingsReading) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let left: Vec<String> = exclusion_list(now)
        .into_iter()
        .filter(|n| saga.excluded.contains(n))
        .collect();
    if !left.is_empty() {
        problems.push(format!(
            "{ALLOCATION_EXCLUDE_NAME} still excludes {}, which we added",
            left.join(", ")
        ));
    }
    for saved in &saga.saved {
        let name = saved.name.as_str();
        let current = now.effective.get(name).filter(|v| !v.is_null());
        match current {
            _ if saved.prior.is_null() => problems.push(format!(
                "{name} is {}, and its value before the change is unknown, so it cannot be checked",
                current.map_or_else(|| "not read".to_string(), render)
            )),
            None => problems.push(format!("{name} was not read, expected {}", render(&saved.prior))),
            Some(value) if !same(name, value, &saved.prior) => problems.push(format!(
                "{name} is {}, expected {}",
                render(value),
                render(&saved.prior)
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The default of a setting operations touch.
fn default_of(name: &str) -> Option<&'static str> {
    TOUCHED_SETTINGS
        .iter()
        .find(|(touched, _)| *touched == name)
        .map(|(_, default)| *default)
}

/// The literal that sets a recorded value again; `None` for null and objects (no setting a
/// restart touches has such a value). A list is written comma-separated, as CrateDB reads lists.
fn prior_literal(prior: &Value) -> Option<Literal> {
    match prior {
        Value::Array(items) => Some(Literal::text(list_text(items))),
        other => Literal::from_json(other),
    }
}

fn list_text(items: &[Value]) -> String {
    items
        .iter()
        .map(|v| match v {
            Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether two values of setting `name` are the same setting value (module documentation).
fn same(name: &str, a: &Value, b: &Value) -> bool {
    match (normalise(name, a), normalise(name, b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn normalise(name: &str, value: &Value) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::String(s) => s.trim().to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => list_text(items),
        Value::Object(_) => value.to_string(),
    };
    let node_filter = [".exclude.", ".include.", ".require."]
        .iter()
        .any(|part| name.contains(part));
    Some(if node_filter { text } else { text.to_lowercase() })
}

/// `"primaries"` for text, `false` / `5` otherwise.
fn render(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn excluding(list: &str) -> SettingsReading {
        let mut reading = SettingsReading::default();
        reading.effective.insert(
            ALLOCATION_EXCLUDE_NAME.to_string(),
            Value::String(list.to_string()),
        );
        reading
    }

    fn name_list(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn only_the_exclusions_we_added_are_recorded_and_removed() {
        // Someone excluded node-9 before us.
        let before = excluding("node-9");
        let mut saga = Saga::default();
        saga.record_exclusions(&exclusion_list(&before), &name_list(&["node-2", "node-9"]));
        assert_eq!(saga.excluded, name_list(&["node-2"]), "node-9 was not ours");
        assert_eq!(
            exclusion_statements(&before, &name_list(&["node-2"]), &[]),
            vec![
                "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'node-2,node-9'",
                "SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'node-2,node-9'",
            ]
        );
        // While we ran, someone else added node-5: it survives our restore.
        let during = excluding("node-2, node-5,node-9");
        assert!(is_restored(&saga, &during).is_err());
        assert_eq!(
            exclusion_statements(&during, &[], &saga.excluded),
            vec![
                "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'node-5,node-9'",
                "SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'node-5,node-9'",
            ]
        );
        assert_eq!(is_restored(&saga, &excluding("node-5,node-9")), Ok(()));
    }

    #[test]
    fn an_empty_remainder_is_reset_and_no_change_writes_nothing() {
        let ours = name_list(&["node-2"]);
        assert_eq!(
            exclusion_statements(&excluding("node-2"), &[], &ours),
            vec!["RESET GLOBAL \"cluster.routing.allocation.exclude._name\""]
        );
        assert!(exclusion_statements(&excluding("node-2"), &ours, &[]).is_empty());
        assert!(exclusion_statements(&excluding("node-1"), &[], &[]).is_empty());
        // Our names absent from the effective list may still be at the other level: removing
        // writes both levels anyway.
        assert_eq!(
            exclusion_statements(&excluding(""), &[], &ours),
            vec!["RESET GLOBAL \"cluster.routing.allocation.exclude._name\""]
        );
        assert_eq!(
            exclusion_statements(&excluding("other"), &[], &ours),
            vec![
                "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'other'",
                "SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'other'"
            ]
        );
    }
    use serde_json::json;
    use std::collections::BTreeMap;

    const EXCLUDE: &str = "cluster.routing.allocation.exclude._name";
    const MIN_AVAILABILITY: &str = "cluster.graceful_stop.min_availability";
    const FORCE: &str = "cluster.graceful_stop.force";
    const TIMEOUT: &str = "cluster.graceful_stop.timeout";

    fn reading(values: &[(&str, Value)]) -> SettingsReading {
        SettingsReading {
            effective: values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        }
    }

    #[test]
    fn records_effective_values_and_defaults_for_the_missing() {
        let r = reading(&[(ALLOCATION_ENABLE, json!("new_primaries")), (FORCE, Value::Null)]);
        let saga = record(
            &r,
            &[
                ALLOCATION_ENABLE,
                FORCE,
                EXCLUDE,
                "cluster.unknown",
                ALLOCATION_ENABLE,
            ],
        );
        assert_eq!(
            saga.saved,
            [
                SavedSetting {
                    name: ALLOCATION_ENABLE.into(),
                    prior: json!("new_primaries")
                },
                SavedSetting {
                    name: FORCE.into(),
                    prior: json!("false")
                },
                SavedSetting {
                    name: EXCLUDE.into(),
                    prior: json!("")
                },
                SavedSetting {
                    name: "cluster.unknown".into(),
                    prior: Value::Null
                },
            ]
        );
        let json = serde_json::to_value(&saga).unwrap();
        assert_eq!(
            json["saved"][0],
            json!({"name": ALLOCATION_ENABLE, "prior": "new_primaries"})
        );
    }

    #[test]
    fn a_later_add_does_not_overwrite_the_prior_value() {
        let mut saga = record(
            &reading(&[(ALLOCATION_ENABLE, json!("all"))]),
            &[ALLOCATION_ENABLE],
        );
        let during = reading(&[(ALLOCATION_ENABLE, json!("primaries")), (EXCLUDE, json!("n1"))]);
        saga.add(&during, &[ALLOCATION_ENABLE, EXCLUDE]);
        assert_eq!(saga.prior(ALLOCATION_ENABLE), Some(&json!("all")));
        assert_eq!(saga.prior(EXCLUDE), Some(&json!("n1")));
        assert!(!saga.is_empty());
    }

    #[test]
    fn changes_write_both_levels_transient_first() {
        assert_eq!(
            set_statements(ALLOCATION_ENABLE, &Literal::text(ALLOCATION_DURING_RESTART)),
            [
                "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
                "SET GLOBAL PERSISTENT \"cluster.routing.allocation.enable\" = 'primaries'",
            ]
        );
    }

    #[test]
    fn defaults_are_reset_in_any_rendering() {
        let saga = record(
            &reading(&[
                (ALLOCATION_ENABLE, json!("ALL")),
                (MIN_AVAILABILITY, json!("primaries")),
                (FORCE, json!(false)),
                (EXCLUDE, json!(" ")),
            ]),
            &[ALLOCATION_ENABLE, MIN_AVAILABILITY, FORCE, EXCLUDE, TIMEOUT],
        );
        assert_eq!(
            restore_statements(&saga),
            [
                "RESET GLOBAL \"cluster.graceful_stop.timeout\"",
                "RESET GLOBAL \"cluster.routing.allocation.exclude._name\"",
                "RESET GLOBAL \"cluster.graceful_stop.force\"",
                "RESET GLOBAL \"cluster.graceful_stop.min_availability\"",
                "RESET GLOBAL \"cluster.routing.allocation.enable\"",
            ]
        );
    }

    #[test]
    fn other_values_are_set_back_with_one_quoting() {
        let saga = record(
            &reading(&[
                (ALLOCATION_ENABLE, json!("none")),
                (FORCE, json!(true)),
                (EXCLUDE, json!("o'neil")),
                (
                    "cluster.routing.allocation.cluster_concurrent_rebalance",
                    json!(8),
                ),
            ]),
            &[
                ALLOCATION_ENABLE,
                FORCE,
                EXCLUDE,
                "cluster.routing.allocation.cluster_concurrent_rebalance",
            ],
        );
        assert_eq!(
            restore_statements(&saga),
            [
                "SET GLOBAL TRANSIENT \"cluster.routing.allocation.cluster_concurrent_rebalance\" = 8",
                "SET GLOBAL PERSISTENT \"cluster.routing.allocation.cluster_concurrent_rebalance\" = 8",
                "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'o''neil'",
                "SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'o''neil'",
                "SET GLOBAL TRANSIENT \"cluster.graceful_stop.force\" = true",
                "SET GLOBAL PERSISTENT \"cluster.graceful_stop.force\" = true",
                "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'none'",
                "SET GLOBAL PERSISTENT \"cluster.routing.allocation.enable\" = 'none'",
            ]
        );
    }

    #[test]
    fn unknown_priors_are_reset_but_never_vouched_for() {
        let saga = record(&SettingsReading::default(), &["cluster.unknown"]);
        assert_eq!(restore_statements(&saga), ["RESET GLOBAL \"cluster.unknown\""]);
        let now = reading(&[("cluster.unknown", json!("x"))]);
        assert_eq!(
            is_restored(&saga, &now),
            Err(vec![
                "cluster.unknown is \"x\", and its value before the change is unknown, so it cannot be checked"
                    .to_string()
            ])
        );
    }

    #[test]
    fn restored_compares_as_crate_renders() {
        let saga = record(
            &reading(&[
                (ALLOCATION_ENABLE, json!("all")),
                (MIN_AVAILABILITY, json!("primaries")),
                (FORCE, json!("false")),
                (EXCLUDE, json!("Data-0")),
            ]),
            &[ALLOCATION_ENABLE, MIN_AVAILABILITY, FORCE, EXCLUDE],
        );
        let now = reading(&[
            (ALLOCATION_ENABLE, json!("ALL")),
            (MIN_AVAILABILITY, json!("PRIMARIES")),
            (FORCE, json!(false)),
            (EXCLUDE, json!("Data-0")),
        ]);
        assert_eq!(is_restored(&saga, &now), Ok(()));

        let now = reading(&[
            (ALLOCATION_ENABLE, json!("primaries")),
            (MIN_AVAILABILITY, json!("PRIMARIES")),
            (FORCE, json!(true)),
            (EXCLUDE, json!("data-0")),
        ]);
        assert_eq!(
            is_restored(&saga, &now),
            Err(vec![
                "cluster.routing.allocation.enable is \"primaries\", expected \"all\"".to_string(),
                "cluster.graceful_stop.force is true, expected \"false\"".to_string(),
                "cluster.routing.allocation.exclude._name is \"data-0\", expected \"Data-0\"".to_string(),
            ])
        );
        let missing = reading(&[]);
        let problems = is_restored(&saga, &missing).unwrap_err();
        assert_eq!(problems.len(), 4);
        assert_eq!(
            problems[0],
            "cluster.routing.allocation.enable was not read, expected \"all\""
        );
    }

    /// CrateDB's settings as far as a restart can tell: two levels over the defaults, and the
    /// effective value rendered as CrateDB renders it.
    #[derive(Clone, Debug, Default)]
    struct Model {
        transient: BTreeMap<String, Value>,
        persistent: BTreeMap<String, Value>,
    }

    impl Model {
        fn default_value(name: &str) -> Value {
            match default_of(name) {
                Some("false") => json!(false),
                Some(d) => json!(d),
                None => Value::Null,
            }
        }

        fn effective(&self, name: &str) -> Value {
            self.transient
                .get(name)
                .or_else(|| self.persistent.get(name))
                .cloned()
                .unwrap_or_else(|| Model::default_value(name))
        }

        fn reading(&self) -> SettingsReading {
            SettingsReading {
                effective: TOUCHED_SETTINGS
                    .iter()
                    .map(|(name, _)| (name.to_string(), self.effective(name)))
                    .collect(),
            }
        }

        /// CrateDB's rendering of a value set with a literal.
        fn render(name: &str, literal: Value) -> Value {
            match (name, literal) {
                (ALLOCATION_ENABLE, Value::String(s)) => json!(s.to_lowercase()),
                (MIN_AVAILABILITY, Value::String(s)) => json!(s.to_uppercase()),
                (FORCE, Value::String(s)) if s.eq_ignore_ascii_case("true") => json!(true),
                (FORCE, Value::String(s)) if s.eq_ignore_ascii_case("false") => json!(false),
                (_, value) => value,
            }
        }

        fn apply(&mut self, statement: &str) {
            if let Some(rest) = statement.strip_prefix("RESET GLOBAL ") {
                let (name, rest) = ident(rest);
                assert!(rest.is_empty(), "{statement}");
                self.transient.remove(&name);
                self.persistent.remove(&name);
                return;
            }
            let (level, rest) = if let Some(rest) = statement.strip_prefix("SET GLOBAL TRANSIENT ") {
                (&mut self.transient, rest)
            } else if let Some(rest) = statement.strip_prefix("SET GLOBAL PERSISTENT ") {
                (&mut self.persistent, rest)
            } else {
                panic!("unexpected statement {statement}");
            };
            let (name, rest) = ident(rest);
            let literal = rest.strip_prefix(" = ").unwrap_or_else(|| panic!("{statement}"));
            let value = literal_value(literal);
            level.insert(name.clone(), Model::render(&name, value));
        }
    }

    /// `"a""b" rest` → (`a"b`, ` rest`).
    fn ident(text: &str) -> (String, &str) {
        let body = text.strip_prefix('"').unwrap();
        let mut out = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if chars.peek().map(|(_, c)| *c) == Some('"') {
                    chars.next();
                    out.push('"');
                } else {
                    return (out, &body[i + 1..]);
                }
            } else {
                out.push(c);
            }
        }
        panic!("unterminated identifier in {text}");
    }

    fn literal_value(text: &str) -> Value {
        if let Some(body) = text.strip_prefix('\'') {
            let body = body.strip_suffix('\'').unwrap();
            assert!(
                !body.replace("''", "").contains('\''),
                "unescaped quote in {text}"
            );
            return json!(body.replace("''", "'"));
        }
        serde_json::from_str(text).unwrap()
    }

    fn value_for(name: &'static str) -> BoxedStrategy<Value> {
        let pool: Vec<Value> = match name {
            ALLOCATION_ENABLE => vec![
                json!("all"),
                json!("ALL"),
                json!("primaries"),
                json!("none"),
                json!("new_primaries"),
            ],
            EXCLUDE => vec![json!(""), json!("data-hot-0"), json!("Data-Hot-0"), json!("a,b")],
            MIN_AVAILABILITY => vec![
                json!("PRIMARIES"),
                json!("primaries"),
                json!("FULL"),
                json!("none"),
            ],
            TIMEOUT => vec![json!("2h"), json!("30m"), json!("7200s")],
            FORCE => vec![json!(true), json!(false)],
            _ => vec![json!("x")],
        };
        prop_oneof![
            3 => prop::sample::select(pool),
            1 => "[a-zA-Z' \"-]{0,8}".prop_map(Value::String),
        ]
        .boxed()
    }

    fn level() -> impl Strategy<Value = BTreeMap<String, Value>> {
        let per_setting: Vec<_> = TOUCHED_SETTINGS
            .iter()
            .map(|(name, _)| prop::option::of(value_for(name)).prop_map(move |v| (*name, v)))
            .collect();
        per_setting.prop_map(|pairs| {
            pairs
                .into_iter()
                .filter_map(|(name, v)| v.map(|v| (name.to_string(), Model::render(name, v))))
                .collect()
        })
    }

    fn names() -> impl Strategy<Value = Vec<&'static str>> {
        prop::sample::subsequence(
            TOUCHED_SETTINGS.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            0..=5,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Record, change anything recorded (allocation to `primaries` first), restore: every
        /// recorded setting has its prior effective value again, `is_restored` agrees, and
        /// nothing else moved.
        #[test]
        fn restore_undoes_every_change(
            transient in level(),
            persistent in level(),
            recorded in names(),
            drop_defaults in any::<bool>(),
            changes in prop::collection::vec((0usize..5, value_for(EXCLUDE), value_for(ALLOCATION_ENABLE)), 0..6),
        ) {
            let mut model = Model { transient, persistent };
            let before = model.reading();
            let mut seen = before.clone();
            if drop_defaults {
                // A reading that lacks a setting at its default records the default.
                seen.effective.retain(|name, value| !same(name, value, &Model::default_value(name)));
            }
            let saga = record(&seen, &recorded);

            if recorded.contains(&ALLOCATION_ENABLE) {
                for statement in set_statements(ALLOCATION_ENABLE, &Literal::text(ALLOCATION_DURING_RESTART)) {
                    model.apply(&statement);
                }
            }
            for (index, text, other) in changes {
                let name = TOUCHED_SETTINGS[index].0;
                if !recorded.contains(&name) {
                    continue;
                }
                let value = if name == EXCLUDE { text } else { other };
                if let Some(literal) = Literal::from_json(&value) {
                    for statement in set_statements(name, &literal) {
                        model.apply(&statement);
                    }
                }
            }

            for statement in restore_statements(&saga) {
                model.apply(&statement);
            }
            let after = model.reading();
            for (name, _) in TOUCHED_SETTINGS {
                let (was, is) = (&before.effective[*name], &after.effective[*name]);
                prop_assert!(same(name, was, is), "{}: {} then {}", name, was, is);
            }
            prop_assert_eq!(is_restored(&saga, &after), Ok(()));
        }
    }
}
