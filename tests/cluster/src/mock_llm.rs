//! A mock OpenAI-compatible chat-completions endpoint on 127.0.0.1, for the LLM tests: it
//! records every request (headers and body) and answers as it is told.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the mock answers the next requests (the last one given repeats).
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this answer object as the message content, and this usage.
    Answer {
        answer: Value,
        prompt_tokens: i64,
        completion_tokens: i64,
    },
    /// Any status with a raw body and headers.
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Waits this long before answering 200 with a valid answer.
    Hang(Duration),
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct MockLlm {
    pub port: u16,
    replies: Arc<Mutex<Vec<Reply>>>,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

pub fn explanation_answer(text: &str) -> Reply {
    Reply::Answer {
        answer: json!({
            "explanation": text,
            "rewritten_sql": null,
            "index_suggestions": [],
            "risks": ["an index slows writes a little"],
        }),
        prompt_tokens: 900,
        completion_tokens: 150,
    }
}

impl MockLlm {
    pub fn start(replies: Vec<Reply>) -> MockLlm {
        MockLlm::start_on(0, replies)
    }

    /// On a given loopback port (0: any free one).
    pub fn start_on(port: u16, replies: Vec<Reply>) -> MockLlm {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let replies = Arc::new(Mutex::new(replies));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (r, q) = (replies.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, q) = (r.clone(), q.clone());
                std::thread::spawn(move || serve(stream, r, q));
            }
        });
        MockLlm {
            port,
            replies,
            requests,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn set_replies(&self, replies: Vec<Reply>) {
        *self.replies.lock().unwrap() = replies;
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

fn next_reply(replies: &Mutex<Vec<Reply>>) -> Reply {
    let mut r = replies.lock().unwrap();
    if r.len() > 1 {
        r.remove(0)
    } else {
        r.first()
            .cloned()
            .unwrap_or_else(|| explanation_answer("nothing to say"))
    }
}

fn serve(stream: TcpStream, replies: Arc<Mutex<Vec<Reply>>>, requests: Arc<Mutex<Vec<Recorded>>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                if n.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        requests.lock().unwrap().push(Recorded {
            path,
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let (status, extra, text) = match next_reply(&replies) {
            Reply::Answer {
                answer,
                prompt_tokens,
                completion_tokens,
            } => (
                200,
                Vec::new(),
                ok_body(&answer, prompt_tokens, completion_tokens),
            ),
            Reply::Raw {
                status,
                headers,
                body,
            } => (status, headers, body),
            Reply::Hang(d) => {
                std::thread::sleep(d);
                let a = json!({"explanation": "late", "rewritten_sql": null, "index_suggestions": [], "risks": []});
                (200, Vec::new(), ok_body(&a, 10, 10))
            }
        };
        let mut response = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            text.len()
        );
        for (n, v) in extra {
            response.push_str(&format!("{n}: {v}\r\n"));
        }
        response.push_str("\r\n");
        response.push_str(&text);
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn ok_body(answer: &Value, prompt_tokens: i64, completion_tokens: i64) -> String {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": answer.to_string(), "refusal": null}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}
    })
    .to_string()
}
