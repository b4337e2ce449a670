//! The HTTP call to the chat-completions endpoint, with `ureq` (rustls). Called by the AI worker
//! only, with no transaction open and no lock held.

use super::answer::{self, Outcome, Usage};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// How often a worker waiting for the endpoint looks whether it must stop.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// [`chat_completion`] on a thread of its own, waited for in steps of [`STOP_CHECK`]: None as
/// soon as `stop` says the worker must stop, so that a shutdown does not wait for the endpoint
/// (up to `optischema.llm_timeout`). The thread runs only `ureq` and touches nothing of the
/// server's; it blocks every signal, so the server's handlers run in the worker's own thread,
/// and it ends with its call or with the process.
pub fn chat_completion_unless(
    base_url: &str,
    key: &str,
    body: &serde_json::Value,
    timeout: Duration,
    stop: impl Fn() -> bool,
) -> Option<Outcome> {
    let (sender, receiver) = mpsc::channel();
    let (url, bearer, request) = (base_url.to_string(), key.to_string(), body.clone());
    let spawned = with_signals_blocked(|| {
        std::thread::Builder::new()
            .name("optischema-llm".into())
            .spawn(move || {
                let _ = sender.send(chat_completion(&url, &bearer, &request, timeout));
            })
    });
    if spawned.is_err() {
        // no thread to be had: the call is made here and waited for
        return Some(chat_completion(base_url, key, body, timeout));
    }
    loop {
        match receiver.recv_timeout(STOP_CHECK) {
            Ok(outcome) => return Some(outcome),
            Err(RecvTimeoutError::Timeout) if stop() => return None,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Some(Outcome::Failed {
                    kind: "transport",
                    message: "the call ended without an outcome".into(),
                    usage: Usage::default(),
                    retry: true,
                })
            }
        }
    }
}

/// Runs `f` with every signal blocked in this thread; a thread started inside inherits that.
fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: sigfillset and pthread_sigmask only read and write the sets given here
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut before: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut before);
        let out = f();
        libc::pthread_sigmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
        out
    }
}

/// Posts `body` to `<base_url>/chat/completions` with the key as a bearer token and reads the
/// outcome. Never panics; transport failures and timeouts are outcomes too.
fn chat_completion(
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
