//! The rule catalogue: one small pure function per rule, over a statement's plan, the
//! statistics of the tables it reads and its pg_stat_statements figures. Each rule file says
//! why the rule holds; `run` applies them all and merges what overlaps.

pub mod cost;
pub mod expression_index;
pub mod join_inner_index;
pub mod like_prefix;
pub mod partial_index;
pub mod scan_filter_index;
pub mod sort_index;
pub mod stale_statistics;
pub mod temp_spill;
pub mod unused_index;

pub use crate::plans::ident::quote_ident;
use crate::plans::model::{Explained, PlanNode};
use crate::plans::predicate::{self, Expr};
use serde::Serialize;
use std::collections::HashMap;

/// Below this many rows a sequential scan is as good as an index: nothing is proposed.
pub const LARGE_TABLE_ROWS: f64 = 10_000.0;
/// A filter keeping at most this share of a table's rows is selective enough for an index.
pub const SELECTIVE_SHARE: f64 = 0.05;

#[derive(Debug, Clone, PartialEq)]
pub struct IndexInfo {
    pub name: String,
    /// Key columns or expressions as `pg_get_indexdef(.., k, true)` prints them.
    pub keys: Vec<String>,
    pub unique: bool,
    /// Partial index predicate, if any.
    pub predicate: Option<String>,
    pub scans: i64,
    pub size_bytes: i64,
    /// The index backs a constraint (primary key, unique, exclusion): never dropped.
    pub backs_constraint: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub type_name: String,
    /// Collation name in effect for the column ("C", "POSIX", "en_US.utf8"...); None when the
    /// type has none.
    pub collation: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    pub reltuples: f64,
    pub relpages: f64,
    pub n_mod_since_analyze: i64,
    pub columns: Vec<ColumnInfo>,
    pub indexes: Vec<IndexInfo>,
}

impl TableInfo {
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn is_large(&self) -> bool {
        self.reltuples >= LARGE_TABLE_ROWS
    }

    /// An existing index whose leading keys are exactly `keys` (in order) already serves them.
    pub fn has_index_leading_with(&self, keys: &[String]) -> bool {
        self.indexes.iter().any(|i| {
            i.predicate.is_none()
                && i.keys.len() >= keys.len()
                && i.keys
                    .iter()
                    .zip(keys)
                    .all(|(have, want)| normalize_key(have) == normalize_key(want))
        })
    }
}

/// Index keys compare without quotes, parentheses around expressions or sort direction ASC.
fn normalize_key(key: &str) -> String {
    let k = key.trim().trim_end_matches(" ASC").replace('"', "");
    let k = k
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(&k)
        .to_string();
    k.to_lowercase()
}

/// The statement's figures over the analysed window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatementFigures {
    pub queryid: i64,
    pub calls: i64,
    pub total_ms: f64,
    pub rows: i64,
    pub temp_blks_written: i64,
    /// Length of the window the figures cover, in hours.
    pub window_hours: f64,
    /// Role that runs the statement most (for per-role settings).
    pub role: Option<String>,
}

impl StatementFigures {
    pub fn calls_per_hour(&self) -> f64 {
        if self.window_hours > 0.0 {
            self.calls as f64 / self.window_hours
        } else {
            0.0
        }
    }

    pub fn mean_ms(&self) -> f64 {
        if self.calls > 0 {
            self.total_ms / self.calls as f64
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Index,
    DropIndex,
    Statistics,
    Analyze,
    Config,
    Rewrite,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Index,
        Kind::DropIndex,
        Kind::Statistics,
        Kind::Analyze,
        Kind::Config,
        Kind::Rewrite,
    ];

    /// The kind a recommendation's stored `kind` names; None for a text OptiSchema never writes.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Index => "index",
            Kind::DropIndex => "drop_index",
            Kind::Statistics => "statistics",
            Kind::Analyze => "analyze",
            Kind::Config => "config",
            Kind::Rewrite => "rewrite",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule found: a recommendation before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub kind: Kind,
    /// What the fix targets, normalized: with `kind` it is the recommendation's fingerprint.
    pub target: String,
    pub title: String,
    pub sql: String,
    pub explanation: String,
    pub evidence: serde_json::Value,
    pub est_cost_before: Option<f64>,
    pub est_cost_after: Option<f64>,
    pub confidence: f64,
}

impl Finding {
    /// Share of the statement's cost the fix removes, 0..100.
    pub fn improvement_pct(&self) -> Option<f64> {
        let (before, after) = (self.est_cost_before?, self.est_cost_after?);
        (before > 0.0).then(|| ((before - after) / before * 100.0).clamp(0.0, 100.0))
    }
}

/// Everything a statement-level rule looks at.
pub struct Subject<'a> {
    pub plan: &'a Explained,
    /// Tables by `schema.name` (unquoted).
    pub tables: &'a HashMap<String, TableInfo>,
    pub figures: &'a StatementFigures,
}

