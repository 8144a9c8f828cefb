//! A whole maintenance file: the schedules of named clusters plus an optional `[defaults]`, and
//! the errors a file or a lookup can produce.

use std::fmt;

use super::schedule::Schedule;

/// The table name that holds the schedule for clusters without a table of their own.
pub const DEFAULTS_TABLE: &str = "defaults";

/// A validated maintenance file.
#[derive(Clone, Debug)]
pub struct MaintenanceConfig {
    /// The file name, as messages show it.
    pub source: String,
    /// Cluster schedules in file order.
    pub clusters: Vec<(String, Schedule)>,
    /// The `[defaults]` table, used for clusters that have no table.
    pub defaults: Option<Schedule>,
    /// Things that are valid but probably not meant; `validate` prints them.
    pub warnings: Vec<ConfigError>,
}

impl MaintenanceConfig {
    /// Parses and validates a maintenance file. `source` names the file in messages. Every
    /// problem found is returned, not just the first.
    pub fn parse(source: &str, text: &str) -> Result<MaintenanceConfig, ConfigErrors> {
        super::load::load(source, text)
    }

    /// The schedule for `cluster`: its own table, else `[defaults]` (the flag says which).
    /// Fails closed when neither exists.
    pub fn schedule(&self, cluster: &str) -> Result<(&Schedule, bool), LookupError> {
        if let Some((_, schedule)) = self.clusters.iter().find(|(name, _)| name == cluster) {
            return Ok((schedule, false));
        }
        if let Some(defaults) = &self.defaults {
            return Ok((defaults, true));
        }
        Err(LookupError::UnknownCluster {
            file: self.source.clone(),
            cluster: cluster.to_string(),
            known: self.clusters.iter().map(|(name, _)| name.clone()).collect(),
            suggestions: closest(cluster, self.clusters.iter().map(|(name, _)| name.as_str())),
        })
    }
}

/// A problem in a maintenance file, located as precisely as the file allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// `cluster 'prod', window 2` — empty for problems outside any cluster.
    pub context: String,
    /// The key whose value is wrong, if the problem is about one key.
    pub key: Option<String>,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        match (self.context.is_empty(), &self.key) {
            (true, None) => {}
            (true, Some(key)) => write!(f, "key '{key}': ")?,
            (false, None) => write!(f, "{}: ", self.context)?,
            (false, Some(key)) => write!(f, "{}, key '{key}': ", self.context)?,
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in one maintenance file (never empty).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Asking a valid file about a cluster it cannot answer for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No table for the cluster and no `[defaults]`: fail closed.
    #[error("{file}: no maintenance windows for cluster '{cluster}' and no [defaults] table{}", hint(.suggestions, .known))]
    UnknownCluster {
        file: String,
        cluster: String,
        known: Vec<String>,
        suggestions: Vec<String>,
    },
}

fn hint(suggestions: &[String], known: &[String]) -> String {
    if !suggestions.is_empty() {
        format!("; did you mean {}?", quoted_list(suggestions))
    } else if known.is_empty() {
        String::new()
    } else {
        format!("; the file configures {}", quoted_list(known))
    }
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidates closest to `wanted` (at most three, best first), for "did you mean" hints.
/// A candidate qualifies when it is a small edit away, or clearly similar by Jaro-Winkler.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let wanted_lower = wanted.to_lowercase();
    let mut scored: Vec<(usize, f64, &str)> = candidates
        .into_iter()
        .map(|c| {
            let lower = c.to_lowercase();
            (
                strsim::levenshtein(&wanted_lower, &lower),
                strsim::jaro_winkler(&wanted_lower, &lower),
                c,
            )
        })
        .filter(|(distance, similarity, _)| *distance <= 2 || *similarity >= 0.9)
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    scored.dedup_by(|a, b| a.2 == b.2);
    // Only the best tier: "Europe/Berln" should suggest Berlin, not every "Europe/…" name.
    let best = scored.first().map_or(0, |s| s.0);
    scored
        .into_iter()
        .take_while(|s| s.0 == best)
        .take(3)
        .map(|(_, _, c)| c.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names() {
        let keys = ["timezone", "min_window_duration", "dc_util_timeout", "windows"];
        assert_eq!(closest("min_windows_duration", keys), vec!["min_window_duration"]);
        assert_eq!(closest("time_zone", keys), vec!["timezone"]);
        assert_eq!(closest("Window", keys), vec!["windows"]);
        assert!(closest("colour", keys).is_empty());
        let zones = ["Europe/Berlin", "Europe/Dublin", "Europe/Tirane"];
        assert_eq!(closest("Europe/Berln", zones), vec!["Europe/Berlin"]);
    }

    #[test]
    fn errors_print_file_line_context_and_key() {
        let error = ConfigError {
            file: "m.toml".into(),
            line: 3,
            column: 8,
            context: "cluster 'prod', window 2".into(),
            key: Some("time".into()),
            message: "bad".into(),
        };
        assert_eq!(
            error.to_string(),
            "m.toml:3:8: cluster 'prod', window 2, key 'time': bad"
        );
    }
}
