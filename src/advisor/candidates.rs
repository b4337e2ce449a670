//! Candidate indexes for the workload. Pure.
//!
//! The rules propose indexes from each statement's plan (equality columns first, then ranges,
//! then ORDER BY / GROUP BY, join keys, expressions as written, pattern operator classes), with
//! generic and captured-value plans. Here each proposal also gets a covering variant: the same
//! keys with the other columns the statement reads from that table as INCLUDE columns, so an
//! index-only scan can answer it (a covering aggregate, a rare value's lookups); the columns
//! read come from parse analysis, not from the plan, whose scans often output whole rows. The planner
//! then decides, through what-if, which variant is worth it.
//!
//! The rules see one plan at a time, and a plan shaped without an index hides where one would
//! help (a hash join reads a whole table whatever its join key). So every column a statement
//! compares, joins on, groups or sorts by is also a candidate on its own, and the columns one
//! table is joined on together (`partsupp (ps_partkey, ps_suppkey)`) are one.

use crate::rules::{index_target_keys, quote_ident, Finding, Kind};

/// How a statement uses the columns of one table (see `whatif::columns`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnUses {
    pub relid: u32,
    /// Operands of comparisons: `col = $1`, `col < other_col`, `col IN (...)`, `col IS NULL`.
    pub compared: Vec<String>,
    /// Equated with a column of another table: (that table's oid, this column).
    pub joined: Vec<(u32, String)>,
    /// Grouped or sorted by.
    pub ordered: Vec<String>,
}

/// Join keys wider than this are left to the rules.
const MAX_JOIN_KEYS: usize = 3;

/// The key lists a statement's use of one table suggests: each column it compares, joins on or
/// orders by alone, then, for each table it is joined with on several columns, those columns
/// together.
pub fn column_keys(uses: &ColumnUses) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = used_columns(uses).into_iter().map(|c| vec![c]).collect();
    let mut partners: Vec<u32> = Vec::new();
    for (p, _) in &uses.joined {
        if !partners.contains(p) {
            partners.push(*p);
        }
    }
    for partner in partners {
        let mut keys: Vec<String> = Vec::new();
        for (_, c) in uses.joined.iter().filter(|(p, _)| *p == partner) {
            if !keys.contains(c) {
                keys.push(c.clone());
            }
        }
        if (2..=MAX_JOIN_KEYS).contains(&keys.len()) && !out.contains(&keys) {
            out.push(keys);
        }
    }
    out
}

/// An index on plain columns of `schema.table`, proposed because the workload's statements use
/// them (its costs are filled in by the selection).
pub fn column_finding(schema: &str, table: &str, keys: &[String]) -> Finding {
    let qualified = format!("{}.{}", quote_ident(schema), quote_ident(table));
    let quoted: Vec<String> = keys.iter().map(|k| quote_ident(k)).collect();
    Finding {
        rule: "workload_columns",
        kind: Kind::Index,
        target: format!("{qualified}({})", quoted.join(", ")),
        title: format!("Index on {qualified} ({})", keys.join(", ")),
        sql: format!(
            "CREATE INDEX CONCURRENTLY ON {qualified} ({})",
            quoted.join(", ")
        ),
        explanation: format!(
            "Statements of the workload filter, join, group or sort on {}; planned with this index \
             in place, the planner reads it instead of scanning {qualified}.",
            keys.join(", ")
        ),
        evidence: serde_json::json!({ "columns": keys }),
        est_cost_before: None,
        est_cost_after: None,
        confidence: 0.5,
    }
}

/// The table, keys and key columns of an index finding that can take more columns: plain
/// column keys, no INCLUDE columns, no predicate.
fn extendable(finding: &Finding) -> Option<(String, Vec<String>, Vec<String>)> {
    if finding.kind != Kind::Index || finding.target.contains(" INCLUDE ") {
        return None;
    }
    // a predicate makes the target unparsable as keys
    let (table, keys) = index_target_keys(&finding.target)?;
    let key_columns = keys.iter().map(|k| key_column(k)).collect::<Option<_>>()?;
    Some((table, keys, key_columns))
}

/// More key columns than this are not tried by widening.
pub const MAX_WIDTH: usize = 3;

/// Index finding `finding` with `column` appended to its keys: None when it has INCLUDE columns,
/// a predicate or an expression key, already holds the column, or is as wide as widening goes.
pub fn widened(finding: &Finding, column: &str) -> Option<Finding> {
    let (table, keys, key_columns) = extendable(finding)?;
    if keys.len() >= MAX_WIDTH || key_columns.iter().any(|k| k == column) {
        return None;
    }
    let mut keys = keys;
    keys.push(quote_ident(column));
    let mut wider = finding.clone();
    wider.target = format!("{table}({})", keys.join(", "));
    wider.sql = format!("CREATE INDEX CONCURRENTLY ON {table} ({})", keys.join(", "));
    wider.title = format!("{} and {column}", finding.title);
    wider.explanation = format!(
        "{} With {column} as one more key the index also answers what the statements ask of \
         {column} (a filter, a sort, or an index-only scan).",
        finding.explanation
    );
    Some(wider)
}

