//! The LLM layer against a mock OpenAI-compatible endpoint on 127.0.0.1: what the request
//! carries, the cache, the budget, failures, a hanging endpoint, and the key's secrecy.

use optischema_cluster_tests::mock_llm::{explanation_answer, MockLlm, Reply};
use optischema_cluster_tests::*;
use postgres::Client;
use serde_json::Value;
use std::time::{Duration, Instant};

const KEY: &str = "test-key-8f3a91c2";

fn ai_cluster(mock: &MockLlm, extra: &[&str]) -> Cluster {
    let mut settings = vec![
        format!("optischema.llm_base_url = '{}'", mock.base_url()),
        format!("optischema.llm_api_key = '{KEY}'"),
        "optischema.llm_model = 'gpt-4o-test'".to_string(),
    ];
    settings.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = settings.iter().map(String::as_str).collect();
    Cluster::start(&refs)
}

/// A 100,000-row table whose column k has no index, analysed, and a sample past it.
fn load_big(c: &mut Client) {
    c.batch_execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, k int, pad text);
         INSERT INTO big SELECT g, g % 5000, repeat('x', 50) FROM generate_series(1, 100000) g;",
    )
    .unwrap();
    // vacuumed now: an autovacuum in the middle of a test would change the advice (index-only scans)
    vacuum_all_visible(c, "big");
    forget_the_load(c);
    wait_samples(c, 2);
}

/// A statement with an open recommendation: lookups on an unindexed column.
fn slow_statement(c: &mut Client) -> i64 {
    load_big(c);
    run_times(c, "SELECT id FROM big WHERE k = $1", 20);
    wait_samples(c, 2);
    c.query_one("SELECT optischema.analyze_now()", &[]).unwrap();
    queryid_of(c, "SELECT id FROM big WHERE k = $1")
}

/// Asks about a statement with an open recommendation, and waits until the endpoint is called.
fn asked(mock: &MockLlm, cluster: &Cluster) -> (Client, i64) {
    let mut c = cluster.connect_with_extension();
    let queryid = slow_statement(&mut c);
    ask(&mut c, queryid);
    let deadline = Instant::now() + Duration::from_secs(10);
    while mock.recorded().is_empty() {
        assert!(Instant::now() < deadline, "the AI worker never called");
        std::thread::sleep(Duration::from_millis(100));
    }
    (c, queryid)
}

