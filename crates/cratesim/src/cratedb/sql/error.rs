//! SQL errors as CrateDB reports them: `{"error":{"message":"Cls[msg]","code":N}}` with the
//! HTTP status taken from the code's family (CrateDB's `HttpErrorStatus.java`).

/// One error: the exception's simple class name, its message and CrateDB's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}[{message}]")]
pub(crate) struct SqlError {
    pub(crate) class: String,
    pub(crate) message: String,
    pub(crate) code: u32,
}

impl SqlError {
    pub(crate) fn new(class: &str, message: &str, code: u32) -> Self {
        Self {
            class: class.to_string(),
            message: message.to_string(),
            code,
        }
    }

    /// HTTP status of the code's family: the first three digits (4000 → 400, 40410 → 404).
    pub(crate) fn status(&self) -> u16 {
        let mut code = self.code;
        while code >= 1000 {
            code /= 10;
        }
        u16::try_from(code).unwrap_or(500)
    }

    /// `message` of the JSON error: `Cls[msg]` (a fault may supply the whole text).
    pub(crate) fn full_message(&self) -> String {
        if self.class.is_empty() {
            self.message.clone()
        } else {
            self.to_string()
        }
    }

    /// SQLParseException, 4000 (syntax errors and every IllegalArgumentException).
    pub(crate) fn parse(message: &str) -> Self {
        Self::new("SQLParseException", message, 4000)
    }

    /// A statement the simulator does not model: loud, never an empty result.
    pub(crate) fn unsupported_statement(stmt: &str) -> Self {
        Self::parse(&format!("cratesim: unsupported statement: {}", stmt.trim()))
    }

    /// Part of a statement the simulator does not model.
    pub(crate) fn unsupported(what: &str, stmt: &str) -> Self {
        Self::parse(&format!(
            "cratesim: unsupported statement ({what}): {}",
            stmt.trim()
        ))
    }

    /// UnsupportedFeatureException, 4004.
    pub(crate) fn feature(message: &str) -> Self {
        Self::new("UnsupportedFeatureException", message, 4004)
    }

    pub(crate) fn relation_unknown(name: &str) -> Self {
        Self::new("RelationUnknown", &format!("Relation '{name}' unknown"), 4041)
    }

    pub(crate) fn schema_unknown(name: &str) -> Self {
        Self::new(
            "SchemaUnknownException",
            &format!("Schema '{name}' unknown"),
            4045,
        )
    }

    pub(crate) fn column_unknown(name: &str) -> Self {
        Self::new("ColumnUnknownException", &format!("Column {name} unknown"), 4043)
    }

    pub(crate) fn partition_unknown(table: &str, ident: &str) -> Self {
        Self::new(
            "PartitionUnknownException",
            &format!("No partition for table '{table}' with ident '{ident}' exists"),
            4046,
        )
    }

    pub(crate) fn partition_exists(table: &str, ident: &str) -> Self {
        Self::new(
            "PartitionAlreadyExistsException",
            &format!("Partition '{ident}' of table '{table}' already exists"),
            4097,
        )
    }

    pub(crate) fn repository_missing(name: &str) -> Self {
        Self::new("RepositoryMissingException", &format!("[{name}] missing"), 4047)
    }

    pub(crate) fn snapshot_missing(repo: &str, name: &str) -> Self {
        Self::new(
            "SnapshotMissingException",
            &format!("[{repo}:{name}] is missing"),
            4048,
        )
    }

    pub(crate) fn repository_exists(name: &str) -> Self {
        Self::new(
            "RepositoryAlreadyExistsException",
            &format!("Repository '{name}' already exists"),
            4095,
        )
    }

    /// Every invalid-name reason is reported as 4096 (docs/cratedb-behaviour.md#errors).
    pub(crate) fn invalid_snapshot_name(repo: &str, name: &str, reason: &str) -> Self {
        Self::new(
            "InvalidSnapshotNameException",
            &format!("[{repo}:{name}] Invalid snapshot name [{name}], {reason}"),
            4096,
        )
    }

    pub(crate) fn relation_exists(fqn: &str) -> Self {
        Self::new(
            "RelationAlreadyExists",
            &format!("Relation '{fqn}' already exists."),
            4093,
        )
    }

    pub(crate) fn no_master() -> Self {
        Self::new(
            "ClusterBlockException",
            "blocked by: [MASTER_NOT_DISCOVERED/2/no master];",
            5031,
        )
    }

    pub(crate) fn user_unknown(name: &str) -> Self {
        Self::new(
            "RoleUnknownException",
            &format!("Role '{name}' does not exist"),
            40410,
        )
    }

    pub(crate) fn user_exists(name: &str) -> Self {
        Self::new(
            "RoleAlreadyExistsException",
            &format!("Role '{name}' already exists"),
            4099,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_from_code_family() {
        assert_eq!(SqlError::parse("x").status(), 400);
        assert_eq!(SqlError::relation_unknown("t").status(), 404);
        assert_eq!(SqlError::user_unknown("u").status(), 404);
        assert_eq!(SqlError::no_master().status(), 503);
        assert_eq!(SqlError::new("X", "y", 5000).status(), 500);
        assert_eq!(
            SqlError::relation_unknown("t").to_string(),
            "RelationUnknown[Relation 't' unknown]"
        );
    }
}