/// The table and the plain key columns of an index target without INCLUDE columns or a
/// predicate (`public.t(a DESC, b)` -> `public.t`, `[a, b]`); None otherwise.
pub fn plain_keys(target: &str) -> Option<(String, Vec<String>)> {
    if target.contains(" INCLUDE ") {
        return None;
    }
    let (table, keys) = index_target_keys(target)?;
    let columns = keys.iter().map(|k| key_column(k)).collect::<Option<_>>()?;
    Some((table, columns))
}

/// Whether index `target` extends an index on the same table whose plain keys are `keys`: its
/// keys start with them, and it has more keys or INCLUDE columns (no predicate).
pub fn extends(target: &str, keys: &(String, Vec<String>)) -> bool {
    if target.contains(" WHERE ") {
        return false;
    }
    let covering = target.contains(" INCLUDE ");
    let Some((table, columns)) = index_target_keys(target).and_then(|(table, k)| {
        let columns: Vec<String> = k.iter().map(|k| key_column(k)).collect::<Option<_>>()?;
        Some((table, columns))
    }) else {
        return false;
    };
    table == keys.0
        && columns.len() >= keys.1.len()
        && columns[..keys.1.len()] == keys.1[..]
        && (covering || columns.len() > keys.1.len())
}

/// The columns a statement compares, joins on or orders by, once each.
pub fn used_columns(uses: &ColumnUses) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let joined = uses.joined.iter().map(|(_, c)| c);
    for c in uses.compared.iter().chain(joined).chain(&uses.ordered) {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

/// The first key of an index target when it is a plain column (`public.t(a, b)` -> `a`).
pub fn leading_column(target: &str) -> Option<String> {
    let (_, keys) = index_target_keys(target)?;
    key_column(keys.first()?)
}

/// More INCLUDE columns than this make an index close to a copy of the table.
const MAX_INCLUDE: usize = 4;

/// The plain column a key names (`created_at DESC`, `name text_pattern_ops`), or None for an
/// expression key.
fn key_column(key: &str) -> Option<String> {
    let first = key.split_whitespace().next()?;
    if first.starts_with('(') {
        return None;
    }
    Some(first.trim_matches('"').replace("\"\"", "\""))
}

/// The covering variant of an index finding for a statement that reads `read` of the table:
/// None when the keys already hold every column read, too many would be needed, or a key is an
/// expression (an index-only scan cannot return an expression's columns).
pub fn covering_variant(finding: &Finding, read: &[String]) -> Option<Finding> {
    let (_, _, key_columns) = extendable(finding)?;
    let include: Vec<&String> = read.iter().filter(|c| !key_columns.contains(c)).collect();
    if include.is_empty() || include.len() > MAX_INCLUDE {
        return None;
    }
    let quoted: Vec<String> = include.iter().map(|c| quote_ident(c)).collect();
    let list = quoted.join(", ");
    let names: Vec<&str> = include.iter().map(|c| c.as_str()).collect();
    let mut variant = finding.clone();
    variant.target = format!("{} INCLUDE ({list})", finding.target);
    variant.sql = format!("{} INCLUDE ({list})", finding.sql);
    variant.title = format!("{} covering {}", finding.title, names.join(", "));
    variant.explanation = format!(
        "{} With {} as INCLUDE columns the index alone answers the statement \
         (an index-only scan, no visit to the table for rows the visibility map marks all-visible).",
        finding.explanation,
        names.join(", ")
    );
    Some(variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(target: &str, sql: &str) -> Finding {
        Finding {
            rule: "scan_filter_index",
            kind: Kind::Index,
            target: target.into(),
            title: "Index on orders (status)".into(),
            sql: sql.into(),
            explanation: "A filter keeps few rows.".into(),
            evidence: serde_json::json!({}),
            est_cost_before: Some(100.0),
            est_cost_after: Some(10.0),
            confidence: 0.6,
        }
    }

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_covering_variant_includes_what_the_statement_reads_besides_the_keys() {
        let f = finding(
            "public.orders(status)",
            "CREATE INDEX CONCURRENTLY ON public.orders (status)",
        );
        let v = covering_variant(&f, &cols(&["status", "total"])).unwrap();
        assert_eq!(v.target, "public.orders(status) INCLUDE (total)");
        assert_eq!(
            v.sql,
            "CREATE INDEX CONCURRENTLY ON public.orders (status) INCLUDE (total)"
        );
        let f = finding(
            "public.orders(customer_id, created_at DESC)",
            "CREATE INDEX CONCURRENTLY ON public.orders (customer_id, created_at DESC)",
        );
        let v = covering_variant(&f, &cols(&["id", "customer_id", "created_at", "Total"])).unwrap();
        assert_eq!(
            v.target,
            "public.orders(customer_id, created_at DESC) INCLUDE (id, \"Total\")"
        );
    }

    #[test]
    fn no_variant_when_the_keys_hold_everything_or_a_key_is_an_expression() {
        let f = finding(
            "public.orders(status)",
            "CREATE INDEX CONCURRENTLY ON public.orders (status)",
        );
        assert_eq!(covering_variant(&f, &cols(&["status"])), None);
        let f = finding(
            "public.orders((lower(email)))",
            "CREATE INDEX CONCURRENTLY ON public.orders ((lower(email)))",
        );
        assert_eq!(covering_variant(&f, &cols(&["id", "email"])), None);
    }

    #[test]
    fn each_used_column_is_a_key_and_the_join_columns_together_one_more() {
        let uses = ColumnUses {
            relid: 1,
            compared: cols(&["ps_partkey", "ps_suppkey", "ps_availqty"]),
            // with lineitem (7) on both keys, with part (8) and supplier (9) on one each
            joined: vec![
                (7, "ps_partkey".into()),
                (8, "ps_partkey".into()),
                (7, "ps_suppkey".into()),
                (9, "ps_suppkey".into()),
            ],
            ordered: cols(&["ps_availqty", "ps_comment"]),
        };
        assert_eq!(
            column_keys(&uses),
            vec![
                cols(&["ps_partkey"]),
                cols(&["ps_suppkey"]),
                cols(&["ps_availqty"]),
                cols(&["ps_comment"]),
                cols(&["ps_partkey", "ps_suppkey"]),
            ]
        );
        let one_join = ColumnUses {
            relid: 1,
            joined: vec![(2, "o_orderkey".into()), (3, "o_custkey".into())],
            ..Default::default()
        };
        assert_eq!(
            column_keys(&one_join),
            vec![cols(&["o_orderkey"]), cols(&["o_custkey"])],
            "columns joined with different tables are not one key"
        );
    }

    #[test]
    fn a_column_finding_names_its_keys_as_the_rules_do() {
        let f = column_finding("public", "Order Lines", &cols(&["l_partkey", "Supp"]));
        assert_eq!(f.target, "public.\"Order Lines\"(l_partkey, \"Supp\")");
        assert_eq!(
            f.sql,
            "CREATE INDEX CONCURRENTLY ON public.\"Order Lines\" (l_partkey, \"Supp\")"
        );
        assert_eq!(f.kind, Kind::Index);
        assert_eq!(leading_column(&f.target).as_deref(), Some("l_partkey"));
        assert_eq!(leading_column("public.t((lower(a)), b)"), None);
        assert_eq!(
            plain_keys("public.t(a DESC, \"B\")"),
            Some(("public.t".to_string(), cols(&["a", "B"])))
        );
        assert_eq!(plain_keys("public.t(a) INCLUDE (b)"), None);
        let a = ("public.t".to_string(), cols(&["a"]));
        assert!(extends("public.t(a) INCLUDE (b)", &a));
        assert!(extends("public.t(a DESC, b)", &a));
        assert!(!extends("public.t(a)", &a), "the same index");
        assert!(!extends("public.t(b, a)", &a));
        assert!(!extends("public.u(a, b)", &a));
        assert!(!extends("public.t(a, b) WHERE (c)", &a));
        assert_eq!(plain_keys("public.t(a) WHERE (b > 1)"), None);
    }

    #[test]
    fn widening_appends_a_key_up_to_the_widest_tried() {
        let f = column_finding("public", "orders", &cols(&["o_orderkey"]));
        let w = widened(&f, "o_orderstatus").unwrap();
        assert_eq!(w.target, "public.orders(o_orderkey, o_orderstatus)");
        assert_eq!(
            w.sql,
            "CREATE INDEX CONCURRENTLY ON public.orders (o_orderkey, o_orderstatus)"
        );
        let w = widened(&w, "Priority").unwrap();
        assert_eq!(
            w.target,
            "public.orders(o_orderkey, o_orderstatus, \"Priority\")"
        );
        assert_eq!(widened(&w, "o_custkey"), None, "three keys are the most");
        assert_eq!(widened(&f, "o_orderkey"), None, "a key already there");
        let covering = finding(
            "public.orders(status) INCLUDE (total)",
            "CREATE INDEX CONCURRENTLY ON public.orders (status) INCLUDE (total)",
        );
        assert_eq!(widened(&covering, "id"), None);
        let expression = finding(
            "public.orders((lower(email)))",
            "CREATE INDEX CONCURRENTLY ON public.orders ((lower(email)))",
        );
        assert_eq!(widened(&expression, "id"), None);
    }

    #[test]
    fn wide_reads_get_no_variant() {
        let f = finding(
            "public.orders(status)",
            "CREATE INDEX CONCURRENTLY ON public.orders (status)",
        );
        assert_eq!(
            covering_variant(&f, &cols(&["status", "a", "b", "c", "d", "e"])),
            None
        );
    }
}
