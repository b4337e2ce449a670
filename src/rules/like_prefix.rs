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
    for (scan, table, rows) in selective_seq_scans(s) {
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
            let why = if byte_order {
                "under the C collation a plain index serves prefixes.".to_string()
            } else {
                format!(
                    "the column's collation ({}) orders text linguistically, so only an index with a \
                     pattern operator class can turn the prefix into a range.",
                    info.collation.as_deref().unwrap_or("default")
                )
            };
            let proposal = IndexProposal {
                rule: "like_prefix",
                table,
                title: format!("Prefix-search index {} on ({key})", table.qualified()),
                explanation: format!(
                    "{column} LIKE with a constant prefix reads all {:.0} rows of {}: {why}",
                    table.reltuples,
                    table.qualified()
                ),
                evidence: json!({
                    "node": scan.node_type, "relation": table.qualified(), "filter": scan.filter,
                    "prefix": prefix, "collation": info.collation, "estimated_rows": rows,
                }),
                keys: vec![key],
                replaced_cost: scan.total_cost,
                new_cost: cost::index_scan_cost(table, rows),
                confidence: 0.6,
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
