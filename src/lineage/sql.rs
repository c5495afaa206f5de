//! Column lineage and output schema of one SQL query.
//!
//! [`analyze`] walks a parsed query with the columns of the relations it
//! reads and returns the columns it produces, each with the upstream
//! (node, column) pairs it derives from, plus the column references that
//! cannot exist. Whatever cannot be known exactly (a `select *` over a
//! relation of unknown columns, a table function, an unnamed expression whose
//! name each warehouse spells differently) makes the result *incomplete*
//! rather than wrong, and nothing is ever reported about an incomplete
//! relation: unknown-ness propagates, false positives do not.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator, ObjectName, ObjectNamePart, Query,
    Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, SetQuantifier, Statement,
    TableFactor, TableWithJoins, Visit, Visitor, WildcardAdditionalOptions,
};

use super::{ColumnDef, EdgeKind, Origin};

/// Deeper expressions than this are not analysed (the result is incomplete):
/// the walk recurses, and a stack overflow must never happen.
const MAX_DEPTH: usize = 256;

/// Where the relations a query reads come from.
pub trait Tables {
    /// The node a relation name (its parts as written, unquoted) stands
    /// for, and the columns known of it.
    fn table(&self, parts: &[String]) -> Option<TableColumns>;
}

/// The known columns of a node; `complete` when there are no others.
#[derive(Clone, Debug)]
pub struct TableColumns {
    pub node: String,
    pub columns: Vec<ColumnDef>,
    pub complete: bool,
}

/// One output column.
#[derive(Clone, Debug, PartialEq)]
pub struct OutColumn {
    pub name: String,
    pub data_type: Option<String>,
    pub origins: Vec<Origin>,
}

/// The columns a query produces. `complete` is false when there may be
/// columns besides `columns` (or other names than theirs); `positional` when
/// at least their number and order are known. A column whose name is not
/// known (an unaliased expression) has an empty name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shape {
    pub columns: Vec<OutColumn>,
    pub complete: bool,
    pub positional: bool,
}

/// A column reference that cannot be resolved in relations whose columns are
/// all known. Positions are 1-based line and column in the parsed SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownColumn {
    pub name: String,
    pub line: u64,
    pub column: u64,
    /// Where the name was looked for: a table alias, or `None` for every
    /// relation in scope.
    pub relation: Option<String>,
    /// The known column names it was looked for in.
    pub candidates: Vec<String>,
}

/// A CTE nothing reads, at its name's 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusedCte {
    pub name: String,
    pub line: u64,
    pub column: u64,
}

/// What [`analyze`] finds in one statement.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub shape: Shape,
    pub unknown_columns: Vec<UnknownColumn>,
    pub unused_ctes: Vec<UnusedCte>,
}

/// Analyses the last query statement of `statements`.
pub fn analyze(statements: &[Statement], tables: &dyn Tables) -> Analysis {
    let Some(query) = statements.iter().rev().find_map(|s| match s {
        Statement::Query(q) => Some(q),
        _ => None,
    }) else {
        return Analysis::default();
    };
    let mut cx = Cx {
        tables,
        ctes: Vec::new(),
        unknown: Vec::new(),
        unused: Vec::new(),
        quiet: 0,
        depth: 0,
    };
    let shape = cx.query(query, None);
    Analysis {
        shape,
        unknown_columns: cx.unknown,
        unused_ctes: cx.unused,
    }
}

/// A relation in a `FROM` clause.
#[derive(Clone, Debug)]
struct Rel {
    /// The name columns are qualified with (alias or table name).
    name: String,
    /// The node a base table stands for: any column of it, known or not,
    /// derives from that node.
    base: Option<String>,
    columns: Vec<OutColumn>,
    complete: bool,
    positional: bool,
}

impl Rel {
    fn opaque(name: String) -> Self {
        Self {
            name,
            base: None,
            columns: Vec::new(),
            complete: false,
            positional: false,
        }
    }

    fn of_shape(name: String, shape: Shape) -> Self {
        Self {
            name,
            base: None,
            columns: shape.columns,
            complete: shape.complete,
            positional: shape.positional,
        }
    }

