//! SQL text cratectl sends to CrateDB: one way to quote identifiers, one way to quote literals,
//! the statements operations use, and the read-only test behind `cratectl sql --write`.
//!
//! Every statement cratectl builds goes through [`quote_ident`] and [`quote_literal`], so a node
//! name, a setting or a value can never end a string early or smuggle in a second statement
//! (the operator interpolates some of these unquoted, e.g. the snapshot name in its
//! `restore_backup.py:ensure_no_restore_in_progress`). Setting names are quoted as **one**
//! identifier (`"cluster.routing.allocation.enable"`), which CrateDB reads exactly like the
//! dotted form (its `SetStatementAnalyzer`; docs/cratedb-behaviour.md#set-and-reset-global).
//!
//! [`classify`] decides whether `cratectl sql` may run a statement without `--write`. It is a
//! lexer, not a parser, and it fails closed: anything it does not recognise as read-only is a
//! write.
//!
//! * Whitespace and comments (`-- …`, `/* … */`, not nested, as CrateDB's lexer reads them) are
//!   skipped; strings (`'…'`, `E'…'`, `$$…$$`, `$tag$…$tag$`) and quoted identifiers (`"…"`)
//!   are opaque, so a `;` or a keyword inside them means nothing. Unterminated ones, and a stray
//!   `*/`, are writes.
//! * Read-only: `SELECT`, `VALUES`, `SHOW`, `WITH … SELECT` (every CTE body read-only too),
//!   after any number of opening parentheses, and `EXPLAIN` of a read-only statement.
//! * `EXPLAIN ANALYZE` **executes** the statement it profiles, so `EXPLAIN` is judged by the
//!   statement it explains, with or without `ANALYZE`/`VERBOSE`/options: `EXPLAIN ANALYZE
//!   SELECT …` is read-only, `EXPLAIN DELETE …` needs `--write` (it would not run without
//!   `ANALYZE`, but one rule is simpler to trust than two).
//! * A read-only statement that mentions `INSERT`, `UPDATE`, `DELETE`, `MERGE` or `INTO` as a
//!   bare word anywhere is a write (a CTE or sub-statement that changes data, `SELECT … INTO`).
//! * More than one statement (anything but comments after the first `;`) is a write, and so is
//!   an empty one. Everything else (`SET`, `BEGIN`, `DECLARE`, `KILL`, `REFRESH`, …) is a write.
//!
//! Not covered: functions with side effects inside a SELECT (CrateDB has none known to write).

use std::fmt;

use serde::{Deserialize, Serialize};

/// `name` as one double-quoted identifier, `"` doubled: `data-hot-0` → `"data-hot-0"`,
/// `cluster.routing.allocation.enable` → `"cluster.routing.allocation.enable"`.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as a single-quoted string literal, `'` doubled: `it's` → `'it''s'`.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The level of a `SET GLOBAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingLevel {
    Transient,
    Persistent,
}

impl SettingLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            SettingLevel::Transient => "TRANSIENT",
            SettingLevel::Persistent => "PERSISTENT",
        }
    }
}

impl fmt::Display for SettingLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A setting value: CrateDB renders the settings operations touch as text, booleans or numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
}

impl Literal {
    pub fn text(value: impl Into<String>) -> Literal {
        Literal::Text(value.into())
    }

    /// From a value read from `sys.cluster.settings`; `None` for null, arrays and objects.
    pub fn from_json(value: &serde_json::Value) -> Option<Literal> {
        match value {
            serde_json::Value::Bool(b) => Some(Literal::Bool(*b)),
            serde_json::Value::Number(n) => Some(Literal::Number(n.clone())),
            serde_json::Value::String(s) => Some(Literal::Text(s.clone())),
            _ => None,
        }
    }

    /// The literal in SQL: `'primaries'`, `true`, `42`.
    pub fn to_sql(&self) -> String {
        match self {
            Literal::Bool(b) => b.to_string(),
            Literal::Number(n) => n.to_string(),
            Literal::Text(s) => quote_literal(s),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sql())
    }
}

/// `SET GLOBAL TRANSIENT "cluster.routing.allocation.enable" = 'primaries'`.
pub fn set_global(level: SettingLevel, setting: &str, value: &Literal) -> String {
    format!("SET GLOBAL {level} {} = {}", quote_ident(setting), value.to_sql())
}

/// `RESET GLOBAL "cluster.routing.allocation.enable"` (clears the transient and the persistent value).
pub fn reset_global(setting: &str) -> String {
    format!("RESET GLOBAL {}", quote_ident(setting))
}

