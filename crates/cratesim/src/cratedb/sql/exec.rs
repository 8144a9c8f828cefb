//! Executes catalogued statements against the cluster model, with CrateDB's row counts and error
//! messages (docs/cratedb-behaviour.md#statements and #errors), and logs every state change.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ast::{Expr, Props, ScopeAst, Select, SelectItem, Statement, TableName, TableRef};
use super::error::SqlError;
use super::eval::{Env, Output, run_select};
use super::types::ColType;
use super::{Wait, parser};
use crate::cratedb::CrateCluster;
use crate::cratedb::model::{Phase, Replicas, Table, partition_ident};
use crate::cratedb::settings::{SettingError, Settings};
use crate::cratedb::snapshots::{PartitionValues, Scope};

pub(crate) enum QueryResult {
    Rows(Output),
    Count(i64),
}

type Executed = (QueryResult, Option<Wait>);

/// Parses and runs one statement with its bind arguments.
pub(crate) fn run(
    cluster: &mut CrateCluster,
    node: &str,
    stmt: &str,
    args: &[Value],
    user: &str,
) -> Result<Executed, SqlError> {
    let parsed = parser::parse(stmt)?;
    if parsed.is_write() && cluster.master.is_none() {
        return Err(SqlError::no_master());
    }
    let ctx = Ctx {
        stmt,
        args,
        user,
        node,
    };
    let result = execute(cluster, &parsed, &ctx)?;
    if parsed.is_write() {
        cluster.record_write(node, stmt, args);
    }
    Ok(result)
}

struct Ctx<'a> {
    stmt: &'a str,
    args: &'a [Value],
    user: &'a str,
    /// The node the statement was sent to.
    node: &'a str,
}

impl Ctx<'_> {
    /// A constant expression's value (literals, parameters, objects, arrays).
    fn value(&self, e: &Expr) -> Result<Value, SqlError> {
        let sel = Select {
            distinct: false,
            items: vec![super::ast::SelectItem::Expr(e.clone(), None)],
            from: None,
            filter: None,
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            limit: None,
            offset: None,
        };
        let env = Env {
            args: self.args,
            user: self.user,
            stmt: self.stmt,
            short_function_names: true,
            relation: None,
            qualifiers: Vec::new(),
        };
        let out = run_select(&sel, &env)?;
        Ok(out
            .rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or(Value::Null))
    }

    fn text(&self, e: &Expr) -> Result<String, SqlError> {
        Ok(match self.value(e)? {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        })
    }

    fn props(&self, props: &Props) -> Result<BTreeMap<String, Value>, SqlError> {
        props
            .iter()
            .map(|(k, e)| Ok((k.clone(), self.value(e)?)))
            .collect()
    }
}

