//! The what-if part of the SQL API: `whatif` (given indexes, one statement) and
//! `recommend_indexes` (the advisor's set, for one statement or the whole workload).

use super::{args, reject, valid, ArgError};
use crate::acting::Actor;
use crate::advisor::workload;
use crate::analysis::{self, Examined, Verdict};
use crate::errors;
use crate::rules::StatementFigures;
use crate::settings;
use crate::statements::{self, HotStatement};
use crate::whatif::{hypo, planner};
use pgrx::prelude::*;

/// The statement OptiSchema knows by this exact text, if any.
fn known_queryid(query: &str) -> Option<i64> {
    Spi::get_one_with_args::<i64>(
        "SELECT queryid FROM optischema.statements WHERE query = $1 ORDER BY last_seen DESC LIMIT 1",
        &[query.trim().into()],
    )
    .ok()
    .flatten()
}

/// The captured value sets of a known statement (when the caller may read them), as what-if
/// variants with their weights; the generic plan alone otherwise.
fn variants_for(query: &str) -> Vec<(Option<Vec<Option<String>>>, f64)> {
    // values are captured for statements with parameters only
    if !query.contains('$') {
        return vec![(None, 1.0)];
    }
    let captured = known_queryid(query)
        .and_then(|q| statements::captured_sets(q).ok().flatten())
        .unwrap_or_default();
    let custom: Vec<crate::plans::CustomPlan> = captured
        .into_iter()
        .map(|(values, times_seen)| crate::plans::CustomPlan {
            values,
            times_seen,
            raw: serde_json::Value::Null,
        })
        .collect();
    workload::variants(&custom)
}

fn cannot_plan(label: &str, reason: String) -> ! {
    reject(ArgError {
        message: format!("the query cannot be planned{label}: {reason}"),
        hint: "Give one SELECT, INSERT, UPDATE or DELETE statement; $n parameters are allowed."
            .into(),
    })
}

/// The ERROR for a statement the caller's planning failed on (message, SQLSTATE).
fn not_planned((reason, code): (String, String)) -> ! {
    // planned as EXPLAIN would be: a table the caller may not read is refused as there
    if code == "42501" {
        errors::insufficient_privilege(reason, "Ask for SELECT on the tables the statement reads.")
    }
    cannot_plan("", reason)
}

/// Plans `query` with each of `indexes` (CREATE INDEX statements) in place, one at a time,
/// without building any: whether the planner uses it, the statement's cost without and with it,
/// and its estimated size. `$n` parameters are planned generically or, when the text is a
/// statement OptiSchema has captured values for (and the caller may read them), with those
/// values, the costs weighted by how often each set was seen.
#[pg_extern(volatile)]
fn whatif(
    query: Option<String>,
    indexes: Option<Vec<Option<String>>>,
) -> TableIterator<
    'static,
    (
        name!(index_sql, String),
        name!(used, bool),
        name!(cost_before, f64),
        name!(cost_after, f64),
        name!(size_mb, f64),
    ),
> {
    let query = valid(args::statement_text("query", query));
    let sqls = valid(args::index_list(indexes));
    // definitions first: a bad one is the caller's error, raised as it is
    let defined: Vec<hypo::HypoIndex> = sqls
        .iter()
        .enumerate()
        .map(|(i, sql)| hypo::define(sql, i))
        .collect();
    // an index's size is estimated from its columns' statistics: only for who may read them
    let caller = crate::acting::caller();
    for (sql, h) in sqls.iter().zip(&defined) {
        if !h.readable_by(caller) {
            errors::insufficient_privilege(
                format!("permission denied to estimate {sql}: the caller may not read the table's columns"),
                "Ask for SELECT on the table, or on each column the index names.",
            );
        }
    }
    let variants = variants_for(&query);
    // per index: (weight, cost before, cost after, used)
    let mut seen: Vec<Vec<(f64, f64, f64, bool)>> = vec![Vec::new(); defined.len()];
    for (values, weight) in &variants {
        let planned =
            planner::with_statement_coded(&query, values.as_deref(), Actor::Caller, |st| {
                let before = st.plan(&[]);
                let after: Vec<_> = defined
                    .iter()
                    .map(|h| st.plan(std::slice::from_ref(h)))
                    .collect();
                (before, after)
            });
        match planned {
            Ok((before, after)) => {
                for (i, h) in defined.iter().enumerate() {
                    seen[i].push((
                        *weight,
                        before.total_cost,
                        after[i].total_cost,
                        after[i].uses(h.oid),
                    ));
                }
            }
            // captured values may no longer fit a changed table: the generic plan decides
            Err(_) if values.is_some() => {}
            Err(error) => not_planned(error),
        }
    }
    if seen.iter().all(|s| s.is_empty()) {
        match planner::with_statement_coded(&query, None, Actor::Caller, |st| st.plan(&[])) {
            Err(error) => not_planned(error),
            Ok(_) => cannot_plan("", "no captured value set could be planned".into()),
        }
    }
    let rows: Vec<_> = sqls
        .into_iter()
        .zip(defined.iter())
        .enumerate()
        .map(|(i, (sql, h))| {
            let s = &seen[i];
            let weights: f64 = s.iter().map(|v| v.0).sum::<f64>().max(f64::MIN_POSITIVE);
            let before = s.iter().map(|v| v.0 * v.1).sum::<f64>() / weights;
            let after = s.iter().map(|v| v.0 * v.2).sum::<f64>() / weights;
            let used = s.iter().any(|v| v.3);
            let size_mb = hypo::standalone_pages(h) * 8192.0 / 1048576.0;
            (sql, used, before, after, size_mb)
        })
        .collect();
    TableIterator::new(rows)
}

