//! A recursive-descent parser from tokens to the statement catalogue in `ast.rs`.
//!
//! Malformed SQL gives CrateDB-style `line L:C: mismatched input '…' expecting …` errors;
//! well-formed SQL the simulator does not model (INSERT, JOIN, subqueries, SHOW, …) gives the
//! loud "cratesim: unsupported statement" error, never a silent empty result.
//!
//! Expressions nested deeper than [`MAX_DEPTH`] are refused as a parse error too, before the
//! parser (or the evaluator, or dropping the tree) can overflow the stack.

use serde_json::Value;

use super::ast::{BinOp, Expr, OrderBy, Props, ScopeAst, Select, SelectItem, Statement, TableName, TableRef};
use super::error::SqlError;
use super::lexer::{Tok, Token, tokenize};

/// How deep an expression may nest: parentheses, function calls, array and object literals,
/// `NOT`, unary minus, casts and subscripts count a level each, and so does every operator of a
/// chain (`1 + 1 + … + 1` builds a tree as deep as it is long). Deeper statements get a
/// `SQLParseException` (4000, HTTP 400) rather than a stack overflow in this recursive-descent
/// parser, in the evaluator, or when the tree is dropped.
///
/// 128 is the limit serde_json puts on JSON nesting (`serde_json::Deserializer`'s
/// `remaining_depth`) and Materialize on SQL (`RECURSION_LIMIT` in MaterializeInc/materialize,
/// `src/sql-parser/src/parser.rs`: a dozen levels seen in production, times a safety factor).
/// No statement a client writes comes near it (cratectl's nest a few levels), and the deepest
/// statement of any shape at the limit needs under 1 MiB of stack to parse and evaluate in an
/// unoptimised build, half of the 2 MiB a Rust or tokio thread gets. CrateDB's own parser
/// (ANTLR, `libs/sql-parser` in crate/crate) documents no such limit.
pub(crate) const MAX_DEPTH: usize = 128;

/// First words of statements CrateDB knows; other first words are syntax errors.
const STATEMENT_STARTS: &[&str] = &[
    "select",
    "insert",
    "update",
    "delete",
    "create",
    "drop",
    "alter",
    "set",
    "reset",
    "show",
    "explain",
    "grant",
    "deny",
    "revoke",
    "restore",
    "copy",
    "refresh",
    "optimize",
    "analyze",
    "kill",
    "begin",
    "start",
    "commit",
    "rollback",
    "with",
    "values",
    "declare",
    "fetch",
    "close",
    "discard",
    "deallocate",
    "swap",
];

/// Words that end an expression list (cannot be bare aliases).
const RESERVED: &[&str] = &[
    "from",
    "where",
    "group",
    "having",
    "order",
    "limit",
    "offset",
    "union",
    "intersect",
    "except",
    "and",
    "or",
    "not",
    "as",
    "on",
    "join",
    "inner",
    "left",
    "right",
    "full",
    "cross",
    "asc",
    "desc",
    "nulls",
    "is",
    "in",
    "like",
    "ilike",
    "with",
    "partition",
    "set",
    "reset",
    "between",
];

pub(crate) fn parse(stmt: &str) -> Result<Statement, SqlError> {
    let toks = tokenize(stmt)?;
    let mut p = Parser {
        toks,
        pos: 0,
        next_param: 0,
        depth: 0,
        stmt,
    };
    let parsed = p.statement()?;
    p.eat_sym(";");
    if p.peek().tok != Tok::Eof {
        return Err(p.mismatch("<EOF>"));
    }
    Ok(parsed)
}

struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    next_param: usize,
    /// Levels of expression nesting open at this point (see [`MAX_DEPTH`]). Each function that
    /// opens levels puts the count back before it returns `Ok`; after an error the whole parse
    /// is abandoned, so the count no longer matters.
    depth: usize,
    stmt: &'a str,
}

