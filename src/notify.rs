//! NOTIFY payloads on channel `optischema`: one type each, built here and nowhere else.
//!
//! Any role may LISTEN on a channel, so payloads carry ids, kinds and figures only: never a
//! statement's text, a title naming tables, or a parameter value. What they point to is read
//! through the SQL API, where its visibility rules apply. PostgreSQL refuses payloads of 8000
//! bytes or more; every payload stays under [`MAX_PAYLOAD_BYTES`].

use pgrx::pg_sys;
use pgrx::spi::{self, SpiClient};
use serde::Serialize;

pub const CHANNEL: &str = "optischema";
pub const MAX_PAYLOAD_BYTES: usize = 7900;

#[derive(Debug, Serialize, PartialEq)]
pub struct Sample {
    /// Time of the sample, ISO 8601 with time zone.
    pub at: String,
    /// Statements that ran since the previous sample.
    pub statements: i64,
    pub calls: i64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HotQuery {
    pub queryid: i64,
    pub calls: i64,
    pub total_ms: f64,
    pub mean_ms: f64,
    pub rank: i32,
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    body: &'a T,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

fn encode<T: Serialize>(kind: &'static str, body: &T, truncated: bool) -> String {
    serde_json::to_string(&Tagged {
        kind,
        body,
        truncated,
    })
    .expect("payloads always serialize")
}

/// A recommendation was created, changed status, or changed its estimate materially.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recommendation {
    pub id: i64,
    pub queryid: Option<i64>,
    pub kind: String,
    pub status: String,
    pub est_improvement_pct: Option<f64>,
}

pub fn recommendation_payload(r: &Recommendation) -> String {
    encode("recommendation", r, false)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
struct AiExplanation {
    queryid: i64,
    recommendation_id: Option<i64>,
}

/// An explanation from the LLM is stored for statement `queryid` (and attached to its
/// recommendation `recommendation_id`, when it has one).
pub fn ai_explanation_payload(queryid: i64, recommendation_id: Option<i64>) -> String {
    encode(
        "ai_explanation",
        &AiExplanation {
            queryid,
            recommendation_id,
        },
        false,
    )
}

#[derive(Debug, Clone, Serialize, PartialEq)]
struct Apply<'a> {
    /// The recommendation.
    id: i64,
    action_id: i64,
    mode: &'a str,
    phase: &'a str,
    pct: Option<i32>,
}

/// An action on recommendation `id` started, finished or failed.
pub fn apply_payload(action_id: i64, id: i64, mode: &str, phase: &str) -> String {
    let pct = match phase {
        "started" => Some(0),
        "done" => Some(100),
        _ => None,
    };
    encode(
        "apply",
        &Apply {
            id,
            action_id,
            mode,
            phase,
            pct,
        },
        false,
    )
}

/// The index build of action `action_id` (recommendation `id`) is in `phase`, `pct` done.
pub fn apply_progress_payload(action_id: i64, id: i64, phase: &str, pct: Option<i32>) -> String {
    encode(
        "apply",
        &Apply {
            id,
            action_id,
            mode: "apply",
            phase,
            pct,
        },
        false,
    )
}

/// What a trial of recommendation `id` measured, in short; the whole trial is in the action's
/// result and the recommendation's evidence.trial.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrialDone<'a> {
    pub id: i64,
    pub action_id: i64,
    pub ran_in: &'a str,
    pub before_ms: Option<f64>,
    pub after_ms: Option<f64>,
    pub improvement_pct: Option<f64>,
    pub plan_changed: bool,
    pub errors: usize,
}

pub fn trial_payload(t: &TrialDone<'_>) -> String {
    encode("trial", t, false)
}

/// What an applied fix really saved, measured from the history.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Realized {
    /// The recommendation.
    pub id: i64,
    pub statements: Vec<i64>,
    pub calls_before: i64,
    pub calls_after: i64,
    pub realized_improvement_pct: Option<f64>,
    pub realized_ms_saved_per_hour: Option<f64>,
}