#[test]
fn an_answer_is_asked_with_the_key_and_model_cached_and_announced() {
    let mock = MockLlm::start(vec![explanation_answer(
        "The statement reads all of big to find the rows of one k.",
    )]);
    let cluster = ai_cluster(&mock, &[]);
    let mut c = cluster.connect_with_extension();
    // listening from the start: the worker may ask on its own as soon as it analyses
    let mut listener = cluster.connect();
    listener.batch_execute("LISTEN optischema").unwrap();
    load_big(&mut c);
    // a literal in the schema the model is shown: with llm_send_values off (the default) no
    // literal of any kind reaches the prompt
    c.batch_execute("CREATE INDEX big_pad_partial ON big (pad) WHERE pad = 'secret-literal'")
        .unwrap();
    run_times(&mut c, "SELECT id FROM big WHERE k = $1", 20);
    wait_samples(&mut c, 2);
    c.query_one("SELECT optischema.analyze_now()", &[]).unwrap();
    let queryid = queryid_of(&mut c, "SELECT id FROM big WHERE k = $1");

    let first = ask(&mut c, queryid);
    assert!(
        first["status"] == "queued" || first["status"] == "cached",
        "{first}"
    );
    assert_eq!(
        wait_request_done(&mut c, queryid, Duration::from_secs(20)),
        "done"
    );

    // one call, with the key as a bearer token and the configured model
    let calls: Vec<_> = mock
        .recorded()
        .into_iter()
        .filter(|r| r.body.to_string().contains("FROM big WHERE k"))
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.path, "/v1/chat/completions");
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(call.body["model"], "gpt-4o-test");
    assert_eq!(call.body["response_format"]["type"], "json_schema");
    let prompt = call.body["messages"][1]["content"].as_str().unwrap();
    assert!(!prompt.contains(KEY));
    let context: Value = serde_json::from_str(prompt).unwrap();
    assert_eq!(context["statement"], "SELECT id FROM big WHERE k = $1");
    assert_eq!(context["tables"][0]["table"], "public.big");
    assert!(context["findings"]
        .as_array()
        .is_some_and(|f| !f.is_empty()));
    // values stay in the database unless llm_send_values is on
    assert!(context.get("captured_parameter_values").is_none());
    assert!(prompt.contains("big_pad_partial"), "{prompt}");
    assert!(!prompt.contains("secret-literal"), "{prompt}");

    // asked again: the cached answer at once, and no second call
    let second = ask(&mut c, queryid);
    assert_eq!(second["status"], "cached", "{second}");
    assert_eq!(
        second["answer"]["explanation"],
        "The statement reads all of big to find the rows of one k."
    );
    std::thread::sleep(Duration::from_secs(2));
    let calls_now = mock
        .recorded()
        .iter()
        .filter(|r| r.body.to_string().contains("FROM big WHERE k"))
        .count();
    assert_eq!(calls_now, 1);

    // the explanation shows with the statement's recommendations, and was announced
    assert_eq!(
        ai_explanation(&mut c, queryid).as_deref(),
        Some("The statement reads all of big to find the rows of one k.")
    );
    let mut announced = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while announced.is_none() && Instant::now() < deadline {
        if let Some(n) = next_notification(&mut listener) {
            let v: Value = serde_json::from_str(n.payload()).unwrap();
            if v["type"] == "ai_explanation" {
                announced = Some(v);
            }
        }
    }
    let announced = announced.expect("an ai_explanation notification");
    assert_eq!(announced["queryid"], queryid);
    assert!(announced["recommendation_id"].is_i64(), "{announced}");

    // tokens are counted
    let (used, left) = ai_tokens(&mut c);
    assert!(used >= 1050, "{used}");
    assert_eq!(left, 200_000 - used);
}

#[test]
fn no_call_is_made_over_budget() {
    let mock = MockLlm::start(vec![explanation_answer("first")]);
    let cluster = ai_cluster(&mock, &["optischema.llm_daily_token_budget = 500"]);
    let mut c = cluster.connect_with_extension();
    let queryid = slow_statement(&mut c);
    ask(&mut c, queryid);
    assert_eq!(
        wait_request_done(&mut c, queryid, Duration::from_secs(20)),
        "done"
    );
    // 1,050 tokens spent of 500: nothing more today
    c.batch_execute("DELETE FROM optischema.ai_cache").unwrap();
    let again = ask(&mut c, queryid);
    assert_eq!(again["status"], "unavailable", "{again}");
    assert!(
        again["reason"].as_str().unwrap().contains("budget"),
        "{again}"
    );
    assert_eq!(ai_tokens(&mut c).1, 0);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(mock.recorded().len(), 1);
}

