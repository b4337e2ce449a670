//! Trying a recommendation before applying it: the statements it affects are run with
//! `EXPLAIN (ANALYZE, BUFFERS)` before and after the change, with their captured parameter
//! values. With `optischema.sandbox_conninfo` set, in a separate PostgreSQL that gets copies of
//! the tables involved; without one, here, in a transaction that is rolled back (read-only
//! statements only, and for index changes the what-if projection stands in for the run after).
//!
//! This module holds what needs no server: the results and their summary, the sandbox's
//! version of each change, and the text of the definitions copied there.

pub mod gather;
pub mod libpq;
pub mod run;
pub mod sandbox;

use crate::plans::model::{Explained, PlanNode};
use crate::rules::Kind;
use serde::Serialize;

/// How many times each statement runs before and after, at most; the median time counts.
pub const RUNS: usize = 3;
/// A statement is run again only while its runs took less than this, in all.
pub const REPEAT_WITHIN_MS: f64 = 1000.0;

/// One run of one statement, from its `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Median execution time over the runs, ms.
    pub ms: f64,
    pub cost: f64,
    /// The plan's shape: node types with the tables and indexes they read.
    pub plan: String,
    pub shared_hit: i64,
    pub shared_read: i64,
}

/// What the trial saw for one statement with one value set.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct StatementTrial {
    pub queryid: i64,
    /// Which captured value set (1 = most seen); None for a statement without parameters.
    pub value_set: Option<usize>,
    pub before: Option<Run>,
    pub after: Option<Run>,
    /// The planner's projection for an index change: its cost without and with the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projected_cost_before: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projected_cost_after: Option<f64>,
    /// Why it was not run, when that is no fault (a write, with no sandbox to run it in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub plan_changed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A table copied into the sandbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Copied {
    pub table: String,
    pub rows: i64,
    /// Whether only a sample of its rows was copied (the table is above the size limit).
    pub sampled: bool,
}

/// A whole trial, as stored in the action and the recommendation's evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trial {
    pub action_id: i64,
    /// "sandbox" or "here" (rolled back).
    pub ran_in: &'static str,
    pub copied: Vec<Copied>,
    pub statements: Vec<StatementTrial>,
    /// Summed median times of the statements run both before and after.
    pub before_ms: Option<f64>,
    pub after_ms: Option<f64>,
    pub improvement_pct: Option<f64>,
    pub plan_changed: bool,
    pub errors: usize,
}

impl Trial {
    pub fn new(
        action_id: i64,
        ran_in: &'static str,
        copied: Vec<Copied>,
        statements: Vec<StatementTrial>,
    ) -> Trial {
        let both: Vec<(f64, f64)> = statements
            .iter()
            .filter_map(|s| Some((s.before.as_ref()?.ms, s.after.as_ref()?.ms)))
            .collect();
        let (before_ms, after_ms) = if both.is_empty() {
            (None, None)
        } else {
            (
                Some(both.iter().map(|b| b.0).sum()),
                Some(both.iter().map(|b| b.1).sum()),
            )
        };
        let improvement_pct = match (before_ms, after_ms) {
            (Some(b), Some(a)) if b > 0.0 => Some((1.0 - a / b) * 100.0),
            _ => None,
        };
        Trial {
            action_id,
            ran_in,
            copied,
            plan_changed: statements.iter().any(|s| s.plan_changed == Some(true)),
            errors: statements.iter().filter(|s| s.error.is_some()).count(),
            statements,
            before_ms,
            after_ms,
            improvement_pct,
        }
    }
}

/// The shape of a plan: each node's type with what it reads, depth first.
pub fn plan_shape(root: &PlanNode) -> String {
    root.walk()
        .iter()
        .map(|n| match (&n.index, &n.relation) {
            (Some(index), _) => format!("{} using {index}", n.node_type),
            (None, Some(rel)) => format!("{} on {rel}", n.node_type),
            _ => n.node_type.clone(),
        })
        .collect::<Vec<_>>()
        .join(" > ")
}

