//! Nested loop whose inner side scans a large table → an index on the inner join key.
//! Hash join that reads a large table in full to match a few rows from the other side → the
//! same index, so that a nested loop of lookups can replace the full read.
//!
//! Why: the inner side runs once per outer row; without an index on its join column each of
//! those runs reads the whole table. With one, each run is a short index lookup. A hash join
//! is the planner's way out when no such index exists: it reads the large table once, which is
//! still far more than a few lookups when the other side brings a handful of rows.

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
        let conditions = [join.join_filter.as_deref(), scan.filter.as_deref()];
        let key = conditions
            .into_iter()
            .flatten()
            .find_map(|text| join_key(text, scan.alias.as_deref(), table));
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
    out.extend(hash_join_sides(s));
    out
}

/// The column of `alias` that an equality in `condition` joins to another relation's column.
fn join_key(condition: &str, alias: Option<&str>, table: &TableInfo) -> Option<String> {
    for c in predicate::parse(condition).conjuncts() {
        let Expr::Op { op, left, right } = c else {
            continue;
        };
        if !is_equality(op) {
            continue;
        }
        for (mine, theirs) in [(left, right), (right, left)] {
            if let (Some((q, column)), Some((other, _))) = (mine.as_column(), theirs.as_column()) {
                if q == alias && other != alias && table.column(column).is_some() {
                    return Some(quote_ident(column));
                }
            }
        }
    }
    None
}

fn hash_join_sides(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    for join in s
        .plan
        .plan
        .walk()
        .into_iter()
        .filter(|n| n.node_type == "Hash Join")
    {
        let (Some(condition), [probe, hash]) =
            (join.hash_cond.as_deref(), join.children.as_slice())
        else {
            continue;
        };
        for (side, other) in [(probe, hash), (hash, probe)] {
            // the large table must be read in full on this side, right below the join
            let Some(scan) = side
                .walk()
                .into_iter()
                .find(|n| n.is_seq_scan() && n.filter.is_none())
            else {
                continue;
            };
            let Some(table) = s.table_of(scan) else {
                continue;
            };
            let lookups = other.plan_rows.max(1.0);
            if !table.is_large() || lookups > table.reltuples * SELECTIVE_SHARE {
                continue;
            }
            let Some(key) = join_key(condition, scan.alias.as_deref(), table) else {
                continue;
            };
            if table.has_index_leading_with(std::slice::from_ref(&key)) {
                continue;
            }
            let per_lookup_rows = (join.plan_rows / lookups).max(1.0);
            let proposal = IndexProposal {
                rule: "join_inner_index",
                table,
                title: format!(
                    "Index {} on ({key}) to look up the rows a join needs",
                    table.qualified()
                ),
                explanation: format!(
                    "A hash join reads all of {} to match about {lookups:.0} rows from the other                      side. An index on the join column {key} lets a nested loop look up just those.",
                    table.qualified()
                ),
                evidence: json!({
                    "node": join.node_type, "scanned": scan.node_type, "relation": table.qualified(),
                    "hash_cond": condition, "other_side_rows": lookups,
                }),
                keys: vec![key],
                replaced_cost: side.total_cost,
                new_cost: cost::index_scan_cost(table, per_lookup_rows) * lookups,
                confidence: 0.5,
            };
            out.push(proposal.into_finding(s));
        }
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
    fn a_hash_join_reading_a_large_table_for_a_few_rows_gets_an_index_on_its_key() {
        let tables = shop();
        let mut join = node("Hash Join", None, 30.0, 25_000.0);
        join.hash_cond = Some("(o.customer_id = c.id)".into());
        let probe = node("Seq Scan", Some(("orders", "o")), 1_000_000.0, 18_000.0);
        let mut hash = node("Hash", None, 10.0, 40.0);
        hash.children = vec![node("Index Scan", Some(("customers", "c")), 10.0, 40.0)];
        join.children = vec![probe, hash];
        let e = Explained {
            plan: join.clone(),
            query_id: None,
        };
        let f = figures(10, 1000.0, 50);
        let found = check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].sql,
            "CREATE INDEX CONCURRENTLY ON public.orders (customer_id)"
        );
        // many rows on the other side: reading the table once is right
        join.children[1].plan_rows = 200_000.0;
        let e = Explained {
            plan: join,
            query_id: None,
        };
        assert!(check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        })
        .is_empty());
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
