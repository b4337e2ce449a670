//! NOTIFY payloads as a LISTEN client receives them.

use optischema_cluster_tests::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The next notification within 500 ms. A fresh iterator each time: postgres' timeout iterator
/// stops waiting once its first timeout has passed.
#[test]
fn listener_receives_sample_and_hot_query_payloads_under_8000_bytes() {
    let cluster = Cluster::start(&["optischema.hot_top_n = 3"]);
    let mut c = cluster.connect_with_extension();
    let mut listener = cluster.connect();
    listener.batch_execute("LISTEN optischema").unwrap();
    // the first sample only takes the baseline: work done before it is not news
    wait_samples(&mut c, 2);

    // six statements, one of them with a text far longer than a payload may be
    let long_select = format!(
        "SELECT {} FROM generate_series(1, $1::int) g",
        (0..1500)
            .map(|i| format!("g AS column_{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(long_select.len() > 20_000);
    c.batch_execute("CREATE TABLE u (id int PRIMARY KEY, n int)")
        .unwrap();
    run_times(&mut c, &long_select, 30);
    for (i, sql) in [
        "SELECT count(*) FROM u WHERE n > $1",
        "SELECT $1::int + 1",
        "SELECT pg_sleep($1::int * 0.0001)",
        "INSERT INTO u VALUES ($1, 1) ON CONFLICT DO NOTHING",
        "SELECT repeat('x', $1)",
    ]
    .iter()
    .enumerate()
    {
        run_times(&mut c, sql, 5 + i as i32);
    }
    wait_samples(&mut c, 2);

    let mut payloads = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match next_notification(&mut listener) {
            Some(n) => {
                assert_eq!(n.channel(), "optischema");
                payloads.push(n.payload().to_string());
            }
            None => {
                if payloads.iter().any(|p| p.contains("\"hot_query\"")) {
                    break;
                }
            }
        }
    }
    assert!(
        payloads.iter().all(|p| p.len() < 8000),
        "a payload reached 8000 bytes"
    );
    let parsed: Vec<Value> = payloads
        .iter()
        .map(|p| serde_json::from_str(p).expect("valid JSON"))
        .collect();

    let samples: Vec<&Value> = parsed.iter().filter(|v| v["type"] == "sample").collect();
    assert!(samples.len() >= 2, "{payloads:?}");
    for s in &samples {
        assert!(s["at"].as_str().unwrap().contains('T'));
        assert!(s["statements"].as_i64().unwrap() >= 0);
        assert!(s["calls"].as_i64().unwrap() >= 0);
        assert!(s["total_ms"].as_f64().unwrap() >= 0.0);
    }
    // the workload spans several samples: together they count every call (30 + 5 + ... + 9)
    let counted: i64 = samples.iter().map(|s| s["calls"].as_i64().unwrap()).sum();
    assert!(counted >= 65, "{counted} calls in {payloads:?}");

    let hot: Vec<&Value> = parsed.iter().filter(|v| v["type"] == "hot_query").collect();
    assert!(!hot.is_empty(), "{payloads:?}");
    for h in &hot {
        assert!(h["queryid"].is_i64());
        assert!((1..=3).contains(&h["rank"].as_i64().unwrap()), "{h}");
        assert!(h["calls"].as_i64().unwrap() > 0);
        assert!(h["mean_ms"].as_f64().unwrap() >= 0.0);
    }
    // the 20 kB statement is by far the slowest: it is hot, announced by its queryid (payloads
    // never carry a statement's text)
    let long_id: i64 = c
        .query_one(
            "SELECT queryid FROM optischema.statements WHERE query LIKE 'SELECT g AS column_0,%'",
            &[],
        )
        .unwrap()
        .get(0);
    let long = hot
        .iter()
        .find(|h| h["queryid"].as_i64() == Some(long_id))
        .expect("the long statement is announced");
    assert!(
        long.get("query").is_none() && long.get("truncated").is_none(),
        "{long}"
    );
    // it is announced by the sample that saw it enter the top, with the calls counted by then:
    // on a loaded machine the 30 calls can span two samples; the history has all of them
    let announced = long["calls"].as_i64().unwrap();
    assert!((1..=30).contains(&announced), "{long}");
    let recorded: i64 = c
        .query_one(
            "SELECT sum(calls)::bigint FROM optischema.history_all WHERE queryid = $1",
            &[&long_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(recorded, 30);

    // at most hot_top_n announcements per sample: count those after each sample payload
    let mut per_sample = 0;
    for v in &parsed {
        if v["type"] == "sample" {
            per_sample = 0;
        } else {
            per_sample += 1;
            assert!(per_sample <= 3, "{payloads:?}");
        }
    }
}

#[test]
fn a_new_hot_statement_gets_its_recommendation_within_2_s_of_the_sample() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, k int, pad text);
         INSERT INTO big SELECT g, g % 5000, repeat('x', 50) FROM generate_series(1, 100000) g;",
    )
    .unwrap();
    // vacuumed now: an autovacuum in the middle of a test would change the advice (index-only scans)
    vacuum_all_visible(&mut c, "big");
    forget_the_load(&mut c);
    wait_samples(&mut c, 2);
    let mut listener = cluster.connect();
    listener.batch_execute("LISTEN optischema").unwrap();
    run_times(&mut c, "SELECT id FROM big WHERE k = $1", 20);

    let mut last_sample_at = None;
    let mut latency = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while latency.is_none() && Instant::now() < deadline {
        let Some(n) = next_notification(&mut listener) else {
            continue;
        };
        let v: Value = serde_json::from_str(n.payload()).unwrap();
        if v["type"] == "sample" {
            last_sample_at = Some(Instant::now());
        } else if v["type"] == "recommendation" && v["kind"] == "index" {
            assert_eq!(v["status"], "open");
            assert!(v["id"].is_i64() && v["queryid"].is_i64());
            latency = Some(last_sample_at.expect("a sample came first").elapsed());
        }
    }
    let latency = latency.expect("no recommendation for the new hot statement");
    assert!(
        latency < Duration::from_secs(2),
        "{latency:?} after the sample"
    );
    let sql: String = c
        .query_one("SELECT sql FROM optischema.recommendations WHERE kind = 'index' AND title LIKE '%public.big%'", &[])
        .unwrap()
        .get(0);
    // on the vacuumed table an index-only scan pays: the key with the selected column
    assert_eq!(
        sql,
        "CREATE INDEX CONCURRENTLY ON public.big (k) INCLUDE (id)"
    );
}

/// Any role can NOTIFY on the channel, so a listener trusts only payloads that OptiSchema's
/// workers send: what a user's session announces (dismiss(), analyze_now()) is sent for it by
/// the apply worker, within a second.
#[test]
fn payloads_of_a_users_call_are_sent_by_a_worker() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    let id = planted(&mut c, "index", "CREATE INDEX CONCURRENTLY ON public.t (a)");
    let mut listener = cluster.connect();
    listener.batch_execute("LISTEN optischema").unwrap();
    let called = Instant::now();
    c.query_one("SELECT (optischema.dismiss($1, 'not now')).id", &[&id])
        .unwrap();
    let mut announced = None;
    while announced.is_none() && called.elapsed() < Duration::from_secs(10) {
        let Some(n) = next_notification(&mut listener) else {
            continue;
        };
        let v: Value = serde_json::from_str(n.payload()).unwrap();
        if v["type"] == "recommendation" && v["id"] == id {
            announced = Some((n.process_id(), v, called.elapsed()));
        }
    }
    let (pid, payload, after) = announced.expect("the dismissal was not announced");
    assert_eq!(payload["status"], "dismissed");
    assert!(
        after < Duration::from_secs(3),
        "announced {after:?} after the call"
    );
    let sender: String = c
        .query_one(
            "SELECT backend_type FROM pg_stat_activity WHERE pid = $1",
            &[&(pid as i32)],
        )
        .unwrap()
        .get(0);
    assert_eq!(sender, "optischema apply");
    let caller: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert_ne!(pid as i32, caller);
    // nothing is left queued
    let queued: i64 = c
        .query_one("SELECT count(*) FROM optischema.outbox", &[])
        .unwrap()
        .get(0);
    assert_eq!(queued, 0);
}