/// One `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` output read: execution time, cost, shape and
/// the top node's shared buffers.
pub fn read_explain(json: &str) -> Result<Run, String> {
    let explained =
        Explained::from_json(json).map_err(|e| format!("unreadable EXPLAIN output: {e}"))?;
    let raw: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let top = &raw[0];
    let ms = top["Execution Time"]
        .as_f64()
        .ok_or("EXPLAIN output without an execution time")?;
    Ok(Run {
        ms,
        cost: explained.plan.total_cost,
        plan: plan_shape(&explained.plan),
        shared_hit: top["Plan"]["Shared Hit Blocks"].as_i64().unwrap_or(0),
        shared_read: top["Plan"]["Shared Read Blocks"].as_i64().unwrap_or(0),
    })
}

/// Runs a statement (`once` gives one run) up to `RUNS` times, while the runs so far took
/// less than `REPEAT_WITHIN_MS`, and sums them up.
pub fn repeated(mut once: impl FnMut() -> Result<Run, String>) -> Result<Run, String> {
    let mut runs: Vec<Run> = Vec::new();
    while runs.len() < RUNS && runs.iter().map(|r| r.ms).sum::<f64>() < REPEAT_WITHIN_MS {
        runs.push(once()?);
    }
    median_run(runs).ok_or_else(|| "the statement was not run".to_string())
}

/// The runs of one statement summed up: the median time, the rest from the last run (the plan
/// is the same each time; caches are warmest last).
pub fn median_run(mut runs: Vec<Run>) -> Option<Run> {
    let mut times: Vec<f64> = runs.iter().map(|r| r.ms).collect();
    times.sort_by(f64::total_cmp);
    let median = *times.get(times.len() / 2)?;
    let mut last = runs.pop()?;
    last.ms = median;
    Some(last)
}

/// A statement's trial with its before and after runs, the plan change told.
pub fn compared(mut s: StatementTrial) -> StatementTrial {
    s.plan_changed = match (&s.before, &s.after) {
        (Some(b), Some(a)) => Some(b.plan != a.plan),
        _ => s.plan_changed,
    };
    s
}

/// What makes the change in the sandbox, which nobody else uses: the stored statements without
/// `CONCURRENTLY`, and a setting for the session instead of a role or database.
pub fn sandbox_steps(kind: Kind, steps: &[String]) -> Result<Vec<String>, String> {
    match kind {
        Kind::Index | Kind::DropIndex => Ok(steps
            .iter()
            .map(|s| s.replacen(" CONCURRENTLY", "", 1))
            .collect()),
        Kind::Statistics | Kind::Analyze => Ok(steps.to_vec()),
        Kind::Config => steps
            .iter()
            .map(|s| session_setting(s, false))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("unexpected setting statement: {}", steps.join("; "))),
        Kind::Rewrite => Ok(Vec::new()),
    }
}

/// `ALTER ROLE r SET name = value` (or DATABASE, or a plain SET) as `SET [LOCAL] name = value`.
pub fn session_setting(sql: &str, local: bool) -> Option<String> {
    // the last " SET ": a quoted role or database name before it may hold anything
    let setting = match sql.strip_prefix("SET ") {
        Some(rest) => rest,
        None => sql.rsplit_once(" SET ")?.1,
    };
    let (name, value) = setting.split_once('=')?;
    let (name, value) = (name.trim(), value.trim());
    // rebuilt from checked parts only: an allowed setting's name and one literal
    if !crate::apply::validate::ALLOWED_SETTINGS.contains(&name) || !is_one_literal(value) {
        return None;
    }
    let scope = if local { "LOCAL " } else { "" };
    Some(format!("SET {scope}{name} = {value}"))
}

/// One quoted string (quotes doubled inside) or one bare number or word.
fn is_one_literal(value: &str) -> bool {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return !inner.replace("''", "").contains('\'') && !inner.contains('\\');
    }
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A column to create in the sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    /// As `format_type` prints it.
    pub type_sql: String,
    /// A collation other than the type's default, schema-qualified and quoted.
    pub collation: Option<String>,
    pub not_null: bool,
}