impl<'a> Subject<'a> {
    pub fn table_of(&self, node: &PlanNode) -> Option<&'a TableInfo> {
        let key = format!("{}.{}", node.schema.as_deref()?, node.relation.as_deref()?);
        self.tables.get(&key)
    }

    pub fn total_cost(&self) -> f64 {
        self.plan.plan.total_cost
    }
}

/// A scan node's rows over all processes: a parallel scan's estimate is per process.
pub fn scan_rows(plan: &PlanNode, scan: &PlanNode) -> f64 {
    let workers = plan
        .walk()
        .into_iter()
        .find(|n| n.workers_planned.is_some() && n.walk().iter().any(|d| std::ptr::eq(*d, scan)))
        .and_then(|g| g.workers_planned)
        .unwrap_or(0);
    if workers == 0 {
        return scan.plan_rows;
    }
    // PostgreSQL's parallel divisor: each worker, plus what the leader still contributes
    let leader = (1.0 - 0.3 * workers as f64).max(0.0);
    scan.plan_rows * (workers as f64 + leader)
}

/// The conjuncts of a scan's filter that are `column op value` on that scan's own table, with
/// the value free of columns (a parameter, a constant, an expression of them).
pub fn column_predicates(scan: &PlanNode) -> Vec<(String, String, Expr)> {
    let Some(filter) = scan.filter.as_deref() else {
        return Vec::new();
    };
    let alias = scan.alias.as_deref();
    let parsed = predicate::parse(filter);
    let mut out = Vec::new();
    for c in parsed.conjuncts() {
        let Expr::Op { op, left, right } = c else {
            continue;
        };
        let (col_side, value_side, op) = match (left.as_column(), right.as_column()) {
            (Some(col), _) if right.columns().is_empty() => (col, right, op.clone()),
            (_, Some(col)) if left.columns().is_empty() => (col, left, commute(op)),
            _ => continue,
        };
        if col_side.0.is_some() && col_side.0 != alias {
            continue;
        }
        out.push((col_side.1.to_string(), op, (**value_side).clone()));
    }
    out
}

fn commute(op: &str) -> String {
    match op {
        "<" => ">".into(),
        ">" => "<".into(),
        "<=" => ">=".into(),
        ">=" => "<=".into(),
        other => other.into(),
    }
}

pub fn is_equality(op: &str) -> bool {
    op == "="
}

pub fn is_range(op: &str) -> bool {
    matches!(op, "<" | ">" | "<=" | ">=")
}

/// Sequential scans of large tables whose filter keeps at most [`SELECTIVE_SHARE`] of the
/// rows, with their table and rows: where an index can pay.
pub fn selective_seq_scans<'a>(s: &Subject<'a>) -> Vec<(&'a PlanNode, &'a TableInfo, f64)> {
    s.plan
        .plan
        .walk()
        .into_iter()
        .filter(|n| n.is_seq_scan())
        .filter_map(|scan| {
            let table = s.table_of(scan)?;
            let rows = scan_rows(&s.plan.plan, scan);
            (table.is_large() && rows / table.reltuples <= SELECTIVE_SHARE)
                .then_some((scan, table, rows))
        })
        .collect()
}

/// An index a rule proposes, before it becomes a [`Finding`].
pub struct IndexProposal<'a> {
    pub rule: &'static str,
    pub table: &'a TableInfo,
    pub keys: Vec<String>,
    pub title: String,
    pub explanation: String,
    pub evidence: serde_json::Value,
    /// Cost of the part of the plan the index replaces.
    pub replaced_cost: f64,
    /// The model's cost of what replaces it.
    pub new_cost: f64,
    pub confidence: f64,
}