/// Examines the hot statements of this database (or `query` alone) and returns what the
/// advisor would select for them.
fn examined_for(query: Option<&str>) -> (Vec<Examined>, bool) {
    let (statements, known) = match query {
        None => (
            statements::hot_statements(settings::HOT_TOP_N.get(), None)
                .unwrap_or_else(|e| errors::internal("reading history", e)),
            true,
        ),
        Some(text) => {
            let queryid = known_queryid(text);
            let hot = queryid.and_then(|q| {
                statements::hot_statements(1, Some(q))
                    .unwrap_or_else(|e| errors::internal("reading history", e))
                    .pop()
            });
            match hot {
                Some(h) => (vec![h], true),
                // how often it runs is not known: it counts as one call an hour of 1 ms, so the
                // planner's share decides, and writes are not weighed against it (its captured
                // values, if OptiSchema knows it, still count)
                None => (
                    vec![HotStatement {
                        query: text.to_string(),
                        figures: StatementFigures {
                            queryid: queryid.unwrap_or_default(),
                            calls: 1,
                            total_ms: 1.0,
                            window_hours: 1.0,
                            // the caller's own text: planned with the caller's privileges
                            role: Some(crate::acting::role_name(crate::acting::caller())),
                            ..Default::default()
                        },
                    }],
                    false,
                ),
            }
        }
    };
    let mut out = Vec::new();
    for statement in statements {
        match analysis::examine(&statement).unwrap_or_else(|e| errors::internal("analysis", e)) {
            Verdict::Findings {
                plan,
                findings,
                custom,
                ..
            } => out.push(Examined {
                statement,
                plan,
                findings,
                custom: custom.unwrap_or_default(),
            }),
            Verdict::Unexplainable { reason, .. } if query.is_some() => cannot_plan("", reason),
            Verdict::Unexplainable { .. } => {}
        }
    }
    (out, known)
}

/// The indexes the advisor selects, with the planner's verdict: for `query` alone, or for the
/// whole current workload (the `optischema.hot_top_n` hottest statements and the writes on
/// their tables) when it is NULL. Nothing is built and nothing stored; `analyze_now()` stores.
#[pg_extern(volatile)]
fn recommend_indexes(
    query: default!(Option<String>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(index_sql, String),
        name!(statements_helped, Vec<i64>),
        name!(est_improvement_pct, f64),
        name!(est_ms_saved_per_hour, Option<f64>),
        name!(size_mb, f64),
        name!(write_overhead_pct, f64),
    ),
> {
    let query = query.map(|q| valid(args::statement_text("query", Some(q))));
    let (examined, known) = examined_for(query.as_deref());
    let advice = analysis::advise_with(&examined, known)
        .unwrap_or_else(|e| errors::internal("what-if planning", e))
        .advice;
    TableIterator::new(advice.into_iter().map(move |a| {
        (
            a.finding.sql,
            if known { a.helped } else { Vec::new() },
            a.improvement_pct,
            known.then_some(a.ms_saved_per_hour),
            a.size_mb,
            a.write_overhead_pct,
        )
    }))
}
