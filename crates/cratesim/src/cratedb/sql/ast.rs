//! The statement catalogue: every statement form the simulator models, as parsed.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BinOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinOp {
    pub(crate) fn symbol(&self) -> &'static str {
        match self {
            BinOp::Eq => "=",
            BinOp::NotEq => "<>",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A literal and its source text (bare literals are named by their text).
    Lit(Value, String),
    /// A bind parameter, 0-based.
    Param(usize),
    /// `[schema.][table.]column['a']['b']`: qualifier parts, column, subscript path.
    Column {
        qualifier: Vec<String>,
        name: String,
        path: Vec<String>,
    },
    Func {
        name: String,
        args: Vec<Expr>,
        star: bool,
        distinct: bool,
    },
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Not(Box<Expr>),
    Neg(Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        ci: bool,
    },
    /// `left op ANY(right)`.
    Any {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Cast {
        expr: Box<Expr>,
        ty: String,
    },
    Subscript {
        expr: Box<Expr>,
        key: String,
    },
    Array(Vec<Expr>),
    Object(Vec<(String, Expr)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SelectItem {
    Star,
    Expr(Expr, Option<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableName {
    pub(crate) schema: Option<String>,
    pub(crate) name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderBy {
    pub(crate) expr: Expr,
    pub(crate) desc: bool,
    pub(crate) nulls_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Select {
    pub(crate) distinct: bool,
    pub(crate) items: Vec<SelectItem>,
    pub(crate) from: Option<(TableName, Option<String>)>,
    pub(crate) filter: Option<Expr>,
    pub(crate) group_by: Vec<Expr>,
    pub(crate) having: Option<Expr>,
    pub(crate) order_by: Vec<OrderBy>,
    pub(crate) limit: Option<Expr>,
    pub(crate) offset: Option<Expr>,
}

/// A table (and optional partition values) named in a snapshot or restore.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableRef {
    pub(crate) table: TableName,
    pub(crate) partition: Option<Vec<(String, Expr)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ScopeAst {
    All,
    Metadata,
    Tables(Vec<TableRef>),
    Sections(Vec<String>),
}

pub(crate) type Props = Vec<(String, Expr)>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Statement {
    Select(Box<Select>),
    SetGlobal {
        persistent: bool,
        assignments: Props,
    },
    ResetGlobal(Vec<String>),
    Decommission(Expr),
    RerouteRetryFailed,
    AlterTable {
        table: TableName,
        partition: Option<Props>,
        set: Props,
        reset: Vec<String>,
    },
    /// `ALTER TABLE t RENAME TO new`.
    RenameTable {
        table: TableName,
        to: TableName,
    },
    CreateRepository {
        name: String,
        kind: String,
        props: Props,
    },
    DropRepository(String),
    CreateSnapshot {
        repo: String,
        name: String,
        scope: ScopeAst,
        props: Props,
    },
    DropSnapshot {
        repo: String,
        name: String,
    },
    Restore {
        repo: String,
        name: String,
        scope: ScopeAst,
        props: Props,
    },
    AlterUser {
        name: String,
        props: Props,
    },
    CreateUser {
        name: String,
        props: Props,
    },
    DropUser {
        name: String,
        if_exists: bool,
    },
    DropTable {
        table: TableName,
        if_exists: bool,
    },
    /// `UPDATE table [AS alias] SET col = expr, … [WHERE expr]`.
    Update {
        table: TableName,
        alias: Option<String>,
        assignments: Props,
        filter: Option<Expr>,
    },
}

impl Statement {
    /// Statements that change state are logged in `sql_writes`.
    pub(crate) fn is_write(&self) -> bool {
        !matches!(self, Statement::Select(_))
    }
}