impl IndexProposal<'_> {
    pub fn into_finding(self, s: &Subject) -> Finding {
        let before = s.total_cost();
        let mut evidence = self.evidence;
        evidence["cost_model"] = "planner cost formulas with default settings".into();
        Finding {
            rule: self.rule,
            kind: Kind::Index,
            target: format!("{}({})", self.table.qualified(), self.keys.join(", ")),
            title: self.title,
            sql: create_index_sql(self.table, &self.keys, &[]),
            explanation: self.explanation,
            evidence,
            est_cost_before: Some(before),
            est_cost_after: Some(cost::with_part_replaced(
                before,
                self.replaced_cost,
                self.new_cost,
            )),
            confidence: self.confidence,
        }
    }
}

/// The statement `CREATE INDEX CONCURRENTLY` for `keys` on `table`.
pub fn create_index_sql(table: &TableInfo, keys: &[String], include: &[String]) -> String {
    let mut sql = format!(
        "CREATE INDEX CONCURRENTLY ON {} ({})",
        table.qualified(),
        keys.join(", ")
    );
    if !include.is_empty() {
        sql.push_str(&format!(" INCLUDE ({})", include.join(", ")));
    }
    sql
}

/// Runs every statement-level rule, then keeps one finding per table when one index's keys
/// start with another's (the wider one serves both).
/// Schemas whose tables and indexes OptiSchema never proposes to change: PostgreSQL's own
/// catalogs, TOAST and temporary schemas, and OptiSchema's own.
pub fn is_protected_schema(schema: &str) -> bool {
    matches!(schema, "pg_catalog" | "information_schema" | "optischema")
        || schema.starts_with("pg_toast")
        || schema.starts_with("pg_temp_")
}

pub fn run(subject: &Subject) -> Vec<Finding> {
    let mut all = Vec::new();
    all.extend(scan_filter_index::check(subject));
    all.extend(expression_index::check(subject));
    all.extend(like_prefix::check(subject));
    all.extend(sort_index::check(subject));
    all.extend(join_inner_index::check(subject));
    all.extend(partial_index::check(subject));
    all.extend(stale_statistics::check(subject));
    all.extend(temp_spill::check(subject));
    consolidate(all)
}

/// An index finding's target `schema.table(k1, k2)` split into the table and its keys.
/// None for a partial index: its keys alone do not say which rows it serves. INCLUDE columns
/// are not keys and are left out.
pub fn index_target_keys(target: &str) -> Option<(String, Vec<String>)> {
    if target.contains(" WHERE ") {
        return None;
    }
    let target = target.split(" INCLUDE (").next()?;
    let (table, keys) = target.split_once('(')?;
    Some((
        table.to_string(),
        keys.strip_suffix(')')?
            .split(", ")
            .map(str::to_string)
            .collect(),
    ))
}