/// `ALTER CLUSTER DECOMMISSION 'data-hot-2'`, for a node name (or id) read from `sys.nodes`.
pub fn decommission(node_name: &str) -> String {
    format!("ALTER CLUSTER DECOMMISSION {}", quote_literal(node_name))
}

/// Whether a statement may run without `--write`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum StatementClass {
    ReadOnly,
    /// Changes state, or is not known not to; `reason` is for the refusal message.
    Write {
        reason: String,
    },
}

impl StatementClass {
    pub fn is_read_only(&self) -> bool {
        matches!(self, StatementClass::ReadOnly)
    }
}

/// Classifies `stmt` (see the module documentation for the rules).
pub fn classify(stmt: &str) -> StatementClass {
    let tokens = match lex(stmt) {
        Ok(tokens) => tokens,
        Err(reason) => return StatementClass::Write { reason },
    };
    let first_end = tokens
        .iter()
        .position(|t| *t == Tok::Semi)
        .unwrap_or(tokens.len());
    if tokens.len() > first_end + 1 {
        return write("more than one statement");
    }
    let statement = &tokens[..first_end];
    if statement.is_empty() {
        return write("empty statement");
    }
    match read_only(statement) {
        Ok(()) => StatementClass::ReadOnly,
        Err(reason) => StatementClass::Write { reason },
    }
}

