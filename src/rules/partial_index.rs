//! Sequential scan of a large table whose filter holds a fixed condition keeping few rows
//! (`finished_at IS NULL`, a boolean flag, `NOT archived`) → a partial index on the rows that
//! condition keeps, keyed by what the statement looks up or sorts them by.
//!
//! Why: a queue or a soft-delete flag makes most rows uninteresting to the statements that ask
//! for the few others. An index restricted to those rows is as small as they are, stays small
//! while the rest of the table grows, and costs nothing to writes of rows outside it. Only
//! conditions written in the statement count: a compared value (`status = $1`) may change from
//! call to call, and captured values are never put into a definition others can read.

use super::*;
use serde_json::json;

/// The fixed conditions of `scan`'s filter on its own table's columns: `col IS [NOT] NULL`, a
/// boolean column, or its negation.
fn fixed_conditions(scan: &PlanNode, table: &TableInfo) -> Vec<(String, Expr)> {
    let Some(filter) = scan.filter.as_deref() else {
        return Vec::new();
    };
    let alias = scan.alias.as_deref();
    let own_column = |e: &Expr| {
        e.as_column()
            .filter(|(q, c)| (q.is_none() || *q == alias) && table.column(c).is_some())
            .map(|(_, c)| c.to_string())
    };
    let boolean = |c: &str| table.column(c).is_some_and(|i| i.type_name == "boolean");
    let mut out = Vec::new();
    for c in predicate::parse(filter).conjuncts() {
        let column = match c {
            Expr::IsNull { expr, .. } => own_column(expr),
            Expr::Column { .. } => own_column(c).filter(|n| boolean(n)),
            Expr::Not(inner) => own_column(inner).filter(|n| boolean(n)),
            _ => None,
        };
        if let Some(column) = column {
            out.push((column, c.clone()));
        }
    }
    out
}

/// Sort keys of `scan`'s own columns in a Sort right above it (through a Limit or Gather).
fn sort_keys_above(plan: &PlanNode, scan: &PlanNode) -> Vec<String> {
    let alias = scan.alias.as_deref();
    for node in plan.walk() {
        if !node.node_type.ends_with("Sort") || !node.walk().iter().any(|n| std::ptr::eq(*n, scan))
        {
            continue;
        }
        let mut keys = Vec::new();
        for key in &node.sort_key {
            let (expr, desc) = match key.strip_suffix(" DESC") {
                Some(k) => (k, true),
                None => (key.as_str(), false),
            };
            let parsed = predicate::parse(expr);
            let Some((q, column)) = parsed.as_column() else {
                return Vec::new();
            };
            if q.is_some() && q != alias {
                return Vec::new();
            }
            keys.push(format!(
                "{}{}",
                quote_ident(column),
                if desc { " DESC" } else { "" }
            ));
        }
        return keys;
    }
    Vec::new()
}

pub fn check(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    for (scan, table, rows) in selective_seq_scans(s) {
        let conditions = fixed_conditions(scan, table);
        if conditions.is_empty() {
            continue;
        }
        let fixed: Vec<&str> = conditions.iter().map(|(c, _)| c.as_str()).collect();
        let predicates = column_predicates(scan);
        let mut keys: Vec<String> = Vec::new();
        for (column, op, _) in &predicates {
            let key = quote_ident(column);
            if is_equality(op) && !fixed.contains(&column.as_str()) && !keys.contains(&key) {
                keys.push(key);
            }
        }
        if let Some((column, _, _)) = predicates.iter().find(|(c, op, _)| {
            is_range(op) && !fixed.contains(&c.as_str()) && !keys.contains(&quote_ident(c))
        }) {
            keys.push(quote_ident(column));
        }
        if keys.is_empty() {
            keys = sort_keys_above(&s.plan.plan, scan);
        }
        if keys.is_empty() {
            keys.push(quote_ident(&conditions[0].0));
        }
        let condition = conditions
            .iter()
            .map(|(_, e)| e.to_index_sql())
            .collect::<Vec<_>>()
            .join(" AND ");
        let share = rows / table.reltuples * 100.0;
        let proposal = IndexProposal {
            rule: "partial_index",
            table,
            title: format!(
                "Partial index {} on ({}) WHERE {condition}",
                table.qualified(),
                keys.join(", ")
            ),
            explanation: format!(
                "Each call reads all {:.0} rows of {} for the few (about {rows:.0}, {share:.3}%) \
                 where {condition}. An index holding only those rows stays as small as they are.",
                table.reltuples,
                table.qualified(),
            ),
            evidence: json!({
                "node": scan.node_type, "relation": table.qualified(), "filter": scan.filter,
                "estimated_rows": rows, "table_rows": table.reltuples, "condition": condition,
            }),
            keys,
            replaced_cost: scan.total_cost,
            new_cost: cost::index_scan_cost(table, rows),
            confidence: 0.55,
        };
        let mut finding = proposal.into_finding(s);
        finding.target = format!("{} WHERE {condition}", finding.target);
        finding.sql = format!("{} WHERE {condition}", finding.sql);
        out.push(finding);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::plans::model::Explained;

    fn jobs() -> HashMap<String, TableInfo> {
        let t = table(
            "jobs",
            500_000.0,
            &[
                ("id", "bigint"),
                ("kind", "int"),
                ("finished_at", "timestamptz"),
                ("created_at", "timestamptz"),
                ("archived", "boolean"),
            ],
            &[("jobs_pkey", &["id"])],
        );
        HashMap::from([("public.jobs".to_string(), t)])
    }

    fn scan(filter: &str, rows: f64) -> PlanNode {
        PlanNode {
            node_type: "Seq Scan".into(),
            relation: Some("jobs".into()),
            schema: Some("public".into()),
            alias: Some("j".into()),
            filter: Some(filter.into()),
            plan_rows: rows,
            total_cost: 9000.0,
            ..Default::default()
        }
    }

    fn found(plan: PlanNode) -> Vec<Finding> {
        let tables = jobs();
        let e = Explained {
            plan,
            query_id: None,
        };
        let f = figures(100, 1000.0, 100);
        check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        })
    }

    #[test]
    fn a_queue_gets_a_partial_index_sorted_as_the_statement_reads_it() {
        let sort = PlanNode {
            node_type: "Sort".into(),
            sort_key: vec!["j.created_at".into()],
            children: vec![scan("(j.finished_at IS NULL)", 120.0)],
            ..Default::default()
        };
        let limit = PlanNode {
            node_type: "Limit".into(),
            children: vec![sort],
            ..Default::default()
        };
        let f = found(limit);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].sql,
            "CREATE INDEX CONCURRENTLY ON public.jobs (created_at) WHERE (finished_at IS NULL)"
        );
        assert_eq!(
            f[0].target,
            "public.jobs(created_at) WHERE (finished_at IS NULL)"
        );
    }

    #[test]
    fn lookups_among_flagged_rows_key_on_the_looked_up_column() {
        let f = found(scan("((NOT j.archived) AND (j.kind = $1))", 40.0));
        assert_eq!(
            f[0].sql,
            "CREATE INDEX CONCURRENTLY ON public.jobs (kind) WHERE (NOT archived)"
        );
    }

    #[test]
    fn compared_values_and_unselective_conditions_get_nothing() {
        // a value compared may change from call to call
        assert!(found(scan("(j.kind = 3)", 40.0)).is_empty());
        // most rows: a sequential scan is right
        assert!(found(scan("(j.finished_at IS NULL)", 400_000.0)).is_empty());
    }
}
