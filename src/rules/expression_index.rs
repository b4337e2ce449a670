//! Filter on an expression of a column (`lower(email) = ...`) over a large table
//! → an index on that expression.
//!
//! Why: an index on `email` cannot serve `lower(email) = x`; the planner matches an index
//! expression only when it is the same expression. Without one, every row is read and the
//! expression computed for each.

use super::*;
use serde_json::json;

pub fn check(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    for (scan, table, rows) in selective_seq_scans(s) {
        let Some(filter) = scan.filter.as_deref() else {
            continue;
        };
        let parsed = predicate::parse(filter);
        for c in parsed.conjuncts() {
            let Expr::Op { op, left, right } = c else {
                continue;
            };
            if !(is_equality(op) || is_range(op)) {
                continue;
            }
            let (expr, value) = if right.columns().is_empty() {
                (left, right)
            } else {
                (right, left)
            };
            if !value.columns().is_empty() || expr.as_column().is_some() {
                continue;
            }
            let cols = expr.columns();
            let own = |q: Option<&str>| q.is_none() || q == scan.alias.as_deref();
            if cols.is_empty()
                || !cols
                    .iter()
                    .all(|(q, name)| own(*q) && table.column(name).is_some())
            {
                continue;
            }
            let key = format!("({})", expr.to_index_sql());
            if table.has_index_leading_with(std::slice::from_ref(&key)) {
                continue;
            }
            let proposal = IndexProposal {
                rule: "expression_index",
                table,
                title: format!("Expression index {} on {key}", table.qualified()),
                explanation: format!(
                    "The filter compares {} rather than the column itself, so no plain index on the \
                     column can serve it and all {:.0} rows of {} are read. An index on the same \
                     expression can.",
                    expr.to_index_sql(),
                    table.reltuples,
                    table.qualified()
                ),
                evidence: json!({
                    "node": scan.node_type, "relation": table.qualified(), "filter": filter,
                    "expression": expr.to_index_sql(), "estimated_rows": rows, "table_rows": table.reltuples,
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

    #[test]
    fn lower_email_gets_an_expression_index() {
        let tables = shop();
        let e = plan("login_lower_email");
        let f = figures(458, 50_000.0, 458);
        let found = check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].sql,
            "CREATE INDEX CONCURRENTLY ON public.customers ((lower(email)))"
        );
        // and the plain-column rule stays silent: there is no plain column to index
        assert!(super::super::scan_filter_index::check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f
        })
        .is_empty());
    }

    #[test]
    fn an_existing_expression_index_is_recognized() {
        let mut tables = shop();
        tables
            .get_mut("public.customers")
            .unwrap()
            .indexes
            .push(IndexInfo {
                name: "c_lower".into(),
                keys: vec!["lower(email)".into()],
                unique: false,
                predicate: None,
                scans: 0,
                size_bytes: 1,
                backs_constraint: false,
            });
        let e = plan("login_lower_email");
        let f = figures(458, 50_000.0, 458);
        assert!(check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f
        })
        .is_empty());
    }
}