fn write(reason: &str) -> StatementClass {
    StatementClass::Write {
        reason: reason.to_string(),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// An unquoted word, upper-cased.
    Word(String),
    /// A quoted identifier.
    Ident,
    /// A string, number, parameter or operator.
    Other,
    Comma,
    Open,
    Close,
    Semi,
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while let Some(c) = at(i) {
        match c {
            c if c.is_whitespace() => i += 1,
            '-' if at(i + 1) == Some('-') => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
            }
            '/' if at(i + 1) == Some('*') => {
                i += 2;
                loop {
                    match at(i) {
                        None => return Err("unterminated /* comment".to_string()),
                        Some('*') if at(i + 1) == Some('/') => {
                            i += 2;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            '*' if at(i + 1) == Some('/') => return Err("*/ outside a comment".to_string()),
            '\'' => {
                i = skip_quoted(&chars, i + 1, '\'', false).ok_or("unterminated string literal")?;
                tokens.push(Tok::Other);
            }
            'e' | 'E' if at(i + 1) == Some('\'') => {
                i = skip_quoted(&chars, i + 2, '\'', true).ok_or("unterminated string literal")?;
                tokens.push(Tok::Other);
            }
            '"' => {
                i = skip_quoted(&chars, i + 1, '"', false).ok_or("unterminated quoted identifier")?;
                tokens.push(Tok::Ident);
            }
            '$' => {
                let tag_len = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || **c == '_')
                    .count();
                let starts_like_tag = chars.get(i + 1).is_none_or(|c| !c.is_ascii_digit());
                if starts_like_tag && at(i + 1 + tag_len) == Some('$') {
                    let tag: Vec<char> = chars[i..i + tag_len + 2].to_vec();
                    let body_start = i + tag_len + 2;
                    let end = (body_start..chars.len())
                        .find(|&j| chars[j..].starts_with(&tag))
                        .ok_or("unterminated dollar-quoted string")?;
                    i = end + tag.len();
                } else {
                    // `$1` and the like: a parameter.
                    i += 1 + tag_len;
                }
                tokens.push(Tok::Other);
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '@') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(Tok::Word(word.to_uppercase()));
            }
            c if c.is_ascii_digit() => {
                while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
                    i += 1;
                }
                tokens.push(Tok::Other);
            }
            '(' => {
                tokens.push(Tok::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Tok::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Tok::Comma);
                i += 1;
            }
            ';' => {
                tokens.push(Tok::Semi);
                i += 1;
            }
            _ => {
                tokens.push(Tok::Other);
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// The index just past the closing `quote` of a quoted run starting at `i` (the opening quote
/// already consumed); a doubled quote is an escaped quote, and so is `\'` when `backslash`.
fn skip_quoted(chars: &[char], mut i: usize, quote: char, backslash: bool) -> Option<usize> {
    loop {
        match chars.get(i).copied()? {
            '\\' if backslash => i += 2,
            c if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
}

const WRITE_WORDS: &[&str] = &["INSERT", "UPDATE", "DELETE", "MERGE", "INTO"];

/// Ok when the tokens of one statement are read-only, else why not.
fn read_only(tokens: &[Tok]) -> Result<(), String> {
    let start = tokens.iter().take_while(|t| **t == Tok::Open).count();
    let body = &tokens[start..];
    let keyword = match body.first() {
        Some(Tok::Word(word)) => word.as_str(),
        Some(_) => return Err("the statement does not start with a keyword".to_string()),
        None => return Err("empty statement".to_string()),
    };
    match keyword {
        "SELECT" | "VALUES" | "SHOW" => no_write_words(keyword, tokens),
        "WITH" => {
            no_write_words(keyword, tokens)?;
            with_query(&body[1..])
        }
        "EXPLAIN" => explain(&body[1..]),
        other => Err(format!("{other} statements are not known to be read-only")),
    }
}

fn no_write_words(keyword: &str, tokens: &[Tok]) -> Result<(), String> {
    for token in tokens {
        if let Tok::Word(word) = token
            && WRITE_WORDS.contains(&word.as_str())
        {
            return Err(format!("{keyword} statement containing {word}"));
        }
    }
    Ok(())
}

/// The tokens of a parenthesised group starting at `tokens[0] == Open`, and what follows it.
fn group(tokens: &[Tok]) -> Option<(&[Tok], &[Tok])> {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some((&tokens[1..i], &tokens[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// `[RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (body) [, …] main`.
fn with_query(mut rest: &[Tok]) -> Result<(), String> {
    let malformed = || "WITH clause not understood".to_string();
    if matches!(rest.first(), Some(Tok::Word(w)) if w == "RECURSIVE") {
        rest = &rest[1..];
    }
    loop {
        match rest.first() {
            Some(Tok::Word(_) | Tok::Ident) => rest = &rest[1..],
            _ => return Err(malformed()),
        }
        if rest.first() == Some(&Tok::Open) {
            rest = group(rest).ok_or_else(malformed)?.1;
        }
        match rest.first() {
            Some(Tok::Word(w)) if w == "AS" => rest = &rest[1..],
            _ => return Err(malformed()),
        }
        while matches!(rest.first(), Some(Tok::Word(w)) if w == "NOT" || w == "MATERIALIZED") {
            rest = &rest[1..];
        }
        if rest.first() != Some(&Tok::Open) {
            return Err(malformed());
        }
        let (body, after) = group(rest).ok_or_else(malformed)?;
        read_only(body).map_err(|why| format!("WITH query: {why}"))?;
        rest = after;
        if rest.first() == Some(&Tok::Comma) {
            rest = &rest[1..];
        } else {
            break;
        }
    }
    read_only(rest)
}

/// `EXPLAIN [ANALYZE] [VERBOSE] [(options)] statement`: as read-only as the statement.
fn explain(mut rest: &[Tok]) -> Result<(), String> {
    loop {
        match rest.first() {
            Some(Tok::Word(w)) if w == "ANALYZE" || w == "VERBOSE" => rest = &rest[1..],
            Some(Tok::Open) => {
                let is_query = matches!(rest.get(1), Some(Tok::Open))
                    || matches!(rest.get(1), Some(Tok::Word(w)) if ["SELECT", "VALUES", "WITH"].contains(&w.as_str()));
                if is_query {
                    break;
                }
                rest = group(rest).ok_or("EXPLAIN options not understood")?.1;
            }
            _ => break,
        }
    }
    read_only(rest).map_err(|why| format!("EXPLAIN of a statement that is not read-only: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("data-hot-0"), "\"data-hot-0\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            quote_ident("cluster.routing.allocation.enable"),
            "\"cluster.routing.allocation.enable\""
        );
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(""), "''");
        assert_eq!(quote_literal("'; DROP TABLE t; --"), "'''; DROP TABLE t; --'");
    }

    #[test]
    fn statements() {
        assert_eq!(
            set_global(
                SettingLevel::Transient,
                "cluster.routing.allocation.enable",
                &Literal::text("primaries")
            ),
            "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'"
        );
        assert_eq!(
            set_global(
                SettingLevel::Persistent,
                "cluster.graceful_stop.force",
                &Literal::Bool(false)
            ),
            "SET GLOBAL PERSISTENT \"cluster.graceful_stop.force\" = false"
        );
        assert_eq!(
            set_global(
                SettingLevel::Transient,
                "cluster.routing.allocation.cluster_concurrent_rebalance",
                &Literal::Number(8.into())
            ),
            "SET GLOBAL TRANSIENT \"cluster.routing.allocation.cluster_concurrent_rebalance\" = 8"
        );
        assert_eq!(
            reset_global("cluster.routing.allocation.exclude._name"),
            "RESET GLOBAL \"cluster.routing.allocation.exclude._name\""
        );
        assert_eq!(
            decommission("data-hot-2"),
            "ALTER CLUSTER DECOMMISSION 'data-hot-2'"
        );
        assert_eq!(decommission("o'neil"), "ALTER CLUSTER DECOMMISSION 'o''neil'");
    }

    #[test]
    fn literals_from_settings() {
        use serde_json::json;
        assert_eq!(Literal::from_json(&json!("all")), Some(Literal::text("all")));
        assert_eq!(Literal::from_json(&json!(true)).unwrap().to_sql(), "true");
        assert_eq!(Literal::from_json(&json!(1.5)).unwrap().to_sql(), "1.5");
        assert_eq!(Literal::from_json(&json!(null)), None);
        assert_eq!(Literal::from_json(&json!({"a": 1})), None);
    }

    #[test]
    fn read_only_statements() {
        for stmt in [
            "SELECT 1",
            "select * from sys.nodes;",
            "  -- comment\n  SELECT name FROM sys.nodes -- trailing",
            "/* lead */ SELECT 1 /* tail */ ; -- after",
            "((SELECT 1) UNION ALL (SELECT 2))",
            "SELECT 'a;b', \"weird;name\", E'it\\'s; DROP' FROM t",
            "SELECT $$ ; DELETE FROM t; $$, $tag$ ; $tag$",
            "SELECT * FROM t WHERE x = $1 AND y = ?",
            "VALUES (1, 'a'), (2, 'b')",
            "SHOW TABLES",
            "show create table doc.t1",
            "SHOW search_path",
            "WITH a AS (SELECT 1), \"b\"(x) AS (VALUES (2)) SELECT * FROM a, b",
            "with recursive r as not materialized (select 1) select * from r",
            "EXPLAIN SELECT 1",
            "EXPLAIN ANALYZE SELECT count(*) FROM sys.shards",
            "EXPLAIN (ANALYZE true, COSTS false) SELECT 1",
            "EXPLAIN (SELECT 1)",
            "SELECT update_count, \"delete\" FROM t",
            "SELECT settings['cluster']['routing'] FROM sys.cluster",
        ] {
            assert_eq!(classify(stmt), StatementClass::ReadOnly, "{stmt}");
        }
    }

    #[test]
    fn write_statements() {
        for (stmt, why) in [
            ("UPDATE t SET x = 1", "UPDATE statements"),
            ("  insert into t values (1)", "INSERT statements"),
            (
                "SET GLOBAL \"cluster.routing.allocation.enable\" = 'all'",
                "SET statements",
            ),
            ("RESET GLOBAL x", "RESET statements"),
            ("ALTER CLUSTER DECOMMISSION 'n'", "ALTER statements"),
            ("KILL ALL", "KILL statements"),
            ("BEGIN", "BEGIN statements"),
            ("SELECT 1; DELETE FROM t", "more than one statement"),
            ("SELECT 1;;", "more than one statement"),
            ("SELECT 1; SELECT 2", "more than one statement"),
            ("", "empty statement"),
            ("  -- nothing\n", "empty statement"),
            (";", "empty statement"),
            ("SELECT 'unterminated", "unterminated string literal"),
            ("SELECT \"x", "unterminated quoted identifier"),
            ("SELECT 1 /* open", "unterminated /* comment"),
            ("SELECT $$ open", "unterminated dollar-quoted string"),
            ("/* /* */ SELECT 1 */ DELETE FROM t", "*/ outside a comment"),
            ("SELECT * INTO t2 FROM t", "SELECT statement containing INTO"),
            (
                "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
                "WITH statement containing DELETE",
            ),
            (
                "WITH a AS (SHOW TABLES) UPDATE t SET x = 1",
                "WITH statement containing UPDATE",
            ),
            ("WITH a AS (SELECT 1) KILL ALL", "KILL statements"),
            ("WITH a SELECT 1", "WITH clause not understood"),
            ("EXPLAIN ANALYZE DELETE FROM t", "EXPLAIN of a statement"),
            (
                "EXPLAIN (ANALYZE) COPY t TO DIRECTORY '/tmp'",
                "EXPLAIN of a statement",
            ),
            ("(UPDATE t SET x = 1)", "UPDATE statements"),
            ("'SELECT'", "does not start with a keyword"),
            ("COPY t FROM 's3://b/k'", "COPY statements"),
            ("OPTIMIZE TABLE t", "OPTIMIZE statements"),
        ] {
            match classify(stmt) {
                StatementClass::Write { reason } => assert!(reason.contains(why), "{stmt}: {reason}"),
                StatementClass::ReadOnly => panic!("{stmt} classified read-only"),
            }
        }
        assert!(!classify("DROP TABLE t").is_read_only());
        assert!(classify("SELECT 1").is_read_only());
    }
}
