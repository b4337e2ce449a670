//! Sorts or hashes spilling to disk (pg_stat_statements' temp blocks) → more `work_mem` for the
//! role that runs the statement.
//!
//! Why: a sort or hash that does not fit in `work_mem` writes its data to temporary files and
//! reads it back; sized to hold the data, it stays in memory. The setting is per operation, so it
//! is raised for that role only, never server-wide.

use super::*;
use serde_json::json;

const BLOCK_BYTES: f64 = 8192.0;

pub fn check(s: &Subject) -> Vec<Finding> {
    let f = s.figures;
    if f.temp_blks_written <= 0 || f.calls <= 0 {
        return Vec::new();
    }
    let spills = s.plan.plan.walk().into_iter().any(|n| {
        matches!(
            n.node_type.as_str(),
            "Sort" | "Incremental Sort" | "Hash" | "Materialize"
        ) || n.strategy.as_deref() == Some("Hashed")
    });
    if !spills {
        return Vec::new();
    }
    let per_call_mb = f.temp_blks_written as f64 / f.calls as f64 * BLOCK_BYTES / (1024.0 * 1024.0);
    // in-memory sorts need more room than their temporary files: twice, rounded up to a power of 2
    let mb = ((per_call_mb * 2.0).max(8.0) as u64)
        .next_power_of_two()
        .min(2048);
    let (sql, target) = match f.role.as_deref() {
        Some(role) => (
            format!("ALTER ROLE {} SET work_mem = '{mb}MB'", quote_ident(role)),
            format!("role {role}: work_mem"),
        ),
        None => (
            format!("SET work_mem = '{mb}MB'"),
            format!("statement {}: work_mem", f.queryid),
        ),
    };
    vec![Finding {
        rule: "temp_spill",
        kind: Kind::Config,
        target,
        title: format!("work_mem = {mb}MB so sorts and hashes stay in memory"),
        sql,
        explanation: format!(
            "Each call writes about {per_call_mb:.1} MB of temporary files: a sort or hash does not fit in \
             work_mem. {mb}MB holds it; the setting applies to each such operation of each session, \
             so it is raised for this role only."
        ),
        evidence: json!({
            "temp_blks_written": f.temp_blks_written, "calls": f.calls, "temp_mb_per_call": per_call_mb,
            "role": f.role,
        }),
        est_cost_before: None,
        est_cost_after: None,
        confidence: 0.6,
    }]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn spilling_aggregate_gets_work_mem_for_its_role() {
        let tables = shop();
        let e = plan("orders_customers_hash_agg");
        let mut f = figures(10, 5000.0, 60);
        f.temp_blks_written = 10 * 2560; // 20 MB per call
        let found = check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f,
        });
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].sql, "ALTER ROLE app SET work_mem = '64MB'");
    }

    #[test]
    fn no_temp_blocks_no_finding() {
        let tables = shop();
        let e = plan("orders_customers_hash_agg");
        let f = figures(10, 5000.0, 60);
        assert!(check(&Subject {
            plan: &e,
            tables: &tables,
            figures: &f
        })
        .is_empty());
    }
}