/// `CREATE TABLE` for a copy: the columns with their types, collations and NOT NULL, in the
/// same order (rows travel as row literals); no defaults, constraints or triggers, which plans
/// do not depend on (the copy's indexes are created separately, after the rows).
pub fn create_table_sql(qualified: &str, columns: &[Column]) -> String {
    let cols: Vec<String> = columns
        .iter()
        .map(|c| {
            let mut col = format!(
                "{} {}",
                crate::plans::ident::quote_ident(&c.name),
                c.type_sql
            );
            if let Some(coll) = &c.collation {
                col.push_str(&format!(" COLLATE {coll}"));
            }
            if c.not_null {
                col.push_str(" NOT NULL");
            }
            col
        })
        .collect();
    format!(
        "CREATE TABLE {qualified} ({}) WITH (autovacuum_enabled = off)",
        cols.join(", ")
    )
}

/// The share of a table's pages to sample (TABLESAMPLE SYSTEM percent) so that about
/// `limit_bytes` are copied; None when the whole table fits.
pub fn sample_percent(table_bytes: i64, limit_bytes: i64) -> Option<f64> {
    if table_bytes <= limit_bytes || table_bytes <= 0 {
        return None;
    }
    Some((limit_bytes as f64 / table_bytes as f64 * 100.0).clamp(0.0001, 100.0))
}

