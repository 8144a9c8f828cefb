//! Repositories and their snapshots as `sys.repositories` and `sys.snapshots` show them, in the
//! shape `cratectl snapshot list` prints (a contract: fields are added, never renamed).
//!
//! Repository `settings` are never read: they can hold an object store's keys.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A repository (`sys.repositories`: name and type only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryRow {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A snapshot (`sys.snapshots`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRow {
    pub repository: String,
    pub name: String,
    /// `SUCCESS`, `PARTIAL`, `FAILED`, `IN_PROGRESS`, `INCOMPATIBLE`.
    pub state: String,
    /// The CrateDB version that wrote it.
    pub version: Option<String>,
    pub started: Option<Timestamp>,
    pub finished: Option<Timestamp>,
    /// `schema.table` of each table in it.
    pub tables: Vec<String>,
}

/// One repository with its snapshots, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryListing {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub snapshots: Vec<SnapshotListing>,
}

/// A snapshot as listed (its repository is the one it is listed under).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotListing {
    pub name: String,
    pub state: String,
    pub version: Option<String>,
    pub started: Option<Timestamp>,
    pub finished: Option<Timestamp>,
    pub tables: Vec<String>,
}

/// The listing: every repository (or only `only`), each with its snapshots newest first (by
/// start; unknown starts last, then by name). An unknown `only` is an error naming the
/// repositories there are.
pub fn listing(
    repositories: &[RepositoryRow],
    snapshots: &[SnapshotRow],
    only: Option<&str>,
) -> Result<Vec<RepositoryListing>, String> {
    if let Some(wanted) = only
        && !repositories.iter().any(|r| r.name == wanted)
    {
        let names: Vec<&str> = repositories.iter().map(|r| r.name.as_str()).collect();
        return Err(if names.is_empty() {
            format!("no repository {wanted:?}: the cluster has no repositories")
        } else {
            format!("no repository {wanted:?}; repositories: {}", names.join(", "))
        });
    }
    let mut out: Vec<RepositoryListing> = repositories
        .iter()
        .filter(|r| only.is_none_or(|o| o == r.name))
        .map(|r| {
            let mut snaps: Vec<&SnapshotRow> = snapshots.iter().filter(|s| s.repository == r.name).collect();
            snaps.sort_by(|a, b| {
                b.started
                    .is_some()
                    .cmp(&a.started.is_some())
                    .then(b.started.cmp(&a.started))
                    .then(a.name.cmp(&b.name))
            });
            RepositoryListing {
                name: r.name.clone(),
                kind: r.kind.clone(),
                snapshots: snaps
                    .into_iter()
                    .map(|s| SnapshotListing {
                        name: s.name.clone(),
                        state: s.state.clone(),
                        version: s.version.clone(),
                        started: s.started,
                        finished: s.finished,
                        tables: s.tables.clone(),
                    })
                    .collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(repo: &str, name: &str, started: Option<&str>) -> SnapshotRow {
        SnapshotRow {
            repository: repo.into(),
            name: name.into(),
            state: "SUCCESS".into(),
            version: Some("5.10.3".into()),
            started: started.map(|s| s.parse().unwrap()),
            finished: None,
            tables: vec!["doc.events".into()],
        }
    }

    fn repos() -> Vec<RepositoryRow> {
        ["backups", "archive"]
            .map(|n| RepositoryRow {
                name: n.into(),
                kind: "fs".into(),
            })
            .to_vec()
    }

    #[test]
    fn snapshots_are_newest_first_under_their_repository() {
        let snapshots = vec![
            snap("backups", "old", Some("2026-12-01T00:00:00Z")),
            snap("backups", "unknown-start", None),
            snap("backups", "new", Some("2026-12-06T00:00:00Z")),
            snap("archive", "a1", Some("2026-01-01T00:00:00Z")),
        ];
        let out = listing(&repos(), &snapshots, None).unwrap();
        assert_eq!(out[0].name, "archive");
        let names: Vec<&str> = out[1].snapshots.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["new", "old", "unknown-start"]);
        let only = listing(&repos(), &snapshots, Some("archive")).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].snapshots.len(), 1);
    }

    #[test]
    fn an_unknown_repository_names_the_ones_there_are() {
        assert_eq!(
            listing(&repos(), &[], Some("backup")),
            Err(r#"no repository "backup"; repositories: backups, archive"#.into())
        );
        assert_eq!(
            listing(&[], &[], Some("x")),
            Err(r#"no repository "x": the cluster has no repositories"#.into())
        );
        let v = serde_json::to_value(listing(&repos(), &[], None).unwrap()).unwrap();
        assert_eq!(v[0]["type"], "fs");
    }
}
