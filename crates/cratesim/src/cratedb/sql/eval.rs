//! A tiny SELECT evaluator over system-table rows: projections with subscripts, WHERE with
//! comparisons, IN, LIKE, `= ANY(…)`, IS [NOT] NULL, AND/OR/NOT, aggregates (count, max, min,
//! sum, avg), GROUP BY, HAVING, ORDER BY, LIMIT/OFFSET and DISTINCT; plus output column
//! naming and typing as CrateDB does (docs/cratedb-behaviour.md#general-rules).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::ast::{BinOp, Expr, OrderBy, Select, SelectItem};
use super::error::SqlError;
use super::types::ColType;
use crate::cratedb::systables::Relation;

const AGGREGATES: &[&str] = &["count", "max", "min", "sum", "avg", "arbitrary"];

/// Everything an expression may refer to besides the row.
pub(crate) struct Env<'a> {
    pub(crate) args: &'a [Value],
    pub(crate) user: &'a str,
    pub(crate) stmt: &'a str,
    /// CrateDB ≥ 6.0 names `count(*)` just `count` (its 6.0.0 release notes).
    pub(crate) short_function_names: bool,
    pub(crate) relation: Option<&'a Relation>,
    /// Qualifiers that may prefix a column: `[table]`, `[schema, table]`, `[alias]`.
    pub(crate) qualifiers: Vec<Vec<String>>,
}

/// A result set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Output {
    pub(crate) cols: Vec<String>,
    pub(crate) types: Vec<ColType>,
    pub(crate) rows: Vec<Vec<Value>>,
}

/// The row (or group of rows) an expression is evaluated against.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    row: Option<&'a Map<String, Value>>,
    group: Option<&'a [&'a Map<String, Value>]>,
}

pub(crate) fn run_select(sel: &Select, env: &Env) -> Result<Output, SqlError> {
    let items = expand_items(sel, env)?;
    let cols: Vec<String> = items
        .iter()
        .map(|(e, alias)| alias.clone().unwrap_or_else(|| name_of(e, env)))
        .collect();
    let types = items
        .iter()
        .map(|(e, _)| type_of(e, env))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(f) = &sel.filter {
        type_of(f, env)?;
        if contains_aggregate(f) {
            return Err(SqlError::parse("Aggregate functions are not allowed in WHERE"));
        }
    }
    let empty = Vec::new();
    let all_rows = env.relation.map(|r| &r.rows).unwrap_or(&empty);
    let no_from = Map::new();
    let mut rows: Vec<&Map<String, Value>> = if env.relation.is_some() {
        all_rows.iter().collect()
    } else {
        vec![&no_from]
    };
    if let Some(f) = &sel.filter {
        let mut kept = Vec::new();
        for row in rows {
            if eval(
                f,
                Ctx {
                    row: Some(row),
                    group: None,
                },
                env,
            )? == Value::Bool(true)
            {
                kept.push(row);
            }
        }
        rows = kept;
    }
    let grouped = !sel.group_by.is_empty() || items.iter().any(|(e, _)| contains_aggregate(e));
    let mut produced = if grouped {
        grouped_rows(sel, &items, &cols, &rows, env)?
    } else {
        plain_rows(sel, &items, &cols, &rows, env)?
    };
    sort_rows(&mut produced, &sel.order_by);
    let mut out: Vec<Vec<Value>> = produced.into_iter().map(|(values, _)| values).collect();
    if sel.distinct {
        let mut seen = std::collections::HashSet::new();
        out.retain(|r| seen.insert(serde_json::to_string(r).unwrap_or_default()));
    }
    let offset = count_clause(sel.offset.as_ref(), env)?.unwrap_or(0);
    let limit = count_clause(sel.limit.as_ref(), env)?.unwrap_or(usize::MAX);
    let out = out.into_iter().skip(offset).take(limit).collect();
    Ok(Output {
        cols,
        types,
        rows: out,
    })
}

fn count_clause(e: Option<&Expr>, env: &Env) -> Result<Option<usize>, SqlError> {
    let Some(e) = e else { return Ok(None) };
    let v = eval(
        e,
        Ctx {
            row: None,
            group: None,
        },
        env,
    )?;
    v.as_u64()
        .map(|n| Some(usize::try_from(n).unwrap_or(usize::MAX)))
        .ok_or_else(|| SqlError::parse("LIMIT and OFFSET must be non-negative integers"))
}

