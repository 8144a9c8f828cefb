//! `cratectl sql CLUSTER STATEMENT`: runs one statement on a cluster and prints the result as a
//! table, JSON or CSV.
//!
//! Whether a statement changes state is decided by `cratectl_core::sql::classify`, which fails
//! closed (anything it does not know to be read-only is a write); a write needs `--write`.
//! Reads are retried on transient failures; writes only when they certainly did not run.

use cratectl_core::sql::{StatementClass, classify};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, OutputFormat, SqlArgs, SqlFormat};
use crate::connect;
use crate::exit::{CliError, CliResult};
use crate::output::{print, render, table};

/// `cratectl sql -o json` (contract).
#[derive(Serialize)]
struct SqlOut<'a> {
    cols: &'a [String],
    rows: &'a [Vec<Value>],
    rowcount: i64,
    duration_ms: f64,
}

/// `--arg VALUE`: JSON when it parses as JSON, else the text itself.
fn argument(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn run(args: SqlArgs, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.unwrap_or(match top {
        Some(OutputFormat::Json) => SqlFormat::Json,
        Some(OutputFormat::Yaml) => {
            return Err(CliError::invalid(
                "cratectl sql prints text, json or csv (-o yaml is not one of them)",
            ));
        }
        _ => SqlFormat::Text,
    });
    let (name, stmt) = match (&args.second, &global.cluster_url) {
        (Some(stmt), _) => (Some(args.first.as_str()), stmt.as_str()),
        (None, Some(_)) => (None, args.first.as_str()),
        (None, None) => {
            return Err(CliError::invalid(format!(
                "give the cluster and the statement (cratectl sql CLUSTER STATEMENT), or --cluster-url URL with the statement; got only {:?}",
                args.first
            )));
        }
    };
    if stmt.trim().is_empty() {
        return Err(CliError::invalid("the statement is empty"));
    }
    let write = match classify(stmt) {
        StatementClass::ReadOnly => false,
        StatementClass::Write { reason } if !args.write => {
            return Err(CliError::invalid(format!(
                "refusing to run a statement that may change state without --write ({reason})"
            )));
        }
        StatementClass::Write { .. } => true,
    };
    let sql_args: Vec<Value> = args.args.iter().map(|a| argument(a)).collect();
    let target = connect::target(&global, name).await?;
    let client = connect::client(&target, &global).await?;
    let result = if write {
        client.sql(stmt, &sql_args).await
    } else {
        client.sql_idempotent(stmt, &sql_args).await
    }
    .map_err(connect::db_error)?;

    match format {
        SqlFormat::Json => {
            let out = SqlOut {
                cols: &result.cols,
                rows: &result.rows,
                rowcount: result.rowcount,
                duration_ms: result.duration.as_secs_f64() * 1000.0,
            };
            let text = serde_json::to_string_pretty(&out)
                .map_err(|e| CliError::failed(format!("cannot render output: {e}")))?;
            print(&format!("{text}\n"))
        }
        SqlFormat::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let failed = |e: csv::Error| CliError::failed(format!("cannot render CSV: {e}"));
            writer.write_record(&result.cols).map_err(failed)?;
            for row in &result.rows {
                writer.write_record(row.iter().map(cell)).map_err(failed)?;
            }
            let bytes = writer
                .into_inner()
                .map_err(|e| CliError::failed(format!("cannot render CSV: {e}")))?;
            print(&String::from_utf8_lossy(&bytes))
        }
        SqlFormat::Text => {
            if result.cols.is_empty() {
                let noun = if result.rowcount == 1 { "row" } else { "rows" };
                return print(&format!("OK, {} {noun} affected\n", result.rowcount));
            }
            let mut t = table::<0>([]);
            t.set_header(result.cols.clone());
            for row in &result.rows {
                t.add_row(row.iter().map(cell).collect::<Vec<_>>());
            }
            let noun = if result.rows.len() == 1 { "row" } else { "rows" };
            print(&format!("{}({} {noun})\n", render(&t), result.rows.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_json_when_they_parse() {
        assert_eq!(argument("42"), serde_json::json!(42));
        assert_eq!(argument("true"), serde_json::json!(true));
        assert_eq!(argument("[1,2]"), serde_json::json!([1, 2]));
        assert_eq!(argument("doc.t1"), serde_json::json!("doc.t1"));
        assert_eq!(argument("\"42\""), serde_json::json!("42"));
    }
}
