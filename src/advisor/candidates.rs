//! Candidate indexes for the workload. Pure.
//!
//! The rules propose indexes from each statement's plan (equality columns first, then ranges,
//! then ORDER BY / GROUP BY, join keys, expressions as written, pattern operator classes), with
//! generic and captured-value plans. Here each proposal also gets a covering variant: the same
//! keys with the other columns the statement reads from that table as INCLUDE columns, so an
//! index-only scan can answer it (a covering aggregate, a rare value's lookups); the columns
//! read come from parse analysis, not from the plan, whose scans often output whole rows. The planner
//! then decides, through what-if, which variant is worth it.

use crate::rules::{index_target_keys, quote_ident, Finding, Kind};

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
    if finding.kind != Kind::Index
        || finding.target.contains(" INCLUDE ")
        || finding.target.contains(" WHERE ")
    {
        return None;
    }
    let (_, keys) = index_target_keys(&finding.target)?;
    let key_columns: Vec<String> = keys.iter().map(|k| key_column(k)).collect::<Option<_>>()?;
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