fn expand_items(sel: &Select, env: &Env) -> Result<Vec<(Expr, Option<String>)>, SqlError> {
    let mut items = Vec::new();
    for item in &sel.items {
        match item {
            SelectItem::Star => {
                let rel = env
                    .relation
                    .ok_or_else(|| SqlError::parse("SELECT * with no tables specified is not valid"))?;
                for (name, _) in &rel.columns {
                    items.push((
                        Expr::Column {
                            qualifier: Vec::new(),
                            name: name.clone(),
                            path: Vec::new(),
                        },
                        None,
                    ));
                }
            }
            SelectItem::Expr(e, alias) => items.push((e.clone(), alias.clone())),
        }
    }
    Ok(items)
}

type Produced = (Vec<Value>, Vec<Value>);

fn plain_rows(
    sel: &Select,
    items: &[(Expr, Option<String>)],
    cols: &[String],
    rows: &[&Map<String, Value>],
    env: &Env,
) -> Result<Vec<Produced>, SqlError> {
    let mut out = Vec::new();
    for row in rows {
        let ctx = Ctx {
            row: (env.relation.is_some()).then_some(*row),
            group: None,
        };
        let values = items
            .iter()
            .map(|(e, _)| eval(e, ctx, env))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = order_keys(&sel.order_by, items, cols, &values, ctx, env)?;
        out.push((values, keys));
    }
    Ok(out)
}

fn grouped_rows(
    sel: &Select,
    items: &[(Expr, Option<String>)],
    cols: &[String],
    rows: &[&Map<String, Value>],
    env: &Env,
) -> Result<Vec<Produced>, SqlError> {
    let group_exprs: Vec<Expr> = sel
        .group_by
        .iter()
        .map(|g| resolve_output_ref(g, items, cols))
        .collect();
    let mut groups: Vec<(String, Vec<&Map<String, Value>>)> = Vec::new();
    if group_exprs.is_empty() {
        groups.push((String::new(), rows.to_vec()));
    } else {
        for row in rows {
            let ctx = Ctx {
                row: Some(*row),
                group: None,
            };
            let key = group_exprs
                .iter()
                .map(|g| eval(g, ctx, env))
                .collect::<Result<Vec<_>, _>>()?;
            let key = serde_json::to_string(&key).unwrap_or_default();
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(*row),
                None => groups.push((key, vec![*row])),
            }
        }
    }
    let mut out = Vec::new();
    for (_, members) in &groups {
        let ctx = Ctx {
            row: members.first().copied(),
            group: Some(members.as_slice()),
        };
        if let Some(h) = &sel.having
            && eval(h, ctx, env)? != Value::Bool(true)
        {
            continue;
        }
        let values = items
            .iter()
            .map(|(e, _)| eval(e, ctx, env))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = order_keys(&sel.order_by, items, cols, &values, ctx, env)?;
        out.push((values, keys));
    }
    Ok(out)
}

/// An ordinal (`1`) or an output alias stands for that select item.
fn resolve_output_ref(e: &Expr, items: &[(Expr, Option<String>)], cols: &[String]) -> Expr {
    output_index(e, items, cols)
        .map(|i| items[i].0.clone())
        .unwrap_or_else(|| e.clone())
}

fn output_index(e: &Expr, items: &[(Expr, Option<String>)], cols: &[String]) -> Option<usize> {
    match e {
        Expr::Lit(Value::Number(n), _) => n
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| (1..=items.len()).contains(i))
            .map(|i| i - 1),
        Expr::Column {
            qualifier,
            name,
            path,
        } if qualifier.is_empty() && path.is_empty() => items
            .iter()
            .position(|(_, alias)| alias.as_deref() == Some(name.as_str())),
        _ => {
            let text = name_of_plain(e);
            cols.iter()
                .position(|c| *c == text)
                .or_else(|| items.iter().position(|(x, _)| x == e))
        }
    }
}

