//! The HTTP call to the chat-completions endpoint, with `ureq` (rustls). Called by the AI worker
//! only, with no transaction open and no lock held.

use super::answer::{self, Outcome, Usage};
use std::time::Duration;

/// Posts `body` to `<base_url>/chat/completions` with the key as a bearer token and reads the
/// outcome. Never panics; transport failures and timeouts are outcomes too.
pub fn chat_completion(
    base_url: &str,
    key: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Outcome {
    let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .send(body.to_string());
    match response {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match r.body_mut().with_config().limit(4 << 20).read_to_string() {
                Ok(text) => answer::read_response(status, retry_after.as_deref(), &text),
                Err(e) => failed(&e),
            }
        }
        Err(e) => failed(&e),
    }
}

fn failed(e: &ureq::Error) -> Outcome {
    let kind = match e {
        ureq::Error::Timeout(_) => "timeout",
        _ => "transport",
    };
    Outcome::Failed {
        kind,
        message: e.to_string(),
        usage: Usage::default(),
        retry: true,
    }
}