/// The sandbox database a trial runs in: named after this cluster, so that trials of several
/// servers sharing one sandbox never meet, and after the action.
pub fn sandbox_database(system_identifier: &str, action_id: i64) -> String {
    format!("optischema_trial_{system_identifier}_{action_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPLAIN_ANALYZE: &str = r#"[{"Plan": {"Node Type": "Limit", "Startup Cost": 0.29, "Total Cost": 8.31,
        "Plan Rows": 1, "Plan Width": 4, "Shared Hit Blocks": 3, "Shared Read Blocks": 1,
        "Plans": [{"Node Type": "Index Scan", "Parent Relationship": "Outer", "Relation Name": "orders",
          "Index Name": "orders_customer", "Startup Cost": 0.29, "Total Cost": 8.31, "Plan Rows": 1,
          "Plan Width": 4}]},
        "Planning Time": 0.1, "Triggers": [], "Execution Time": 0.042}]"#;

    #[test]
    fn an_explain_analyze_gives_its_time_cost_shape_and_buffers() {
        let run = read_explain(EXPLAIN_ANALYZE).unwrap();
        assert_eq!(run.ms, 0.042);
        assert_eq!(run.cost, 8.31);
        assert_eq!(run.plan, "Limit > Index Scan using orders_customer");
        assert_eq!((run.shared_hit, run.shared_read), (3, 1));
        assert!(
            read_explain(r#"[{"Plan": {"Node Type": "Result", "Total Cost": 0.01}}]"#)
                .unwrap_err()
                .contains("execution time")
        );
    }

    fn run(ms: f64, plan: &str) -> Run {
        Run {
            ms,
            cost: 1.0,
            plan: plan.into(),
            shared_hit: 0,
            shared_read: 0,
        }
    }

    #[test]
    fn the_median_of_three_runs_counts() {
        let m = median_run(vec![run(9.0, "a"), run(2.0, "a"), run(3.0, "b")]).unwrap();
        assert_eq!(m.ms, 3.0);
        assert_eq!(m.plan, "b");
        assert_eq!(median_run(Vec::new()), None);
    }

    #[test]
    fn slow_statements_are_run_once() {
        let mut n = 0;
        let slow = repeated(|| {
            n += 1;
            Ok(run(1500.0, "a"))
        })
        .unwrap();
        assert_eq!((n, slow.ms), (1, 1500.0));
        let mut times = vec![5.0, 1.0, 3.0].into_iter();
        let fast = repeated(|| Ok(run(times.next().unwrap(), "a"))).unwrap();
        assert_eq!(fast.ms, 3.0);
        assert!(repeated(|| Err("boom".into()))
            .unwrap_err()
            .contains("boom"));
    }

    #[test]
    fn a_trial_sums_the_statements_run_both_before_and_after() {
        let statements = vec![
            compared(StatementTrial {
                queryid: 1,
                before: Some(run(10.0, "Seq Scan on t")),
                after: Some(run(1.0, "Index Scan using i")),
                ..Default::default()
            }),
            compared(StatementTrial {
                queryid: 2,
                before: Some(run(5.0, "Seq Scan on u")),
                after: Some(run(4.0, "Seq Scan on u")),
                ..Default::default()
            }),
            StatementTrial {
                queryid: 3,
                before: Some(run(100.0, "x")),
                error: Some("canceling statement due to statement timeout".into()),
                ..Default::default()
            },
        ];
        let t = Trial::new(7, "sandbox", Vec::new(), statements);
        assert_eq!(t.before_ms, Some(15.0));
        assert_eq!(t.after_ms, Some(5.0));
        let pct = t.improvement_pct.unwrap();
        assert!((pct - 66.666_666).abs() < 1e-3, "{pct}");
        assert!(t.plan_changed);
        assert_eq!(t.errors, 1);
        assert_eq!(t.statements[1].plan_changed, Some(false));
        let nothing = Trial::new(8, "here", Vec::new(), Vec::new());
        assert_eq!((nothing.before_ms, nothing.improvement_pct), (None, None));
    }

    #[test]
    fn the_sandbox_makes_changes_without_concurrently_and_settings_per_session() {
        assert_eq!(
            sandbox_steps(
                Kind::Index,
                &["CREATE INDEX CONCURRENTLY optischema_rec_4 ON public.t USING btree (a)".into()]
            )
            .unwrap(),
            vec!["CREATE INDEX optischema_rec_4 ON public.t USING btree (a)"]
        );
        assert_eq!(
            sandbox_steps(
                Kind::DropIndex,
                &["DROP INDEX CONCURRENTLY public.t_b".into()]
            )
            .unwrap(),
            vec!["DROP INDEX public.t_b"]
        );
        assert_eq!(
            sandbox_steps(
                Kind::Config,
                &["ALTER ROLE app SET work_mem = '64MB'".into()]
            )
            .unwrap(),
            vec!["SET work_mem = '64MB'"]
        );
        assert_eq!(
            session_setting("ALTER DATABASE shop SET random_page_cost = 1.1", true).as_deref(),
            Some("SET LOCAL random_page_cost = 1.1")
        );
        assert_eq!(
            session_setting("SET enable_seqscan = off", false).as_deref(),
            Some("SET enable_seqscan = off")
        );
        assert!(sandbox_steps(Kind::Config, &["ALTER ROLE app".into()]).is_err());
        assert!(sandbox_steps(Kind::Rewrite, &[]).unwrap().is_empty());
    }

    #[test]
    fn a_setting_is_rebuilt_from_checked_parts_only() {
        // a role whose quoted name holds statements of its own
        assert_eq!(
            session_setting(
                "ALTER ROLE \"a SET work_mem = 1; COPY (SELECT 1) TO PROGRAM 'x'; --\" SET work_mem = '64MB'",
                true
            )
            .as_deref(),
            Some("SET LOCAL work_mem = '64MB'")
        );
        for bad in [
            "ALTER ROLE a SET work_mem = 1; DROP TABLE t",
            "ALTER ROLE a SET work_mem = '1'; SELECT 1; --'",
            "ALTER ROLE a SET shared_preload_libraries = 'x'",
            "ALTER ROLE a SET role = 'postgres'",
            "SET work_mem = E'\\x'",
        ] {
            assert_eq!(session_setting(bad, true), None, "{bad}");
        }
    }

    #[test]
    fn a_copy_keeps_column_order_types_collations_and_not_null() {
        let cols = vec![
            Column {
                name: "id".into(),
                type_sql: "bigint".into(),
                collation: None,
                not_null: true,
            },
            Column {
                name: "Name".into(),
                type_sql: "character varying(20)".into(),
                collation: Some(r#"pg_catalog."und-x-icu""#.into()),
                not_null: false,
            },
        ];
        assert_eq!(
            create_table_sql("public.t", &cols),
            r#"CREATE TABLE public.t (id bigint NOT NULL, "Name" character varying(20) COLLATE pg_catalog."und-x-icu") WITH (autovacuum_enabled = off)"#
        );
    }

    #[test]
    fn tables_above_the_limit_are_sampled_to_about_the_limit() {
        assert_eq!(sample_percent(1000, 2000), None);
        assert_eq!(sample_percent(0, 10), None);
        assert_eq!(sample_percent(4000, 1000), Some(25.0));
        assert_eq!(sample_percent(i64::MAX, 1), Some(0.0001));
        assert_eq!(sandbox_database("7312", 5), "optischema_trial_7312_5");
    }
}