#[test]
fn rate_limits_and_malformed_answers_are_handled_and_shown() {
    let mock = MockLlm::start(vec![
        Reply::Raw {
            status: 429,
            headers: vec![("Retry-After".into(), "1".into())],
            body: r#"{"error":{"message":"Rate limit reached"}}"#.into(),
        },
        Reply::Raw {
            status: 200,
            headers: vec![],
            body:
                r#"{"choices":[{"message":{"content":"this is not json"},"finish_reason":"stop"}],
                      "usage":{"prompt_tokens":800,"completion_tokens":20}}"#
                    .into(),
        },
    ]);
    let cluster = ai_cluster(&mock, &[]);
    let mut c = cluster.connect_with_extension();
    let queryid = slow_statement(&mut c);
    ask(&mut c, queryid);
    assert_eq!(
        wait_request_done(&mut c, queryid, Duration::from_secs(30)),
        "failed"
    );
    let outcomes: Vec<String> = c
        .query(
            "SELECT outcome FROM optischema.ai_calls WHERE queryid = $1 ORDER BY id",
            &[&queryid],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The worker asks on its own once its analysis finds an open recommendation: when its
    // request has failed before ask() comes, ask() queues a second one (the mock repeats its
    // last reply). A statement has one open request at a time, so the first request's calls
    // come first.
    assert!(outcomes.len() >= 2, "{outcomes:?}");
    assert_eq!(outcomes[..2], ["rate_limited", "malformed"], "{outcomes:?}");
    assert!(
        outcomes[2..].iter().all(|o| o == "malformed"),
        "{outcomes:?}"
    );
    let malformed = outcomes.iter().filter(|o| *o == "malformed").count() as i64;
    // the retry waited for what Retry-After said
    let gap: f64 = c
        .query_one(
            "SELECT extract(epoch FROM (array_agg(at ORDER BY id))[2] - min(at))::float8
               FROM optischema.ai_calls WHERE queryid = $1",
            &[&queryid],
        )
        .unwrap()
        .get(0);
    assert!(gap >= 0.9, "{gap}");
    let (error, tokens): (Option<String>, i64) = {
        let r = c
            .query_one(
                "SELECT ai_last_error, ai_tokens_today FROM optischema.status()",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(error.unwrap().contains("does not follow the schema"));
    // each malformed answer's usage counts
    assert_eq!(tokens, 820 * malformed);
}

#[test]
fn a_hanging_endpoint_does_not_delay_sampling() {
    let mock = MockLlm::start(vec![Reply::Hang(Duration::from_secs(30))]);
    let cluster = ai_cluster(&mock, &["optischema.llm_timeout = 4"]);
    let (mut c, queryid) = asked(&mock, &cluster);
    // the call is under way: samples keep coming every second
    let started = Instant::now();
    wait_samples(&mut c, 3);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // the timeout is recorded and the request tried again later
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM optischema.ai_calls WHERE outcome = 'timeout'",
                &[],
            )
            .unwrap()
            .get(0);
        if n >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no timeout recorded");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, error): (String, Option<String>) = {
        let r = c
            .query_one(
                "SELECT status, error FROM optischema.ai_requests WHERE queryid = $1 ORDER BY id DESC LIMIT 1",
                &[&queryid],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(status, "queued");
    assert!(error.unwrap().contains("timeout"));
}

#[test]
fn the_key_is_hidden_from_everyone_but_superusers_and_from_the_log() {
    let mock = MockLlm::start(vec![Reply::Raw {
        status: 401,
        headers: vec![],
        body: format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}"}}}}"#),
    }]);
    let cluster = ai_cluster(
        &mock,
        &["log_min_messages = debug5", "log_statement = 'all'"],
    );
    let mut c = cluster.connect_with_extension();
    let queryid = slow_statement(&mut c);
    // an admin that may read every statement's text
    c.batch_execute("CREATE ROLE dba LOGIN; GRANT optischema_admin, pg_read_all_stats TO dba")
        .unwrap();

    let mut dba = cluster.connect_as("dba");
    assert!(dba.query_one("SHOW optischema.llm_api_key", &[]).is_err());
    assert!(dba
        .query_one("SELECT current_setting('optischema.llm_api_key')", &[])
        .is_err());
    let listed: i64 = dba
        .query_one(
            "SELECT count(*) FROM pg_settings WHERE name = 'optischema.llm_api_key'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(listed, 0);
    let shown = dba
        .simple_query("SHOW ALL")
        .unwrap()
        .iter()
        .filter(|m| matches!(m, postgres::SimpleQueryMessage::Row(r) if r.get(1) == Some(KEY)))
        .count();
    assert_eq!(shown, 0);

    // a rejected key: the endpoint's message quotes it, what OptiSchema keeps does not
    let answer = dba
        .query_one("SELECT optischema.ask($1)::text", &[&queryid])
        .unwrap()
        .get::<_, String>(0);
    assert!(!answer.contains(KEY));
    assert_eq!(
        wait_request_done(&mut c, queryid, Duration::from_secs(20)),
        "failed"
    );
    let error: String = dba
        .query_one("SELECT ai_last_error FROM optischema.status()", &[])
        .unwrap()
        .get(0);
    assert!(error.contains("HTTP 401"), "{error}");
    assert!(!error.contains(KEY), "{error}");
    let stored: String = c
        .query_one(
            "SELECT string_agg(coalesce(error, ''), ' ') FROM (SELECT error FROM optischema.ai_calls
              UNION ALL SELECT error FROM optischema.ai_requests) e",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!stored.contains(KEY));
    // the superuser sees it
    let own: String = c
        .query_one("SHOW optischema.llm_api_key", &[])
        .unwrap()
        .get(0);
    assert_eq!(own, KEY);
    // and the server log, at debug5 with every statement logged, never had it
    assert!(!cluster.log().contains(KEY), "the key is in the server log");
}

fn rewrite_answer(sql: &str) -> Reply {
    Reply::Answer {
        answer: serde_json::json!({
            "explanation": "The IN subquery reads big twice.",
            "rewritten_sql": sql,
            "index_suggestions": [],
            "risks": [],
        }),
        prompt_tokens: 500,
        completion_tokens: 100,
    }
}

#[test]
fn a_rewrite_is_offered_only_when_it_returns_the_same_rows_and_plans_cheaper() {
    let mock = MockLlm::start(vec![rewrite_answer(
        // cheaper, but not the same rows
        "SELECT count(*) FROM big WHERE k = $1 AND id < 10;",
    )]);
    let cluster = ai_cluster(&mock, &["optischema.param_sample_rate = 1"]);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    let text = "SELECT count(*) FROM big WHERE id IN (SELECT id FROM big WHERE k = $1)";
    run_times(&mut c, text, 12);
    wait_samples(&mut c, 3);
    let queryid = queryid_of(&mut c, text);
    ask(&mut c, queryid);
    assert_eq!(
        wait_request_done(&mut c, queryid, Duration::from_secs(20)),
        "done"
    );
    let rewrite = |c: &mut Client| -> Vec<(String, String, Value)> {
        c.query(
            "SELECT status, sql, evidence::text::json FROM optischema.recommendations
              WHERE queryid = $1 AND kind = 'rewrite' AND source = 'ai' ORDER BY id",
            &[&queryid],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    };
    let first = rewrite(&mut c);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].0, "unverified");
    assert_eq!(
        first[0].1,
        "SELECT count(*) FROM big WHERE k = $1 AND id < 10"
    );
    assert!(
        first[0].2["reason"]
            .as_str()
            .unwrap()
            .contains("different rows"),
        "{first:?}"
    );

    // an equivalent, cheaper rewrite
    mock.set_replies(vec![rewrite_answer(
        "SELECT count(*) FROM big WHERE k = $1",
    )]);
    c.batch_execute("DELETE FROM optischema.ai_cache").unwrap();
    assert_eq!(ask(&mut c, queryid)["status"], "queued");
    assert_eq!(
        wait_request_done(&mut c, queryid, Duration::from_secs(20)),
        "done"
    );
    let both = rewrite(&mut c);
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[1].0, "open", "{both:?}");
    assert_eq!(both[1].1, "SELECT count(*) FROM big WHERE k = $1");
    assert_eq!(both[1].2["verified"], true);
    assert!(both[1].2["compared_value_sets"].as_i64().unwrap() >= 1);
    let (before, after): (f64, f64) = {
        let r = c
            .query_one(
                "SELECT est_cost_before, est_cost_after FROM optischema.recommendations
                  WHERE queryid = $1 AND kind = 'rewrite' AND status = 'open'",
                &[&queryid],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(after < before, "{before} -> {after}");
}

#[test]
fn index_suggestions_become_recommendations_only_through_the_advisor() {
    let mock = MockLlm::start(vec![Reply::Answer {
        answer: serde_json::json!({
            "explanation": "k is compared as text, so no index on k can serve it.",
            "rewritten_sql": null,
            "index_suggestions": [
                "CREATE INDEX big_k_text ON big ((k::text));",
                "CREATE INDEX ON big (pad)",
                "CREATE INDEX ON big USING gin (pad)",
                "DROP TABLE big"
            ],
            "risks": [],
        }),
        prompt_tokens: 500,
        completion_tokens: 100,
    }]);
    let cluster = ai_cluster(&mock, &["optischema.param_sample_rate = 1"]);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    let text = "SELECT id FROM big WHERE k::text = $1";
    let stmt = c.prepare(text).unwrap();
    for i in 0..12 {
        c.query(&stmt, &[&(i * 7).to_string()]).unwrap();
    }
    wait_samples(&mut c, 3);
    let queryid = queryid_of(&mut c, text);
    ask(&mut c, queryid);
    assert_eq!(
        wait_request_done(&mut c, queryid, Duration::from_secs(30)),
        "done"
    );
    let indexes: Vec<(String, String)> = c
        .query(
            "SELECT sql, source FROM optischema.recommendations
              WHERE queryid = $1 AND kind = 'index' AND status = 'open' ORDER BY id",
            &[&queryid],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // the expression index the planner can use is there once; the others never
    let text_index: Vec<_> = indexes
        .iter()
        .filter(|(s, _)| s.contains("::text"))
        .collect();
    assert_eq!(text_index.len(), 1, "{indexes:?}");
    assert!(
        text_index[0]
            .0
            .starts_with("CREATE INDEX CONCURRENTLY ON public.big"),
        "{indexes:?}"
    );
    // the rules index k itself, which cannot serve k::text: this one is the model's
    assert_eq!(text_index[0].1, "ai", "{indexes:?}");
    assert!(
        !indexes
            .iter()
            .any(|(s, _)| s.contains("pad") || s.contains("DROP")),
        "{indexes:?}"
    );
    let table_there: bool = c
        .query_one("SELECT to_regclass('big') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert!(table_there);
}

/// Waits until AI request `request` is no longer running (a start fails one a stop cut
/// short); returns its status and error.
fn once_not_running(c: &mut Client, request: i64) -> (String, Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = c
            .query_one(
                "SELECT status, error FROM optischema.ai_requests WHERE id = $1",
                &[&request],
            )
            .unwrap();
        let status: String = row.get(0);
        if status != "running" {
            return (status, row.get(1));
        }
        assert!(Instant::now() < deadline, "the request is still running");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_request_left_running_by_a_stopped_worker_fails_at_its_next_start() {
    let mock = MockLlm::start(vec![]);
    let cluster = ai_cluster(&mock, &[]);
    let mut c = cluster.connect_with_extension();
    // as a worker killed in the middle of a call leaves it
    let request: i64 = c
        .query_one(
            "INSERT INTO optischema.ai_requests (queryid, status, attempts) VALUES (42, 'running', 1)
             RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    // the server stops as in a crash, and starts again
    drop(c);
    cluster.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    cluster.pg_ctl_start();
    let mut c = cluster.connect();
    let (status, error) = once_not_running(&mut c, request);
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("interrupted"));
    // and the statement can be asked about again
    let queued: i64 = c
        .query_one(
            "SELECT count(*) FROM optischema.ai_requests WHERE queryid = 42 AND status IN ('queued', 'running')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(queued, 0);
    assert_eq!(mock.recorded().len(), 0, "no call was made for it");
}

#[test]
fn a_fast_shutdown_does_not_wait_for_an_endpoint_that_hangs() {
    let mock = MockLlm::start(vec![Reply::Hang(Duration::from_secs(120))]);
    let cluster = ai_cluster(&mock, &["optischema.llm_timeout = 300"]);
    let (c, queryid) = asked(&mock, &cluster);
    // the call would take two minutes: the worker leaves it at once (pg_ctl would give up
    // waiting for it after 60 s)
    drop(c);
    let started = Instant::now();
    cluster.pg_ctl(&["-m", "fast", "-w", "stop"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fast shutdown took {:?}",
        started.elapsed()
    );
    assert!(cluster.log().contains("optischema ai stopping"));
    // the call it gave up is failed as interrupted when the worker starts again
    cluster.pg_ctl_start();
    let mut c = cluster.connect();
    let request: i64 = c
        .query_one(
            "SELECT min(id) FROM optischema.ai_requests WHERE queryid = $1",
            &[&queryid],
        )
        .unwrap()
        .get(0);
    let (status, error) = once_not_running(&mut c, request);
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("interrupted"));
}
