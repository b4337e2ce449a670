//! The SQL API in schema `optischema`: thin functions that validate their arguments
//! (see `args`) and read OptiSchema's tables. The queries live in `sql/api/`.

mod ai;
mod apply;
pub mod args;
mod whatif;

use crate::errors;
use crate::errors::ArgError;
use args::Span;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;

use crate::acting;
use crate::analysis;
use crate::rules::StatementFigures;
use crate::sampling::worker::WORKER_TYPE;
use crate::settings;
use crate::store;

/// The role whose members may change things through the API.
pub(crate) const ADMIN: &str = "optischema_admin";

pub(crate) use crate::errors::{reject, valid};

fn span(value: Option<Interval>) -> Option<Span> {
    value.map(|i| Span {
        months: i.months(),
        days: i.days(),
        micros: i.micros(),
    })
}

/// Statements ranked by total time spent in them within `since`, from the stored deltas: this
/// database's, or with `whole_server` every database's (in the home database, which keeps the
/// server's history, for members of pg_read_all_stats, who see all of pg_stat_statements too).
#[pg_extern(stable, parallel_safe)]
fn hot_queries(
    since: default!(Option<Interval>, "'1 hour'"),
    max_rows: default!(Option<i32>, 20),
    whole_server: default!(Option<bool>, false),
) -> TableIterator<
    'static,
    (
        name!(queryid, i64),
        name!(query, Option<String>),
        name!(calls, i64),
        name!(total_ms, f64),
        name!(mean_ms, f64),
        name!(rows, i64),
        name!(shared_blks_hit, i64),
        name!(shared_blks_read, i64),
        name!(temp_blks_written, i64),
        name!(pct_of_total_time, f64),
        name!(first_seen, Option<TimestampWithTimeZone>),
        name!(last_seen, Option<TimestampWithTimeZone>),
        name!(database, Option<String>),
    ),
> {
    valid(args::positive_span("since", span(since)));
    let max_rows = valid(args::max_rows(max_rows));
    let whole_server = whole_server_allowed(whole_server);
    let rows = Spi::connect(|client| -> spi::Result<Vec<_>> {
        let table = client.select(
            include_str!("../../sql/api/hot_queries.sql"),
            None,
            &[since.into(), max_rows.into(), whole_server.into()],
        )?;
        let mut out = Vec::with_capacity(table.len());
        for row in table {
            out.push((
                row.get::<i64>(1)?.unwrap_or_default(),
                row.get::<String>(2)?,
                row.get::<i64>(3)?.unwrap_or_default(),
                row.get::<f64>(4)?.unwrap_or_default(),
                row.get::<f64>(5)?.unwrap_or_default(),
                row.get::<i64>(6)?.unwrap_or_default(),
                row.get::<i64>(7)?.unwrap_or_default(),
                row.get::<i64>(8)?.unwrap_or_default(),
                row.get::<i64>(9)?.unwrap_or_default(),
                row.get::<f64>(10)?.unwrap_or_default(),
                row.get::<TimestampWithTimeZone>(11)?,
                row.get::<TimestampWithTimeZone>(12)?,
                row.get::<String>(13)?,
            ));
        }
        Ok(out)
    })
    .unwrap_or_else(|e| errors::internal("reading history", e));
    TableIterator::new(rows)
}

/// Whether the caller asked for the whole server's history, where that may be given: in the
/// home database, which keeps it, to members of pg_read_all_stats, who see all of
/// pg_stat_statements as well.
fn whole_server_allowed(whole_server: Option<bool>) -> bool {
    let whole_server = valid(args::switch("whole_server", whole_server));
    if whole_server {
        if !crate::databases::is_home() {
            errors::unsupported(
                format!(
                    "the whole server's history is kept in database \"{}\" only",
                    settings::database()
                ),
                "Ask there with whole_server => true; here the history is this database's.",
            )
        }
        acting::require_member(acting::caller(), "pg_read_all_stats");
    }
    whole_server
}

/// One statement's calls and time per `bucket` within `since` in this database (or, with
/// `whole_server`, summed over every database); buckets with no calls are omitted.
#[pg_extern(stable, parallel_safe)]
fn query_history(
    queryid: Option<i64>,
    since: default!(Option<Interval>, "'1 hour'"),
    bucket: default!(Option<Interval>, "'1 minute'"),
    whole_server: default!(Option<bool>, false),
) -> TableIterator<
    'static,
    (
        name!(bucket_start, TimestampWithTimeZone),
        name!(calls, i64),
        name!(total_ms, f64),
        name!(mean_ms, f64),
        name!(rows, i64),
    ),