    fn find(&self, name: &str) -> Option<&OutColumn> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Origins of a column of this relation, also when its columns are
    /// unknown but it is a node.
    fn origins_of(&self, name: &str) -> Option<Vec<Origin>> {
        if let Some(c) = self.find(name) {
            return Some(c.origins.clone());
        }
        if self.complete {
            return None;
        }
        Some(self.base.as_ref().map_or_else(Vec::new, |node| {
            vec![Origin {
                node: node.clone(),
                column: name.to_owned(),
                kind: EdgeKind::Direct,
            }]
        }))
    }
}

/// The relations visible to an expression, innermost first through
/// `parent`.
struct Scope<'a> {
    rels: Vec<Rel>,
    /// Columns joined with `using (...)` (lower case): unqualified, they are
    /// not ambiguous.
    using: Vec<String>,
    /// Output aliases of the select list, which `DuckDB` and Snowflake let
    /// later items, `where`, `group by`, `having`, `qualify` and `order by` use.
    aliases: Vec<OutColumn>,
    parent: Option<&'a Scope<'a>>,
}

impl Scope<'_> {
    fn complete(&self) -> bool {
        self.rels.iter().all(|r| r.complete) && self.parent.is_none_or(Scope::complete)
    }

    fn find_rel(&self, name: &str) -> Option<&Rel> {
        self.rels
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
            .or_else(|| self.parent.and_then(|p| p.find_rel(name)))
    }
}

struct Cte {
    name: Ident,
    shape: Shape,
    used: std::cell::Cell<bool>,
}

struct Cx<'t> {
    tables: &'t dyn Tables,
    /// CTEs in scope, innermost last.
    ctes: Vec<Cte>,
    unknown: Vec<UnknownColumn>,
    unused: Vec<UnusedCte>,
    /// While positive, unresolved references are not reported (lateral
    /// subqueries, where siblings are visible in ways not modelled).
    quiet: usize,
    depth: usize,
}

fn ident_name(i: &Ident) -> String {
    i.value.clone()
}

fn object_parts(n: &ObjectName) -> Option<Vec<String>> {
    n.0.iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(i.value.clone()),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

/// Names that parse as column references but are not columns: niladic
/// functions written without parentheses and warehouse pseudo-columns.
fn is_builtin_name(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "current_date",
        "current_time",
        "current_timestamp",
        "localtime",
        "localtimestamp",
        "current_user",
        "session_user",
        "user",
        "current_role",
        "current_schema",
        "current_catalog",
        "current_database",
        "sysdate",
        "systimestamp",
        "rowid",
        "ctid",
        "oid",
        "xmin",
        "xmax",
        "cmin",
        "cmax",
        "tableoid",
        "_partitiontime",
        "_partitiondate",
        "_table_suffix",
        "_file_name",
        "true",
        "false",
        "null",
        // Date parts, written bare in `datediff(day, a, b)`, `date_trunc(x, month)`.
        "year",
        "years",
        "yy",
        "yyyy",
        "quarter",
        "qtr",
        "month",
        "months",
        "mm",
        "mon",
        "week",
        "weeks",
        "wk",
        "isoweek",
        "day",
        "days",
        "dd",
        "dayofweek",
        "dayofweekiso",
        "dayofyear",
        "dow",
        "doy",
        "hour",
        "hours",
        "hh",
        "minute",
        "minutes",
        "mi",
        "second",
        "seconds",
        "ss",
        "millisecond",
        "milliseconds",
        "ms",
        "microsecond",
        "microseconds",
        "us",
        "nanosecond",
        "ns",
        "epoch",
        "date",
        "time",
        "timestamp",
    ];
    let lower = name.to_ascii_lowercase();
    NAMES.contains(&lower.as_str()) || lower.starts_with("metadata$") || lower.starts_with('$')
}

/// Column references and subqueries of one expression (not descending into
/// the subqueries, which have scopes of their own).
#[derive(Default)]
struct Refs {
    columns: Vec<Vec<Ident>>,
    subqueries: Vec<Query>,
    lambda_params: Vec<Vec<String>>,
    query_depth: usize,
    expr_depth: usize,
    /// A construct whose output cannot be followed (`COLUMNS(...)`, too deep).
    opaque: bool,
}

