//! Indexes never scanned, or whose keys are a prefix of another index's on the same table
//! → drop them, with the evidence and a warning.
//!
//! Why: every index slows every write to its table and takes space and cache. One never used
//! since statistics were reset, or made redundant by a wider one, costs without serving. Scans
//! are counted on this server only: a replica's queries may still use it, hence the warning.
//! Indexes that back a constraint are never proposed.

use super::*;
use serde_json::json;

const WARNING: &str =
    "Index usage is counted on this server since its statistics were last reset: \
                       check replicas and rare jobs (month-end reports) before dropping.";

pub fn check_table(table: &TableInfo) -> Vec<Finding> {
    let mut out = Vec::new();
    for index in table
        .indexes
        .iter()
        .filter(|i| !i.backs_constraint && !i.unique)
    {
        let wider = table.indexes.iter().find(|other| {
            other.name != index.name
                && other.predicate == index.predicate
                && other.keys.len() > index.keys.len()
                && other.keys[..index.keys.len()] == index.keys[..]
        });
        let reason = match (wider, index.scans) {
            (Some(other), _) => format!(
                "Its keys ({}) are the leading keys of {} ({}), which serves the same lookups.",
                index.keys.join(", "),
                other.name,
                other.keys.join(", ")
            ),
            (None, 0) => {
                "It has not been scanned once since statistics were last reset.".to_string()
            }
            _ => continue,
        };
        out.push(Finding {
            rule: "unused_index",
            kind: Kind::DropIndex,
            target: format!("{}.{}", quote_ident(&table.schema), quote_ident(&index.name)),
            title: format!("Drop index {}.{}", quote_ident(&table.schema), quote_ident(&index.name)),
            sql: format!("DROP INDEX CONCURRENTLY {}.{}", quote_ident(&table.schema), quote_ident(&index.name)),
            explanation: format!(
                "{reason} Dropping it frees {:.1} MB and makes writes to {} cheaper. {WARNING}",
                index.size_bytes as f64 / 1048576.0,
                table.qualified()
            ),
            evidence: json!({
                "relation": table.qualified(), "index": index.name, "keys": index.keys, "scans": index.scans, "size_bytes": index.size_bytes,
                "redundant_with": wider.map(|w| &w.name), "warning": WARNING,
            }),
            est_cost_before: None,
            est_cost_after: None,
            confidence: if wider.is_some() { 0.7 } else { 0.5 },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn unused_and_redundant_indexes_but_never_constraints() {
        let mut t = table(
            "t",
            1e6,
            &[("a", "int"), ("b", "int")],
            &[("t_pkey", &["id"]), ("t_a", &["a"]), ("t_a_b", &["a", "b"])],
        );
        t.indexes[0].scans = 0; // a primary key is never proposed, used or not
        let found = check_table(&t);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].sql, "DROP INDEX CONCURRENTLY public.t_a");
        assert!(found[0].explanation.contains("leading keys of t_a_b"));

        t.indexes[2].scans = 0;
        let found = check_table(&t);
        let sqls: Vec<&str> = found.iter().map(|f| f.sql.as_str()).collect();
        assert_eq!(
            sqls,
            [
                "DROP INDEX CONCURRENTLY public.t_a",
                "DROP INDEX CONCURRENTLY public.t_a_b"
            ]
        );
    }
}
