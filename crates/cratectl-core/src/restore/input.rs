//! What `cratectl restore` is asked to restore, parsed and checked before anything is recorded,
//! and the `RESTORE SNAPSHOT` statement that says it to CrateDB.
//!
//! * `TABLE` is `SCHEMA.TABLE` or `TABLE` (schema `doc`). A part written in double quotes is a
//!   quoted identifier (`""` inside is one `"`), so a `.` inside quotes belongs to the name; an
//!   unquoted part is folded to lower case, as CrateDB folds unquoted identifiers. `doc.t1`,
//!   `"doc"."t1"` and `T1` name the same table.
//! * `SPEC` is `TABLE:COLUMN=VALUE[,COLUMN=VALUE…]`. `VALUE` is JSON when it parses as a JSON
//!   number, boolean, `null` or a JSON string in double quotes (the way to carry `,` or `=`),
//!   else text — the rule of `cratectl sql --arg`.
//! * Sections are checked against the cluster's version: CrateDB 5.6 added `usermanagement`,
//!   6.5 removed `users` and `privileges`
//!   (https://cratedb.com/docs/crate/reference/en/latest/sql/statements/restore-snapshot.html,
//!   CrateDB's `RestoreSnapshotAnalyzer.METADATA_CUSTOM_TYPE_MAP`).
//! * The keyword: a tables-only request is `TABLES` (CrateDB's `ALL` would also restore users,
//!   privileges and persistent settings), a list of tables is one `TABLE` followed by the
//!   tables, comma-separated (CrateDB's grammar allows one `TABLE` keyword).
//!
//! Every identifier goes through [`quote_ident`] and every text value through [`quote_literal`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::sql::{quote_ident, quote_literal};

/// CrateDB's default schema.
pub const DEFAULT_SCHEMA: &str = "doc";

/// A table name, unquoted (`schema`, `name` exactly as CrateDB stores them).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> TableName {
        TableName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// `"doc"."events"`.
    pub fn to_sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    /// Parses `schema.table`, `table`, or their quoted forms (see the module documentation).
    pub fn parse(input: &str) -> Result<TableName, String> {
        let parts = split_identifier(input)?;
        let bad_shape = || format!("{input:?}: a table is SCHEMA.TABLE or TABLE; names cannot contain \".\"");
        match parts.as_slice() {
            [name] => Ok(TableName::new(DEFAULT_SCHEMA, name.clone())),
            [schema, name] => Ok(TableName::new(schema.clone(), name.clone())),
            _ => Err(bad_shape()),
        }
    }

    /// From `sys.snapshots.tables` (`schema.table`, unquoted; CrateDB names cannot contain `.`).
    pub fn from_snapshot_entry(entry: &str) -> TableName {
        match entry.split_once('.') {
            Some((schema, name)) => TableName::new(schema, name),
            None => TableName::new(DEFAULT_SCHEMA, entry),
        }
    }
}

impl fmt::Display for TableName {
    /// `doc.events`, with a part quoted only when it needs it (`doc."Events"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |part: &str| {
            let plain = !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !part.starts_with(|c: char| c.is_ascii_digit());
            if plain {
                part.to_string()
            } else {
                quote_ident(part)
            }
        };
        write!(f, "{}.{}", show(&self.schema), show(&self.name))
    }
}

/// Splits `a."b.c"` into identifiers at unquoted dots: quoted parts keep their case and their
/// dots (`""` is one `"`), unquoted parts are lower-cased. Empty parts are errors.
fn split_identifier(input: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        let mut part = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            chars.next();
            quoted = true;
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    Some('"') => break,
                    Some(c) => part.push(c),
                    None => return Err(format!("{input:?}: a quoted name is not closed (missing '\"')")),
                }
            }
            if !matches!(chars.peek(), None | Some('.')) {
                return Err(format!(
                    "{input:?}: after a quoted name comes \".\" or the end, not {:?}",
                    chars.peek().copied().unwrap_or_default()
                ));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                if c == '"' {
                    return Err(format!(
                        "{input:?}: quote a whole name (\"My Table\"), not part of it"
                    ));
                }
                part.push(c);
                chars.next();
            }
            part = part.trim().to_lowercase();
        }
        if part.is_empty() {
            return Err(format!(
                "{input:?}: a table is SCHEMA.TABLE or TABLE, and no part may be empty"
            ));
        }
        if !quoted && part.chars().any(char::is_whitespace) {
            return Err(format!(
                "{input:?}: a name with spaces must be quoted (\"{part}\")"
            ));
        }
        parts.push(part);
        match chars.next() {
            None => return Ok(parts),
            Some('.') => continue,
            Some(_) => unreachable!("the loops above stop only at '.' or the end"),
        }
    }
}