> {
    let queryid = valid(args::queryid(queryid));
    let since_span = valid(args::positive_span("since", span(since)));
    valid(args::bucket(
        span(bucket),
        since_span,
        settings::sample_interval_s(),
    ));
    let whole_server = whole_server_allowed(whole_server);
    let rows = Spi::connect(|client| -> spi::Result<Vec<_>> {
        let table = client.select(
            include_str!("../../sql/api/query_history.sql"),
            None,
            &[
                queryid.into(),
                since.into(),
                bucket.into(),
                whole_server.into(),
            ],
        )?;
        let mut out = Vec::with_capacity(table.len());
        for row in table {
            let Some(start) = row.get::<TimestampWithTimeZone>(1)? else {
                continue;
            };
            out.push((
                start,
                row.get::<i64>(2)?.unwrap_or_default(),
                row.get::<f64>(3)?.unwrap_or_default(),
                row.get::<f64>(4)?.unwrap_or_default(),
                row.get::<i64>(5)?.unwrap_or_default(),
            ));
        }
        Ok(out)
    })
    .unwrap_or_else(|e| errors::internal("reading history", e));
    TableIterator::new(rows)
}

/// The workers' health and progress: sampling, and the AI worker's requests and tokens; and how
/// this database is served. In a database other than the home one, the samples, statements and
/// history are what this database took in from the sampler. SECURITY DEFINER: pg_stat_activity shows a background worker's type only to roles with
/// pg_read_all_stats, and a reader needs to see whether the workers run.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog)]
fn status() -> TableIterator<
    'static,
    (
        name!(enabled, bool),
        name!(worker_pid, Option<i32>),
        name!(database, String),
        name!(sample_interval, Interval),
        name!(last_sample_at, Option<TimestampWithTimeZone>),
        name!(last_sample_ms, Option<f64>),
        name!(samples_taken, i64),
        name!(statements_tracked, i64),
        name!(history_rows, i64),
        name!(last_error, Option<String>),
        name!(last_error_at, Option<TimestampWithTimeZone>),
        name!(ai_worker_pid, Option<i32>),
        name!(ai_requests_waiting, i64),
        name!(ai_tokens_today, i64),
        name!(ai_token_budget_left, i64),
        name!(ai_last_error, Option<String>),
        name!(ai_last_error_at, Option<TimestampWithTimeZone>),
        name!(served, String),
        name!(database_worker_pid, Option<i32>),
        name!(batches_waiting, i64),
    ),
> {
    let (served, database_worker_pid, batches_waiting) = crate::databases::this_database();
    let tokens_today = crate::llm::worker::tokens_today()
        .unwrap_or_else(|e| errors::internal("reading AI calls", e));
    let row = Spi::connect(|client| -> spi::Result<_> {
        let table = client.select(
            include_str!("../../sql/api/status.sql"),
            Some(1),
            &[WORKER_TYPE.into(), crate::llm::worker::WORKER_TYPE.into()],
        )?;
        let row = table.first();
        Ok((
            settings::ENABLED.get(),
            row.get::<i32>(1)?,
            settings::database(),
            Interval::from_seconds(settings::sample_interval_s() as f64),
            row.get::<TimestampWithTimeZone>(2)?,
            row.get::<f64>(3)?,
            row.get::<i64>(4)?.unwrap_or_default(),
            row.get::<i64>(5)?.unwrap_or_default(),
            row.get::<i64>(6)?.unwrap_or_default(),
            row.get::<String>(7)?,
            row.get::<TimestampWithTimeZone>(8)?,
            row.get::<i32>(9)?,
            row.get::<i64>(10)?.unwrap_or_default(),
            tokens_today,
            (settings::LLM_DAILY_TOKEN_BUDGET.get() as i64 - tokens_today).max(0),
            row.get::<String>(11)?,
            row.get::<TimestampWithTimeZone>(12)?,
            served,
            database_worker_pid,
            batches_waiting,
        ))
    })
    .unwrap_or_else(|e| errors::internal("reading status", e));
    TableIterator::once(row)
}

/// Clears the history, the statement texts and the snapshot (the next sample takes a new
/// baseline). Returns the number of rows removed from the three tables.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn reset() -> i64 {
    acting::require_member(acting::caller(), ADMIN);
    acting::as_extension_owner(reset_all)
}

fn reset_all() -> i64 {
    Spi::connect_mut(|client| -> spi::Result<i64> {
        // Same row lock as a sample: a sample in progress finishes first, none starts meanwhile.
        client.update(include_str!("../../sql/api/reset_all.sql"), None, &[])?;
        client
            .update(include_str!("../../sql/api/reset.sql"), Some(1), &[])?
            .first()
            .get_one::<i64>()
            .map(Option::unwrap_or_default)
    })
    .unwrap_or_else(|e| errors::internal("reset", e))
}

