//! The replica guard of a scale-down: may the cluster go down to `n` data nodes without a table
//! or partition losing the replicas it is configured to have?
//!
//! `number_of_replicas` (as `information_schema.tables` and `table_partitions` show it, TEXT) is
//! either a fixed count `n` or an auto-expanding range `min-max` / `min-all`
//! (`io/crate/metadata/settings/NumberOfReplicas.java`, `AutoExpandReplicas.parse`: a range
//! always has a `-`). What each needs:
//!
//! * a fixed count `n` keeps `n` replicas wherever they can go, and a node holds at most one copy
//!   of a shard, so it needs `n + 1` data nodes;
//! * a range shrinks with the data nodes the allocation filters allow (CrateDB ≥ 4.4,
//!   docs/cratedb-behaviour.md#replica-counts), so it needs only `min + 1`.
//!
//! The crate-operator's guard (`scale.py` `parse_replicas`, `deallocate_nodes`) keeps the text
//! before the first `-`, reads `all` as infinite, ignores partitions' own settings and retries
//! for four hours; here every offending table and partition is named, with its setting and the
//! data nodes it needs, an unreadable value is an offender rather than a number, and the caller
//! refuses at plan time.

use std::fmt;

/// A `number_of_replicas` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replicas {
    /// A fixed count.
    Fixed(u32),
    /// An auto-expanding range `min-max` (`max` `None`: `all`).
    Range { min: u32, max: Option<u32> },
}

impl Replicas {
    /// Parses CrateDB's text (`"1"`, `"0-1"`, `"0-all"`); blanks around parts are allowed.
    pub fn parse(text: &str) -> Result<Replicas, String> {
        let text = text.trim();
        let number = |part: &str| {
            part.trim()
                .parse::<u32>()
                .map_err(|_| format!("{text:?} is not a replica count (n, min-max or min-all)"))
        };
        match text.split_once('-') {
            None => number(text).map(Replicas::Fixed),
            Some((min, max)) => {
                let min = number(min)?;
                let max = match max.trim() {
                    "all" => None,
                    other => Some(number(other)?),
                };
                if max.is_some_and(|max| max < min) {
                    return Err(format!("{text:?}: the upper bound is below the lower one"));
                }
                Ok(Replicas::Range { min, max })
            }
        }
    }

    /// The data nodes a table with this setting needs to keep its replicas (module docs).
    pub fn data_nodes_needed(self) -> u64 {
        match self {
            Replicas::Fixed(n) | Replicas::Range { min: n, .. } => u64::from(n) + 1,
        }
    }
}

/// A table or one partition of it, with its `number_of_replicas` as CrateDB shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableReplicas {
    pub schema: String,
    pub table: String,
    /// The partition's ident (`information_schema.table_partitions.partition_ident`), `None` for
    /// the table itself.
    pub partition: Option<String>,
    pub number_of_replicas: String,
}

/// Why one table or partition stops a scale-down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offender {
    pub what: TableReplicas,
    /// The data nodes it needs; `None` when its setting could not be read.
    pub needs: Option<u64>,
    /// The parse error, when the setting could not be read.
    pub unreadable: Option<String>,
}

impl fmt::Display for Offender {
    /// `doc.events (number_of_replicas "1") needs 2 data nodes`, `doc.metrics partition 04732cpp…
    /// ("1") needs 2 data nodes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.what;
        write!(f, "{}.{}", w.schema, w.table)?;
        match &w.partition {
            Some(ident) => write!(f, " partition {ident} (\"{}\")", w.number_of_replicas)?,
            None => write!(f, " (number_of_replicas \"{}\")", w.number_of_replicas)?,
        }
        match (self.needs, &self.unreadable) {
            (Some(n), _) => write!(f, " needs {n} data nodes"),
            (None, Some(why)) => write!(f, " cannot be checked: {why}"),
            (None, None) => Ok(()),
        }
    }
}