/// A partition column value, as given on the command line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PartitionValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
}

impl PartitionValue {
    /// The `cratectl sql --arg` rule: JSON number, boolean, `null` or a JSON string in double
    /// quotes; anything else is text.
    pub fn parse(raw: &str) -> PartitionValue {
        match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Null) => PartitionValue::Null,
            Ok(serde_json::Value::Bool(b)) => PartitionValue::Bool(b),
            Ok(serde_json::Value::Number(n)) => PartitionValue::Number(n),
            Ok(serde_json::Value::String(s)) => PartitionValue::Text(s),
            _ => PartitionValue::Text(raw.to_string()),
        }
    }

    /// In SQL: numbers and booleans bare, `NULL`, text through [`quote_literal`].
    pub fn to_sql(&self) -> String {
        match self {
            PartitionValue::Null => "NULL".to_string(),
            PartitionValue::Bool(b) => b.to_string(),
            PartitionValue::Number(n) => n.to_string(),
            PartitionValue::Text(s) => quote_literal(s),
        }
    }

    /// As CrateDB lists partition values in text form (`sys.snapshots.table_partitions`,
    /// `information_schema.table_partitions`): `None` for null.
    pub fn as_text(&self) -> Option<String> {
        match self {
            PartitionValue::Null => None,
            PartitionValue::Bool(b) => Some(b.to_string()),
            PartitionValue::Number(n) => Some(n.to_string()),
            PartitionValue::Text(s) => Some(s.clone()),
        }
    }
}

/// One partition: its table and the value of each partition column, in the order given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionSpec {
    pub table: TableName,
    pub columns: Vec<(String, PartitionValue)>,
}

impl PartitionSpec {
    /// Parses `TABLE:COL=VALUE[,COL=VALUE…]`.
    pub fn parse(input: &str) -> Result<PartitionSpec, String> {
        let shape = || format!("{input:?}: expected TABLE:COLUMN=VALUE[,COLUMN=VALUE…]");
        let colon = split_outside_quotes(input, ':');
        if colon.len() < 2 {
            return Err(shape());
        }
        let table_text = &colon[0];
        let rest = input[table_text.len() + 1..].to_string();
        let table = TableName::parse(table_text).map_err(|e| format!("{e} (in partition {input:?})"))?;
        let mut columns: Vec<(String, PartitionValue)> = Vec::new();
        for item in split_outside_quotes(&rest, ',') {
            let pair = split_outside_quotes(&item, '=');
            if pair.len() < 2 {
                return Err(shape());
            }
            let column_text = &pair[0];
            let value_text = item[column_text.len() + 1..].trim();
            let column = match split_identifier(column_text.trim()) {
                Ok(parts) if parts.len() == 1 => parts.into_iter().next().unwrap_or_default(),
                _ => return Err(format!("{input:?}: {column_text:?} is not a column name")),
            };
            if value_text.is_empty() {
                return Err(format!(
                    "{input:?}: column {column:?} has no value (write null for NULL)"
                ));
            }
            if columns.iter().any(|(c, _)| *c == column) {
                return Err(format!("{input:?}: column {column:?} is given twice"));
            }
            columns.push((column, PartitionValue::parse(value_text)));
        }
        Ok(PartitionSpec { table, columns })
    }

    /// `"doc"."metrics" PARTITION ("day" = 1700000000000)`.
    pub fn to_sql(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|(c, v)| format!("{} = {}", quote_ident(c), v.to_sql()))
            .collect();
        format!("{} PARTITION ({})", self.table.to_sql(), cols.join(", "))
    }

    /// The values as text, in the order of `partitioned_by` (None when a column is missing).
    pub fn values_in_order(&self, partitioned_by: &[String]) -> Option<Vec<Option<String>>> {
        partitioned_by
            .iter()
            .map(|col| {
                self.columns
                    .iter()
                    .find(|(c, _)| c == col)
                    .map(|(_, v)| v.as_text())
            })
            .collect()
    }
}