fn order_keys(
    order: &[OrderBy],
    items: &[(Expr, Option<String>)],
    cols: &[String],
    values: &[Value],
    ctx: Ctx,
    env: &Env,
) -> Result<Vec<Value>, SqlError> {
    order
        .iter()
        .map(|o| match output_index(&o.expr, items, cols) {
            Some(i) => Ok(values[i].clone()),
            None => eval(&o.expr, ctx, env),
        })
        .collect()
}

fn sort_rows(rows: &mut [Produced], order: &[OrderBy]) {
    if order.is_empty() {
        return;
    }
    rows.sort_by(|a, b| {
        for (k, o) in order.iter().enumerate() {
            let (x, y) = (&a.1[k], &b.1[k]);
            let nulls_first = o.nulls_first.unwrap_or(o.desc);
            let ord = match (x.is_null(), y.is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    if nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, true) => {
                    if nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                _ => {
                    let c = compare(x, y).unwrap_or(Ordering::Equal);
                    if o.desc { c.reverse() } else { c }
                }
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

pub(crate) fn contains_aggregate(e: &Expr) -> bool {
    match e {
        Expr::Func { name, args, .. } => {
            AGGREGATES.contains(&name.as_str()) || args.iter().any(contains_aggregate)
        }
        Expr::Binary { left, right, .. } | Expr::Any { left, right, .. } => {
            contains_aggregate(left) || contains_aggregate(right)
        }
        Expr::Like { expr, pattern, .. } => contains_aggregate(expr) || contains_aggregate(pattern),
        Expr::Not(x) | Expr::Neg(x) => contains_aggregate(x),
        Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } | Expr::Subscript { expr, .. } => {
            contains_aggregate(expr)
        }
        Expr::InList { expr, list, .. } => contains_aggregate(expr) || list.iter().any(contains_aggregate),
        Expr::Array(items) => items.iter().any(contains_aggregate),
        Expr::Object(fields) => fields.iter().any(|(_, v)| contains_aggregate(v)),
        Expr::Lit(..) | Expr::Param(_) | Expr::Column { .. } => false,
    }
}

// ---- naming ----

/// The output column name CrateDB gives an expression.
pub(crate) fn name_of(e: &Expr, env: &Env) -> String {
    match e {
        Expr::Func { name, .. } if env.short_function_names => name.clone(),
        _ => name_of_plain(e),
    }
}

// The recursive functions over an expression (`name_of_plain`, `type_of`, `eval`) dispatch to
// helpers and keep few locals of their own: an unoptimised build gives every local its own
// stack slot, and their frames are live at every level of a nested expression (the parser
// bounds the nesting, see `parser::MAX_DEPTH`).

fn name_of_plain(e: &Expr) -> String {
    match e {
        Expr::Lit(_, text) => text.clone(),
        Expr::Param(i) => format!("${}", i + 1),
        Expr::Column { name, path: p, .. } => format!("{name}{}", subscript_path(p)),
        Expr::Func { name, star: true, .. } => format!("{name}(*)"),
        Expr::Func { name, args, .. }
            if args.is_empty() && (name.starts_with("current_") || name == "user") =>
        {
            name.clone()
        }
        Expr::Func {
            name, args, distinct, ..
        } => name_of_call(name, args, *distinct),
        Expr::Binary { op, left, right } => name_of_binary(op, left, right),
        Expr::Not(x) => name_of_wrapped("(NOT ", x, ")"),
        Expr::Neg(x) => name_of_wrapped("- ", x, ""),
        Expr::IsNull { expr, negated } => {
            name_of_wrapped("(", expr, if *negated { " IS NOT NULL)" } else { " IS NULL)" })
        }
        Expr::InList { expr, list, negated } => name_of_in_list(expr, list, *negated),
        Expr::Like {
            expr,
            pattern,
            negated,
            ci,
        } => name_of_like(expr, pattern, *negated, *ci),
        Expr::Any { op, left, right } => name_of_any(op, left, right),
        Expr::Cast { expr, ty } => name_of_cast(expr, ty),
        Expr::Subscript { expr, key } => name_of_subscript(expr, key),
        Expr::Array(items) => name_of_array(items),
        Expr::Object(fields) => name_of_object(fields),
    }
}

fn subscript_path(path: &[String]) -> String {
    path.iter().map(|k| format!("['{k}']")).collect()
}

fn name_list(items: &[Expr]) -> String {
    items.iter().map(name_of_plain).collect::<Vec<_>>().join(", ")
}

fn name_of_call(name: &str, args: &[Expr], distinct: bool) -> String {
    let args = name_list(args);
    format!("{name}({}{args})", if distinct { "DISTINCT " } else { "" })
}

fn name_of_binary(op: &BinOp, left: &Expr, right: &Expr) -> String {
    let (left, right) = (name_of_plain(left), name_of_plain(right));
    format!("({left} {} {right})", op.symbol())
}

fn name_of_wrapped(before: &str, x: &Expr, after: &str) -> String {
    let x = name_of_plain(x);
    format!("{before}{x}{after}")
}

fn name_of_in_list(expr: &Expr, list: &[Expr], negated: bool) -> String {
    let (expr, list) = (name_of_plain(expr), name_list(list));
    format!("({expr} {}IN ({list}))", if negated { "NOT " } else { "" })
}

fn name_of_like(expr: &Expr, pattern: &Expr, negated: bool, ci: bool) -> String {
    let (expr, pattern) = (name_of_plain(expr), name_of_plain(pattern));
    format!(
        "({expr} {}{} {pattern})",
        if negated { "NOT " } else { "" },
        if ci { "ILIKE" } else { "LIKE" }
    )
}

fn name_of_any(op: &BinOp, left: &Expr, right: &Expr) -> String {
    let (left, right) = (name_of_plain(left), name_of_plain(right));
    format!("({left} {} ANY({right}))", op.symbol())
}

fn name_of_cast(expr: &Expr, ty: &str) -> String {
    let expr = name_of_plain(expr);
    format!("cast({expr} AS {ty})")
}

fn name_of_subscript(expr: &Expr, key: &str) -> String {
    let expr = name_of_plain(expr);
    format!("{expr}['{key}']")
}

fn name_of_array(items: &[Expr]) -> String {
    let items = name_list(items);
    format!("[{items}]")
}

fn name_of_object(fields: &[(String, Expr)]) -> String {
    let fields = fields
        .iter()
        .map(|(k, v)| {
            let v = name_of_plain(v);
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("{{{fields}}}")
}

// ---- typing ----

fn check_qualifier(qualifier: &[String], env: &Env, e: &Expr) -> Result<(), SqlError> {
    if qualifier.is_empty() || env.qualifiers.iter().any(|q| q.as_slice() == qualifier) {
        Ok(())
    } else {
        Err(SqlError::column_unknown(&format!(
            "{}.{}",
            qualifier.join("."),
            name_of_plain(e)
        )))
    }
}

pub(crate) fn type_of(e: &Expr, env: &Env) -> Result<ColType, SqlError> {
    match e {
        Expr::Lit(v, _) => Ok(ColType::of_value(v)),
        Expr::Param(i) => Ok(env
            .args
            .get(*i)
            .map(ColType::of_value)
            .unwrap_or(ColType::Undefined)),
        Expr::Column {
            qualifier,
            name,
            path,
        } => column_type(e, qualifier, name, path, env),
        Expr::Func { name, args, .. } => func_type(name, args, env),
        Expr::Binary {
            op: BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod,
            left,
            right,
        } => arithmetic_type(left, right, env),
        Expr::Binary { left, right, .. } | Expr::Any { left, right, .. } => boolean_of(&[left, right], env),
        Expr::Like { expr, pattern, .. } => boolean_of(&[expr, pattern], env),
        Expr::Not(x) | Expr::IsNull { expr: x, .. } => boolean_of(&[x], env),
        Expr::InList { expr, list, .. } => type_of(expr, env).and_then(|_| {
            let list: Vec<&Expr> = list.iter().collect();
            boolean_of(&list, env)
        }),
        Expr::Neg(x) => type_of(x, env),
        Expr::Cast { expr, ty } => type_of(expr, env).map(|_| cast_type(ty)),
        Expr::Subscript { expr, key } => {
            type_of(expr, env).map(|t| t.child(key).unwrap_or(ColType::Undefined))
        }
        Expr::Array(items) => match items.first() {
            Some(x) => type_of(x, env).map(|t| ColType::Array(Box::new(t))),
            None => Ok(ColType::Array(Box::new(ColType::Undefined))),
        },
        Expr::Object(_) => Ok(ColType::DynObject),
    }
}

fn column_type(
    e: &Expr,
    qualifier: &[String],
    name: &str,
    path: &[String],
    env: &Env,
) -> Result<ColType, SqlError> {
    check_qualifier(qualifier, env, e)?;
    let unknown = || SqlError::column_unknown(&name_of_plain(e));
    let mut t = env
        .relation
        .and_then(|r| r.column_type(name))
        .cloned()
        .ok_or_else(unknown)?;
    for key in path {
        t = t.child(key).ok_or_else(unknown)?;
    }
    Ok(t)
}

fn arithmetic_type(left: &Expr, right: &Expr, env: &Env) -> Result<ColType, SqlError> {
    let l = type_of(left, env)?;
    let r = type_of(right, env)?;
    Ok(if l == ColType::Double || r == ColType::Double {
        ColType::Double
    } else {
        l
    })
}

/// BOOLEAN, once every operand has a type (an unknown column is an error).
fn boolean_of(operands: &[&Expr], env: &Env) -> Result<ColType, SqlError> {
    for x in operands {
        type_of(x, env)?;
    }
    Ok(ColType::Boolean)
}

fn func_type(name: &str, args: &[Expr], env: &Env) -> Result<ColType, SqlError> {
    let arg = |i: usize| args.get(i).map(|a| type_of(a, env)).transpose();
    let first = arg(0)?.unwrap_or(ColType::Undefined);
    for i in 1..args.len() {
        arg(i)?;
    }
    Ok(match name {
        "count" => ColType::Bigint,
        "max" | "min" | "arbitrary" | "coalesce" | "abs" => first,
        "sum" => {
            if matches!(first, ColType::Double | ColType::Real) {
                ColType::Double
            } else {
                ColType::Bigint
            }
        }
        "avg" => ColType::Double,
        "current_user" | "current_schema" | "user" | "session_user" | "lower" | "upper" | "concat" => {
            ColType::Text
        }
        "length" | "char_length" | "array_length" => ColType::Integer,
        _ => return Err(SqlError::unsupported(&format!("function {name}"), env.stmt)),
    })
}

fn cast_type(ty: &str) -> ColType {
    match ty {
        "integer" | "int" => ColType::Integer,
        "bigint" | "long" => ColType::Bigint,
        "smallint" | "short" => ColType::Smallint,
        "text" | "string" | "varchar" => ColType::Text,
        "boolean" | "bool" => ColType::Boolean,
        "double" | "double precision" | "float" => ColType::Double,
        "real" => ColType::Real,
        t if t.starts_with("timestamp") => ColType::Timestamp,
        t if t.starts_with("array(") => ColType::Array(Box::new(cast_type(
            t.trim_start_matches("array(").trim_end_matches(')'),
        ))),
        _ => ColType::Undefined,
    }
}

// ---- evaluation ----

fn eval(e: &Expr, ctx: Ctx, env: &Env) -> Result<Value, SqlError> {
    match e {
        Expr::Lit(v, _) => Ok(v.clone()),
        Expr::Param(i) => eval_param(*i, env),
        Expr::Column { name, path, .. } => Ok(eval_column(name, path, ctx)),
        Expr::Func {
            name,
            args,
            star,
            distinct,
        } => eval_func(name, args, *star, *distinct, ctx, env),
        Expr::Binary { op, left, right } => eval_binary(op, left, right, ctx, env),
        Expr::Not(x) => eval(x, ctx, env).map(not),
        Expr::Neg(x) => eval(x, ctx, env).map(negative),
        Expr::IsNull { expr, negated } => eval(expr, ctx, env).map(|v| Value::Bool(v.is_null() != *negated)),
        Expr::InList { expr, list, negated } => eval_in_list(expr, list, *negated, ctx, env),
        Expr::Like {
            expr,
            pattern,
            negated,
            ci,
        } => eval_like(expr, pattern, *negated, *ci, ctx, env),
        Expr::Any { op, left, right } => eval_any(op, left, right, ctx, env),
        Expr::Cast { expr, ty } => eval(expr, ctx, env).and_then(|v| cast(v, ty)),
        Expr::Subscript { expr, key } => eval(expr, ctx, env).map(|v| subscript(&v, key)),
        Expr::Array(items) => eval_array(items, ctx, env),
        Expr::Object(fields) => eval_object(fields, ctx, env),
    }
}

fn eval_param(i: usize, env: &Env) -> Result<Value, SqlError> {
    env.args.get(i).cloned().ok_or_else(|| {
        SqlError::parse(&format!(
            "The query contains a parameter placeholder ${}, but there are only {} parameter values",
            i + 1,
            env.args.len()
        ))
    })
}

fn eval_column(name: &str, path: &[String], ctx: Ctx) -> Value {
    let mut v = ctx.row.and_then(|r| r.get(name)).cloned().unwrap_or(Value::Null);
    for key in path {
        v = subscript(&v, key);
    }
    v
}

fn not(v: Value) -> Value {
    match v {
        Value::Bool(b) => Value::Bool(!b),
        _ => Value::Null,
    }
}

fn negative(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(|i| Value::from(-i))
            .unwrap_or_else(|| Value::from(-n.as_f64().unwrap_or(0.0))),
        _ => Value::Null,
    }
}

fn eval_in_list(expr: &Expr, list: &[Expr], negated: bool, ctx: Ctx, env: &Env) -> Result<Value, SqlError> {
    let v = eval(expr, ctx, env)?;
    if v.is_null() {
        return Ok(Value::Null);
    }
    let mut found = false;
    for item in list {
        found |= compare(&v, &eval(item, ctx, env)?) == Some(Ordering::Equal);
    }
    Ok(Value::Bool(found != negated))
}

fn eval_like(
    expr: &Expr,
    pattern: &Expr,
    negated: bool,
    ci: bool,
    ctx: Ctx,
    env: &Env,
) -> Result<Value, SqlError> {
    Ok(match (eval(expr, ctx, env)?, eval(pattern, ctx, env)?) {
        (Value::String(s), Value::String(p)) => {
            let (s, p) = if ci {
                (s.to_lowercase(), p.to_lowercase())
            } else {
                (s, p)
            };
            Value::Bool(like(&s, &p) != negated)
        }
        _ => Value::Null,
    })
}

fn eval_any(op: &BinOp, left: &Expr, right: &Expr, ctx: Ctx, env: &Env) -> Result<Value, SqlError> {
    let l = eval(left, ctx, env)?;
    let items = match eval(right, ctx, env)? {
        Value::Array(items) => items,
        Value::Null => return Ok(Value::Null),
        other => vec![other],
    };
    Ok(Value::Bool(
        items.iter().any(|r| compare_op(op, &l, r) == Value::Bool(true)),
    ))
}

fn eval_array(items: &[Expr], ctx: Ctx, env: &Env) -> Result<Value, SqlError> {
    let mut values = Vec::with_capacity(items.len());
    for x in items {
        values.push(eval(x, ctx, env)?);
    }
    Ok(Value::Array(values))
}

fn eval_object(fields: &[(String, Expr)], ctx: Ctx, env: &Env) -> Result<Value, SqlError> {
    let mut m = Map::new();
    for (k, v) in fields {
        m.insert(k.clone(), eval(v, ctx, env)?);
    }
    Ok(Value::Object(m))
}

fn subscript(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(m) => m.get(key).cloned().unwrap_or(Value::Null),
        Value::Array(items) if key.parse::<usize>().is_ok() => {
            // CrateDB array subscripts are 1-based.
            key.parse::<usize>()
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| items.get(i))
                .cloned()
                .unwrap_or(Value::Null)
        }
        Value::Array(items) => Value::Array(items.iter().map(|x| subscript(x, key)).collect()),
        _ => Value::Null,
    }
}

fn eval_func(
    name: &str,
    args: &[Expr],
    star: bool,
    distinct: bool,
    ctx: Ctx,
    env: &Env,
) -> Result<Value, SqlError> {
    if AGGREGATES.contains(&name) {
        let group = ctx
            .group
            .ok_or_else(|| SqlError::parse(&format!("Aggregate function {name} not allowed here")))?;
        return aggregate(name, args.first(), star, distinct, group, env);
    }
    let vals = args
        .iter()
        .map(|a| eval(a, ctx, env))
        .collect::<Result<Vec<_>, _>>()?;
    let text = |i: usize| vals.get(i).and_then(Value::as_str).map(str::to_string);
    Ok(match name {
        "current_user" | "user" | "session_user" => Value::from(env.user),
        "current_schema" => Value::from("doc"),
        "lower" => text(0)
            .map(|s| Value::from(s.to_lowercase()))
            .unwrap_or(Value::Null),
        "upper" => text(0)
            .map(|s| Value::from(s.to_uppercase()))
            .unwrap_or(Value::Null),
        "concat" => Value::from(
            vals.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect::<String>(),
        ),
        "coalesce" => vals.into_iter().find(|v| !v.is_null()).unwrap_or(Value::Null),
        "length" | "char_length" => text(0)
            .map(|s| Value::from(s.chars().count()))
            .unwrap_or(Value::Null),
        "array_length" => match vals.first() {
            Some(Value::Array(a)) if !a.is_empty() => Value::from(a.len()),
            _ => Value::Null,
        },
        "abs" => match vals.first() {
            Some(Value::Number(n)) => n
                .as_i64()
                .map(|i| Value::from(i.abs()))
                .unwrap_or_else(|| Value::from(n.as_f64().unwrap_or(0.0).abs())),
            _ => Value::Null,
        },
        _ => return Err(SqlError::unsupported(&format!("function {name}"), env.stmt)),
    })
}

fn aggregate(
    name: &str,
    arg: Option<&Expr>,
    star: bool,
    distinct: bool,
    group: &[&Map<String, Value>],
    env: &Env,
) -> Result<Value, SqlError> {
    if star {
        return Ok(Value::from(group.len()));
    }
    let Some(arg) = arg else { return Ok(Value::Null) };
    let mut vals = Vec::new();
    for row in group {
        let v = eval(
            arg,
            Ctx {
                row: Some(row),
                group: None,
            },
            env,
        )?;
        if !v.is_null() {
            vals.push(v);
        }
    }
    if distinct {
        let mut seen = std::collections::HashSet::new();
        vals.retain(|v| seen.insert(v.to_string()));
    }
    let nums: Vec<f64> = vals.iter().filter_map(Value::as_f64).collect();
    let all_int = vals.iter().all(|v| v.is_i64() || v.is_u64());
    Ok(match name {
        "count" => Value::from(vals.len()),
        "max" => vals
            .into_iter()
            .max_by(|a, b| compare(a, b).unwrap_or(Ordering::Equal))
            .unwrap_or(Value::Null),
        "min" => vals
            .into_iter()
            .min_by(|a, b| compare(a, b).unwrap_or(Ordering::Equal))
            .unwrap_or(Value::Null),
        "arbitrary" => vals.into_iter().next().unwrap_or(Value::Null),
        "sum" if nums.is_empty() => Value::Null,
        "sum" if all_int => Value::from(vals.iter().filter_map(Value::as_i64).sum::<i64>()),
        "sum" => Value::from(nums.iter().sum::<f64>()),
        "avg" if nums.is_empty() => Value::Null,
        _ => Value::from(nums.iter().sum::<f64>() / nums.len() as f64),
    })
}

fn eval_binary(op: &BinOp, left: &Expr, right: &Expr, ctx: Ctx, env: &Env) -> Result<Value, SqlError> {
    let l = eval(left, ctx, env)?;
    match op {
        BinOp::And => {
            let r = eval(right, ctx, env)?;
            return Ok(match (&l, &r) {
                (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
                (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
                _ => Value::Null,
            });
        }
        BinOp::Or => {
            let r = eval(right, ctx, env)?;
            return Ok(match (&l, &r) {
                (Value::Bool(true), _) | (_, Value::Bool(true)) => Value::Bool(true),
                (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
                _ => Value::Null,
            });
        }
        _ => {}
    }
    let r = eval(right, ctx, env)?;
    Ok(match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => arithmetic(op, &l, &r),
        _ => compare_op(op, &l, &r),
    })
}

fn arithmetic(op: &BinOp, l: &Value, r: &Value) -> Value {
    if let (Some(a), Some(b)) = (l.as_i64(), r.as_i64()) {
        return match op {
            BinOp::Add => Value::from(a.wrapping_add(b)),
            BinOp::Sub => Value::from(a.wrapping_sub(b)),
            BinOp::Mul => Value::from(a.wrapping_mul(b)),
            BinOp::Div if b != 0 => Value::from(a / b),
            BinOp::Mod if b != 0 => Value::from(a % b),
            _ => Value::Null,
        };
    }
    let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else {
        return Value::Null;
    };
    let v = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        _ => a % b,
    };
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn compare_op(op: &BinOp, l: &Value, r: &Value) -> Value {
    let Some(ord) = compare(l, r) else {
        return Value::Null;
    };
    Value::Bool(match op {
        BinOp::Eq => ord == Ordering::Equal,
        BinOp::NotEq => ord != Ordering::Equal,
        BinOp::Lt => ord == Ordering::Less,
        BinOp::LtEq => ord != Ordering::Greater,
        BinOp::Gt => ord == Ordering::Greater,
        BinOp::GtEq => ord != Ordering::Less,
        _ => return Value::Null,
    })
}

/// SQL comparison; `None` when either side is NULL or the types do not compare.
fn compare(l: &Value, r: &Value) -> Option<Ordering> {
    match (l, r) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
        },
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        // Implicit casts between text and numbers, as CrateDB does for literals.
        (Value::Number(a), Value::String(b)) => a.as_f64()?.partial_cmp(&b.parse::<f64>().ok()?),
        (Value::String(a), Value::Number(b)) => a.parse::<f64>().ok()?.partial_cmp(&b.as_f64()?),
        _ => Some(l.to_string().cmp(&r.to_string())),
    }
}

/// SQL LIKE with `%` and `_` (and `\` escapes).
fn like(s: &str, p: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = p.chars().collect();
    like_at(&s, &p)
}

fn like_at(s: &[char], p: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('%', rest)) => (0..=s.len()).any(|i| like_at(&s[i..], rest)),
        Some(('_', rest)) => !s.is_empty() && like_at(&s[1..], rest),
        Some(('\\', rest)) if !rest.is_empty() => s.first() == rest.first() && like_at(&s[1..], &rest[1..]),
        Some((c, rest)) => s.first() == Some(c) && like_at(&s[1..], rest),
    }
}

fn cast(v: Value, ty: &str) -> Result<Value, SqlError> {
    if v.is_null() {
        return Ok(v);
    }
    let fail = || SqlError::parse(&format!("Cannot cast value `{v}` to type `{ty}`"));
    Ok(match cast_type(ty) {
        ColType::Integer | ColType::Bigint | ColType::Smallint => match &v {
            Value::Number(n) => Value::from(
                n.as_i64()
                    .or_else(|| n.as_f64().map(|f| f as i64))
                    .ok_or_else(fail)?,
            ),
            Value::String(s) => Value::from(s.trim().parse::<i64>().map_err(|_| fail())?),
            Value::Bool(b) => Value::from(i64::from(*b)),
            _ => return Err(fail()),
        },
        ColType::Double | ColType::Real => match &v {
            Value::Number(n) => Value::from(n.as_f64().ok_or_else(fail)?),
            Value::String(s) => Value::from(s.trim().parse::<f64>().map_err(|_| fail())?),
            _ => return Err(fail()),
        },
        ColType::Text => match &v {
            Value::String(_) => v.clone(),
            other => Value::from(other.to_string()),
        },
        ColType::Boolean => match &v {
            Value::Bool(_) => v.clone(),
            Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("t") => {
                Value::Bool(true)
            }
            Value::String(s) if s.eq_ignore_ascii_case("false") || s.eq_ignore_ascii_case("f") => {
                Value::Bool(false)
            }
            _ => return Err(fail()),
        },
        _ => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("CREATE SNAPSHOT x", "%CREATE SNAPSHOT%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_d"));
        assert!(like("a%c", "a\\%c"));
    }

    #[test]
    fn comparisons_and_nulls() {
        assert_eq!(compare(&Value::from(1), &Value::from(2)), Some(Ordering::Less));
        assert_eq!(compare(&Value::Null, &Value::from(2)), None);
        assert_eq!(compare(&Value::from(2), &Value::from("2")), Some(Ordering::Equal));
    }
}