fn consolidate(findings: Vec<Finding>) -> Vec<Finding> {
    let keys_of = |f: &Finding| index_target_keys(&f.target);
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        if out.iter().any(|o| o.kind == f.kind && o.target == f.target) {
            continue;
        }
        if f.kind == Kind::Index {
            if let Some((table, keys)) = keys_of(&f) {
                // dropped when an index already kept starts with all of this one's keys
                let covered = out
                    .iter()
                    .filter(|o| o.kind == Kind::Index)
                    .filter_map(keys_of)
                    .any(|(t, k)| {
                        t == table && k.len() >= keys.len() && k[..keys.len()] == keys[..]
                    });
                if covered {
                    continue;
                }
                out.retain(|o| {
                    o.kind != Kind::Index
                        || keys_of(o).is_none_or(|(t, k)| {
                            !(t == table && keys.len() > k.len() && keys[..k.len()] == k[..])
                        })
                });
            }
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
pub mod testing {
    //! Fixture plans and tables shared by the rule tests.
    use super::*;

    pub fn plan(name: &str) -> Explained {
        let path = format!(
            "{}/src/plans/fixtures/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        Explained::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    pub fn table(
        name: &str,
        rows: f64,
        columns: &[(&str, &str)],
        indexes: &[(&str, &[&str])],
    ) -> TableInfo {
        TableInfo {
            schema: "public".into(),
            name: name.into(),
            reltuples: rows,
            relpages: (rows / 60.0).ceil(),
            n_mod_since_analyze: 0,
            columns: columns
                .iter()
                .map(|(n, t)| ColumnInfo {
                    name: n.to_string(),
                    type_name: t.to_string(),
                    collation: (*t == "text").then(|| "en_US.utf8".to_string()),
                })
                .collect(),
            indexes: indexes
                .iter()
                .map(|(n, keys)| IndexInfo {
                    name: n.to_string(),
                    keys: keys.iter().map(|k| k.to_string()).collect(),
                    unique: n.ends_with("pkey"),
                    predicate: None,
                    scans: 10,
                    size_bytes: 1 << 20,
                    backs_constraint: n.ends_with("pkey"),
                })
                .collect(),
        }
    }

    /// The demo shop's tables, as their statistics were when the fixtures were taken.
    pub fn shop() -> HashMap<String, TableInfo> {
        let tables = [
            table(
                "orders",
                1_000_000.0,
                &[
                    ("id", "bigint"),
                    ("customer_id", "bigint"),
                    ("status", "text"),
                    ("created_at", "timestamptz"),
                    ("total", "numeric"),
                ],
                &[("orders_pkey", &["id"])],
            ),
            table(
                "customers",
                200_000.0,
                &[
                    ("id", "bigint"),
                    ("email", "text"),
                    ("name", "text"),
                    ("country", "text"),
                    ("created_at", "timestamptz"),
                ],
                &[("customers_pkey", &["id"])],
            ),
            table(
                "products",
                20_000.0,
                &[
                    ("id", "bigint"),
                    ("name", "text"),
                    ("category", "integer"),
                    ("price", "numeric"),
                    ("description", "text"),
                ],
                &[("products_pkey", &["id"])],
            ),
            table(
                "order_items",
                2_000_000.0,
                &[
                    ("order_id", "bigint"),
                    ("product_id", "bigint"),
                    ("quantity", "integer"),
                    ("price", "numeric"),
                ],
                &[("order_items_pkey", &["order_id", "product_id"])],
            ),
        ];
        tables
            .into_iter()
            .map(|t| (format!("public.{}", t.name), t))
            .collect()
    }

    pub fn figures(calls: i64, total_ms: f64, rows: i64) -> StatementFigures {
        StatementFigures {
            queryid: 1,
            calls,
            total_ms,
            rows,
            temp_blks_written: 0,
            window_hours: 1.0,
            role: Some("app".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn system_and_own_schemas_are_protected() {
        for schema in [
            "pg_catalog",
            "information_schema",
            "pg_toast",
            "pg_toast_temp_3",
            "pg_temp_3",
            "optischema",
        ] {
            assert!(super::is_protected_schema(schema), "{schema}");
        }
        for schema in ["public", "app", "pg_catalogue_copy", "Optischema", "toast"] {
            assert!(!super::is_protected_schema(schema), "{schema}");
        }
    }

    use super::testing::*;
    use super::*;

    #[test]
    fn parallel_scan_rows_count_every_process() {
        let e = plan("orders_by_customer_topn");
        let scan = e.plan.walk().into_iter().find(|n| n.is_seq_scan()).unwrap();
        // 2 rows per process, 2 workers plus 0.4 of the leader
        assert!((scan_rows(&e.plan, scan) - 4.8).abs() < 1e-9);
    }

    #[test]
    fn existing_index_prefix_is_recognized() {
        let t = table("t", 1e6, &[("a", "int")], &[("t_a_b", &["a", "b"])]);
        assert!(t.has_index_leading_with(&["a".into()]));
        assert!(t.has_index_leading_with(&["a".into(), "b".into()]));
        assert!(!t.has_index_leading_with(&["b".into()]));
    }

    #[test]
    fn the_wider_index_absorbs_its_prefix() {
        let f = |target: &str| Finding {
            rule: "x",
            kind: Kind::Index,
            target: target.into(),
            title: String::new(),
            sql: String::new(),
            explanation: String::new(),
            evidence: serde_json::Value::Null,
            est_cost_before: None,
            est_cost_after: None,
            confidence: 0.5,
        };
        let kept = consolidate(vec![
            f("public.t(a)"),
            f("public.t(a, b)"),
            f("public.u(a)"),
            f("public.t(a)"),
        ]);
        let targets: Vec<&str> = kept.iter().map(|k| k.target.as_str()).collect();
        assert_eq!(targets, ["public.t(a, b)", "public.u(a)"]);
    }

    #[test]
    fn fine_statements_get_nothing() {
        let tables = shop();
        for name in ["product_pk", "order_detail_join"] {
            let e = plan(name);
            let figures = figures(5000, 50.0, 5000);
            let found = run(&Subject {
                plan: &e,
                tables: &tables,
                figures: &figures,
            });
            assert!(found.is_empty(), "{name}: {found:#?}");
        }
    }
}