impl PartitionSpec {
    /// `COL=VALUE,…`, as the report names a partition.
    pub fn columns_text(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|(c, v)| format!("{c}={}", v.as_text().unwrap_or_else(|| "null".into())))
            .collect();
        cols.join(",")
    }
}

impl fmt::Display for PartitionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.table, self.columns_text())
    }
}

/// Splits at `sep` outside double quotes (identifiers and JSON strings; `\"` inside a JSON
/// string and `""` inside an identifier both stay inside).
fn split_outside_quotes(input: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut escaped = false;
    for c in input.chars() {
        if in_quotes {
            current.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        if c == sep {
            out.push(std::mem::take(&mut current));
            continue;
        }
        if c == '"' {
            in_quotes = true;
        }
        current.push(c);
    }
    out.push(current);
    out
}

/// A restore section (`RESTORE SNAPSHOT … TABLES, VIEWS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Tables,
    Views,
    Users,
    Privileges,
    Usermanagement,
    Analyzers,
    Udfs,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Tables,
        Section::Views,
        Section::Users,
        Section::Privileges,
        Section::Usermanagement,
        Section::Analyzers,
        Section::Udfs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Section::Tables => "tables",
            Section::Views => "views",
            Section::Users => "users",
            Section::Privileges => "privileges",
            Section::Usermanagement => "usermanagement",
            Section::Analyzers => "analyzers",
            Section::Udfs => "udfs",
        }
    }

    pub fn parse(input: &str) -> Result<Section, String> {
        let lower = input.trim().to_lowercase();
        Section::ALL
            .into_iter()
            .find(|s| s.as_str() == lower)
            .ok_or_else(|| {
                let names: Vec<&str> = Section::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown section {input:?}: choose from {}", names.join(", "))
            })
    }

    /// Whether CrateDB `version` (`major.minor.patch`) has this section; the error says what
    /// to use instead.
    pub fn check_version(self, version: &str) -> Result<(), String> {
        let v = version_tuple(version);
        match self {
            Section::Users | Section::Privileges if v >= (6, 5, 0) => Err(format!(
                "section {:?} does not exist in CrateDB {version}: use \"usermanagement\"",
                self.as_str()
            )),
            Section::Usermanagement if v < (5, 6, 0) => Err(format!(
                "section \"usermanagement\" does not exist in CrateDB {version}: use \"users\" and \"privileges\""
            )),
            _ => Ok(()),
        }
    }

    /// Whether restoring it replaces users and their passwords.
    pub fn replaces_users(self) -> bool {
        matches!(self, Section::Users | Section::Usermanagement)
    }
}

/// `major.minor.patch` as numbers (missing or non-numeric parts are 0; `-SNAPSHOT` suffixes
/// are ignored).
pub fn version_tuple(version: &str) -> (u32, u32, u32) {
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// What to restore.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Scope {
    All,
    Metadata,
    TablesAll,
    /// `--table` and `--partition`, in the order given.
    Tables {
        tables: Vec<TableName>,
        partitions: Vec<PartitionSpec>,
    },
    Sections {
        sections: Vec<Section>,
    },
}

/// The report's `restore_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreType {
    All,
    Metadata,
    Tables,
    TablesAll,
    Partitions,
    Sections,
}