impl Visitor for Refs {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if self.query_depth == 0 {
            self.subqueries.push(query.clone());
        }
        self.query_depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.query_depth = self.query_depth.saturating_sub(1);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        self.expr_depth += 1;
        if self.expr_depth > MAX_DEPTH {
            self.opaque = true;
            return ControlFlow::Break(());
        }
        if self.query_depth > 0 {
            return ControlFlow::Continue(());
        }
        let is_param = |s: &Self, name: &str| {
            s.lambda_params
                .iter()
                .flatten()
                .any(|p| p.eq_ignore_ascii_case(name))
        };
        match expr {
            Expr::Identifier(i) if !is_param(self, &i.value) => {
                self.columns.push(vec![i.clone()]);
            }
            Expr::CompoundIdentifier(parts)
                if parts.first().is_some_and(|p| !is_param(self, &p.value)) =>
            {
                self.columns.push(parts.clone());
            }
            Expr::Lambda(l) => {
                self.lambda_params
                    .push(l.params.iter().map(|p| p.name.value.clone()).collect());
            }
            Expr::Function(f)
                if f.name
                    .0
                    .last()
                    .and_then(ObjectNamePart::as_ident)
                    .is_some_and(|i| i.value.eq_ignore_ascii_case("columns")) =>
            {
                self.opaque = true;
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        self.expr_depth = self.expr_depth.saturating_sub(1);
        if self.query_depth == 0 && matches!(expr, Expr::Lambda(_)) {
            self.lambda_params.pop();
        }
        ControlFlow::Continue(())
    }
}

fn merge_origins(into: &mut Vec<Origin>, more: impl IntoIterator<Item = Origin>) {
    for o in more {
        if let Some(existing) = into
            .iter_mut()
            .find(|e| e.node == o.node && e.column.eq_ignore_ascii_case(&o.column))
        {
            // A column that is both passed through and transformed is
            // transformed: the value is not simply copied.
            if o.kind == EdgeKind::Transformed {
                existing.kind = EdgeKind::Transformed;
            }
        } else {
            into.push(o);
        }
    }
}

fn transformed(origins: Vec<Origin>) -> Vec<Origin> {
    origins
        .into_iter()
        .map(|o| Origin {
            kind: EdgeKind::Transformed,
            ..o
        })
        .collect()
}

/// The expression without redundant parentheses.
fn unnest(mut e: &Expr) -> &Expr {
    while let Expr::Nested(inner) = e {
        e = inner;
    }
    e
}

fn type_name(dt: &sqlparser::ast::DataType) -> String {
    dt.to_string().to_ascii_lowercase()
}

impl Cx<'_> {
    fn query(&mut self, q: &Query, outer: Option<&Scope<'_>>) -> Shape {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return Shape::default();
        }
        let before = self.ctes.len();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let name = cte.alias.name.clone();
                if with.recursive {
                    // The recursive part reads the CTE itself: known only
                    // by the names its alias declares.
                    self.ctes.push(Cte {
                        name: name.clone(),
                        shape: Shape::default(),
                        used: std::cell::Cell::new(true),
                    });
                }
                let mut shape = self.query(&cte.query, outer);
                rename_positionally(
                    &mut shape,
                    cte.alias.columns.iter().map(|c| c.name.value.clone()),
                );
                if with.recursive {
                    self.ctes.pop();
                }
                self.ctes.push(Cte {
                    name,
                    shape,
                    used: std::cell::Cell::new(false),
                });
            }
        }
        let shape = match q.body.as_ref() {
            SetExpr::Select(s) => self.select(s, outer, q.order_by.as_ref()),
            other => {
                let shape = self.set_expr(other, outer);
                if let Some(ob) = &q.order_by {
                    // `order by` of a set operation names output columns.
                    self.quiet += 1;
                    self.check_order_by(ob, &shape, outer);
                    self.quiet -= 1;
                }
                shape
            }
        };
        for cte in self.ctes.drain(before..) {
            if !cte.used.get() {
                self.unused.push(UnusedCte {
                    name: cte.name.value.clone(),
                    line: cte.name.span.start.line,
                    column: cte.name.span.start.column,
                });
            }
        }
        self.depth -= 1;
        shape
    }

    fn check_order_by(
        &mut self,
        ob: &sqlparser::ast::OrderBy,
        shape: &Shape,
        outer: Option<&Scope<'_>>,
    ) {
        let scope = Scope {
            rels: vec![Rel::of_shape(String::new(), shape.clone())],
            using: Vec::new(),
            aliases: Vec::new(),
            parent: outer,
        };
        if let sqlparser::ast::OrderByKind::Expressions(exprs) = &ob.kind {
            for e in exprs {
                self.expr(&e.expr, &scope);
            }
        }
    }

    fn set_expr(&mut self, e: &SetExpr, outer: Option<&Scope<'_>>) -> Shape {
        match e {
            SetExpr::Select(s) => self.select(s, outer, None),
            SetExpr::Query(q) => self.query(q, outer),
            SetExpr::SetOperation {
                left,
                right,
                set_quantifier,
                ..
            } => {
                let l = self.set_expr(left, outer);
                let r = self.set_expr(right, outer);
                if matches!(
                    set_quantifier,
                    SetQuantifier::ByName
                        | SetQuantifier::AllByName
                        | SetQuantifier::DistinctByName
                ) {
                    let mut out = l;
                    out.complete = out.complete && r.complete;
                    out.positional = out.complete;
                    for c in r.columns {
                        if let Some(e) = out
                            .columns
                            .iter_mut()
                            .find(|x| x.name.eq_ignore_ascii_case(&c.name))
                        {
                            merge_origins(&mut e.origins, c.origins);
                            if e.data_type != c.data_type {
                                e.data_type = None;
                            }
                        } else {
                            out.columns.push(c);
                        }
                    }
                    return out;
                }
                let mut out = l;
                // Positions line up only when both sides are fully known.
                if out.positional && r.positional && out.columns.len() == r.columns.len() {
                    for (a, b) in out.columns.iter_mut().zip(r.columns) {
                        merge_origins(&mut a.origins, b.origins);
                        if a.data_type != b.data_type {
                            a.data_type = None;
                        }
                    }
                } else {
                    for a in &mut out.columns {
                        a.data_type = None;
                    }
                }
                out
            }
            SetExpr::Table(t) => {
                let parts: Vec<String> = t
                    .schema_name
                    .iter()
                    .chain(t.table_name.iter())
                    .cloned()
                    .collect();
                let rel = self.table_rel(&parts, String::new());
                Shape {
                    columns: rel.columns,
                    complete: rel.complete,
                    positional: rel.positional,
                }
            }
            _ => Shape::default(),
        }
    }

    /// A named relation: a CTE, a node, or something unknown.
    fn table_rel(&self, parts: &[String], name: String) -> Rel {
        if let [single] = parts
            && let Some(cte) = self
                .ctes
                .iter()
                .rev()
                .find(|c| c.name.value.eq_ignore_ascii_case(single))
        {
            cte.used.set(true);
            return Rel::of_shape(name, cte.shape.clone());
        }
        match self.tables.table(parts) {
            Some(t) => Rel {
                name,
                columns: t
                    .columns
                    .into_iter()
                    .map(|c| OutColumn {
                        origins: vec![Origin {
                            node: t.node.clone(),
                            column: c.name.clone(),
                            kind: EdgeKind::Direct,
                        }],
                        name: c.name,
                        data_type: c.data_type,
                    })
                    .collect(),
                base: Some(t.node),
                complete: t.complete,
                positional: t.complete,
            },
            None => Rel::opaque(name),
        }
    }

    fn factor(&mut self, f: &TableFactor, outer: Option<&Scope<'_>>, out: &mut Vec<Rel>) {
        match f {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let parts = object_parts(name).unwrap_or_default();
                let rel_name = alias.as_ref().map_or_else(
                    || parts.last().cloned().unwrap_or_default(),
                    |a| ident_name(&a.name),
                );
                let mut rel = if args.is_some() || parts.is_empty() {
                    Rel::opaque(rel_name)
                } else {
                    self.table_rel(&parts, rel_name)
                };
                if let Some(a) = alias {
                    rename_rel(&mut rel, a);
                }
                out.push(rel);
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                if *lateral {
                    self.quiet += 1;
                }
                let shape = self.query(subquery, outer);
                if *lateral {
                    self.quiet -= 1;
                }
                let mut rel = Rel::of_shape(
                    alias
                        .as_ref()
                        .map(|a| ident_name(&a.name))
                        .unwrap_or_default(),
                    shape,
                );
                if let Some(a) = alias {
                    rename_rel(&mut rel, a);
                }
                out.push(rel);
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let mut inner = Vec::new();
                let mut using = Vec::new();
                self.joined(table_with_joins, outer, &mut inner, &mut using);
                match alias {
                    Some(a) => {
                        let mut rel = Rel {
                            name: ident_name(&a.name),
                            base: None,
                            complete: inner.iter().all(|r| r.complete),
                            positional: inner.iter().all(|r| r.positional),
                            columns: inner.into_iter().flat_map(|r| r.columns).collect(),
                        };
                        rename_rel(&mut rel, a);
                        out.push(rel);
                    }
                    None => out.extend(inner),
                }
            }
            other => {
                // Table functions, UNNEST, PIVOT, ...: columns unknown, but
                // still checked for references inside.
                let alias = table_factor_alias(other);
                let mut rel = Rel::opaque(alias.map(|a| ident_name(&a.name)).unwrap_or_default());
                if let Some(a) = alias {
                    rel.columns = a
                        .columns
                        .iter()
                        .map(|c| OutColumn {
                            name: c.name.value.clone(),
                            data_type: None,
                            origins: Vec::new(),
                        })
                        .collect();
                }
                out.push(rel);
            }
        }
    }

    fn joined(
        &mut self,
        twj: &TableWithJoins,
        outer: Option<&Scope<'_>>,
        rels: &mut Vec<Rel>,
        using: &mut Vec<String>,
    ) {
        self.factor(&twj.relation, outer, rels);
        for j in &twj.joins {
            let start = rels.len();
            self.factor(&j.relation, outer, rels);
            match join_constraint(&j.join_operator) {
                Some(JoinConstraint::Using(cols)) => {
                    for c in cols {
                        if let Some(last) = c.0.last().and_then(ObjectNamePart::as_ident) {
                            using.push(last.value.to_ascii_lowercase());
                        }
                    }
                }
                Some(JoinConstraint::Natural) => {
                    let (left, right) = rels.split_at(start);
                    if left.iter().all(|r| r.complete) && right.iter().all(|r| r.complete) {
                        for c in right.iter().flat_map(|r| &r.columns) {
                            if left.iter().any(|r| r.find(&c.name).is_some()) {
                                using.push(c.name.to_ascii_lowercase());
                            }
                        }
                    } else {
                        // Which columns merge is unknown: `*` cannot be known.
                        rels.push(Rel::opaque(String::new()));
                    }
                }
                _ => {}
            }
        }
    }

    fn select(
        &mut self,
        s: &Select,
        outer: Option<&Scope<'_>>,
        order_by: Option<&sqlparser::ast::OrderBy>,
    ) -> Shape {
        let mut rels = Vec::new();
        let mut using = Vec::new();
        for twj in &s.from {
            self.joined(twj, outer, &mut rels, &mut using);
        }
        if !s.lateral_views.is_empty() {
            rels.push(Rel::opaque(String::new()));
        }
        let mut scope = Scope {
            rels,
            using,
            aliases: Vec::new(),
            parent: outer,
        };
        for twj in &s.from {
            for j in &twj.joins {
                if let Some(JoinConstraint::On(e)) = join_constraint(&j.join_operator) {
                    self.expr(e, &scope);
                }
                if let JoinOperator::AsOf {
                    match_condition, ..
                } = &j.join_operator
                {
                    self.expr(match_condition, &scope);
                }
            }
        }
        let mut shape = Shape {
            columns: Vec::new(),
            complete: true,
            positional: true,
        };
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    let (origins, ty, opaque) = self.expr(e, &scope);
                    let name = match unnest(e) {
                        Expr::Identifier(i) => Some(i.value.clone()),
                        Expr::CompoundIdentifier(parts) => parts.last().map(|p| p.value.clone()),
                        _ => None,
                    };
                    if opaque {
                        shape.complete = false;
                        shape.positional = false;
                    }
                    // Each warehouse names an unaliased expression its own
                    // way: its name is not known, its position is.
                    if name.is_none() {
                        shape.complete = false;
                    }
                    shape.columns.push(OutColumn {
                        name: name.unwrap_or_default(),
                        data_type: ty,
                        origins,
                    });
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let (origins, ty, opaque) = self.expr(expr, &scope);
                    if opaque {
                        shape.complete = false;
                        shape.positional = false;
                    }
                    let col = OutColumn {
                        name: alias.value.clone(),
                        data_type: ty,
                        origins,
                    };
                    scope.aliases.push(col.clone());
                    shape.columns.push(col);
                }
                SelectItem::Wildcard(opts) => {
                    let rels: Vec<&Rel> = scope.rels.iter().collect();
                    let expanded = self.expand(&rels, &scope.using, opts, &scope);
                    shape.complete &= expanded.complete;
                    shape.positional &= expanded.positional;
                    shape.columns.extend(expanded.columns);
                }
                SelectItem::QualifiedWildcard(kind, opts) => {
                    let rel = match kind {
                        SelectItemQualifiedWildcardKind::ObjectName(n) => object_parts(n)
                            .and_then(|p| p.last().cloned())
                            .and_then(|name| {
                                scope
                                    .rels
                                    .iter()
                                    .find(|r| r.name.eq_ignore_ascii_case(&name))
                            }),
                        SelectItemQualifiedWildcardKind::Expr(_) => None,
                    };
                    if let Some(rel) = rel {
                        let expanded = self.expand(&[rel], &[], opts, &scope);
                        shape.complete &= expanded.complete;
                        shape.positional &= expanded.positional;
                        shape.columns.extend(expanded.columns);
                    } else {
                        shape.complete = false;
                        shape.positional = false;
                    }
                }
                SelectItem::ExprWithAliases { expr, .. } => {
                    self.expr(expr, &scope);
                    shape.complete = false;
                    shape.positional = false;
                }
            }
        }
        if let Some(sqlparser::ast::Distinct::On(exprs)) = &s.distinct {
            for e in exprs {
                self.expr(e, &scope);
            }
        }
        let mut filters: Vec<&Expr> = Vec::new();
        filters.extend(s.prewhere.iter());
        filters.extend(s.selection.iter());
        filters.extend(s.having.iter());
        filters.extend(s.qualify.iter());
        if let GroupByExpr::Expressions(exprs, _) = &s.group_by {
            filters.extend(exprs.iter());
        }
        filters.extend(s.cluster_by.iter());
        filters.extend(s.distribute_by.iter());
        filters.extend(s.sort_by.iter().map(|o| &o.expr));
        for e in filters {
            self.expr(e, &scope);
        }
        for w in &s.named_window {
            if let sqlparser::ast::NamedWindowExpr::WindowSpec(spec) = &w.1 {
                for e in &spec.partition_by {
                    self.expr(e, &scope);
                }
                for o in &spec.order_by {
                    self.expr(&o.expr, &scope);
                }
            }
        }
        if let Some(ob) = order_by
            && let sqlparser::ast::OrderByKind::Expressions(exprs) = &ob.kind
        {
            // `order by` sees the output columns as well as the inputs.
            for c in &shape.columns {
                if !scope.aliases.iter().any(|a| a.name == c.name) {
                    scope.aliases.push(c.clone());
                }
            }
            for e in exprs {
                self.expr(&e.expr, &scope);
            }
        }
        if let Some(ex) = &s.exclude {
            apply_exclude(&mut shape.columns, &exclude_names(ex));
        }
        if s.value_table_mode.is_some() {
            // BigQuery's `select as struct`: one column of another shape.
            shape.complete = false;
            shape.positional = false;
        }
        shape
    }

    /// `*` or `t.*` over `rels`, with `exclude`/`except`, `replace` and
    /// `rename`.
    fn expand(
        &mut self,
        rels: &[&Rel],
        using: &[String],
        opts: &WildcardAdditionalOptions,
        scope: &Scope<'_>,
    ) -> Shape {
        let mut out = Shape {
            columns: Vec::new(),
            complete: rels.iter().all(|r| r.complete),
            positional: rels.iter().all(|r| r.positional),
        };
        for r in rels {
            for c in &r.columns {
                let lower = c.name.to_ascii_lowercase();
                if using.contains(&lower)
                    && let Some(prev) = out
                        .columns
                        .iter_mut()
                        .find(|x| x.name.eq_ignore_ascii_case(&c.name))
                {
                    merge_origins(&mut prev.origins, c.origins.iter().cloned());
                    continue;
                }
                out.columns.push(c.clone());
            }
        }
        if opts.opt_ilike.is_some() {
            out.complete = false;
            out.positional = false;
            out.columns.clear();
        }
        let mut excluded: Vec<String> = Vec::new();
        if let Some(ex) = &opts.opt_exclude {
            excluded.extend(exclude_names(ex));
        }
        if let Some(ex) = &opts.opt_except {
            excluded.push(ex.first_element.value.clone());
            excluded.extend(ex.additional_elements.iter().map(|i| i.value.clone()));
        }
        apply_exclude(&mut out.columns, &excluded);
        if let Some(rep) = &opts.opt_replace {
            for el in &rep.items {
                let (origins, ty, _) = self.expr(&el.expr, scope);
                if let Some(c) = out
                    .columns
                    .iter_mut()
                    .find(|c| c.name.eq_ignore_ascii_case(&el.column_name.value))
                {
                    c.origins = origins;
                    c.data_type = ty;
                }
            }
        }
        if let Some(ren) = &opts.opt_rename {
            let items: Vec<&sqlparser::ast::IdentWithAlias> = match ren {
                sqlparser::ast::RenameSelectItem::Single(i) => vec![i],
                sqlparser::ast::RenameSelectItem::Multiple(v) => v.iter().collect(),
            };
            for i in items {
                if let Some(c) = out
                    .columns
                    .iter_mut()
                    .find(|c| c.name.eq_ignore_ascii_case(&i.ident.value))
                {
                    c.name.clone_from(&i.alias.value);
                }
            }
        }
        if opts.opt_alias.is_some() {
            out.complete = false;
            out.positional = false;
        }
        out
    }

    /// Resolves the references of an expression: its origins, its type when
    /// known, and whether its shape cannot be followed.
    fn expr(&mut self, e: &Expr, scope: &Scope<'_>) -> (Vec<Origin>, Option<String>, bool) {
        let mut refs = Refs::default();
        let _ = e.visit(&mut refs);
        let mut origins = Vec::new();
        for parts in &refs.columns {
            if let Some(o) = self.resolve(parts, scope) {
                merge_origins(&mut origins, o);
            }
        }
        for q in &refs.subqueries {
            let shape = self.query(q, Some(scope));
            merge_origins(
                &mut origins,
                shape
                    .columns
                    .into_iter()
                    .flat_map(|c| transformed(c.origins)),
            );
        }
        let bare = matches!(unnest(e), Expr::Identifier(_) | Expr::CompoundIdentifier(_));
        let ty = match unnest(e) {
            Expr::Cast { data_type, .. } => Some(type_name(data_type)),
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => refs
                .columns
                .first()
                .and_then(|p| Self::column_type(p, scope)),
            _ => None,
        };
        if !bare {
            origins = transformed(origins);
        }
        (origins, ty, refs.opaque)
    }

    fn column_type(parts: &[Ident], scope: &Scope<'_>) -> Option<String> {
        let col = match parts {
            [c] => scope
                .rels
                .iter()
                .find_map(|r| r.find(&c.value))
                .or_else(|| {
                    scope
                        .aliases
                        .iter()
                        .find(|a| a.name.eq_ignore_ascii_case(&c.value))
                }),
            [t, c] => scope.find_rel(&t.value).and_then(|r| r.find(&c.value)),
            _ => None,
        };
        col.and_then(|c| c.data_type.clone())
    }

    fn report(&mut self, name: &Ident, relation: Option<String>, candidates: Vec<String>) {
        if self.quiet > 0 || is_builtin_name(&name.value) {
            return;
        }
        self.unknown.push(UnknownColumn {
            name: name.value.clone(),
            line: name.span.start.line,
            column: name.span.start.column,
            relation,
            candidates,
        });
    }

    /// Origins of one column reference; reports it when it cannot exist.
    fn resolve(&mut self, parts: &[Ident], scope: &Scope<'_>) -> Option<Vec<Origin>> {
        match parts {
            [] => None,
            [c] => self.resolve_unqualified(c, scope),
            [t, c, ..] => {
                if let Some(rel) = scope.find_rel(&t.value) {
                    let found = rel.origins_of(&c.value);
                    if found.is_none() {
                        let candidates = rel.columns.iter().map(|c| c.name.clone()).collect();
                        self.report(c, Some(t.value.clone()), candidates);
                    }
                    return found.map(|o| if parts.len() > 2 { transformed(o) } else { o });
                }
                // `schema.table.column`
                if parts.len() >= 3
                    && let Some(rel) = scope.find_rel(&parts[parts.len() - 2].value)
                {
                    return rel.origins_of(&parts[parts.len() - 1].value);
                }
                // A field of a struct column, or something not modelled.
                self.quiet += 1;
                let o = self.resolve_unqualified(t, scope);
                self.quiet -= 1;
                o.map(transformed)
            }
        }
    }

    fn resolve_unqualified(&mut self, c: &Ident, scope: &Scope<'_>) -> Option<Vec<Origin>> {
        if scope.find_rel(&c.value).is_some()
            && !scope.rels.iter().any(|r| r.find(&c.value).is_some())
        {
            // A whole row, as in Postgres' `row_to_json(t)`.
            return None;
        }
        let mut s = Some(scope);
        while let Some(sc) = s {
            let mut found: Option<Vec<Origin>> = None;
            for r in &sc.rels {
                if let Some(col) = r.find(&c.value) {
                    merge_origins(found.get_or_insert_with(Vec::new), col.origins.clone());
                }
            }
            if found.is_none() {
                // Only one relation of unknown columns: the column is its.
                let open: Vec<&Rel> = sc.rels.iter().filter(|r| !r.complete).collect();
                if let [only] = open.as_slice()
                    && let Some(o) = only.origins_of(&c.value)
                    && !o.is_empty()
                {
                    found = Some(o);
                }
            }
            if found.is_none()
                && let Some(a) = sc
                    .aliases
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(&c.value))
            {
                found = Some(a.origins.clone());
            }
            if found.is_some() {
                return found;
            }
            if !sc.rels.iter().all(|r| r.complete) {
                return None;
            }
            s = sc.parent;
        }
        if scope.complete() {
            let mut candidates: Vec<String> = Vec::new();
            let mut s = Some(scope);
            while let Some(sc) = s {
                candidates.extend(
                    sc.rels
                        .iter()
                        .flat_map(|r| r.columns.iter().map(|c| c.name.clone())),
                );
                candidates.extend(sc.aliases.iter().map(|a| a.name.clone()));
                s = sc.parent;
            }
            self.report(c, None, candidates);
        }
        None
    }
}

