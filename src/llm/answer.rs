//! Reading what the endpoint sent back: an answer, or a failure classified for the request
//! queue (retry later, or give up) and for `status()`. Pure.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The structured answer, as the prompt's schema asks for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub explanation: String,
    pub rewritten_sql: Option<String>,
    #[serde(default)]
    pub index_suggestions: Vec<String>,
    #[serde(default)]
    pub risks: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

impl Usage {
    pub fn total(&self) -> i64 {
        self.prompt_tokens + self.completion_tokens
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Answered {
        answer: Answer,
        usage: Usage,
    },
    /// 429: ask again after this long (seconds), within the backoff bounds.
    RateLimited {
        retry_after_s: Option<u64>,
    },
    Failed {
        /// timeout, transport, http_error, malformed, refused
        kind: &'static str,
        message: String,
        usage: Usage,
        /// Whether asking again later may succeed.
        retry: bool,
    },
}

impl Outcome {
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Answered { .. } => "ok",
            Outcome::RateLimited { .. } => "rate_limited",
            Outcome::Failed { kind, .. } => kind,
        }
    }

    pub fn usage(&self) -> Usage {
        match self {
            Outcome::Answered { usage, .. } | Outcome::Failed { usage, .. } => *usage,
            Outcome::RateLimited { .. } => Usage::default(),
        }
    }
}

/// Error messages kept at most this long.
const MESSAGE_CHARS: usize = 300;

fn short(text: &str) -> String {
    text.chars().take(MESSAGE_CHARS).collect()
}

fn usage_of(body: &Value) -> Usage {
    Usage {
        prompt_tokens: body["usage"]["prompt_tokens"].as_i64().unwrap_or(0),
        completion_tokens: body["usage"]["completion_tokens"].as_i64().unwrap_or(0),
    }
}

/// Classifies one HTTP response.
pub fn read_response(status: u16, retry_after: Option<&str>, body: &str) -> Outcome {
    if status == 429 {
        return Outcome::RateLimited {
            retry_after_s: retry_after.and_then(|v| v.trim().parse::<u64>().ok()),
        };
    }
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    if !(200..300).contains(&status) {
        let message = parsed
            .as_ref()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| short(body));
        return Outcome::Failed {
            kind: "http_error",
            message: short(&format!("HTTP {status}: {message}")),
            usage: Usage::default(),
            retry: status >= 500 || status == 408,
        };
    }
    let Some(body) = parsed else {
        return malformed("the response is not JSON", Usage::default());
    };
    let usage = usage_of(&body);
    let choice = &body["choices"][0];
    if let Some(refusal) = choice["message"]["refusal"].as_str() {
        return Outcome::Failed {
            kind: "refused",
            message: short(&format!("the model refused: {refusal}")),
            usage,
            retry: false,
        };
    }
    if choice["finish_reason"] == "length" {
        return malformed("the answer was cut at optischema.llm_max_tokens", usage);
    }
    let Some(content) = choice["message"]["content"].as_str() else {
        return malformed("the response has no message content", usage);
    };
    match serde_json::from_str::<Answer>(content) {
        Ok(answer) if !answer.explanation.trim().is_empty() => Outcome::Answered { answer, usage },
        Ok(_) => malformed("the answer's explanation is empty", usage),
        Err(e) => malformed(
            &format!("the answer does not follow the schema: {e}"),
            usage,
        ),
    }
}

fn malformed(message: &str, usage: Usage) -> Outcome {
    Outcome::Failed {
        kind: "malformed",
        message: short(message),
        usage,
        retry: false,
    }
}

/// Seconds to wait before asking again after `attempts` failed tries: what the endpoint asked
/// for, or 10 s doubling, never more than 5 minutes.
pub fn backoff_s(attempts: i32, retry_after_s: Option<u64>) -> u64 {
    let doubling = 10u64.saturating_mul(1u64 << attempts.clamp(0, 10));
    retry_after_s.unwrap_or(doubling).clamp(1, 300)
}

/// Requests are given up after this many tries.
pub const MAX_ATTEMPTS: i32 = 3;

/// `text` with the key, and anything shaped like an OpenAI key, masked: error messages are
/// stored and shown, keys never are.
pub fn redact(text: &str, key: Option<&str>) -> String {
    let mut out = text.to_string();
    if let Some(k) = key.filter(|k| k.len() >= 4) {
        out = out.replace(k, "[redacted]");
    }
    out.split(' ')
        .map(|word| {
            if word.starts_with("sk-") && word.len() > 8 {
                "[redacted]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_body(content: &str) -> String {
        serde_json::json!({
            "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 150}
        })
        .to_string()
    }

    #[test]
    fn an_answer_following_the_schema_is_read_with_its_usage() {
        let content = r#"{"explanation":"A sequential scan reads all orders.","rewritten_sql":null,
                          "index_suggestions":["CREATE INDEX ON orders (customer_id)"],"risks":[]}"#;
        match read_response(200, None, &ok_body(content)) {
            Outcome::Answered { answer, usage } => {
                assert_eq!(answer.explanation, "A sequential scan reads all orders.");
                assert_eq!(answer.rewritten_sql, None);
                assert_eq!(answer.index_suggestions.len(), 1);
                assert_eq!(usage.total(), 1050);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failures_are_classified() {
        assert_eq!(
            read_response(429, Some("7"), "{}"),
            Outcome::RateLimited {
                retry_after_s: Some(7)
            }
        );
        let server = read_response(503, None, "upstream down");
        assert!(matches!(
            server,
            Outcome::Failed {
                kind: "http_error",
                retry: true,
                ..
            }
        ));
        let auth = read_response(401, None, r#"{"error":{"message":"Incorrect API key"}}"#);
        match auth {
            Outcome::Failed {
                kind,
                message,
                retry,
                ..
            } => {
                assert_eq!(kind, "http_error");
                assert_eq!(message, "HTTP 401: Incorrect API key");
                assert!(!retry);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(read_response(200, None, "not json").kind(), "malformed");
        assert_eq!(
            read_response(200, None, &ok_body("{\"explanation\": 3}")).kind(),
            "malformed"
        );
        let refusal = serde_json::json!({"choices": [{"message": {"refusal": "I can't help"}}]});
        assert_eq!(
            read_response(200, None, &refusal.to_string()).kind(),
            "refused"
        );
        let cut = serde_json::json!({"choices": [{"message": {"content": "{\"expl"}, "finish_reason": "length"}],
                                     "usage": {"prompt_tokens": 10, "completion_tokens": 5}});
        let cut = read_response(200, None, &cut.to_string());
        assert_eq!(cut.kind(), "malformed");
        assert_eq!(cut.usage().total(), 15);
    }

    #[test]
    fn backoff_is_bounded() {
        assert_eq!(backoff_s(0, None), 10);
        assert_eq!(backoff_s(2, None), 40);
        assert_eq!(backoff_s(9, None), 300);
        assert_eq!(backoff_s(1, Some(3)), 3);
        assert_eq!(backoff_s(1, Some(100_000)), 300);
    }

    #[test]
    fn keys_never_survive_in_messages() {
        assert_eq!(
            redact(
                "HTTP 401: Incorrect API key provided: sk-abc123456789",
                None
            ),
            "HTTP 401: Incorrect API key provided: [redacted]"
        );
        assert_eq!(
            redact("bad key mock-key-42 here", Some("mock-key-42")),
            "bad key [redacted] here"
        );
    }
}