/// Every table and partition that would keep fewer replicas than configured with `data_nodes`
/// data nodes left, in the order given; empty: the scale-down may go on.
pub fn guard(tables: &[TableReplicas], data_nodes: u64) -> Vec<Offender> {
    tables
        .iter()
        .filter_map(|t| match Replicas::parse(&t.number_of_replicas) {
            Ok(replicas) if replicas.data_nodes_needed() <= data_nodes => None,
            Ok(replicas) => Some(Offender {
                what: t.clone(),
                needs: Some(replicas.data_nodes_needed()),
                unreadable: None,
            }),
            Err(why) => Some(Offender {
                what: t.clone(),
                needs: None,
                unreadable: Some(why),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(name: &str, replicas: &str) -> TableReplicas {
        TableReplicas {
            schema: "doc".into(),
            table: name.into(),
            partition: None,
            number_of_replicas: replicas.into(),
        }
    }

    #[test]
    fn parses_what_crate_db_shows() {
        assert_eq!(Replicas::parse("0"), Ok(Replicas::Fixed(0)));
        assert_eq!(Replicas::parse(" 5 "), Ok(Replicas::Fixed(5)));
        assert_eq!(
            Replicas::parse("0-1"),
            Ok(Replicas::Range { min: 0, max: Some(1) })
        );
        assert_eq!(
            Replicas::parse("1-7"),
            Ok(Replicas::Range { min: 1, max: Some(7) })
        );
        assert_eq!(
            Replicas::parse("5-all"),
            Ok(Replicas::Range { min: 5, max: None })
        );
        // The operator reads these as numbers or infinity; they are not replica counts.
        for bad in ["all", "all-all", "", "-1", "x", "2.5", "3-1", "1-", "-"] {
            assert!(Replicas::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ranges_need_their_lower_bound_and_fixed_counts_their_count_plus_one() {
        assert_eq!(Replicas::parse("1").unwrap().data_nodes_needed(), 2);
        assert_eq!(Replicas::parse("0-all").unwrap().data_nodes_needed(), 1);
        assert_eq!(Replicas::parse("1-all").unwrap().data_nodes_needed(), 2);
        assert_eq!(Replicas::parse("2-3").unwrap().data_nodes_needed(), 3);
    }

    #[test]
    fn every_offender_is_named_with_its_setting_and_need() {
        let partition = TableReplicas {
            partition: Some("04732cpp6ksjcc9i60o30c1g".into()),
            ..table("metrics", "1")
        };
        let tables = vec![
            table("events", "1"),
            table("audit", "0"),
            table("lookup", "0-all"),
            partition,
            table("broken", "all"),
        ];
        assert!(guard(&tables, 2).iter().all(|o| o.what.table == "broken"));
        let offenders = guard(&tables, 1);
        let text: Vec<String> = offenders.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "doc.events (number_of_replicas \"1\") needs 2 data nodes",
                "doc.metrics partition 04732cpp6ksjcc9i60o30c1g (\"1\") needs 2 data nodes",
                "doc.broken (number_of_replicas \"all\") cannot be checked: \"all\" is not a replica count (n, min-max or min-all)",
            ]
        );
    }

    proptest! {
        /// A table passes exactly when the nodes left reach its need; ranges never need more
        /// than a fixed count of their lower bound.
        #[test]
        fn the_guard_agrees_with_the_need(min in 0u32..10, span in proptest::option::of(0u32..10), nodes in 0u64..15) {
            let text = match span {
                Some(span) => format!("{min}-{}", min + span),
                None => format!("{min}-all"),
            };
            let range = Replicas::parse(&text).unwrap();
            let fixed = Replicas::parse(&min.to_string()).unwrap();
            prop_assert_eq!(range.data_nodes_needed(), fixed.data_nodes_needed());
            let passes = guard(&[table("t", &text)], nodes).is_empty();
            prop_assert_eq!(passes, nodes > u64::from(min));
        }
    }
}