impl Scope {
    /// From the command line's scope options; exactly one kind must be given (`--table` and
    /// `--partition` combine).
    pub fn from_options(
        all: bool,
        metadata: bool,
        tables_all: bool,
        tables: &[String],
        partitions: &[String],
        sections: &[String],
    ) -> Result<Scope, String> {
        let given = [
            all,
            metadata,
            tables_all,
            !tables.is_empty() || !partitions.is_empty(),
            !sections.is_empty(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        let choose =
            "choose what to restore: --all, --metadata, --tables-all, --table, --partition or --section";
        if given == 0 {
            return Err(choose.to_string());
        }
        if given > 1 {
            return Err(format!(
                "{choose} (only one of them; --table and --partition combine)"
            ));
        }
        if all {
            return Ok(Scope::All);
        }
        if metadata {
            return Ok(Scope::Metadata);
        }
        if tables_all {
            return Ok(Scope::TablesAll);
        }
        if !sections.is_empty() {
            let mut parsed: Vec<Section> = Vec::new();
            for s in sections {
                let section = Section::parse(s)?;
                if parsed.contains(&section) {
                    return Err(format!("section {:?} is given twice", section.as_str()));
                }
                parsed.push(section);
            }
            return Ok(Scope::Sections { sections: parsed });
        }
        let mut parsed_tables: Vec<TableName> = Vec::new();
        for t in tables {
            let table = TableName::parse(t)?;
            if parsed_tables.contains(&table) {
                return Err(format!("table {table} is given twice"));
            }
            parsed_tables.push(table);
        }
        let mut parsed_parts: Vec<PartitionSpec> = Vec::new();
        for p in partitions {
            let spec = PartitionSpec::parse(p)?;
            if parsed_tables.contains(&spec.table) {
                return Err(format!(
                    "{p:?}: table {} is restored whole by --table already; give either the table or its partitions",
                    spec.table
                ));
            }
            if parsed_parts.contains(&spec) {
                return Err(format!("partition {spec} is given twice"));
            }
            parsed_parts.push(spec);
        }
        Ok(Scope::Tables {
            tables: parsed_tables,
            partitions: parsed_parts,
        })
    }

    pub fn restore_type(&self) -> RestoreType {
        match self {
            Scope::All => RestoreType::All,
            Scope::Metadata => RestoreType::Metadata,
            Scope::TablesAll => RestoreType::TablesAll,
            Scope::Tables { tables, .. } if !tables.is_empty() => RestoreType::Tables,
            Scope::Tables { .. } => RestoreType::Partitions,
            Scope::Sections { .. } => RestoreType::Sections,
        }
    }

    /// The sections the cluster's version lacks are refused with what to use instead.
    pub fn check_version(&self, version: &str) -> Result<(), String> {
        if let Scope::Sections { sections } = self {
            for s in sections {
                s.check_version(version)?;
            }
        }
        Ok(())
    }

    /// Whether the restore replaces users (and so the `system` password) and persistent
    /// settings: such restores need `--yes` (or a confirmation on a terminal), and passwords
    /// are set back from the cluster's Secrets right after the statement.
    pub fn replaces_users(&self) -> bool {
        match self {
            Scope::All | Scope::Metadata => true,
            Scope::Sections { sections } => sections.iter().any(|s| s.replaces_users()),
            _ => false,
        }
    }

    /// Whether the restore replaces the cluster's persistent settings (`ALL`, `METADATA` and the
    /// `ANALYZERS` section: CrateDB's `RestoreService` installs the snapshot's set, filtered to
    /// analyzers for the latter two).
    pub fn replaces_settings(&self) -> bool {
        match self {
            Scope::All | Scope::Metadata => true,
            Scope::Sections { sections } => sections.contains(&Section::Analyzers),
            _ => false,
        }
    }

    /// Whether the snapshot's tables (all of them) are restored.
    pub fn restores_every_table(&self) -> bool {
        match self {
            Scope::All | Scope::TablesAll => true,
            Scope::Sections { sections } => sections.contains(&Section::Tables),
            _ => false,
        }
    }

    /// The keyword after `RESTORE SNAPSHOT repo.snap`.
    pub fn keyword(&self) -> String {
        match self {
            Scope::All => "ALL".to_string(),
            Scope::Metadata => "METADATA".to_string(),
            Scope::TablesAll => "TABLES".to_string(),
            Scope::Tables { tables, partitions } => {
                let items: Vec<String> = tables
                    .iter()
                    .map(TableName::to_sql)
                    .chain(partitions.iter().map(PartitionSpec::to_sql))
                    .collect();
                format!("TABLE {}", items.join(", "))
            }
            Scope::Sections { sections } => {
                let names: Vec<String> = sections.iter().map(|s| s.as_str().to_uppercase()).collect();
                names.join(", ")
            }
        }
    }
}

/// `RESTORE SNAPSHOT "repo"."snap" KEYWORD WITH (wait_for_completion = false)`: the restore runs
/// in the background and the workflow watches it (a long HTTP request would not survive a
/// crash).
pub fn restore_statement(repository: &str, snapshot: &str, scope: &Scope) -> String {
    format!(
        "RESTORE SNAPSHOT {}.{} {} WITH (wait_for_completion = false)",
        quote_ident(repository),
        quote_ident(snapshot),
        scope.keyword()
    )
}

/// A byte rate as CrateDB's settings take it (`ByteSizeValue.parseBytesSizeValue`): a number
/// with a unit `b`, `k`/`kb`, `m`/`mb`, `g`/`gb`, `t`/`tb`, `p`/`pb` (any case), or `0`.
/// The error names the option and what would be valid.
pub fn check_byte_rate(option: &str, value: &str) -> Result<(), String> {
    let lower = value.trim().to_ascii_lowercase();
    if lower == "0" {
        return Ok(());
    }
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number_ok = !number.is_empty() && number.parse::<f64>().is_ok_and(|n| n > 0.0);
    let unit_ok = ["b", "k", "kb", "m", "mb", "g", "gb", "t", "tb", "p", "pb"].contains(&unit);
    if number_ok && unit_ok {
        Ok(())
    } else {
        Err(format!(
            "{option} {value:?}: a size per second with a unit, e.g. 40mb, 512kb or 1gb (units b, kb, mb, gb, tb, pb)"
        ))
    }
}

/// CrateDB's snapshot name rules (lower case, no whitespace, `,` or `#`, not starting with `_`;
/// `SnapshotsService.validate`): the error names the rule.
pub fn check_snapshot_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the snapshot name is empty".to_string());
    }
    if name.chars().any(char::is_uppercase) {
        return Err(format!("{name:?}: snapshot names are lower case"));
    }
    if name.contains(|c: char| c.is_whitespace() || c == ',' || c == '#') {
        return Err(format!(
            "{name:?}: snapshot names contain no whitespace, ',' or '#'"
        ));
    }
    if name.starts_with('_') {
        return Err(format!("{name:?}: snapshot names do not start with '_'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TableName {
        TableName::parse(s).expect(s)
    }

    #[test]
    fn table_names() {
        assert_eq!(t("events"), TableName::new("doc", "events"));
        assert_eq!(t("doc.t1"), t("\"doc\".\"t1\""));
        assert_eq!(t("Doc.T1"), TableName::new("doc", "t1"));
        assert_eq!(t("\"Doc\".\"My Table\""), TableName::new("Doc", "My Table"));
        assert_eq!(t("\"a.b\""), TableName::new("doc", "a.b"));
        assert_eq!(t("s.\"we\"\"ird\""), TableName::new("s", "we\"ird"));
        assert_eq!(t("\"mëtrics\""), TableName::new("doc", "mëtrics"));
        assert_eq!(t("\"select\".\"order\"").to_sql(), "\"select\".\"order\"");
        assert_eq!(t("s.\"we\"\"ird\"").to_sql(), "\"s\".\"we\"\"ird\"");
        for bad in [
            "a.b.c", "doc.", ".t", "", "\"\"", "\"open", "a\"b\"", "\"x\"y", "my table",
        ] {
            assert!(TableName::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(
            TableName::parse("a.b.c")
                .unwrap_err()
                .contains("names cannot contain \".\"")
        );
        assert_eq!(t("\"Doc\".events").to_string(), "\"Doc\".events");
        assert_eq!(
            TableName::from_snapshot_entry("gc.jobs"),
            TableName::new("gc", "jobs")
        );
    }

    #[test]
    fn partitions() {
        let p = PartitionSpec::parse("doc.metrics:day=1700000000000").expect("parse");
        assert_eq!(p.table, TableName::new("doc", "metrics"));
        assert_eq!(
            p.to_sql(),
            "\"doc\".\"metrics\" PARTITION (\"day\" = 1700000000000)"
        );
        let p = PartitionSpec::parse("m:region=\"eu,west=1\",Flag=true,n=null,name=it's").expect("parse");
        assert_eq!(
            p.to_sql(),
            "\"doc\".\"m\" PARTITION (\"region\" = 'eu,west=1', \"flag\" = true, \"n\" = NULL, \"name\" = 'it''s')"
        );
        assert_eq!(
            p.values_in_order(&["flag".into(), "region".into()]),
            Some(vec![Some("true".into()), Some("eu,west=1".into())])
        );
        assert_eq!(p.values_in_order(&["missing".into()]), None);
        let quoted = PartitionSpec::parse("\"s:x\".\"t\":\"Col\"=1").expect("parse");
        assert_eq!(quoted.table, TableName::new("s:x", "t"));
        assert_eq!(quoted.columns[0].0, "Col");
        for bad in [
            "doc.metrics",
            "doc.metrics:",
            "doc.metrics:day",
            "m:day=1,day=2",
            "m:day=",
        ] {
            assert!(PartitionSpec::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(
            PartitionSpec::parse("doc.metrics")
                .unwrap_err()
                .contains("expected TABLE:COLUMN=VALUE")
        );
    }

    #[test]
    fn sections_by_version() {
        assert_eq!(Section::parse("USERS"), Ok(Section::Users));
        assert!(Section::parse("bogus").unwrap_err().contains("usermanagement"));
        assert_eq!(
            Section::Users.check_version("6.5.0").unwrap_err(),
            "section \"users\" does not exist in CrateDB 6.5.0: use \"usermanagement\""
        );
        assert!(Section::Users.check_version("6.4.2").is_ok());
        assert!(Section::Usermanagement.check_version("5.5.1").is_err());
        assert!(Section::Usermanagement.check_version("5.6.0").is_ok());
        assert_eq!(version_tuple("6.5.0-SNAPSHOT"), (6, 5, 0));
    }

    #[test]
    fn scopes_and_keywords() {
        let none: [String; 0] = [];
        let scope = |a, m, ta, tables: &[&str], parts: &[&str], secs: &[&str]| {
            let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
            Scope::from_options(a, m, ta, &s(tables), &s(parts), &s(secs))
        };
        assert!(
            Scope::from_options(false, false, false, &none, &none, &none)
                .unwrap_err()
                .starts_with("choose what to restore")
        );
        assert!(scope(true, false, true, &[], &[], &[]).is_err());
        assert_eq!(
            scope(false, false, true, &[], &[], &[]).map(|s| s.keyword()),
            Ok("TABLES".into())
        );
        assert_eq!(
            scope(true, false, false, &[], &[], &[]).map(|s| s.keyword()),
            Ok("ALL".into())
        );
        let tables = scope(false, false, false, &["t1", "\"Doc\".\"T2\""], &["m:day=1"], &[]).expect("scope");
        assert_eq!(
            tables.keyword(),
            "TABLE \"doc\".\"t1\", \"Doc\".\"T2\", \"doc\".\"m\" PARTITION (\"day\" = 1)"
        );
        assert_eq!(tables.restore_type(), RestoreType::Tables);
        assert!(!tables.replaces_users());
        let parts = scope(false, false, false, &[], &["m:day=1"], &[]).expect("scope");
        assert_eq!(parts.restore_type(), RestoreType::Partitions);
        assert!(scope(false, false, false, &["m"], &["m:day=1"], &[]).is_err());
        assert!(scope(false, false, false, &["m", "doc.m"], &[], &[]).is_err());
        let secs = scope(false, false, false, &[], &[], &["tables", "usermanagement"]).expect("scope");
        assert_eq!(secs.keyword(), "TABLES, USERMANAGEMENT");
        assert!(secs.replaces_users() && secs.restores_every_table());
        assert!(!secs.replaces_settings());
        let analyzers = scope(false, false, false, &[], &[], &["analyzers"]).expect("scope");
        assert!(analyzers.replaces_settings() && !analyzers.replaces_users());
        assert!(secs.check_version("5.5.0").is_err());
        assert!(scope(false, false, false, &[], &[], &["views", "VIEWS"]).is_err());
        assert_eq!(
            restore_statement("re\"po", "s1", &Scope::Metadata),
            "RESTORE SNAPSHOT \"re\"\"po\".\"s1\" METADATA WITH (wait_for_completion = false)"
        );
    }

    #[test]
    fn byte_rates() {
        for ok in ["240mb", "1GB", "512k", "0", "1.5gb", "100b"] {
            assert!(check_byte_rate("--x", ok).is_ok(), "{ok}");
        }
        for bad in ["", "240", "mb", "-1mb", "240 mb", "240xb", "1..2mb"] {
            assert!(check_byte_rate("--x", bad).is_err(), "{bad}");
        }
        assert!(
            check_byte_rate("--recovery-max-bytes-per-sec", "fast")
                .unwrap_err()
                .starts_with("--recovery")
        );
    }

    #[test]
    fn snapshot_names() {
        assert!(check_snapshot_name("nightly-2026.12.07").is_ok());
        assert_eq!(
            check_snapshot_name("Snap1").unwrap_err(),
            "\"Snap1\": snapshot names are lower case"
        );
        for bad in ["", "a b", "a,b", "a#b", "_a"] {
            assert!(check_snapshot_name(bad).is_err(), "{bad}");
        }
    }
}
