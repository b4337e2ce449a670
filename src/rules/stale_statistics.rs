//! Estimates far from the truth, or tables changed a lot since their last ANALYZE
//! → `ANALYZE` the table; when its statistics are fresh and the estimate is still far off on a
//! filter over several columns → extended statistics on those columns.
//!
//! Why: the planner chooses plans from row estimates. Statistics older than a tenth of the
//! table's rows of changes describe another table; and per-column statistics assume columns are
//! independent, which correlated columns (city and zip code) are not.

use super::*;
use serde_json::json;

/// A table changed by more than this share of its rows since ANALYZE has stale statistics.
const STALE_SHARE: f64 = 0.10;
/// Estimates off by this factor or more (either way) count as far from the truth.
const MISESTIMATE_FACTOR: f64 = 10.0;

pub fn check(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    let top = &s.plan.plan;
    let actual_rows = if s.figures.calls > 0 {
        Some(s.figures.rows as f64 / s.figures.calls as f64)
    } else {
        None
    };
    // a LIMIT or an aggregate caps the rows returned, so they say nothing about the estimate
    let comparable = !matches!(
        top.node_type.as_str(),
        "Limit" | "Aggregate" | "ModifyTable"
    );
    // statements that find nothing (lookups of missing keys) say little about estimates
    let misestimate = actual_rows
        .filter(|actual| comparable && *actual >= 1.0)
        .map(|actual| {
            actual.max(1.0).max(top.plan_rows.max(1.0))
                / actual.max(1.0).min(top.plan_rows.max(1.0))
        })
        .filter(|ratio| *ratio >= MISESTIMATE_FACTOR);

    let mut seen = Vec::new();
    for scan in top.walk().into_iter().filter(|n| n.is_scan()) {
        let Some(table) = s.table_of(scan) else {
            continue;
        };
        if seen.contains(&table.qualified()) {
            continue;
        }
        seen.push(table.qualified());
        let changed = table.n_mod_since_analyze as f64;
        let stale = changed > 1000.0 && changed > STALE_SHARE * table.reltuples.max(1.0);
        if stale {
            out.push(Finding {
                rule: "stale_statistics",
                kind: Kind::Analyze,
                target: table.qualified(),
                title: format!("ANALYZE {}: its statistics are out of date", table.qualified()),
                sql: format!("ANALYZE {}", table.qualified()),
                explanation: format!(
                    "{:.0} rows of {} changed since its last ANALYZE ({:.0}% of its {:.0} rows), so the \
                     planner's estimates for it describe an older table.{}",
                    changed,
                    table.qualified(),
                    changed / table.reltuples.max(1.0) * 100.0,
                    table.reltuples,
                    misestimate.map(|r| format!(" This statement's row estimate is off by {r:.0}x.")).unwrap_or_default()
                ),
                evidence: json!({
                    "relation": table.qualified(), "n_mod_since_analyze": table.n_mod_since_analyze,
                    "table_rows": table.reltuples, "estimated_rows": top.plan_rows, "actual_rows_per_call": actual_rows,
                }),
                est_cost_before: None,
                est_cost_after: None,
                confidence: 0.7,
            });
            continue;
        }
        let Some(ratio) = misestimate else { continue };
        let mut columns: Vec<String> = column_predicates(scan)
            .into_iter()
            .filter(|(c, op, _)| is_equality(op) && table.column(c).is_some())
            .map(|(c, _, _)| quote_ident(&c))
            .collect();
        columns.sort();
        columns.dedup();
        if columns.len() < 2 {
            continue;
        }
        let name = quote_ident(&format!(
            "{}_{}_stats",
            table.name,
            columns.join("_").replace('"', "")
        ));
        out.push(Finding {
            rule: "stale_statistics",
            kind: Kind::Statistics,
            target: format!("{}({})", table.qualified(), columns.join(", ")),
            title: format!("Extended statistics on {} ({})", table.qualified(), columns.join(", ")),
            sql: format!(
                "CREATE STATISTICS {}.{name} (dependencies, ndistinct, mcv) ON {} FROM {}",
                quote_ident(&table.schema),
                columns.join(", "),
                table.qualified()
            ),
            explanation: format!(
                "The planner expects {:.0} rows per call and the statement returns {:.0} ({ratio:.0}x off) \
                 although {}'s statistics are fresh: the filter on {} combines columns whose values \
                 depend on each other. Extended statistics let the planner see that.",
                top.plan_rows,
                actual_rows.unwrap_or_default(),
                table.qualified(),
                columns.join(", ")
            ),
            evidence: json!({
                "relation": table.qualified(), "filter": scan.filter, "estimated_rows": top.plan_rows,
                "actual_rows_per_call": actual_rows, "factor": ratio,
            }),
            est_cost_before: None,
            est_cost_after: None,
            confidence: 0.5,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::plans::model::{Explained, PlanNode};

    fn scan_plan(filter: &str, rows: f64) -> Explained {
        Explained {
            plan: PlanNode {
                node_type: "Seq Scan".into(),
                relation: Some("orders".into()),
                schema: Some("public".into()),
                alias: Some("orders".into()),
                filter: Some(filter.into()),
                plan_rows: rows,
                total_cost: 20_000.0,
                ..Default::default()
            },
            query_id: None,
        }
    }

    #[test]
    fn a_much_changed_table_is_analyzed() {
        let mut tables = shop();
        tables.get_mut("public.orders").unwrap().n_mod_since_analyze = 300_000;
        let e = scan_plan("(orders.status = $1)", 10.0);
        let f = figures(10, 100.0, 50_000);
        let found = check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].sql, "ANALYZE public.orders");
        assert!(
            found[0].explanation.contains("off by 500x"),
            "{}",
            found[0].explanation
        );
    }

    #[test]
    fn fresh_stats_and_a_misestimate_on_two_columns_ask_for_extended_statistics() {
        let tables = shop();
        let e = scan_plan("((orders.status = $1) AND (orders.customer_id = $2))", 1.0);
        let f = figures(10, 100.0, 2_000);
        let found = check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].sql,
            "CREATE STATISTICS public.orders_customer_id_status_stats (dependencies, ndistinct, mcv) ON customer_id, status FROM public.orders"
        );
    }

    #[test]
    fn good_estimates_and_fresh_tables_get_nothing() {
        let tables = shop();
        let e = scan_plan(
            "((orders.status = $1) AND (orders.customer_id = $2))",
            190.0,
        );
        let f = figures(10, 100.0, 2_000);
        assert!(check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f
        })
        .is_empty());
    }
}
