//! The LLM layer: plain-English explanations and rewrites from an OpenAI-compatible
//! chat-completions endpoint, asked outside any transaction (by the AI worker in the home
//! database, by a database's worker in the others), cached, and kept within a daily token
//! budget for the whole server (`budget`).
//!
//! Pure parts: the prompt and request body (`prompt`), reading answers and failures (`answer`).
//! Boundary parts: the HTTP call (`client`), the statement's context read through SPI
//! (`context`), the worker that drains the request queue (`worker`), and the server's token
//! ledger in shared memory (`budget`).

pub mod answer;
pub mod budget;
pub mod client;
pub mod context;
pub mod prompt;
pub mod suggestions;
pub mod verify;
pub mod worker;
