//! `LIKE 'abc%'` on a text column of a large table → a B-tree index that can serve prefixes:
//! with `text_pattern_ops` (`varchar_pattern_ops`) under a non-C collation, a plain one under C.
//!
//! Why: under a linguistic collation a B-tree's order is not byte order, so the planner cannot
//! turn a prefix match into a range scan on an ordinary index; the pattern operator classes
//! compare bytes and can. The pattern must be known: a constant starting with literal
//! characters (from captured parameter values when the statement has parameters).

use super::*;
use serde_json::json;

fn literal_prefix(value: &Expr) -> Option<String> {
    let Expr::Constant(text) = (match value {
        Expr::Cast { expr, .. } => expr.as_ref(),
        other => other,
    }) else {
        return None;
    };
    let pattern = text
        .strip_prefix('\'')?
        .strip_suffix('\'')?
        .replace("''", "'");
    let prefix: String = pattern
        .chars()
        .take_while(|c| *c != '%' && *c != '_' && *c != '\\')
        .collect();
    (!prefix.is_empty() && prefix.len() < pattern.len()).then_some(prefix)
}

pub fn check(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    for scan in s.plan.plan.walk().into_iter().filter(|n| n.is_seq_scan()) {
        let Some(table) = s.table_of(scan) else {
            continue;
        };
        let rows = scan_rows(&s.plan.plan, scan);
        if !table.is_large() || rows / table.reltuples > SELECTIVE_SHARE {
            continue;
        }
        for (column, op, value) in column_predicates(scan) {
            if op != "~~" {
                continue;
            }
            let (Some(info), Some(prefix)) = (table.column(&column), literal_prefix(&value)) else {
                continue;
            };
            let byte_order = matches!(info.collation.as_deref(), Some("C") | Some("POSIX"));
            let key = match (byte_order, info.type_name.as_str()) {
                (true, _) => quote_ident(&column),
                (false, "text") => format!("{} text_pattern_ops", quote_ident(&column)),
                (false, "character varying") => {
                    format!("{} varchar_pattern_ops", quote_ident(&column))
                }
                (false, "character") => format!("{} bpchar_pattern_ops", quote_ident(&column)),
                _ => continue,
            };
            if table.has_index_leading_with(std::slice::from_ref(&key)) {
                continue;
            }
            let before = s.total_cost();
            let after = cost::with_part_replaced(
                before,
                scan.total_cost,
                cost::index_scan_cost(table, rows),
            );
            out.push(Finding {
                rule: "like_prefix",
                kind: Kind::Index,
                target: format!("{}({key})", table.qualified()),
                title: format!("Prefix-search index {} on ({key})", table.qualified()),
                sql: create_index_sql(table, std::slice::from_ref(&key), &[]),
                explanation: format!(
                    "{column} LIKE with a constant prefix reads all {:.0} rows of {}: {}",
                    table.reltuples,
                    table.qualified(),
                    if byte_order {
                        "under the C collation a plain index serves prefixes.".to_string()
                    } else {
                        format!(
                            "the column's collation ({}) orders text linguistically, so only an index \
                             with a pattern operator class can turn the prefix into a range.",
                            info.collation.as_deref().unwrap_or("default")
                        )
                    }
                ),
                evidence: json!({
                    "node": scan.node_type, "relation": table.qualified(), "filter": scan.filter,
                    "prefix": prefix, "collation": info.collation, "estimated_rows": rows,
                    "cost_model": "planner cost formulas with default settings",
                }),
                est_cost_before: Some(before),
                est_cost_after: Some(after),
                confidence: 0.6,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn like_plan(filter: &str) -> crate::plans::model::Explained {
        let mut e = plan("product_like_prefix");
        e.plan.children[0].filter = Some(filter.to_string());
        e
    }

    #[test]
    fn constant_prefix_under_a_linguistic_collation_gets_pattern_ops() {
        let tables = shop();
        let e = like_plan("(products.name ~~ 'lamp model 12%'::text)");
        let f = figures(483, 1100.0, 278);
        let found = check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].sql,
            "CREATE INDEX CONCURRENTLY ON public.products (name text_pattern_ops)"
        );
    }

    #[test]
    fn c_collation_needs_only_a_plain_index() {
        let mut tables = shop();
        for c in &mut tables.get_mut("public.products").unwrap().columns {
            if c.name == "name" {
                c.collation = Some("C".into());
            }
        }
        let e = like_plan("(products.name ~~ 'lamp%'::text)");
        let f = figures(1, 1.0, 1);
        let found = check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        assert_eq!(
            found[0].sql,
            "CREATE INDEX CONCURRENTLY ON public.products (name)"
        );
    }

    #[test]
    fn unknown_or_leading_wildcard_patterns_get_nothing() {
        let tables = shop();
        let f = figures(1, 1.0, 1);
        for filter in [
            "(products.name ~~ (($1 || $2) || $3))",
            "(products.name ~~ '%lamp'::text)",
            "(products.name ~~ 'lamp'::text)",
        ] {
            let e = like_plan(filter);
            assert!(
                check(&Subject {
                    plan: &e,
                    tables: &tables,
                    figures: &f
                })
                .is_empty(),
                "{filter}"
            );
        }
    }
}
