//! The AI worker: a background worker of its own, so that an endpoint that hangs for the whole
//! `optischema.llm_timeout` never delays sampling or analysis. It takes one queued request at a
//! time: reads the statement's context and checks the cache, the key and the day's budget in a
//! short transaction, makes the HTTP call with no transaction open and no lock held, then
//! stores the answer (or the failure) and announces it in another short transaction.

use super::answer::{self, Answer, Outcome};
use super::budget::Reservation;
use super::{client, context, prompt};
use super::{suggestions, verify};
use crate::acting::Actor;
use crate::bgworker::{flattened, in_transaction, prepare_session, reload_when_asked, LogOnce};
use crate::notify;
use crate::rules::{Finding, Kind};
use crate::settings;
use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::prelude::*;
use pgrx::spi;
use std::time::{Duration, Instant};

pub const WORKER_TYPE: &str = "optischema ai";
/// How often the queue is looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);

pub fn register() {
    BackgroundWorkerBuilder::new(WORKER_TYPE)
        .set_type(WORKER_TYPE)
        .set_library("optischema")
        .set_function("optischema_ai_worker_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

/// A request ready for the endpoint.
struct Call {
    request_id: i64,
    queryid: i64,
    attempts: i32,
    plan_fingerprint: String,
    model: String,
    base_url: String,
    key: String,
    timeout: Duration,
    body: serde_json::Value,
    /// What the call may spend of the server's daily budget.
    reservation: Reservation,
}

/// Ends a request without a call.
fn close(request_id: i64, status: &str, error: Option<&str>) -> spi::Result<()> {
    Spi::run_with_args(
        "UPDATE optischema.ai_requests SET status = $2, error = $3, finished_at = now() WHERE id = $1",
        &[request_id.into(), status.into(), error.into()],
    )
}

/// Tokens spent today by the whole server's calls.
pub fn tokens_today() -> spi::Result<i64> {
    super::budget::used_today()
}

/// The cached answer for this statement, plan, model and prompt version, if any.
pub fn cached(queryid: i64, fingerprint: &str, model: &str) -> spi::Result<Option<pgrx::JsonB>> {
    Spi::get_one_with_args::<pgrx::JsonB>(
        include_str!("../../sql/llm/cached_answer.sql"),
        &[
            queryid.into(),
            fingerprint.into(),
            model.into(),
            prompt::PROMPT_VERSION.into(),
        ],
    )
}

/// Why no call can be made now, if so: no key, or no budget left today.
pub fn unavailable() -> spi::Result<Option<String>> {
    if settings::llm_api_key().is_none() {
        if let Err(problem) = settings::key_file() {
            return Ok(Some(format!("no API key: {problem}")));
        }
        return Ok(Some(
            "no API key: set optischema.llm_api_key, optischema.llm_api_key_file or the server's OPENAI_API_KEY".into(),
        ));
    }
    let budget = settings::LLM_DAILY_TOKEN_BUDGET.get() as i64;
    if budget == 0 {
        return Ok(Some(
            "optischema.llm_daily_token_budget is 0: no calls".into(),
        ));
    }
    let used = tokens_today()?;
    if used >= budget {
        return Ok(Some(format!(
            "the daily token budget is spent ({used} of {budget} tokens today)"
        )));
    }
    Ok(None)
}

/// Takes the next request and prepares its call; None when there is nothing to call for (no
/// request, a cached answer, no key, no budget: the request is closed with the reason).
fn next_call() -> spi::Result<Option<Call>> {
    if !crate::bgworker::installed("optischema.ai_requests")? {
        return Ok(None);
    }
    let taken = Spi::connect_mut(|client| {
        let table = client.update(include_str!("../../sql/llm/take_request.sql"), Some(1), &[])?;
        if table.is_empty() {
            return Ok::<_, spi::Error>(None);
        }
        let row = table.first();
        Ok(Some((
            row.get::<i64>(1)?.unwrap_or_default(),
            row.get::<i64>(2)?.unwrap_or_default(),
            row.get::<i32>(3)?.unwrap_or_default(),
        )))
    })?;
    let Some((request_id, queryid, attempts)) = taken else {
        return Ok(None);
    };
    // statements are planned as their users run them, not with the worker's search_path
    crate::acting::use_planning_path();
    let Some(context) = context::gather(queryid)? else {
        close(
            request_id,
            "failed",
            Some("the statement is unknown or cannot be planned"),
        )?;
        return Ok(None);
    };
    let model = settings::llm_model();
    if cached(queryid, &context.plan_fingerprint, &model)?.is_some() {
        close(request_id, "done", None)?;
        return Ok(None);
    }
    if let Some(reason) = unavailable()? {
        close(request_id, "skipped", Some(&reason))?;
        return Ok(None);
    }
    let body = prompt::request_body(&model, settings::LLM_MAX_TOKENS.get(), &context.prompt);
    // the prompt's tokens, at about four bytes a token, and the longest answer allowed
    let may_spend = body.to_string().len() as i64 / 4 + settings::LLM_MAX_TOKENS.get() as i64;
    let reservation = match super::budget::reserve(may_spend)? {
        Ok(reservation) => reservation,
        Err(reason) => {
            close(request_id, "skipped", Some(&reason))?;
            return Ok(None);
        }
    };
    Ok(Some(Call {
        request_id,
        queryid,
        attempts,
        plan_fingerprint: context.plan_fingerprint,
        body,
        reservation,
        model,
        base_url: settings::llm_base_url(),
        key: settings::llm_api_key().unwrap_or_default(),
        timeout: Duration::from_secs(settings::LLM_TIMEOUT_S.get() as u64),
    }))
}

/// A request left running belongs to a worker that stopped in its middle (one worker serves a
/// database's queue at a time): it fails with the reason, so that `ask()` can queue the
/// statement again.
pub(crate) fn fail_interrupted() -> spi::Result<()> {
    if !crate::bgworker::installed("optischema.ai_requests")? {
        return Ok(());
    }
    Spi::run(include_str!("../../sql/llm/fail_interrupted.sql"))
}

/// When the earliest request waiting to be tried again comes due, in seconds since the epoch.
pub(crate) fn next_due() -> spi::Result<Option<i64>> {
    if !crate::bgworker::installed("optischema.ai_requests")? {
        return Ok(None);
    }
    Spi::get_one::<i64>(include_str!("../../sql/llm/next_due.sql"))
}

/// Records the call and what came of it; announces a new answer.
fn finish(call: &Call, outcome: &Outcome, took: Duration) -> spi::Result<()> {
    let usage = outcome.usage();
    let error = match outcome {
        Outcome::Failed { message, .. } => Some(answer::redact(message, Some(&call.key))),
        Outcome::RateLimited { retry_after_s } => Some(format!(
            "rate limited (HTTP 429), retry after {}",
            retry_after_s.map_or("an unspecified time".to_string(), |s| format!("{s} s"))
        )),
        Outcome::Answered { .. } => None,
    };
    Spi::run_with_args(
        include_str!("../../sql/llm/record_call.sql"),
        &[
            call.queryid.into(),
            call.model.clone().into(),
            outcome.kind().into(),
            usage.prompt_tokens.into(),
            usage.completion_tokens.into(),
            (took.as_secs_f64() * 1000.0).into(),
            error.clone().into(),
        ],
    )?;
    match outcome {
        Outcome::Answered { answer, usage } => {
            Spi::run_with_args(
                include_str!("../../sql/llm/cache_answer.sql"),
                &[
                    call.queryid.into(),
                    call.plan_fingerprint.clone().into(),
                    call.model.clone().into(),
                    prompt::PROMPT_VERSION.into(),
                    pgrx::JsonB(serde_json::to_value(answer).expect("an answer serializes")).into(),
                    usage.prompt_tokens.into(),
                    usage.completion_tokens.into(),
                ],
            )?;
            // the request stays running until what the answer proposes is checked and stored:
            // done means everything the answer brings can be read (see `after_answer`)
            Ok(())
        }
        Outcome::RateLimited { retry_after_s } => retry_or_fail(call, *retry_after_s, error),
        Outcome::Failed { retry: true, .. } => retry_or_fail(call, None, error),
        Outcome::Failed { retry: false, .. } => close(call.request_id, "failed", error.as_deref()),
    }
}

fn retry_or_fail(
    call: &Call,
    retry_after_s: Option<u64>,
    error: Option<String>,
) -> spi::Result<()> {
    if call.attempts >= answer::MAX_ATTEMPTS {
        return close(call.request_id, "failed", error.as_deref());
    }
    let wait = answer::backoff_s(call.attempts - 1, retry_after_s) as f64;
    Spi::run_with_args(
        include_str!("../../sql/llm/retry_or_fail.sql"),
        &[call.request_id.into(), error.into(), wait.into()],
    )
}

/// Verifies the rewrite an answer proposes and stores it: open when it is equivalent and
/// cheaper, `unverified` with the reason otherwise (never offered).
fn offer_rewrite(queryid: i64, answer: &Answer, model: &str) -> spi::Result<()> {
    let Some(rewrite) = answer
        .rewritten_sql
        .as_deref()
        .map(verify::cleaned)
        .filter(|r| !r.is_empty())
    else {
        return Ok(());
    };
    crate::acting::use_planning_path();
    let Some((query, role, _, _)) = context::plan_of(queryid)? else {
        return Ok(());
    };
    let sets: Vec<Vec<Option<String>>> = crate::statements::captured_sets(queryid)?
        .unwrap_or_default()
        .into_iter()
        .map(|(values, _)| values)
        .collect();
    let Ok(actor) = Actor::of_statement(role.as_deref()) else {
        return Ok(());
    };
    let verdict = verify::check(&query, &rewrite, actor, &sets);
    let figures = crate::statements::hot_statements(1, Some(queryid))?
        .pop()
        .map(|h| h.figures);
    let (before, after, verified, evidence) = match &verdict {
        verify::Verdict::Verified {
            cost_before,
            cost_after,
            compared,
        } => (
            Some(*cost_before),
            Some(*cost_after),
            true,
            serde_json::json!({
                "verified": true, "compared_value_sets": compared, "model": model,
                "checks": "parses as one read-only SELECT; cheaper plan; same rows as a multiset",
            }),
        ),
        verify::Verdict::Unverified {
            reason,
            cost_before,
            cost_after,
        } => (
            *cost_before,
            *cost_after,
            false,
            serde_json::json!({ "verified": false, "reason": reason, "model": model }),
        ),
    };
    let finding = Finding {
        rule: "ai_rewrite",
        kind: Kind::Rewrite,
        target: format!("{queryid}:{}", prompt::fnv64(&rewrite)),
        title: match (before, after) {
            (Some(b), Some(a)) => {
                format!("Rewrite of statement {queryid}: planned cost {b:.0} → {a:.0}")
            }
            _ => format!("Rewrite of statement {queryid}"),
        },
        sql: rewrite,
        explanation: answer.explanation.clone(),
        evidence,
        est_cost_before: before,
        est_cost_after: after,
        confidence: if verified { 0.7 } else { 0.0 },
    };
    let pct = finding.improvement_pct();
    let saved = figures.as_ref().and_then(|f| {
        crate::store::lifecycle::ms_saved_per_hour(f.calls_per_hour(), f.mean_ms(), pct)
    });
    Spi::connect_mut(|client| {
        let payload = crate::store::upsert_estimated(client, Some(queryid), &finding, pct, saved)?;
        if !verified {
            client.update(
                include_str!("../../sql/llm/offer_rewrite.sql"),
                None,
                &[crate::store::lifecycle::fingerprint(
                    crate::rules::Kind::Rewrite.as_str(),
                    &finding.target,
                )
                .into()],
            )?;
            return Ok(());
        }
        notify::send(client, &payload.into_iter().collect::<Vec<_>>())
    })
}

/// What an answer proposes beyond its explanation, each in a transaction of its own (a rewrite
/// that fails to run loses neither the answer nor the index suggestions); then the request is
/// done and the answer announced.
fn after_answer(call: &Call, answer: &Answer, log_once: &mut LogOnce) {
    let steps: [(&str, &dyn Fn() -> spi::Result<()>); 2] = [
        ("verifying a rewrite", &|| {
            offer_rewrite(call.queryid, answer, &call.model)
        }),
        ("checking index suggestions", &|| {
            offer_indexes(call.queryid, answer)
        }),
    ];
    for (what, step) in steps {
        if let Err(message) = flattened(in_transaction(step)) {
            log_once.failed(what, &message);
        }
    }
    let conclude = || -> spi::Result<()> {
        close(call.request_id, "done", None)?;
        announce(call.queryid)
    };
    if let Err(message) = flattened(in_transaction(conclude)) {
        log_once.failed("closing an AI request", &message);
    }
}

/// Stores the model's index suggestions the what-if advisor selects for the statement.
fn offer_indexes(queryid: i64, answer: &Answer) -> spi::Result<()> {
    if answer.index_suggestions.is_empty() {
        return Ok(());
    }
    crate::acting::use_planning_path();
    let selected = suggestions::selected(queryid, &answer.index_suggestions)?;
    Spi::connect_mut(|client| {
        let mut payloads = Vec::new();
        for advice in &selected {
            payloads.extend(crate::store::upsert_estimated(
                client,
                Some(advice.queryid),
                &advice.finding,
                Some(advice.improvement_pct),
                Some(advice.ms_saved_per_hour.max(0.0)),
            )?);
        }
        notify::send(client, &payloads)
    })
}

/// NOTIFY `ai_explanation` for each open recommendation of the statement, or once without one.
fn announce(queryid: i64) -> spi::Result<()> {
    let ids: Vec<i64> = Spi::connect(|client| {
        client
            .select(
                "SELECT id FROM optischema.recommendation_store WHERE queryid = $1 AND status = 'open' ORDER BY id",
                None,
                &[queryid.into()],
            )?
            .map(|row| row.get::<i64>(1).map(Option::unwrap_or_default))
            .collect::<spi::Result<Vec<_>>>()
    })?;
    let payloads: Vec<String> = if ids.is_empty() {
        vec![notify::ai_explanation_payload(queryid, None)]
    } else {
        ids.into_iter()
            .map(|id| notify::ai_explanation_payload(queryid, Some(id)))
            .collect()
    };
    Spi::connect_mut(|client| notify::send(client, &payloads))
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn optischema_ai_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    crate::plans::capture::mark_worker();
    let database = settings::database();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    log!("{WORKER_TYPE} started in database \"{database}\"");
    let mut log_once = LogOnce::new("AI requests");
    let mut session_ready = false;
    while crate::bgworker::sleep(POLL) {
        reload_when_asked();
        if !settings::ENABLED.get() {
            continue;
        }
        if !session_ready {
            session_ready = flattened(in_transaction(|| {
                prepare_session();
                fail_interrupted()
            }))
            .is_ok();
        }
        run_queue(&mut log_once);
    }
    log!("{WORKER_TYPE} stopping");
}

/// Takes the queued requests one at a time until none is left or the worker is asked to stop:
/// the AI worker's loop in its database, and a database worker's turn in the others.
pub(crate) fn run_queue(log_once: &mut LogOnce) {
    loop {
        let mut call = match flattened(in_transaction(next_call)) {
            Ok(Some(call)) => call,
            Ok(None) => break,
            Err(message) => {
                log_once.failed("AI request", &message);
                break;
            }
        };
        let started = Instant::now();
        let Some(outcome) = client::chat_completion_unless(
            &call.base_url,
            &call.key,
            &call.body,
            call.timeout,
            crate::bgworker::must_stop,
        ) else {
            // asked to stop: the request stays running, and is failed as interrupted when the
            // worker starts again
            call.reservation.settle_in_full();
            break;
        };
        let took = started.elapsed();
        call.reservation.settle(outcome.usage().total());
        match flattened(in_transaction(|| finish(&call, &outcome, took))) {
            Ok(()) => {
                log_once.clear();
                if let Outcome::Answered { answer, .. } = &outcome {
                    after_answer(&call, answer, log_once);
                }
            }
            Err(message) => log_once.failed("storing an AI answer", &message),
        }
        if crate::bgworker::stop_requested() {
            break;
        }
    }
}
