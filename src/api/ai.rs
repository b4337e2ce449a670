//! The LLM part of the SQL API: `ask`.

use super::{args, reject, statement_here, valid, ArgError, ADMIN};
use crate::acting;
use crate::errors;
use crate::llm::{context, worker};
use crate::settings;
use pgrx::prelude::*;
use serde_json::json;

/// The LLM's explanation (and proposed rewrite and indexes) for statement `queryid`: at once
/// when it is cached for the statement's current plan, otherwise queued for the AI worker, which
/// asks outside any transaction. Returns `{"status": "cached", "answer": ...}`,
/// `{"status": "queued", "request_id": ...}`, or `{"status": "unavailable", "reason": ...}`
/// when no call can be made (no key, no budget left today).
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn ask(queryid: Option<i64>) -> pgrx::JsonB {
    acting::require_member(acting::caller(), ADMIN);
    let queryid = valid(args::queryid(queryid));
    // the caller must be allowed to read the statement's text (see statement_here)
    if statement_here(queryid).is_none() {
        reject(ArgError {
            message: format!("pg_stat_statements kept no text for statement {queryid}"),
            hint: "Raise pg_stat_statements.max or keep track_activity_query_size large enough."
                .into(),
        })
    }
    let caller = acting::role_name(acting::caller());
    acting::as_extension_owner(|| {
        // statements are planned as their users run them, as the AI worker does
        acting::use_planning_path();
        queue_question(queryid, &caller)
    })
}

fn queue_question(queryid: i64, caller: &str) -> pgrx::JsonB {
    let Some((_, _, _, fingerprint)) =
        context::plan_of(queryid).unwrap_or_else(|e| errors::internal("planning the statement", e))
    else {
        reject(ArgError {
            message: format!(
                "statement {queryid} cannot be planned, so there is nothing to explain"
            ),
            hint: "See optischema.explain() for the reason.".into(),
        })
    };
    let model = settings::llm_model();
    let failed = |e: pgrx::spi::Error| -> ! { errors::internal("reading the AI cache", e) };
    if let Some(answer) =
        worker::cached(queryid, &fingerprint, &model).unwrap_or_else(|e| failed(e))
    {
        return pgrx::JsonB(json!({
            "status": "cached", "queryid": queryid, "model": model, "answer": answer.0,
        }));
    }
    if let Some(reason) = worker::unavailable().unwrap_or_else(|e| failed(e)) {
        return pgrx::JsonB(
            json!({ "status": "unavailable", "queryid": queryid, "reason": reason }),
        );
    }
    let request_id = Spi::get_one_with_args::<i64>(
        include_str!("../../sql/api/queue_question.sql"),
        &[queryid.into(), caller.into()],
    )
    .unwrap_or_else(|e| errors::internal("queueing the request", e));
    crate::databases::wake_ai_at_commit();
    pgrx::JsonB(json!({ "status": "queued", "queryid": queryid, "request_id": request_id }))
}
