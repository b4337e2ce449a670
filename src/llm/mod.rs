//! The LLM layer: plain-English explanations and rewrites from an OpenAI-compatible
//! chat-completions endpoint, asked by the AI worker outside any transaction, cached, and kept
//! within a daily token budget.
//!
//! Pure parts: the prompt and request body (`prompt`), reading answers and failures (`answer`).
//! Boundary parts: the HTTP call (`client`), the statement's context read through SPI
//! (`context`), and the worker that drains the request queue (`worker`).

pub mod answer;
pub mod client;
pub mod context;
pub mod prompt;
pub mod suggestions;
pub mod verify;
pub mod worker;