pub fn realized_payload(r: &Realized) -> String {
    encode("realized", r, false)
}

/// Queues the payloads on the channel; PostgreSQL delivers them when the transaction commits.
pub fn send(client: &mut SpiClient<'_>, payloads: &[String]) -> spi::Result<()> {
    if payloads.is_empty() {
        return Ok(());
    }
    if unsafe { pg_sys::IsBackgroundWorker } {
        client.update(
            "SELECT pg_catalog.pg_notify($1, p) FROM unnest($2::text[]) AS p",
            None,
            &[CHANNEL.into(), payloads.to_vec().into()],
        )?;
    } else {
        // a user's session (dismiss(), analyze_now()) hands its payloads to the apply worker:
        // listeners trust only payloads sent by OptiSchema's workers, since any role can NOTIFY
        client.update(
            "INSERT INTO optischema.outbox (payload) SELECT unnest($1::text[])",
            None,
            &[payloads.to_vec().into()],
        )?;
        crate::databases::wake_apply_at_commit();
    }
    Ok(())
}

/// Sends what users' sessions queued in `optischema.outbox`, oldest first (run by a worker).
pub fn send_queued(client: &mut SpiClient<'_>) -> spi::Result<usize> {
    let installed = client
        .select(
            "SELECT to_regclass('optischema.outbox') IS NOT NULL",
            None,
            &[],
        )?
        .first()
        .get_one::<bool>()?;
    if installed != Some(true) {
        return Ok(0);
    }
    let sent = client.update(
        include_str!("../sql/notify/send_queued.sql"),
        None,
        &[CHANNEL.into()],
    )?;
    Ok(sent.len())
}

pub fn sample_payload(sample: &Sample) -> String {
    encode("sample", sample, false)
}

/// The `hot_query` payload: ids and figures, never the statement's text. Any role may LISTEN
/// on the channel; the text is read through the API, where its visibility rules apply.
pub fn hot_query_payload(hot: &HotQuery) -> String {
    encode("hot_query", hot, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hot() -> HotQuery {
        HotQuery {
            queryid: -42,
            calls: 3,
            total_ms: 1.5,
            mean_ms: 0.5,
            rank: 1,
        }
    }

    #[test]
    fn sample_payload_has_its_type_and_fields() {
        let p = sample_payload(&Sample {
            at: "2026-01-01T00:00:00+00:00".into(),
            statements: 4,
            calls: 137,
            total_ms: 2.5,
        });
        let v: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v["type"], "sample");
        assert_eq!(v["calls"], 137);
        assert_eq!(v["statements"], 4);
        assert!(v.get("truncated").is_none());
    }

    #[test]
    fn recommendation_payload_fields() {
        let p = recommendation_payload(&Recommendation {
            id: 7,
            queryid: Some(-3),
            kind: "index".into(),
            status: "open".into(),
            est_improvement_pct: Some(98.5),
        });
        assert_eq!(
            p,
            r#"{"type":"recommendation","id":7,"queryid":-3,"kind":"index","status":"open","est_improvement_pct":98.5}"#
        );
    }

    #[test]
    fn a_hot_query_payload_has_figures_and_no_text() {
        let p = hot_query_payload(&hot());
        assert_eq!(
            p,
            r#"{"type":"hot_query","queryid":-42,"calls":3,"total_ms":1.5,"mean_ms":0.5,"rank":1}"#
        );
    }

    #[test]
    fn an_ai_explanation_payload_names_the_statement_and_recommendation() {
        assert_eq!(
            ai_explanation_payload(42, Some(7)),
            r#"{"type":"ai_explanation","queryid":42,"recommendation_id":7}"#
        );
        assert_eq!(
            ai_explanation_payload(42, None),
            r#"{"type":"ai_explanation","queryid":42,"recommendation_id":null}"#
        );
    }
}