fn execute(cluster: &mut CrateCluster, stmt: &Statement, ctx: &Ctx) -> Result<Executed, SqlError> {
    let count = |n: i64| Ok((QueryResult::Count(n), None));
    match stmt {
        Statement::Select(sel) => select(cluster, sel, ctx).map(|o| (QueryResult::Rows(o), None)),
        Statement::SetGlobal {
            persistent,
            assignments,
        } => {
            set_global(cluster, *persistent, assignments, ctx)?;
            count(1)
        }
        Statement::ResetGlobal(names) => {
            for name in names {
                cluster.settings.reset(name).map_err(setting_error)?;
            }
            cluster.reroute(cluster.clock);
            count(1)
        }
        Statement::Decommission(e) => decommission(cluster, e, ctx),
        Statement::RerouteRetryFailed => {
            cluster.reroute(cluster.clock);
            count(1)
        }
        Statement::AlterTable {
            table,
            partition,
            set,
            reset,
        } => {
            alter_table(cluster, table, partition.as_ref(), set, reset, ctx)?;
            count(-1)
        }
        Statement::RenameTable { table, to } => {
            rename_table(cluster, table, to)?;
            count(-1)
        }
        Statement::CreateRepository { name, kind, props } => {
            let settings = ctx
                .props(props)?
                .into_iter()
                .map(|(k, v)| (k, value_text(&v)))
                .collect();
            cluster.create_repository(name, kind, settings)?;
            count(1)
        }
        Statement::DropRepository(name) => {
            cluster.drop_repository(name)?;
            count(1)
        }
        Statement::CreateSnapshot {
            repo,
            name,
            scope,
            props,
        } => {
            let wait = wait_for_completion(props, ctx)?;
            cluster.create_snapshot(repo, name, &scope_of(scope, ctx)?)?;
            let wait = wait.then(|| Wait::Snapshot {
                repository: repo.clone(),
                snapshot: name.clone(),
            });
            Ok((QueryResult::Count(1), wait))
        }
        Statement::DropSnapshot { repo, name } => {
            cluster.drop_snapshot(repo, name)?;
            count(1)
        }
        Statement::Restore {
            repo,
            name,
            scope,
            props,
        } => {
            if props.iter().any(|(k, _)| k.contains("rename")) {
                return Err(SqlError::unsupported("rename patterns", ctx.stmt));
            }
            let wait = wait_for_completion(props, ctx)?;
            cluster.restore_snapshot(repo, name, &scope_of(scope, ctx)?)?;
            let wait = wait.then(|| Wait::Restore {
                repository: repo.clone(),
                snapshot: name.clone(),
            });
            Ok((QueryResult::Count(1), wait))
        }
        Statement::AlterUser { name, props } => {
            alter_user(cluster, name, props, ctx)?;
            count(1)
        }
        Statement::CreateUser { name, props } => {
            if cluster.users.contains_key(name) {
                return Err(SqlError::user_exists(name));
            }
            let props = ctx.props(props)?;
            let password = props.get("password").and_then(|v| v.as_str().map(String::from));
            let jwt = match props.get("jwt") {
                None | Some(Value::Null) => None,
                Some(Value::Object(map)) => {
                    let text = |key: &str| map.get(key).and_then(Value::as_str).map(String::from);
                    let required = |key: &str| {
                        text(key).ok_or_else(|| {
                            SqlError::parse(&format!("JWT property '{key}' must have a non-null value"))
                        })
                    };
                    Some(super::super::JwtProps {
                        iss: required("iss")?,
                        username: required("username")?,
                        aud: text("aud"),
                    })
                }
                Some(_) => return Err(SqlError::parse("'jwt' must be an object")),
            };
            cluster.users.insert(name.clone(), password);
            if let Some(jwt) = jwt {
                cluster.user_jwt.insert(name.clone(), jwt);
            }
            count(1)
        }
        Statement::DropUser { name, if_exists } => {
            cluster.user_jwt.remove(name);
            if cluster.users.remove(name).is_none() && !*if_exists {
                return Err(SqlError::user_unknown(name));
            }
            count(1)
        }
        Statement::Update {
            table,
            alias,
            assignments,
            filter,
        } => update(
            cluster,
            table,
            alias.as_deref(),
            assignments,
            filter.as_ref(),
            ctx,
        )
        .map(|n| (QueryResult::Count(n), None)),
        Statement::DropTable { table, if_exists } => {
            let schema = table.schema.clone().unwrap_or_else(|| "doc".into());
            let before = cluster.tables.len();
            cluster
                .tables
                .retain(|t| !(t.schema == schema && t.name == table.name));
            if before == cluster.tables.len() {
                return if *if_exists {
                    count(0)
                } else {
                    Err(SqlError::relation_unknown(&written(table)))
                };
            }
            cluster.finish_restores();
            count(1)
        }
    }
}