impl Parser<'_> {
    // ---- token helpers ----

    fn peek(&self) -> &Token {
        let last = self.toks.len().saturating_sub(1);
        &self.toks[self.pos.min(last)]
    }

    fn peek_at(&self, k: usize) -> &Token {
        let last = self.toks.len().saturating_sub(1);
        &self.toks[(self.pos + k).min(last)]
    }

    fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is_kw(&self, kw: &str) -> bool {
        self.peek().is_kw(kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let yes = self.is_kw(kw);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.mismatch(&format!("'{}'", kw.to_uppercase())))
        }
    }

    fn is_sym(&self, s: &str) -> bool {
        self.peek().tok == Tok::Sym(sym_static(s))
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        let yes = self.is_sym(s);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), SqlError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.mismatch(&format!("'{s}'")))
        }
    }

    fn mismatch(&self, expecting: &str) -> SqlError {
        let t = self.peek();
        SqlError::parse(&format!(
            "line {}:{}: mismatched input '{}' expecting {expecting}",
            t.line,
            t.col,
            t.text()
        ))
    }

    fn unsupported(&self, what: &str) -> SqlError {
        SqlError::unsupported(what, self.stmt)
    }

    /// Opens one more level of nesting, or refuses the statement at the current token.
    fn deeper(&mut self) -> Result<(), SqlError> {
        self.depth += 1;
        if self.depth <= MAX_DEPTH {
            return Ok(());
        }
        let t = self.peek();
        Err(SqlError::parse(&format!(
            "line {}:{}: statement too deeply nested: more than {MAX_DEPTH} levels of parentheses, \
             function calls or operators (cratesim's limit)",
            t.line, t.col
        )))
    }

    /// Any identifier (quoted or not).
    fn ident(&mut self) -> Result<String, SqlError> {
        match self.peek().tok.clone() {
            Tok::Ident { text, .. } => {
                self.pos += 1;
                Ok(text)
            }
            _ => Err(self.mismatch("an identifier")),
        }
    }

    fn table_name(&mut self) -> Result<TableName, SqlError> {
        let first = self.ident()?;
        if self.eat_sym(".") {
            let name = self.ident()?;
            return Ok(TableName {
                schema: Some(first),
                name,
            });
        }
        Ok(TableName {
            schema: None,
            name: first,
        })
    }

    /// `repo.snapshot`.
    fn snapshot_name(&mut self) -> Result<(String, String), SqlError> {
        let repo = self.ident()?;
        if !self.eat_sym(".") {
            return Err(SqlError::parse(
                "Snapshot name not supported, only <repository>.<snapshot> works.)",
            ));
        }
        Ok((repo, self.ident()?))
    }

    // ---- statements ----

    fn statement(&mut self) -> Result<Statement, SqlError> {
        let first = self.peek().clone();
        let word = match &first.tok {
            Tok::Ident { text, quoted: false } => text.clone(),
            _ => String::new(),
        };
        match word.as_str() {
            "select" => self.select().map(|s| Statement::Select(Box::new(s))),
            "set" => self.set_global(),
            "reset" => self.reset_global(),
            "alter" => self.alter(),
            "create" => self.create(),
            "drop" => self.drop(),
            "restore" => self.restore(),
            "update" => self.update(),
            "show" => self.show(),
            w if STATEMENT_STARTS.contains(&w) => Err(SqlError::unsupported_statement(self.stmt)),
            _ => Err(self.mismatch(
                "{'SELECT', 'DEALLOCATE', 'FETCH', 'END', 'WITH', 'CREATE', 'ALTER', 'KILL', 'CLOSE', 'BEGIN', \
                 'START', 'COMMIT', 'ANALYZE', 'DISCARD', 'EXPLAIN', 'SHOW', 'OPTIMIZE', 'REFRESH', 'RESTORE', \
                 'DROP', 'INSERT', 'VALUES', 'DELETE', 'UPDATE', 'SET', 'RESET', 'COPY', 'GRANT', 'DENY', \
                 'REVOKE', 'DECLARE'}",
            )),
        }
    }

    /// `SHOW TABLES [{FROM | IN} schema] [LIKE 'pattern']`, rewritten as CrateDB's
    /// `ShowStatementAnalyzer.rewriteShowTables` does: `SELECT distinct(table_name) AS
    /// table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND
    /// (table_schema = <schema> | table_schema NOT IN ('sys', 'information_schema',
    /// 'pg_catalog')) [AND table_name LIKE 'pattern'] ORDER BY 1`.
    /// Other `SHOW` forms are not modelled.
    fn show(&mut self) -> Result<Statement, SqlError> {
        self.expect_kw("show")?;
        if !self.eat_kw("tables") {
            return Err(SqlError::unsupported_statement(self.stmt));
        }
        let schema = if self.eat_kw("from") || self.eat_kw("in") {
            Some(self.ident()?)
        } else {
            None
        };
        let text = |s: &str| Expr::Lit(Value::String(s.to_string()), format!("'{s}'"));
        let col = |name: &str| Expr::Column {
            qualifier: Vec::new(),
            name: name.to_string(),
            path: Vec::new(),
        };
        // Without a schema: every schema but the system ones.
        let in_schema = match &schema {
            Some(schema) => binary(BinOp::Eq, col("table_schema"), text(schema)),
            None => Expr::InList {
                expr: Box::new(col("table_schema")),
                list: ["sys", "information_schema", "pg_catalog"]
                    .iter()
                    .map(|s| text(s))
                    .collect(),
                negated: true,
            },
        };
        let mut filter = binary(
            BinOp::And,
            binary(BinOp::Eq, col("table_type"), text("BASE TABLE")),
            in_schema,
        );
        if self.eat_kw("like") {
            let pattern = self.additive()?;
            filter = binary(
                BinOp::And,
                filter,
                Expr::Like {
                    expr: Box::new(col("table_name")),
                    pattern: Box::new(pattern),
                    negated: false,
                    ci: false,
                },
            );
        } else if self.is_kw("where") {
            return Err(self.unsupported("SHOW TABLES … WHERE"));
        }
        Ok(Statement::Select(Box::new(Select {
            distinct: true,
            items: vec![SelectItem::Expr(col("table_name"), Some("table_name".into()))],
            from: Some((
                TableName {
                    schema: Some("information_schema".into()),
                    name: "tables".into(),
                },
                None,
            )),
            filter: Some(filter),
            group_by: Vec::new(),
            having: None,
            order_by: vec![OrderBy {
                expr: Expr::Lit(Value::from(1), "1".into()),
                desc: false,
                nulls_first: None,
            }],
            limit: None,
            offset: None,
        })))
    }

    fn set_global(&mut self) -> Result<Statement, SqlError> {
        self.expect_kw("set")?;
        if !self.eat_kw("global") {
            return Err(SqlError::unsupported_statement(self.stmt));
        }
        let persistent = if self.eat_kw("persistent") {
            true
        } else {
            self.eat_kw("transient");
            false
        };
        let mut assignments = Vec::new();
        loop {
            let name = self.setting_name()?;
            if !self.eat_sym("=") && !self.eat_kw("to") {
                return Err(self.mismatch("{'=', 'TO'}"));
            }
            assignments.push((name, self.expr()?));
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(Statement::SetGlobal {
            persistent,
            assignments,
        })
    }

    /// `a.b.c` or `"a.b.c"` (or a mix).
    fn setting_name(&mut self) -> Result<String, SqlError> {
        let mut parts = vec![self.ident()?];
        while self.eat_sym(".") {
            parts.push(self.ident()?);
        }
        Ok(parts.join("."))
    }

    fn reset_global(&mut self) -> Result<Statement, SqlError> {
        self.expect_kw("reset")?;
        if !self.eat_kw("global") {
            return Err(SqlError::unsupported_statement(self.stmt));
        }
        let mut names = vec![self.setting_name()?];
        while self.eat_sym(",") {
            names.push(self.setting_name()?);
        }
        Ok(Statement::ResetGlobal(names))
    }

    /// `UPDATE table [[AS] alias] SET col = expr, … [WHERE expr]` (no `RETURNING`, no
    /// subscripted targets: loud errors).
    fn update(&mut self) -> Result<Statement, SqlError> {
        self.expect_kw("update")?;
        let table = self.table_name()?;
        let alias = if self.eat_kw("as") || !self.is_kw("set") {
            Some(self.ident()?)
        } else {
            None
        };
        self.expect_kw("set")?;
        let mut assignments = Vec::new();
        loop {
            let column = self.ident()?;
            if self.is_sym("[") || self.is_sym(".") {
                return Err(self.unsupported("UPDATE of a subscript or qualified column"));
            }
            self.expect_sym("=")?;
            assignments.push((column, self.expr()?));
            if !self.eat_sym(",") {
                break;
            }
        }
        let filter = if self.eat_kw("where") {
            Some(self.expr()?)
        } else {
            None
        };
        if self.is_kw("returning") {
            return Err(self.unsupported("RETURNING"));
        }
        Ok(Statement::Update {
            table,
            alias,
            assignments,
            filter,
        })
    }

    fn alter(&mut self) -> Result<Statement, SqlError> {
        self.expect_kw("alter")?;
        if self.eat_kw("cluster") {
            if self.eat_kw("decommission") {
                return Ok(Statement::Decommission(self.expr()?));
            }
            if self.eat_kw("reroute") {
                self.expect_kw("retry")?;
                self.expect_kw("failed")?;
                return Ok(Statement::RerouteRetryFailed);
            }
            return Err(SqlError::unsupported_statement(self.stmt));
        }
        if self.eat_kw("table") {
            return self.alter_table();
        }
        if self.eat_kw("user") || self.eat_kw("role") {
            let name = self.ident()?;
            self.expect_kw("set")?;
            return Ok(Statement::AlterUser {
                name,
                props: self.props()?,
            });
        }
        Err(SqlError::unsupported_statement(self.stmt))
    }

    fn alter_table(&mut self) -> Result<Statement, SqlError> {
        if self.eat_kw("only") {
            return Err(self.unsupported("ALTER TABLE ONLY"));
        }
        let table = self.table_name()?;
        if self.eat_kw("rename") {
            self.expect_kw("to")?;
            let to = self.table_name()?;
            return Ok(Statement::RenameTable { table, to });
        }
        let partition = if self.eat_kw("partition") {
            Some(self.props()?)
        } else {
            None
        };
        if self.eat_kw("set") {
            return Ok(Statement::AlterTable {
                table,
                partition,
                set: self.props()?,
                reset: Vec::new(),
            });
        }
        if self.eat_kw("reset") {
            self.expect_sym("(")?;
            let mut reset = vec![self.setting_name()?];
            while self.eat_sym(",") {
                reset.push(self.setting_name()?);
            }
            self.expect_sym(")")?;
            return Ok(Statement::AlterTable {
                table,
                partition,
                set: Vec::new(),
                reset,
            });
        }
        Err(SqlError::unsupported_statement(self.stmt))
    }

    /// `( k = v, … )`; keys may be dotted.
    fn props(&mut self) -> Result<Props, SqlError> {
        self.expect_sym("(")?;
        let mut props = Vec::new();
        if self.eat_sym(")") {
            return Ok(props);
        }
        loop {
            let key = self.setting_name()?;
            self.expect_sym("=")?;
            props.push((key, self.expr()?));
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        Ok(props)
    }

    fn with_props(&mut self) -> Result<Props, SqlError> {
        if self.eat_kw("with") {
            self.props()
        } else {
            Ok(Vec::new())
        }
    }

    fn create(&mut self) -> Result<Statement, SqlError> {
        self.expect_kw("create")?;
        if self.eat_kw("repository") {
            let name = self.ident()?;
            self.expect_kw("type")?;
            let kind = self.ident()?;
            let props = self.with_props()?;
            return Ok(Statement::CreateRepository { name, kind, props });
        }
        if self.eat_kw("snapshot") {
            let (repo, name) = self.snapshot_name()?;
            let scope = if self.eat_kw("all") {
                ScopeAst::All
            } else {
                ScopeAst::Tables(self.table_refs()?)
            };
            let props = self.with_props()?;
            return Ok(Statement::CreateSnapshot {
                repo,
                name,
                scope,
                props,
            });
        }
        if self.eat_kw("user") || self.eat_kw("role") {
            let name = self.ident()?;
            let props = self.with_props()?;
            return Ok(Statement::CreateUser { name, props });
        }
        Err(SqlError::unsupported_statement(self.stmt))
    }

    fn if_exists(&mut self) -> Result<bool, SqlError> {
        if self.eat_kw("if") {
            self.expect_kw("exists")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn drop(&mut self) -> Result<Statement, SqlError> {
        self.expect_kw("drop")?;
        if self.eat_kw("repository") {
            return Ok(Statement::DropRepository(self.ident()?));
        }
        if self.eat_kw("snapshot") {
            let (repo, name) = self.snapshot_name()?;
            return Ok(Statement::DropSnapshot { repo, name });
        }
        if self.eat_kw("table") {
            let if_exists = self.if_exists()?;
            return Ok(Statement::DropTable {
                if_exists,
                table: self.table_name()?,
            });
        }
        if self.eat_kw("user") || self.eat_kw("role") {
            let if_exists = self.if_exists()?;
            return Ok(Statement::DropUser {
                if_exists,
                name: self.ident()?,
            });
        }
        Err(SqlError::unsupported_statement(self.stmt))
    }

    fn table_refs(&mut self) -> Result<Vec<TableRef>, SqlError> {
        self.expect_kw("table")?;
        let mut refs = Vec::new();
        loop {
            let table = self.table_name()?;
            let partition = if self.eat_kw("partition") {
                Some(self.props()?)
            } else {
                None
            };
            refs.push(TableRef { table, partition });
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(refs)
    }

    fn restore(&mut self) -> Result<Statement, SqlError> {
        self.expect_kw("restore")?;
        self.expect_kw("snapshot")?;
        let (repo, name) = self.snapshot_name()?;
        let scope = if self.eat_kw("all") {
            ScopeAst::All
        } else if self.eat_kw("metadata") {
            ScopeAst::Metadata
        } else if self.is_kw("table") {
            ScopeAst::Tables(self.table_refs()?)
        } else {
            let mut sections = vec![self.ident()?];
            while self.eat_sym(",") {
                sections.push(self.ident()?);
            }
            ScopeAst::Sections(sections)
        };
        let props = self.with_props()?;
        Ok(Statement::Restore {
            repo,
            name,
            scope,
            props,
        })
    }

    // ---- SELECT ----

    fn select(&mut self) -> Result<Select, SqlError> {
        self.expect_kw("select")?;
        let distinct = self.eat_kw("distinct");
        self.eat_kw("all");
        let mut items = vec![self.select_item()?];
        while self.eat_sym(",") {
            items.push(self.select_item()?);
        }
        let from = if self.eat_kw("from") {
            Some(self.relation()?)
        } else {
            None
        };
        let filter = if self.eat_kw("where") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.eat_kw("group") {
            self.expect_kw("by")?;
            group_by = self.expr_list()?;
        }
        let having = if self.eat_kw("having") {
            Some(self.expr()?)
        } else {
            None
        };
        let order_by = self.order_by()?;
        let (mut limit, mut offset) = (None, None);
        if self.eat_kw("limit") {
            limit = Some(self.expr()?);
        }
        if self.eat_kw("offset") {
            offset = Some(self.expr()?);
        }
        if ["union", "intersect", "except"].iter().any(|k| self.is_kw(k)) {
            return Err(self.unsupported("set operations"));
        }
        Ok(Select {
            distinct,
            items,
            from,
            filter,
            group_by,
            having,
            order_by,
            limit,
            offset,
        })
    }

    fn select_item(&mut self) -> Result<SelectItem, SqlError> {
        if self.eat_sym("*") {
            return Ok(SelectItem::Star);
        }
        let expr = self.expr()?;
        let alias = if self.eat_kw("as") {
            Some(self.ident()?)
        } else {
            match &self.peek().tok {
                Tok::Ident { text, quoted } if *quoted || !RESERVED.contains(&text.as_str()) => {
                    Some(self.ident()?)
                }
                _ => None,
            }
        };
        Ok(SelectItem::Expr(expr, alias))
    }

    fn relation(&mut self) -> Result<(TableName, Option<String>), SqlError> {
        if self.is_sym("(") {
            return Err(self.unsupported("subquery"));
        }
        let table = self.table_name()?;
        let alias = if self.eat_kw("as") {
            Some(self.ident()?)
        } else {
            match &self.peek().tok {
                Tok::Ident { text, quoted } if *quoted || !RESERVED.contains(&text.as_str()) => {
                    Some(self.ident()?)
                }
                _ => None,
            }
        };
        if self.is_sym(",")
            || ["join", "inner", "left", "right", "full", "cross"]
                .iter()
                .any(|k| self.is_kw(k))
        {
            return Err(self.unsupported("joins"));
        }
        Ok((table, alias))
    }

    fn expr_list(&mut self) -> Result<Vec<Expr>, SqlError> {
        let mut list = vec![self.expr()?];
        while self.eat_sym(",") {
            list.push(self.expr()?);
        }
        Ok(list)
    }

    fn order_by(&mut self) -> Result<Vec<OrderBy>, SqlError> {
        let mut out = Vec::new();
        if !self.eat_kw("order") {
            return Ok(out);
        }
        self.expect_kw("by")?;
        loop {
            let expr = self.expr()?;
            let desc = if self.eat_kw("desc") {
                true
            } else {
                self.eat_kw("asc");
                false
            };
            let nulls_first = if self.eat_kw("nulls") {
                if self.eat_kw("first") {
                    Some(true)
                } else {
                    self.expect_kw("last")?;
                    Some(false)
                }
            } else {
                None
            };
            out.push(OrderBy {
                expr,
                desc,
                nulls_first,
            });
            if !self.eat_sym(",") {
                return Ok(out);
            }
        }
    }

    // ---- expressions ----
    //
    // The functions on the path a nested expression recurses through (`expr` … `primary`,
    // `chain`, `call`, the literals) keep their own locals few and leave everything else to
    // helpers that run only after the recursion has returned: an unoptimised build gives every
    // local its own stack slot, and a frame that is live at every level of nesting multiplies.

    /// Every nested expression (in parentheses, a call, an array or object literal) comes
    /// through here: one level of nesting.
    pub(crate) fn expr(&mut self) -> Result<Expr, SqlError> {
        let base = self.depth;
        let e = self
            .deeper()
            .and_then(|()| self.and_expr())
            .and_then(|first| self.chain(first, Self::and_expr, Self::or_op));
        self.depth = base;
        e
    }

    fn and_expr(&mut self) -> Result<Expr, SqlError> {
        self.not_expr()
            .and_then(|first| self.chain(first, Self::not_expr, Self::and_op))
    }

    /// `first op operand op operand …`, left-associative. Each operator opens a level: the
    /// tree gets one deeper with every operand (`1 + 1 + … + 1`).
    fn chain(
        &mut self,
        first: Expr,
        operand: fn(&mut Self) -> Result<Expr, SqlError>,
        operator: fn(&mut Self) -> Option<BinOp>,
    ) -> Result<Expr, SqlError> {
        let base = self.depth;
        let mut left = first;
        while let Some(op) = operator(self) {
            self.deeper()?;
            let right = operand(self)?;
            left = binary(op, left, right);
        }
        self.depth = base;
        Ok(left)
    }

    fn or_op(&mut self) -> Option<BinOp> {
        self.eat_kw("or").then_some(BinOp::Or)
    }

    fn and_op(&mut self) -> Option<BinOp> {
        self.eat_kw("and").then_some(BinOp::And)
    }

    fn additive_op(&mut self) -> Option<BinOp> {
        if self.eat_sym("+") {
            Some(BinOp::Add)
        } else if self.eat_sym("-") {
            Some(BinOp::Sub)
        } else {
            None
        }
    }

    fn multiplicative_op(&mut self) -> Option<BinOp> {
        if self.eat_sym("*") {
            Some(BinOp::Mul)
        } else if self.eat_sym("/") {
            Some(BinOp::Div)
        } else if self.eat_sym("%") {
            Some(BinOp::Mod)
        } else {
            None
        }
    }

    fn not_expr(&mut self) -> Result<Expr, SqlError> {
        if self.eat_kw("not") {
            self.negation()
        } else {
            self.predicate()
        }
    }

    /// `NOT expr`, after `NOT`: a level.
    fn negation(&mut self) -> Result<Expr, SqlError> {
        let base = self.depth;
        self.deeper()?;
        let negated = self.not_expr()?;
        self.depth = base;
        Ok(Expr::Not(Box::new(negated)))
    }

    fn cmp_op(&mut self) -> Option<BinOp> {
        let op = match &self.peek().tok {
            Tok::Sym("=") => BinOp::Eq,
            Tok::Sym("!=") | Tok::Sym("<>") => BinOp::NotEq,
            Tok::Sym("<") => BinOp::Lt,
            Tok::Sym("<=") => BinOp::LtEq,
            Tok::Sym(">") => BinOp::Gt,
            Tok::Sym(">=") => BinOp::GtEq,
            _ => return None,
        };
        self.pos += 1;
        Some(op)
    }

    fn predicate(&mut self) -> Result<Expr, SqlError> {
        self.additive().and_then(|left| self.predicate_rest(left))
    }

    /// What may follow the left operand of a predicate: a comparison, `IS [NOT] NULL`,
    /// `[NOT] IN (…)`, `[NOT] [I]LIKE …`; or nothing.
    fn predicate_rest(&mut self, left: Expr) -> Result<Expr, SqlError> {
        if let Some(op) = self.cmp_op() {
            return self.comparison(op, left);
        }
        if self.eat_kw("is") {
            let negated = self.eat_kw("not");
            self.expect_kw("null")?;
            return Ok(Expr::IsNull {
                expr: Box::new(left),
                negated,
            });
        }
        let negated = self.is_kw("not") && ["in", "like", "ilike"].iter().any(|k| self.peek_at(1).is_kw(k));
        if negated {
            self.pos += 1;
        }
        if self.eat_kw("in") {
            return self.in_list(left, negated);
        }
        let ci = self.is_kw("ilike");
        if self.eat_kw("like") || self.eat_kw("ilike") {
            let pattern = self.additive()?;
            return Ok(Expr::Like {
                expr: Box::new(left),
                pattern: Box::new(pattern),
                negated,
                ci,
            });
        }
        if self.is_kw("between") {
            return Err(self.unsupported("BETWEEN"));
        }
        Ok(left)
    }

    /// `left op right` or `left op ANY(right)`.
    fn comparison(&mut self, op: BinOp, left: Expr) -> Result<Expr, SqlError> {
        if self.eat_kw("any") {
            self.expect_sym("(")?;
            let right = self.expr()?;
            self.expect_sym(")")?;
            return Ok(Expr::Any {
                op,
                left: Box::new(left),
                right: Box::new(right),
            });
        }
        if self.is_kw("all") {
            return Err(self.unsupported("ALL(...)"));
        }
        let right = self.additive()?;
        Ok(binary(op, left, right))
    }

    /// `left [NOT] IN (list)`, after `IN`.
    fn in_list(&mut self, left: Expr, negated: bool) -> Result<Expr, SqlError> {
        self.expect_sym("(")?;
        if self.is_kw("select") {
            return Err(self.unsupported("subquery"));
        }
        let list = self.expr_list()?;
        self.expect_sym(")")?;
        Ok(Expr::InList {
            expr: Box::new(left),
            list,
            negated,
        })
    }

    fn additive(&mut self) -> Result<Expr, SqlError> {
        self.multiplicative()
            .and_then(|first| self.chain(first, Self::multiplicative, Self::additive_op))
    }

    fn multiplicative(&mut self) -> Result<Expr, SqlError> {
        self.unary()
            .and_then(|first| self.chain(first, Self::unary, Self::multiplicative_op))
    }

    fn unary(&mut self) -> Result<Expr, SqlError> {
        if self.eat_sym("-") {
            return self.minus();
        }
        self.primary().and_then(|e| self.postfix(e))
    }

    /// `- operand`, after `-`: a level.
    fn minus(&mut self) -> Result<Expr, SqlError> {
        let base = self.depth;
        self.deeper()?;
        let operand = self.unary()?;
        self.depth = base;
        Ok(negate(operand))
    }

    /// Subscripts (`['a']`) and casts (`::type`) after a primary; each opens a level.
    fn postfix(&mut self, mut e: Expr) -> Result<Expr, SqlError> {
        let base = self.depth;
        loop {
            if self.is_sym("[") || self.is_sym("::") {
                self.deeper()?;
            }
            if self.eat_sym("[") {
                let key = match self.advance().tok {
                    Tok::Str(s) => s,
                    Tok::Num(n) => n,
                    Tok::Param(_) => {
                        return Err(SqlError::parse(
                            "Parameter substitution is not supported in subscript index",
                        ));
                    }
                    _ => return Err(self.mismatch("a subscript")),
                };
                self.expect_sym("]")?;
                e = match e {
                    Expr::Column {
                        qualifier,
                        name,
                        mut path,
                    } => {
                        path.push(key);
                        Expr::Column {
                            qualifier,
                            name,
                            path,
                        }
                    }
                    other => Expr::Subscript {
                        expr: Box::new(other),
                        key,
                    },
                };
            } else if self.eat_sym("::") {
                let ty = self.type_name()?;
                e = Expr::Cast {
                    expr: Box::new(e),
                    ty,
                };
            } else {
                self.depth = base;
                return Ok(e);
            }
        }
    }

    fn type_name(&mut self) -> Result<String, SqlError> {
        let mut name = self.ident()?;
        if name == "double" && self.eat_kw("precision") {
            name = "double precision".to_string();
        }
        if name == "timestamp" && (self.is_kw("with") || self.is_kw("without")) {
            let with = self.eat_kw("with");
            if !with {
                self.eat_kw("without");
            }
            self.expect_kw("time")?;
            self.expect_kw("zone")?;
            name = if with {
                "timestamp with time zone".into()
            } else {
                "timestamp without time zone".into()
            };
        }
        if name == "array" {
            self.expect_sym("(")?;
            let base = self.depth;
            self.deeper()?;
            let inner = self.type_name()?;
            self.depth = base;
            self.expect_sym(")")?;
            name = format!("array({inner})");
        }
        if self.is_sym("[") && self.peek_at(1).tok == Tok::Sym("]") {
            self.pos += 2;
            name = format!("array({name})");
        }
        Ok(name)
    }

    fn primary(&mut self) -> Result<Expr, SqlError> {
        match self.advance().tok {
            Tok::Sym("(") => self.parenthesized(),
            Tok::Sym("[") => self.array_literal(),
            Tok::Sym("{") => self.object_literal(),
            Tok::Ident { text, quoted } => self.ident_expr(text, quoted),
            other => self.atom(other),
        }
    }

    /// A literal or a parameter, the token already taken.
    fn atom(&mut self, tok: Tok) -> Result<Expr, SqlError> {
        match tok {
            Tok::Num(text) => Ok(Expr::Lit(number(&text), text)),
            Tok::Str(s) => Ok(Expr::Lit(
                Value::String(s.clone()),
                format!("'{}'", s.replace('\'', "''")),
            )),
            Tok::Param(None) => {
                self.next_param += 1;
                Ok(Expr::Param(self.next_param - 1))
            }
            Tok::Param(Some(n)) => Ok(Expr::Param(n.saturating_sub(1))),
            _ => {
                self.pos -= 1;
                Err(self.mismatch("an expression"))
            }
        }
    }

    /// `( expr )`, after `(`.
    fn parenthesized(&mut self) -> Result<Expr, SqlError> {
        if self.is_kw("select") {
            return self.subquery();
        }
        self.expr().and_then(|e| self.expect_sym(")").map(|()| e))
    }

    fn subquery(&self) -> Result<Expr, SqlError> {
        Err(self.unsupported("subquery"))
    }

    /// `[ items ]`, after `[`.
    fn array_literal(&mut self) -> Result<Expr, SqlError> {
        let items = if self.is_sym("]") {
            Vec::new()
        } else {
            self.expr_list()?
        };
        self.expect_sym("]")?;
        Ok(Expr::Array(items))
    }

    /// `{ key = expr, … }`, after `{`.
    fn object_literal(&mut self) -> Result<Expr, SqlError> {
        let mut fields = Vec::new();
        if self.eat_sym("}") {
            return Ok(Expr::Object(fields));
        }
        loop {
            let key = self.ident()?;
            self.expect_sym("=")?;
            fields.push((key, self.expr()?));
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym("}")?;
        Ok(Expr::Object(fields))
    }

    fn ident_expr(&mut self, text: String, quoted: bool) -> Result<Expr, SqlError> {
        if !quoted {
            if let Some(e) = keyword_expr(&text, self.is_sym("(")) {
                return Ok(e);
            }
            if matches!(text.as_str(), "cast" | "try_cast") && self.eat_sym("(") {
                return self.cast_call();
            }
        }
        let parts = self.qualified(text)?;
        if self.eat_sym("(") {
            return self.call(parts);
        }
        Ok(column(parts))
    }

    /// `CAST(expr AS type)`, after `CAST(`.
    fn cast_call(&mut self) -> Result<Expr, SqlError> {
        let e = self.expr()?;
        self.expect_kw("as")?;
        let ty = self.type_name()?;
        self.expect_sym(")")?;
        Ok(Expr::Cast {
            expr: Box::new(e),
            ty,
        })
    }

    /// `first[.part…]`: the parts of a dotted name.
    fn qualified(&mut self, first: String) -> Result<Vec<String>, SqlError> {
        let mut parts = vec![first];
        while self.is_sym(".") && matches!(self.peek_at(1).tok, Tok::Ident { .. }) {
            self.pos += 1;
            parts.push(self.ident()?);
        }
        Ok(parts)
    }

    fn call(&mut self, parts: Vec<String>) -> Result<Expr, SqlError> {
        if self.eat_sym("*") {
            self.expect_sym(")")?;
            return self.function(parts, Vec::new(), true, false);
        }
        let distinct = self.eat_kw("distinct");
        let args = if self.is_sym(")") {
            Vec::new()
        } else {
            self.expr_list()?
        };
        self.function(parts, args, false, distinct)
    }

    /// The call of `parts` with `args`, before its closing parenthesis.
    fn function(
        &mut self,
        mut parts: Vec<String>,
        args: Vec<Expr>,
        star: bool,
        distinct: bool,
    ) -> Result<Expr, SqlError> {
        if !star {
            self.expect_sym(")")?;
            if self.is_kw("over") || self.is_kw("filter") {
                return Err(self.unsupported("window functions"));
            }
        }
        Ok(Expr::Func {
            name: parts.pop().unwrap_or_default(),
            args,
            star,
            distinct,
        })
    }
}

fn binary(op: BinOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

/// `-operand`: a numeric literal is negated in place (`-1` is the literal `-1`).
fn negate(operand: Expr) -> Expr {
    match operand {
        Expr::Lit(Value::Number(n), text) => {
            let negated = if let Some(i) = n.as_i64() {
                Value::from(-i)
            } else {
                Value::from(-n.as_f64().unwrap_or(0.0))
            };
            Expr::Lit(negated, format!("-{text}"))
        }
        other => Expr::Neg(Box::new(other)),
    }
}

/// The unquoted words that are values rather than columns: `true`, `false`, `null`, and the
/// session functions written without parentheses (`current_user`).
fn keyword_expr(word: &str, before_parenthesis: bool) -> Option<Expr> {
    match word {
        "true" => Some(Expr::Lit(Value::Bool(true), "true".into())),
        "false" => Some(Expr::Lit(Value::Bool(false), "false".into())),
        "null" => Some(Expr::Lit(Value::Null, "NULL".into())),
        "current_user" | "current_schema" | "user" | "session_user" if !before_parenthesis => {
            Some(Expr::Func {
                name: word.to_string(),
                args: Vec::new(),
                star: false,
                distinct: false,
            })
        }
        _ => None,
    }
}

/// A column reference from the parts of a dotted name.
fn column(mut parts: Vec<String>) -> Expr {
    let name = parts.pop().unwrap_or_default();
    Expr::Column {
        qualifier: parts,
        name,
        path: Vec::new(),
    }
}

fn number(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Maps a symbol to the lexer's static symbol strings.
fn sym_static(s: &str) -> &'static str {
    const ALL: &[&str] = &[
        "::", "!=", "<>", "<=", ">=", "(", ")", "[", "]", "{", "}", ",", ".", ";", "=", "<", ">", "*", "+",
        "-", "/", "%",
    ];
    ALL.iter().find(|x| **x == s).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_global_forms() {
        let s = parse("SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'").unwrap();
        let Statement::SetGlobal {
            persistent,
            assignments,
        } = s
        else {
            panic!()
        };
        assert!(!persistent);
        assert_eq!(assignments[0].0, "cluster.routing.allocation.enable");
        let s = parse(
            "set global persistent cluster.graceful_stop.min_availability to ?, stats = {enabled = true}",
        )
        .unwrap();
        let Statement::SetGlobal {
            persistent,
            assignments,
        } = s
        else {
            panic!()
        };
        assert!(persistent);
        assert_eq!(assignments.len(), 2);
        assert_eq!(assignments[0].1, Expr::Param(0));
    }

    #[test]
    fn select_with_everything() {
        let s = parse(
            "SELECT node['name'] AS n, count(*) FROM sys.shards s WHERE routing_state IN ('A','B') \
             AND s.node['name'] IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
        )
        .unwrap();
        let Statement::Select(sel) = s else { panic!() };
        assert_eq!(sel.items.len(), 2);
        assert_eq!(sel.from.unwrap().1.as_deref(), Some("s"));
        assert_eq!(sel.group_by.len(), 1);
        assert!(sel.order_by[0].desc);
    }

    #[test]
    fn errors() {
        let e = parse("boom").unwrap_err();
        assert_eq!(e.code, 4000);
        assert!(
            e.message
                .starts_with("line 1:1: mismatched input 'boom' expecting"),
            "{}",
            e.message
        );
        let e = parse("SELECT name FROM").unwrap_err();
        assert!(e.message.contains("'<EOF>'"), "{}", e.message);
        let e = parse("INSERT INTO t VALUES (1)").unwrap_err();
        assert!(
            e.message.starts_with("cratesim: unsupported statement: INSERT"),
            "{}",
            e.message
        );
        let e = parse("SELECT * FROM a JOIN b ON a.x = b.x").unwrap_err();
        assert!(e.message.contains("unsupported"), "{}", e.message);
    }

    #[test]
    fn nesting_is_bounded_at_max_depth() {
        let parens = |n: usize| format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n));
        // The select item is a level of its own.
        assert!(parse(&parens(MAX_DEPTH - 1)).is_ok());
        let e = parse(&parens(MAX_DEPTH)).unwrap_err();
        assert_eq!(e.code, 4000);
        assert!(
            e.message
                .contains("statement too deeply nested: more than 128 levels"),
            "{}",
            e.message
        );
        let e = parse(&parens(100_000)).unwrap_err();
        assert!(e.message.contains("too deeply nested"), "{}", e.message);
        // A chain deepens the tree with every operator.
        let chain = |n: usize| format!("SELECT 1{}", " + 1".repeat(n));
        assert!(parse(&chain(MAX_DEPTH - 1)).is_ok());
        assert!(parse(&chain(MAX_DEPTH)).is_err());
    }

    #[test]
    fn levels_are_given_back_after_each_expression() {
        // Siblings do not add up: many items, arguments, list entries and array elements, each
        // nested well below the limit, parse.
        let item = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        let many = vec![item.as_str(); 50].join(", ");
        for stmt in [
            format!("SELECT {many}"),
            format!("SELECT concat({many})"),
            format!("SELECT 1 IN ({many})"),
            format!("SELECT [{many}]"),
            format!("SELECT {many} FROM sys.nodes WHERE {item} = {item} AND NOT {item} ORDER BY {item}"),
        ] {
            assert!(parse(&stmt).is_ok(), "{}", &stmt[..60]);
        }
    }

    #[test]
    fn ops_statements() {
        assert!(matches!(
            parse("ALTER CLUSTER DECOMMISSION 'data-hot-1'"),
            Ok(Statement::Decommission(_))
        ));
        assert!(matches!(
            parse("ALTER CLUSTER REROUTE RETRY FAILED"),
            Ok(Statement::RerouteRetryFailed)
        ));
        assert!(matches!(
            parse("ALTER TABLE doc.t SET (number_of_replicas = '0-1')"),
            Ok(Statement::AlterTable { .. })
        ));
        assert!(matches!(
            parse(
                "RESTORE SNAPSHOT r.s TABLE doc.t PARTITION (day = 1), x WITH (wait_for_completion = true)"
            ),
            Ok(Statement::Restore { .. })
        ));
        assert!(matches!(
            parse("RESTORE SNAPSHOT r.s USERMANAGEMENT, tables"),
            Ok(Statement::Restore { .. })
        ));
        assert!(parse("CREATE REPOSITORY r TYPE fs WITH (location = '/x')").is_ok());
        assert!(matches!(
            parse("ALTER TABLE \"gc\".\"scheduled_jobs\" RENAME TO \"scheduled_jobs_temp\""),
            Ok(Statement::RenameTable { .. })
        ));
        assert!(matches!(
            parse("ALTER USER \"system\" SET (password = $1)"),
            Ok(Statement::AlterUser { .. })
        ));
    }
}
