//! Sequential scan of a large table with a selective filter on plain columns
//! → a B-tree index on them: equality columns first, then one range column.
//!
//! Why: a sequential scan reads every page to keep a few rows, on every call; an index reads
//! the matching entries only. Small tables and filters keeping more than 5% of the rows get
//! nothing, since there a sequential scan is as good or better.

use super::*;
use serde_json::json;

pub fn check(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    for (scan, table, rows) in selective_seq_scans(s) {
        let predicates = column_predicates(scan);
        let mut keys: Vec<String> = Vec::new();
        for (column, op, _) in &predicates {
            if is_equality(op)
                && table.column(column).is_some()
                && !keys.contains(&quote_ident(column))
            {
                keys.push(quote_ident(column));
            }
        }
        if let Some((column, _, _)) = predicates.iter().find(|(c, op, _)| {
            is_range(op) && table.column(c).is_some() && !keys.contains(&quote_ident(c))
        }) {
            keys.push(quote_ident(column));
        }
        if keys.is_empty() || table.has_index_leading_with(&keys) {
            continue;
        }
        let share = rows / table.reltuples * 100.0;
        let proposal = IndexProposal {
            rule: "scan_filter_index",
            table,
            title: format!(
                "Index {} on ({}) for a filtered sequential scan",
                table.qualified(),
                keys.join(", ")
            ),
            explanation: format!(
                "Each call reads all {:.0} rows of {} to keep about {rows:.0} ({share:.3}%). \
                 An index on ({}) reads only the matching entries.",
                table.reltuples,
                table.qualified(),
                keys.join(", ")
            ),
            evidence: json!({
                "node": scan.node_type, "relation": table.qualified(), "filter": scan.filter,
                "estimated_rows": rows, "table_rows": table.reltuples, "selected_pct": share,
            }),
            keys,
            replaced_cost: scan.total_cost,
            new_cost: cost::index_scan_cost(table, rows),
            confidence: 0.6,
        };
        out.push(proposal.into_finding(s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn missing_index_on_a_large_table_filter() {
        let tables = shop();
        let e = plan("pending_orders_custom");
        let f = figures(100, 11_000.0, 100);
        let found = check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].sql,
            "CREATE INDEX CONCURRENTLY ON public.orders (status, created_at)"
        );
        assert_eq!(found[0].target, "public.orders(status, created_at)");
        assert!(found[0].improvement_pct().unwrap() > 90.0, "{:?}", found[0]);
    }

    #[test]
    fn nothing_when_the_index_exists_or_the_table_is_small() {
        let mut tables = shop();
        tables
            .get_mut("public.orders")
            .unwrap()
            .indexes
            .push(IndexInfo {
                name: "o_s".into(),
                keys: vec!["status".into(), "created_at".into(), "total".into()],
                unique: false,
                predicate: None,
                scans: 3,
                size_bytes: 1,
                backs_constraint: false,
            });
        let e = plan("pending_orders_custom");
        let f = figures(100, 11_000.0, 100);
        assert!(check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f
        })
        .is_empty());

        let mut tables = shop();
        tables.get_mut("public.orders").unwrap().reltuples = 5_000.0;
        assert!(check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f
        })
        .is_empty());
    }
}
