//! NOTIFY payloads on channel `optischema`: one type each, built here and nowhere else.
//!
//! PostgreSQL refuses payloads of 8000 bytes or more, so every payload is kept under
//! [`MAX_PAYLOAD_BYTES`]; a statement text that does not fit is cut and marked
//! `"truncated": true`.

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
    pub query: Option<String>,
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
    pub title: String,
    pub est_improvement_pct: Option<f64>,
}

pub fn recommendation_payload(r: &Recommendation) -> String {
    let full = encode("recommendation", r, false);
    if full.len() <= MAX_PAYLOAD_BYTES {
        return full;
    }
    let title: String = r.title.chars().take(1000).collect();
    encode(
        "recommendation",
        &Recommendation { title, ..r.clone() },
        true,
    )
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
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// An action on recommendation `id` started, finished or failed.
pub fn apply_payload(
    action_id: i64,
    id: i64,
    mode: &str,
    phase: &str,
    error: Option<&str>,
) -> String {
    let pct = match phase {
        "started" => Some(0),
        "done" => Some(100),
        _ => None,
    };
    let error = error.map(|e| e.chars().take(2000).collect());
    encode(
        "apply",
        &Apply {
            id,
            action_id,
            mode,
            phase,
            pct,
            error,
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
            error: None,
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
    client.update(
        "SELECT pg_catalog.pg_notify($1, p) FROM unnest($2::text[]) AS p",
        None,
        &[CHANNEL.into(), payloads.to_vec().into()],
    )?;
    Ok(())
}

pub fn sample_payload(sample: &Sample) -> String {
    encode("sample", sample, false)
}

/// The `hot_query` payload, with the statement text cut as needed to stay under the limit.
pub fn hot_query_payload(hot: &HotQuery) -> String {
    let full = encode("hot_query", hot, false);
    if full.len() <= MAX_PAYLOAD_BYTES {
        return full;
    }
    let text = hot.query.as_deref().unwrap_or_default();
    let mut keep = text.len();
    loop {
        // JSON escaping can make the text longer than its bytes, so shrink by the overshoot
        // measured on the encoded payload until it fits.
        let overshoot = encode_cut(hot, text, keep)
            .len()
            .saturating_sub(MAX_PAYLOAD_BYTES);
        if overshoot == 0 {
            return encode_cut(hot, text, keep);
        }
        keep = floor_char_boundary(text, keep.saturating_sub(overshoot.max(16)));
    }
}

fn encode_cut(hot: &HotQuery, text: &str, keep: usize) -> String {
    let cut = HotQuery {
        query: Some(text[..keep].to_string()),
        ..hot.clone()
    };
    encode("hot_query", &cut, true)
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hot(query: &str) -> HotQuery {
        HotQuery {
            queryid: -42,
            query: Some(query.to_string()),
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
            title: "Index public.orders on (customer_id)".into(),
            est_improvement_pct: Some(98.5),
        });
        let v: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v["type"], "recommendation");
        assert_eq!(v["id"], 7);
        assert_eq!(v["kind"], "index");
        assert_eq!(v["est_improvement_pct"], 98.5);
        let long = recommendation_payload(&Recommendation {
            id: 1,
            queryid: None,
            kind: "index".into(),
            status: "open".into(),
            title: "x".repeat(20_000),
            est_improvement_pct: None,
        });
        assert!(long.len() <= MAX_PAYLOAD_BYTES);
        assert!(long.contains("\"truncated\":true"));
    }

    #[test]
    fn short_hot_query_is_sent_whole() {
        let p = hot_query_payload(&hot("SELECT * FROM t WHERE id = $1"));
        let v: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v["type"], "hot_query");
        assert_eq!(v["query"], "SELECT * FROM t WHERE id = $1");
        assert_eq!(v["rank"], 1);
        assert_eq!(v["queryid"], -42);
        assert!(v.get("truncated").is_none());
    }

    #[test]
    fn long_text_is_cut_under_the_limit_and_marked() {
        let text = "SELECT ".to_string() + &"x, ".repeat(10_000);
        let p = hot_query_payload(&hot(&text));
        assert!(p.len() <= MAX_PAYLOAD_BYTES, "{} bytes", p.len());
        let v: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v["truncated"], true);
        let sent = v["query"].as_str().unwrap();
        assert!(text.starts_with(sent));
        assert!(sent.len() > 7000, "kept only {} bytes", sent.len());
    }

    #[test]
    fn text_that_grows_when_escaped_still_fits() {
        // every control character becomes \u00XX: six bytes for one
        let text = "\u{1}".repeat(5000);
        let p = hot_query_payload(&hot(&text));
        assert!(p.len() <= MAX_PAYLOAD_BYTES);
        let v: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v["truncated"], true);
    }

    #[test]
    fn multibyte_text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(6000);
        let p = hot_query_payload(&hot(&text));
        assert!(p.len() <= MAX_PAYLOAD_BYTES);
        let v: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert!(v["query"].as_str().unwrap().chars().all(|c| c == 'é'));
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