/// The generic plan of a statement OptiSchema has seen, planned without running it:
/// `{"queryid", "query", "generic_plan", "planned_sql"?}`, or `{"queryid", "query",
/// "unexplainable": reason}` when it cannot be planned as it stands.
/// The text of statement `queryid` (None when pg_stat_statements kept none), when it was
/// sampled and ran in this database; a clear ERROR otherwise.
pub(crate) fn statement_here(queryid: i64) -> Option<String> {
    let known = Spi::connect(
        |client| -> spi::Result<Option<(Option<String>, Option<String>)>> {
            let table = client.select(
                include_str!("../../sql/api/statement_for_explain.sql"),
                Some(1),
                &[queryid.into()],
            )?;
            if table.is_empty() {
                return Ok(None);
            }
            let row = table.first();
            Ok(Some((row.get::<String>(1)?, row.get::<String>(2)?)))
        },
    )
    .unwrap_or_else(|e| errors::internal("reading statements", e));
    let Some((query, elsewhere)) = known else {
        // hidden from the caller by optischema.statements' row security, or never sampled
        let sampled = acting::as_extension_owner(|| {
            Spi::get_one_with_args::<bool>(
                "SELECT EXISTS (SELECT FROM optischema.statements WHERE queryid = $1)",
                &[queryid.into()],
            )
        })
        .ok()
        .flatten()
        .unwrap_or(false);
        if sampled {
            errors::insufficient_privilege(
                format!("permission denied to read statement {queryid}"),
                "A statement's text is for members of the role that ran it and of pg_read_all_stats, as in pg_stat_statements.",
            );
        }
        reject(ArgError {
            message: format!("no statement with queryid {queryid} has been sampled"),
            hint: "Take a queryid from optischema.hot_queries().".into(),
        })
    };
    if let Some(database) = elsewhere {
        reject(ArgError {
            message: format!("statement {queryid} ran in database \"{database}\", not in this one"),
            hint: format!("Connect to database \"{database}\", where its tables are, to plan it."),
        })
    }
    query
}

#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn explain(queryid: Option<i64>) -> pgrx::JsonB {
    let queryid = valid(args::queryid(queryid));
    let query = statement_here(queryid);
    let mut out = serde_json::json!({ "queryid": queryid, "query": query });
    let Some(query) = query else {
        out["unexplainable"] = "pg_stat_statements kept no text for this statement".into();
        return pgrx::JsonB(out);
    };
    let figures = crate::statements::hot_statements(1, Some(queryid))
        .unwrap_or_else(|e| errors::internal("reading history", e))
        .pop()
        .map(|s| s.figures)
        .unwrap_or_else(|| StatementFigures {
            queryid,
            window_hours: 1.0,
            role: crate::statements::statement_role(queryid)
                .unwrap_or_else(|e| errors::internal("reading history", e)),
            ..Default::default()
        });
    let statement = crate::statements::HotStatement { query, figures };
    match analysis::examine(&statement).unwrap_or_else(|e| errors::internal("analysis", e)) {
        analysis::Verdict::Findings {
            plan,
            raw,
            planned_sql,
            findings,
            custom,
            ..
        } => {
            // index findings are what the advisor selects for this statement alone
            let examined = analysis::Examined {
                statement,
                plan,
                findings,
                custom: custom.clone().unwrap_or_default(),
            };
            let advice = analysis::advise(std::slice::from_ref(&examined))
                .unwrap_or_else(|e| errors::internal("what-if planning", e));
            let findings: Vec<_> = examined
                .findings
                .into_iter()
                .filter(|f| f.kind != crate::rules::Kind::Index)
                .chain(advice.into_iter().map(|a| a.finding))
                .collect();
            out["generic_plan"] = raw;
            match custom {
                Some(plans) => {
                    out["custom_plans"] = plans
                        .into_iter()
                        .map(|c| serde_json::json!({ "params": c.values, "times_seen": c.times_seen, "plan": c.raw }))
                        .collect();
                }
                None => {
                    out["custom_plans_hidden"] =
                        "captured parameter values are for optischema_admin only".into()
                }
            }
            if let Some(sql) = planned_sql {
                out["planned_sql"] = sql.into();
            }
            out["findings"] = serde_json::to_value(findings).expect("findings serialize");
        }
        analysis::Verdict::Unexplainable { reason, .. } => out["unexplainable"] = reason.into(),
    }
    pgrx::JsonB(out)
}

/// Analyses the `optischema.hot_top_n` hottest statements of this database now (what the worker
/// does after each sample) and returns the number of open recommendations.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn analyze_now() -> i64 {
    acting::require_member(acting::caller(), ADMIN);
    acting::as_extension_owner(|| {
        // statements are planned as their users run them, as the worker does
        acting::use_planning_path();
        analysis::analyze_hot(settings::HOT_TOP_N.get(), &mut |_| true)
            .unwrap_or_else(|e| errors::internal("analysis", e))
    })
}

/// Dismisses recommendation `id`: later analyses keep it dismissed. Returns `id`; the SQL
/// function `dismiss` wraps it to return the row.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn dismiss_by_id(id: Option<i64>, reason: Option<String>) -> i64 {
    acting::require_member(acting::caller(), ADMIN);
    let Some(id) = id else {
        reject(ArgError {
            message: "id must not be NULL".into(),
            hint: "Take an id from optischema.recommendations.".into(),
        })
    };
    let payload = acting::as_extension_owner(|| {
        Spi::connect_mut(|client| -> spi::Result<Option<String>> {
            let payload = store::dismiss(client, id, reason.as_deref())?;
            if let Some(p) = &payload {
                crate::notify::send(client, std::slice::from_ref(p))?;
            }
            Ok(payload)
        })
    })
    .unwrap_or_else(|e| errors::internal("dismiss", e));
    if payload.is_none() {
        reject(ArgError {
            message: format!("there is no recommendation with id {id}"),
            hint: "Take an id from optischema.recommendations.".into(),
        })
    }
    id
}
