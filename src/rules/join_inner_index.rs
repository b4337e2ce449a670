//! Nested loop whose inner side scans a large table → an index on the inner join key.
//!
//! Why: the inner side runs once per outer row; without an index on its join column each of
//! those runs reads the whole table. With one, each run is a short index lookup.

use super::*;
use serde_json::json;

pub fn check(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    for join in s
        .plan
        .plan
        .walk()
        .into_iter()
        .filter(|n| n.node_type == "Nested Loop")
    {
        let [outer, inner] = join.children.as_slice() else {
            continue;
        };
        let Some(scan) = inner.walk().into_iter().find(|n| n.is_seq_scan()) else {
            continue;
        };
        let Some(table) = s.table_of(scan) else {
            continue;
        };
        if !table.is_large() {
            continue;
        }
        let inner_alias = scan.alias.as_deref();
        let conditions = [join.join_filter.as_deref(), scan.filter.as_deref()];
        let mut key = None;
        for text in conditions.into_iter().flatten() {
            for c in predicate::parse(text).conjuncts() {
                let Expr::Op { op, left, right } = c else {
                    continue;
                };
                if !is_equality(op) {
                    continue;
                }
                for (mine, theirs) in [(left, right), (right, left)] {
                    if let (Some((q, column)), Some((other, _))) =
                        (mine.as_column(), theirs.as_column())
                    {
                        if q == inner_alias
                            && other != inner_alias
                            && table.column(column).is_some()
                        {
                            key.get_or_insert_with(|| quote_ident(column));
                        }
                    }
                }
            }
        }
        let Some(key) = key else { continue };
        if table.has_index_leading_with(std::slice::from_ref(&key)) {
            continue;
        }
        let loops = outer.plan_rows.max(1.0);
        // rows the join keeps per outer row: what each index lookup would return
        let per_loop_rows = (join.plan_rows / loops).max(1.0);
        let proposal = IndexProposal {
            rule: "join_inner_index",
            table,
            title: format!("Index {} on ({key}) for the inner side of a nested loop", table.qualified()),
            explanation: format!(
                "A nested loop reads {} about {loops:.0} times, once per outer row, each time in full. \
                 An index on the join column {key} turns each of those into a lookup.",
                table.qualified()
            ),
            evidence: json!({
                "node": join.node_type, "inner": scan.node_type, "relation": table.qualified(),
                "join_filter": join.join_filter, "filter": scan.filter, "outer_rows": loops,
            }),
            keys: vec![key],
            replaced_cost: inner.total_cost * loops,
            new_cost: cost::index_scan_cost(table, per_loop_rows) * loops,
            confidence: 0.55,
        };
        out.push(proposal.into_finding(s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::plans::model::{Explained, PlanNode};

    fn node(kind: &str, rel: Option<(&str, &str)>, rows: f64, cost: f64) -> PlanNode {
        PlanNode {
            node_type: kind.into(),
            relation: rel.map(|r| r.0.into()),
            alias: rel.map(|r| r.1.into()),
            schema: rel.map(|_| "public".into()),
            plan_rows: rows,
            total_cost: cost,
            ..Default::default()
        }
    }

    #[test]
    fn inner_seq_scan_gets_an_index_on_its_join_column() {
        let tables = shop();
        let mut join = node("Nested Loop", None, 50.0, 900_000.0);
        join.join_filter = Some("(o.customer_id = c.id)".into());
        let outer = node("Index Scan", Some(("customers", "c")), 10.0, 40.0);
        let mut inner = node("Materialize", None, 1_000_000.0, 30_000.0);
        inner.children = vec![node(
            "Seq Scan",
            Some(("orders", "o")),
            1_000_000.0,
            18_000.0,
        )];
        join.children = vec![outer, inner];
        let e = Explained {
            plan: join,
            query_id: None,
        };
        let f = figures(10, 1000.0, 50);
        let found = check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].sql,
            "CREATE INDEX CONCURRENTLY ON public.orders (customer_id)"
        );
        assert!(found[0].est_cost_after.unwrap() < found[0].est_cost_before.unwrap());
    }

    #[test]
    fn index_nested_loops_are_fine() {
        let tables = shop();
        let e = plan("order_detail_join");
        let f = figures(10, 1.0, 20);
        assert!(check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f
        })
        .is_empty());
    }
}