fn written(t: &TableName) -> String {
    match &t.schema {
        Some(s) => format!("{s}.{}", t.name),
        None => t.name.clone(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn setting_error(e: SettingError) -> SqlError {
    match e {
        SettingError::Static(_) => SqlError::feature(&e.to_string()),
        _ => SqlError::parse(&e.to_string()),
    }
}

fn select(cluster: &CrateCluster, sel: &Select, ctx: &Ctx) -> Result<Output, SqlError> {
    if let Some((t, _)) = &sel.from {
        let schema = t.schema.as_deref().unwrap_or("doc");
        if let Some(table) = cluster.table(schema, &t.name) {
            return count_rows(cluster, table, sel, ctx);
        }
    }
    let relation = match &sel.from {
        Some((t, _)) => Some(cluster.relation(t.schema.as_deref(), &t.name, ctx.stmt, ctx.node)?),
        None => None,
    };
    let mut qualifiers = Vec::new();
    if let Some((t, alias)) = &sel.from {
        let schema = t.schema.clone().unwrap_or_else(|| "doc".into());
        qualifiers.push(vec![t.name.clone()]);
        qualifiers.push(vec![schema, t.name.clone()]);
        if let Some(a) = alias {
            qualifiers = vec![vec![a.clone()]];
        }
    }
    let major: u32 = cluster
        .version_of_cluster()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let env = Env {
        args: ctx.args,
        user: ctx.user,
        stmt: ctx.stmt,
        short_function_names: major >= 6,
        relation: relation.as_ref(),
        qualifiers,
    };
    run_select(sel, &env)
}

/// `SELECT count(*) FROM <user table>`: the rows of every partition, once every primary is
/// active; otherwise CrateDB's 5002 for the first shard without one. Nothing else is modelled
/// on user tables (they have no rows to read).
fn count_rows(cluster: &CrateCluster, table: &Table, sel: &Select, ctx: &Ctx) -> Result<Output, SqlError> {
    let (expr, alias) = match sel.items.as_slice() {
        [SelectItem::Expr(e @ Expr::Func { name, star: true, .. }, alias)] if name == "count" => (e, alias),
        _ => {
            return Err(SqlError::unsupported(
                "querying user tables other than count(*)",
                ctx.stmt,
            ));
        }
    };
    if sel.filter.is_some() || !sel.group_by.is_empty() || sel.having.is_some() {
        return Err(SqlError::unsupported(
            "count(*) of a user table with WHERE, GROUP BY or HAVING",
            ctx.stmt,
        ));
    }
    for index in &table.indices {
        if let Some(group) = index.groups.iter().find(|g| !g.active_primary()) {
            return Err(SqlError::new(
                "UnavailableShardsException",
                &format!("the shard {} of table {} is not available", group.id, table.fqn()),
                5002,
            ));
        }
    }
    let major: u32 = cluster
        .version_of_cluster()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let name = match alias {
        Some(a) => a.clone(),
        None if major >= 6 => "count".to_string(),
        None => super::eval::name_of(
            expr,
            &Env {
                args: ctx.args,
                user: ctx.user,
                stmt: ctx.stmt,
                short_function_names: false,
                relation: None,
                qualifiers: Vec::new(),
            },
        ),
    };
    let rows = i64::try_from(table.rows()).unwrap_or(i64::MAX);
    Ok(Output {
        cols: vec![name],
        types: vec![ColType::Bigint],
        rows: vec![vec![Value::from(rows)]],
    })
}

/// Flattens `a = {b = 1}` into `a.b = 1`.
fn flatten(prefix: &str, value: Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        other => out.push((prefix.to_string(), other)),
    }
}

fn set_global(
    cluster: &mut CrateCluster,
    persistent: bool,
    assignments: &Props,
    ctx: &Ctx,
) -> Result<(), SqlError> {
    let mut flat = Vec::new();
    for (name, e) in assignments {
        flatten(name, ctx.value(e)?, &mut flat);
    }
    for (name, value) in &flat {
        Settings::check(name, value).map_err(setting_error)?;
    }
    for (name, value) in &flat {
        cluster
            .settings
            .set(name, value, persistent)
            .map_err(setting_error)?;
    }
    cluster.reroute(cluster.clock);
    Ok(())
}

/// Resolves a node id first, then a case-insensitive name (docs/cratedb-behaviour.md#decommission).
fn decommission(cluster: &mut CrateCluster, e: &Expr, ctx: &Ctx) -> Result<Executed, SqlError> {
    let target = ctx.text(e)?;
    let members: Vec<usize> = (0..cluster.nodes.len())
        .filter(|&i| cluster.nodes[i].is_member())
        .collect();
    let found = members
        .iter()
        .find(|&&i| cluster.nodes[i].id == target)
        .or_else(|| {
            members
                .iter()
                .find(|&&i| cluster.nodes[i].name.eq_ignore_ascii_case(&target))
        })
        .copied()
        .ok_or_else(|| SqlError::parse(&format!("Node: '{target}' could not be found")))?;
    if cluster.nodes[found].phase == Phase::Member {
        let now = cluster.clock;
        cluster.start_decommission(found, None, now);
    }
    let wait = Wait::Decommission {
        node: cluster.nodes[found].name.clone(),
    };
    Ok((QueryResult::Count(1), Some(wait)))
}

fn wait_for_completion(props: &Props, ctx: &Ctx) -> Result<bool, SqlError> {
    Ok(ctx
        .props(props)?
        .get("wait_for_completion")
        .is_some_and(|v| v == &Value::Bool(true) || v == "true"))
}

fn partition_of(ctx: &Ctx, values: &Props) -> Result<String, SqlError> {
    let texts = values
        .iter()
        .map(|(_, e)| ctx.value(e))
        .collect::<Result<Vec<_>, _>>()?;
    let texts: Vec<Option<String>> = texts
        .iter()
        .map(|v| if v.is_null() { None } else { Some(value_text(v)) })
        .collect();
    let refs: Vec<Option<&str>> = texts.iter().map(|t| t.as_deref()).collect();
    Ok(partition_ident(&refs))
}

/// `PARTITION (column = value, …)` as text values (NULL: `None`).
fn partition_values(ctx: &Ctx, values: &Props) -> Result<PartitionValues, SqlError> {
    values
        .iter()
        .map(|(column, e)| {
            let v = ctx.value(e)?;
            Ok((
                column.clone(),
                if v.is_null() { None } else { Some(value_text(&v)) },
            ))
        })
        .collect()
}

fn scope_of(scope: &ScopeAst, ctx: &Ctx) -> Result<Scope, SqlError> {
    Ok(match scope {
        ScopeAst::All => Scope::All,
        ScopeAst::Metadata => Scope::Metadata,
        ScopeAst::Sections(s) => Scope::Sections(s.iter().map(|x| x.to_lowercase()).collect()),
        ScopeAst::Tables(refs) => Scope::Tables(
            refs.iter()
                .map(|TableRef { table, partition }| {
                    let ident = partition.as_ref().map(|p| partition_values(ctx, p)).transpose()?;
                    Ok((
                        table.schema.clone().unwrap_or_else(|| "doc".into()),
                        table.name.clone(),
                        ident,
                    ))
                })
                .collect::<Result<Vec<_>, SqlError>>()?,
        ),
    })
}

/// `ALTER TABLE t RENAME TO new` (CrateDB's `AlterTableRenameTableAnalyzer`): metadata only,
/// the shards stay where they are; the target takes the table's schema and may not name
/// another one.
fn rename_table(cluster: &mut CrateCluster, table: &TableName, to: &TableName) -> Result<(), SqlError> {
    let schema = table.schema.clone().unwrap_or_else(|| "doc".into());
    if let Some(target_schema) = &to.schema
        && *target_schema != schema
    {
        return Err(SqlError::parse("Cannot rename a table to a different schema"));
    }
    if cluster.table(&schema, &table.name).is_none() {
        return Err(SqlError::relation_unknown(&written(table)));
    }
    if cluster.table(&schema, &to.name).is_some() {
        return Err(SqlError::relation_exists(&format!("{schema}.{}", to.name)));
    }
    if let Some(t) = cluster
        .tables
        .iter_mut()
        .find(|t| t.schema == schema && t.name == table.name)
    {
        t.name = to.name.clone();
    }
    Ok(())
}

fn alter_table(
    cluster: &mut CrateCluster,
    table: &TableName,
    partition: Option<&Props>,
    set: &Props,
    reset: &[String],
    ctx: &Ctx,
) -> Result<(), SqlError> {
    let mut replicas = None;
    for (key, e) in set {
        if key != "number_of_replicas" {
            return Err(SqlError::unsupported(&format!("table setting {key}"), ctx.stmt));
        }
        replicas = Some(Replicas::parse(&ctx.text(e)?).map_err(|m| SqlError::parse(&m))?);
    }
    for key in reset {
        if key != "number_of_replicas" {
            return Err(SqlError::unsupported(&format!("table setting {key}"), ctx.stmt));
        }
        replicas = Replicas::parse("0-1").ok();
    }
    let ident = partition.map(|p| partition_of(ctx, p)).transpose()?;
    let schema = table.schema.clone().unwrap_or_else(|| "doc".into());
    let t = cluster
        .tables
        .iter_mut()
        .find(|t| t.schema == schema && t.name == table.name)
        .ok_or_else(|| SqlError::relation_unknown(&written(table)))?;
    let Some(replicas) = replicas else { return Ok(()) };
    match ident {
        Some(ident) => {
            let fqn = t.fqn();
            let index = t
                .indices
                .iter_mut()
                .find(|i| i.partition.as_deref() == Some(ident.as_str()))
                .ok_or_else(|| SqlError::partition_unknown(&fqn, &ident))?;
            index.replicas = replicas;
        }
        None => {
            for index in &mut t.indices {
                index.replicas = replicas.clone();
            }
            t.replicas = replicas;
        }
    }
    cluster.reroute(cluster.clock);
    Ok(())
}

/// `UPDATE`: only `sys.node_checks` is updatable, and only its `acknowledged` column
/// (`SysNodeChecksTableInfo` supports READ and UPDATE; `SysNodeChecks.getWriter`). The rows
/// the `WHERE` clause selects are acknowledged; the row count is how many. Other system tables
/// refuse UPDATE as CrateDB does (4007); user tables are not modelled (a loud error).
fn update(
    cluster: &mut CrateCluster,
    table: &TableName,
    alias: Option<&str>,
    assignments: &Props,
    filter: Option<&Expr>,
    ctx: &Ctx,
) -> Result<i64, SqlError> {
    let relation = cluster.relation(table.schema.as_deref(), &table.name, ctx.stmt, ctx.node)?;
    let schema = table.schema.as_deref().unwrap_or("doc");
    let fqn = format!("{schema}.{}", table.name);
    if fqn != "sys.node_checks" {
        if ["sys", "information_schema", "pg_catalog"].contains(&schema) {
            return Err(SqlError::new(
                "OperationOnInaccessibleRelationException",
                &format!("The relation \"{fqn}\" doesn't support or allow UPDATE operations"),
                4007,
            ));
        }
        return Err(SqlError::unsupported("UPDATE of user tables", ctx.stmt));
    }
    let mut acknowledged = None;
    for (column, e) in assignments {
        if relation.column_type(column).is_none() {
            return Err(SqlError::column_unknown(column));
        }
        if column != "acknowledged" {
            return Err(SqlError::unsupported(
                &format!("UPDATE of sys.node_checks.{column}, which CrateDB does not write"),
                ctx.stmt,
            ));
        }
        acknowledged = Some(match ctx.value(e)? {
            Value::Bool(b) => b,
            other => {
                return Err(SqlError::parse(&format!(
                    "Cannot cast `{other}` to type `boolean`"
                )));
            }
        });
    }
    let Some(acknowledged) = acknowledged else {
        return Ok(0);
    };
    let column = |name: &str| Expr::Column {
        qualifier: Vec::new(),
        name: name.to_string(),
        path: Vec::new(),
    };
    let rows = select(
        cluster,
        &Select {
            distinct: false,
            items: vec![
                super::ast::SelectItem::Expr(column("node_id"), None),
                super::ast::SelectItem::Expr(column("id"), None),
            ],
            from: Some((table.clone(), alias.map(String::from))),
            filter: filter.cloned(),
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            limit: None,
            offset: None,
        },
        ctx,
    )?;
    let mut count = 0;
    for row in rows.rows {
        let (Some(node_id), Some(id)) = (row[0].as_str(), row[1].as_u64()) else {
            continue;
        };
        let id = u32::try_from(id).unwrap_or(u32::MAX);
        if cluster.acknowledge_node_check(node_id, id, acknowledged) {
            count += 1;
        }
    }
    Ok(count)
}

fn alter_user(cluster: &mut CrateCluster, name: &str, props: &Props, ctx: &Ctx) -> Result<(), SqlError> {
    if !cluster.users.contains_key(name) {
        return Err(SqlError::user_unknown(name));
    }
    for (key, value) in ctx.props(props)? {
        if key != "password" {
            return Err(SqlError::unsupported(&format!("user property {key}"), ctx.stmt));
        }
        if name == "crate" {
            return Err(SqlError::feature(
                "Setting a password for the superuser crate is not allowed",
            ));
        }
        let password = match value {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        };
        cluster.users.insert(name.to_string(), password);
    }
    Ok(())
}