fn join_constraint(op: &JoinOperator) -> Option<&JoinConstraint> {
    match op {
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c)
        | JoinOperator::FullOuter(c)
        | JoinOperator::CrossJoin(c)
        | JoinOperator::Semi(c)
        | JoinOperator::LeftSemi(c)
        | JoinOperator::RightSemi(c)
        | JoinOperator::Anti(c)
        | JoinOperator::LeftAnti(c)
        | JoinOperator::RightAnti(c)
        | JoinOperator::StraightJoin(c)
        | JoinOperator::AsOf { constraint: c, .. } => Some(c),
        _ => None,
    }
}

fn table_factor_alias(f: &TableFactor) -> Option<&sqlparser::ast::TableAlias> {
    match f {
        TableFactor::Table { alias, .. }
        | TableFactor::Derived { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. }
        | TableFactor::JsonTable { alias, .. }
        | TableFactor::NestedJoin { alias, .. }
        | TableFactor::Pivot { alias, .. }
        | TableFactor::Unpivot { alias, .. } => alias.as_ref(),
        _ => None,
    }
}

fn exclude_names(ex: &sqlparser::ast::ExcludeSelectItem) -> Vec<String> {
    let names: Vec<&ObjectName> = match ex {
        sqlparser::ast::ExcludeSelectItem::Single(n) => vec![n],
        sqlparser::ast::ExcludeSelectItem::Multiple(v) => v.iter().collect(),
    };
    names
        .into_iter()
        .filter_map(|n| n.0.last().and_then(ObjectNamePart::as_ident))
        .map(|i| i.value.clone())
        .collect()
}

