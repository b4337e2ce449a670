//! Sort (or top-N) over a filtered scan of a large table → an index on the filter's equality
//! columns followed by the sort keys.
//!
//! Why: with such an index the rows come out already in order, so the sort disappears, and
//! under a LIMIT the scan stops after the first rows instead of reading and sorting them all.
//! Without a LIMIT or an equality filter there is nothing to gain over one sort of the table.

use super::*;
use crate::plans::model::PlanNode;
use serde_json::json;

/// `orders.created_at DESC NULLS LAST` → (qualifier, column, " DESC NULLS LAST").
fn sort_key(text: &str) -> Option<(Option<String>, String, String)> {
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    let rest = rest.trim();
    if !rest
        .split_whitespace()
        .all(|w| ["ASC", "DESC", "NULLS", "FIRST", "LAST"].contains(&w))
    {
        return None;
    }
    let parsed = predicate::parse(first);
    let (q, name) = parsed.as_column()?;
    let suffix = rest.trim_start_matches("ASC").trim();
    Some((
        q.map(str::to_string),
        name.to_string(),
        if suffix.is_empty() {
            String::new()
        } else {
            format!(" {suffix}")
        },
    ))
}

pub fn check(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    let nodes = s.plan.plan.walk();
    for sort in nodes.iter().filter(|n| n.node_type == "Sort") {
        // the scan feeding the sort, through Gather and the like but no join
        let below: Vec<&PlanNode> = sort.walk();
        let scans: Vec<&&PlanNode> = below.iter().filter(|n| n.is_scan()).collect();
        if scans.len() != 1
            || !scans[0].is_seq_scan()
            || below.iter().any(|n| n.join_type.is_some())
        {
            continue;
        }
        let scan = *scans[0];
        let Some(table) = s.table_of(scan) else {
            continue;
        };
        if !table.is_large() {
            continue;
        }
        let limited = nodes
            .iter()
            .any(|n| n.node_type == "Limit" && n.walk().iter().any(|d| std::ptr::eq(*d, *sort)));
        let mut keys: Vec<String> = column_predicates(scan)
            .into_iter()
            .filter(|(c, op, _)| is_equality(op) && table.column(c).is_some())
            .map(|(c, _, _)| quote_ident(&c))
            .collect();
        keys.dedup();
        if keys.is_empty() && !limited {
            continue;
        }
        let mut sort_keys = Vec::new();
        for text in &sort.sort_key {
            let Some((q, column, suffix)) = sort_key(text) else {
                break;
            };
            if q.is_some() && q.as_deref() != scan.alias.as_deref()
                || table.column(&column).is_none()
            {
                break;
            }
            sort_keys.push(format!("{}{suffix}", quote_ident(&column)));
        }
        if sort_keys.len() != sort.sort_key.len() {
            continue;
        }
        keys.extend(sort_keys);
        if table.has_index_leading_with(&keys) {
            continue;
        }
        let rows_needed = if limited {
            s.plan.plan.plan_rows.max(1.0)
        } else {
            scan_rows(&s.plan.plan, scan)
        };
        let proposal = IndexProposal {
            rule: "sort_index",
            table,
            title: format!("Index {} on ({}) to return rows already sorted", table.qualified(), keys.join(", ")),
            explanation: format!(
                "The statement sorts rows of {} by {}{}. An index on ({}) returns them in that order, \
                 so the sort goes away{}.",
                table.qualified(),
                sort.sort_key.join(", "),
                if limited { " to keep only the first ones" } else { "" },
                keys.join(", "),
                if limited { " and the scan stops after the rows the LIMIT keeps" } else { "" }
            ),
            evidence: json!({
                "node": sort.node_type, "sort_key": sort.sort_key, "relation": table.qualified(),
                "filter": scan.filter, "limit": limited, "sort_cost": sort.total_cost,
            }),
            keys,
            replaced_cost: sort.total_cost,
            new_cost: cost::index_scan_cost(table, rows_needed),
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
    fn top_n_per_customer_gets_customer_then_date_desc() {
        let tables = shop();
        let e = plan("orders_by_customer_topn");
        let f = figures(323, 32_000.0, 1660);
        let found = check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].sql,
            "CREATE INDEX CONCURRENTLY ON public.orders (customer_id, created_at DESC)"
        );
        // run() keeps this one and drops the narrower (customer_id) of the filter rule
        let all = run(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        let index_targets: Vec<&str> = all
            .iter()
            .filter(|f| f.kind == Kind::Index)
            .map(|f| f.target.as_str())
            .collect();
        assert_eq!(
            index_targets,
            ["public.orders(customer_id, created_at DESC)"]
        );
    }

    #[test]
    fn sort_keys_are_read_with_their_direction() {
        assert_eq!(
            sort_key("o.created_at DESC"),
            Some((Some("o".into()), "created_at".into(), " DESC".into()))
        );
        assert_eq!(
            sort_key("created_at"),
            Some((None, "created_at".into(), String::new()))
        );
        assert_eq!(sort_key("(lower(o.name))"), None);
    }
}