fn apply_exclude(cols: &mut Vec<OutColumn>, excluded: &[String]) {
    if excluded.is_empty() {
        return;
    }
    cols.retain(|c| !excluded.iter().any(|x| x.eq_ignore_ascii_case(&c.name)));
}

fn rename_positionally(shape: &mut Shape, names: impl Iterator<Item = String>) {
    let mut renamed = false;
    for (c, n) in shape.columns.iter_mut().zip(names) {
        c.name = n;
        renamed = true;
    }
    if renamed && shape.positional {
        shape.complete = shape.columns.iter().all(|c| !c.name.is_empty());
    }
}

/// `as t(a, b)`: renames the relation's columns by position.
fn rename_rel(rel: &mut Rel, alias: &sqlparser::ast::TableAlias) {
    if alias.columns.is_empty() {
        return;
    }
    if !rel.positional {
        // Positions of unknown columns cannot be matched to the names.
        rel.base = None;
        rel.columns = alias
            .columns
            .iter()
            .map(|c| OutColumn {
                name: c.name.value.clone(),
                data_type: None,
                origins: Vec::new(),
            })
            .collect();
        return;
    }
    for (c, n) in rel.columns.iter_mut().zip(&alias.columns) {
        c.name.clone_from(&n.name.value);
    }
    rel.complete = rel.columns.iter().all(|c| !c.name.is_empty());
}
