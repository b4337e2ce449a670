//! The dashboard's proxy against a real cluster: NOTIFY payloads of OptiSchema's workers (and
//! only theirs) reach WebSocket clients tagged with their database (queryids intact), the JSON
//! API answers and turns bad requests into 4xx, actions need the admin token and DSN, and a
//! restarted database is LISTENed to again.

use optischema_cluster_tests::*;
use serde_json::Value;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::WebSocket;

const TOKEN: &str = "test-admin-token-0123456789";

fn reader_dsn(cluster: &Cluster) -> String {
    format!(
        "shop=host=127.0.0.1 port={} user=dash password=hunter2-secret dbname=postgres",
        cluster.port
    )
}

/// A cluster with the extension and a reader role `dash`.
fn cluster_with_reader() -> (Cluster, postgres::Client) {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute("CREATE ROLE dash LOGIN; GRANT optischema_reader TO dash; CREATE ROLE dba LOGIN; GRANT optischema_admin TO dba; GRANT pg_read_all_stats TO dash, dba")
        .unwrap();
    (cluster, c)
}

fn websocket(proxy: &Proxy) -> WebSocket<MaybeTlsStream<TcpStream>> {
    let (socket, _) = tungstenite::connect(format!("ws://127.0.0.1:{}/ws", proxy.port)).unwrap();
    if let MaybeTlsStream::Plain(s) = socket.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
    }
    socket
}

/// The next message that satisfies `wanted`, within `within`.
fn next_message(
    socket: &mut WebSocket<MaybeTlsStream<TcpStream>>,
    within: Duration,
    wanted: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match socket.read() {
            Ok(tungstenite::Message::Text(text)) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                if wanted(&v) {
                    return Some(v);
                }
            }
            Ok(_) => {}
            // a read timeout, or a signal (a child process ending: pg_ctl, the proxy) that
            // interrupted the read: read again
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => panic!("websocket: {e}"),
        }
    }
    None
}

fn get(proxy: &Proxy, path: &str) -> (u16, Value) {
    match ureq::get(&proxy.url(path)).call() {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("GET {path}: {e}"),
    }
}

fn post(proxy: &Proxy, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = ureq::post(&proxy.url(path));
    if let Some(t) = token {
        request = request.set("Authorization", &format!("Bearer {t}"));
    }
    match request.send_string("{}") {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("POST {path}: {e}"),
    }
}

/// Waits until the proxy is connected to (and LISTENs on) every database.
fn wait_connected(proxy: &Proxy) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(proxy, "/api/databases").1["databases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["connected"] != true)
    {
        assert!(Instant::now() < deadline, "the proxy never connected");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_notify_becomes_a_websocket_message_tagged_with_its_database() {
    let (cluster, mut c) = cluster_with_reader();
    c.batch_execute("CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 1000)")
        .unwrap();
    // the same database under a second name stands for a second server
    let second = reader_dsn(&cluster).replacen("shop=", "second=", 1);
    let proxy = Proxy::start(&["--dsn", &reader_dsn(&cluster), "--dsn", &second], &[]);
    let mut ws = websocket(&proxy);
    let hello = next_message(&mut ws, Duration::from_secs(5), |v| {
        v["payload"]["type"] == "hello"
    })
    .unwrap();
    assert_eq!(hello["payload"]["read_only"], true);
    assert_eq!(hello["payload"]["databases"][0]["name"], "shop");
    assert_eq!(hello["payload"]["databases"][1]["name"], "second");
    wait_connected(&proxy);
    let (_, fleet) = get(&proxy, "/api/fleet");
    assert_eq!(fleet["databases"].as_array().unwrap().len(), 2);
    assert!(
        fleet["databases"][1]["summary"]["status"]["samples_taken"].is_number(),
        "{fleet}"
    );
    // a statement that starts running: the sampler announces it as a hot query, on both names
    wait_samples(&mut c, 1);
    run_times(&mut c, "SELECT count(*) FROM t WHERE a < $1", 50);
    let ran = Instant::now();
    let mut names = Vec::new();
    while names.len() < 2 {
        let m = next_message(&mut ws, Duration::from_secs(10), |v| {
            v["payload"]["type"] == "hot_query" && !names.contains(&v["db"])
        })
        .unwrap_or_else(|| panic!("hot_query payloads arrived for {names:?} only"));
        // a 64-bit queryid arrives as a string, unchanged
        let queryid = &m["payload"]["queryid"];
        assert!(
            queryid.is_string() || queryid.as_i64().unwrap().unsigned_abs() < (1 << 53),
            "{m}"
        );
        names.push(m["db"].clone());
    }
    assert!(
        ran.elapsed() < Duration::from_secs(5),
        "took {:?}",
        ran.elapsed()
    );
    names.sort_by_key(|n| n.to_string());
    assert_eq!(names, ["second", "shop"]);
    let sample = next_message(&mut ws, Duration::from_secs(5), |v| {
        v["payload"]["type"] == "sample"
    })
    .unwrap();
    assert!(sample["payload"]["statements"].is_number());
}

#[test]
fn payloads_not_sent_by_optischemas_workers_are_not_forwarded() {
    let (cluster, mut c) = cluster_with_reader();
    c.batch_execute(
        "CREATE ROLE mallory LOGIN; CREATE ROLE nostats LOGIN; GRANT optischema_reader TO nostats",
    )
    .unwrap();
    let proxy = Proxy::start(&["--dsn", &reader_dsn(&cluster)], &[]);
    let mut ws = websocket(&proxy);
    wait_connected(&proxy);
    let forged = |v: &Value| v["payload"]["forged"] == true;
    // a plain role, and a superuser's session too: neither is a worker
    let mut mallory = cluster.connect_as("mallory");
    let flooded = Instant::now();
    for _ in 0..50 {
        mallory
            .batch_execute(r#"NOTIFY optischema, '{"type":"hot_query","queryid":4242,"rank":1,"forged":true}'"#)
            .unwrap();
    }
    c.batch_execute(r#"NOTIFY optischema, '{"type":"recommendation","id":4242,"forged":true}'"#)
        .unwrap();
    // the sampler's payloads still come through, the forged ones (sent before them) never
    let mut samples = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while samples < 2 {
        assert!(Instant::now() < deadline, "no sample payloads");
        let m = next_message(&mut ws, Duration::from_secs(5), |v| {
            forged(v) || v["payload"]["type"] == "sample"
        })
        .expect("a sample payload");
        assert!(!forged(&m), "a forged payload was forwarded: {m}");
        samples += 1;
    }
    // 51 forged payloads did not make 51 lookups: at most one a second
    let lookups: i64 = c
        .query_one(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
              WHERE query LIKE '%backend_type LIKE%' AND query NOT LIKE '%pg_stat_statements%'",
            &[],
        )
        .unwrap()
        .get(0);
    let allowed = 2 + flooded.elapsed().as_secs() as i64;
    assert!(
        (1..=allowed).contains(&lookups),
        "{lookups} lookups in {:?}",
        flooded.elapsed()
    );

    // a role that cannot see other sessions' backend_type cannot tell: it forwards nothing
    let blind = Proxy::start(
        &[
            "--dsn",
            &format!(
                "blind=host=127.0.0.1 port={} user=nostats dbname=postgres",
                cluster.port
            ),
        ],
        &[],
    );
    let mut blind_ws = websocket(&blind);
    wait_connected(&blind);
    assert_eq!(
        next_message(&mut blind_ws, Duration::from_secs(3), |v| v["payload"]
            ["type"]
            == "sample"),
        None,
        "payloads forwarded without pg_read_all_stats"
    );
}
/// Live events do not wait for the API: a request held up in the database (here by a lock, until
/// the proxy's statement timeout) does not hold up a worker's NOTIFY on its way to the browsers,
/// as it would if one connection did both: a backend sends notifications only between
/// statements, and the proxy's check of their sender would queue behind the request.
#[test]
fn a_slow_api_request_does_not_hold_up_live_events() {
    let (cluster, mut c) = cluster_with_reader();
    let proxy = Proxy::start(&["--dsn", &reader_dsn(&cluster)], &[]);
    let mut ws = websocket(&proxy);
    wait_connected(&proxy);
    next_message(&mut ws, Duration::from_secs(10), |v| {
        v["payload"]["type"] == "sample"
    })
    .expect("a sample payload");
    let planted = planted(&mut c, "index", "CREATE INDEX CONCURRENTLY ON public.t (a)");
    let mut locker = cluster.connect();
    locker
        .batch_execute(
            "BEGIN; LOCK TABLE optischema.history, optischema.history_open IN ACCESS EXCLUSIVE MODE",
        )
        .unwrap();
    let url = proxy.url("/api/shop/hot");
    let request = std::thread::spawn(move || {
        let answer = ureq::get(&url).call().map(|r| r.status());
        (answer, Instant::now())
    });
    let waiting = |c: &mut postgres::Client| {
        c.query_one(
            "SELECT count(*) FROM pg_stat_activity
              WHERE application_name = 'optischema-proxy' AND wait_event_type = 'Lock'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0)
            == 1
    };
    cluster.wait_until(
        Duration::from_secs(10),
        "the API's query to wait for the lock",
        || waiting(&mut c),
    );
    c.query_one("SELECT (optischema.dismiss($1)).id", &[&planted])
        .unwrap();
    let dismissed = next_message(&mut ws, Duration::from_secs(10), |v| {
        v["payload"]["type"] == "recommendation" && v["payload"]["id"] == planted
    });
    let arrived = Instant::now();
    let still_waiting = waiting(&mut c);
    locker.batch_execute("ROLLBACK").unwrap();
    let (answer, answered) = request.join().unwrap();
    assert!(
        dismissed.is_some(),
        "the dismissal never reached the WebSocket"
    );
    assert!(
        arrived < answered && still_waiting,
        "the dismissal reached the WebSocket only once the API's request ended ({answer:?})"
    );
}

#[test]
fn the_api_answers_and_bad_requests_get_a_4xx_with_a_message() {
    let (cluster, mut c) = cluster_with_reader();
    c.batch_execute("CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 1000)")
        .unwrap();
    wait_samples(&mut c, 1);
    for _ in 0..5 {
        c.batch_execute("SELECT count(*) FROM t WHERE a < 10")
            .unwrap();
    }
    wait_samples(&mut c, 2);
    let proxy = Proxy::start(&["--dsn", &reader_dsn(&cluster)], &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&proxy, "/api/shop/status").0 != 200 {
        assert!(Instant::now() < deadline, "the API never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, status) = get(&proxy, "/api/shop/status");
    assert_eq!(code, 200);
    assert!(status["samples_taken"].as_i64().unwrap() >= 3);
    // a reader sees that the worker runs (pg_stat_activity alone would not tell it)
    assert!(status["worker_pid"].as_i64().unwrap() > 0, "{status}");
    let (code, hot) = get(&proxy, "/api/shop/hot?since=1%20hour&limit=50");
    assert_eq!(code, 200);
    let ours = hot
        .as_array()
        .unwrap()
        .iter()
        .find(|q| {
            q["query"]
                .as_str()
                .unwrap_or("")
                .contains("FROM t WHERE a <")
        })
        .expect("the statement is hot");
    assert_eq!(ours["calls"], 5);
    assert!(
        ours["queryid"].is_string() || ours["queryid"].as_i64().unwrap().unsigned_abs() < (1 << 53)
    );
    assert!(ours["spark"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v.as_f64().unwrap() > 0.0));
    let (code, heat) = get(&proxy, "/api/shop/heatmap");
    assert_eq!(code, 200);
    let buckets = heat["buckets"].as_array().unwrap().len();
    assert!(buckets >= 1);
    for s in heat["statements"].as_array().unwrap() {
        assert_eq!(s["cells"].as_array().unwrap().len(), buckets);
    }
    let (code, recs) = get(&proxy, "/api/shop/recommendations?status=open");
    assert_eq!(code, 200);
    assert!(recs.is_array());
    let (code, page) = match ureq::get(&proxy.url("/")).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(code, 200);
    assert!(page.contains("<title>OptiSchema</title>"));

    // bad requests
    let (code, body) = get(&proxy, "/api/shop/hot?limit=0");
    assert_eq!(code, 400);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("limit must be an integer from 1 to 1000"));
    let (code, body) = get(&proxy, "/api/shop/hot?since=forever");
    assert_eq!(code, 400, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("invalid input syntax for type interval"));
    let (code, body) = get(&proxy, "/api/shop/history/12x");
    assert_eq!(code, 400);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("queryid must be an integer"));
    let (code, body) = get(&proxy, "/api/nowhere/status");
    assert_eq!(code, 404);
    assert_eq!(body["error"], "no database named \"nowhere\"");
    let (code, _) = get(&proxy, "/api/shop/recommendations/999999");
    assert_eq!(code, 404);
    // the dashboard's own statements are not the workload: nothing is recommended for them
    wait_samples(&mut c, 1);
    c.query_one("SELECT optischema.analyze_now()", &[]).unwrap();
    let ours: i64 = c
        .query_one(
            "SELECT count(*) FROM optischema.recommendations WHERE sql LIKE '%optischema.%' OR query LIKE '%optischema.%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ours, 0);
    // actions, like reading them, need the admin side
    let (code, body) = get(&proxy, "/api/shop/actions");
    assert_eq!(code, 403);
    assert!(body["error"].as_str().unwrap().contains("read-only"));

    // a database that went away: 503, and never its password
    drop(c);
    cluster.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (code, body) = get(&proxy, "/api/shop/status");
        if code == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "still {code}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = body.to_string();
    assert!(text.contains("reconnecting"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let (_, fleet) = get(&proxy, "/api/fleet");
    assert!(!fleet.to_string().contains("hunter2"));
    assert_eq!(fleet["databases"][0]["connected"], false);
}

#[test]
fn actions_need_the_admin_token_and_an_admin_connection() {
    let (cluster, mut c) = cluster_with_reader();
    let id: i64 = c
        .query_one(
            "INSERT INTO optischema.recommendation_store (fingerprint, kind, title, sql, explanation, confidence)
             VALUES ('planted', 'analyze', 'planted', 'ANALYZE pg_catalog.pg_class', 'planted', 0.5) RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    let path = format!("/api/shop/recommendations/{id}/dismiss");

    // read-only: no admin DSN, no token
    let read_only = Proxy::start(&["--dsn", &reader_dsn(&cluster)], &[]);
    for action in ["apply", "trial", "dismiss"] {
        let (code, body) = post(
            &read_only,
            &format!("/api/shop/recommendations/{id}/{action}"),
            Some(TOKEN),
        );
        assert_eq!(code, 403, "{action}");
        assert!(body["error"].as_str().unwrap().contains("read-only"));
    }
    // a token alone, without an admin connection, changes nothing
    let token_only = Proxy::start(
        &["--dsn", &reader_dsn(&cluster)],
        &[("OPTISCHEMA_ADMIN_TOKEN", TOKEN)],
    );
    let (code, _) = post(
        &token_only,
        &format!("/api/shop/recommendations/{id}/apply"),
        Some(TOKEN),
    );
    assert_eq!(code, 403);
    let actions: i64 = c
        .query_one("SELECT count(*) FROM optischema.action_log", &[])
        .unwrap()
        .get(0);
    assert_eq!(actions, 0);

    let admin_dsn = format!(
        "shop=host=127.0.0.1 port={} user=dba dbname=postgres",
        cluster.port
    );
    let admin = Proxy::start(
        &["--dsn", &reader_dsn(&cluster), "--admin-dsn", &admin_dsn],
        &[("OPTISCHEMA_ADMIN_TOKEN", TOKEN)],
    );
    let (code, body) = post(&admin, &path, None);
    assert_eq!(code, 401);
    assert!(body["error"].as_str().unwrap().contains("admin token"));
    let (code, _) = post(&admin, &path, Some("wrong-token-0123456789"));
    assert_eq!(code, 401);
    let (code, _) = post(
        &admin,
        &format!("/api/shop/recommendations/{id}/explode"),
        Some(TOKEN),
    );
    assert_eq!(code, 404);
    let (code, body) = post(&admin, &path, Some(TOKEN));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "dismissed");
    // the database keeps its rules: a dismissed recommendation is not applied
    let (code, body) = post(
        &admin,
        &format!("/api/shop/recommendations/{id}/apply"),
        Some(TOKEN),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("only open recommendations can be applied"));
    let status: String = c
        .query_one(
            "SELECT status FROM optischema.recommendations WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "dismissed");
}

#[test]
fn a_restarted_database_is_listened_to_again() {
    let (cluster, c) = cluster_with_reader();
    drop(c);
    let proxy = Proxy::start(&["--dsn", &reader_dsn(&cluster)], &[]);
    let mut ws = websocket(&proxy);
    next_message(&mut ws, Duration::from_secs(10), |v| {
        v["payload"]["type"] == "sample"
    })
    .expect("samples before the restart");
    cluster.pg_ctl(&["-m", "fast", "-w", "stop"]);
    next_message(&mut ws, Duration::from_secs(15), |v| {
        v["payload"]["type"] == "proxy" && v["payload"]["state"] == "reconnecting"
    })
    .expect("the proxy says it reconnects");
    cluster.pg_ctl_start();
    next_message(&mut ws, Duration::from_secs(15), |v| {
        v["payload"]["type"] == "proxy" && v["payload"]["state"] == "connected"
    })
    .expect("the proxy is back");
    // the workers have new pids after the restart: their payloads are forwarded again
    let m = next_message(&mut ws, Duration::from_secs(10), |v| {
        v["payload"]["type"] == "sample"
    })
    .expect("a payload after the restart");
    assert_eq!(m["db"], "shop");
}

#[test]
fn other_sites_and_rebound_names_are_refused() {
    let (cluster, _c) = cluster_with_reader();
    let proxy = Proxy::start(&["--dsn", &reader_dsn(&cluster)], &[]);
    let status = |host: Option<&str>, origin: Option<&str>| -> u16 {
        let mut request = ureq::get(&proxy.url("/api/databases"));
        if let Some(h) = host {
            request = request.set("Host", h);
        }
        if let Some(o) = origin {
            request = request.set("Origin", o);
        }
        match request.call() {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{e}"),
        }
    };
    let own = format!("127.0.0.1:{}", proxy.port);
    assert_eq!(status(None, None), 200);
    assert_eq!(
        status(Some(&format!("localhost:{}", proxy.port)), None),
        200
    );
    assert_eq!(status(None, Some(&format!("http://{own}"))), 200);
    // DNS rebinding: a name of the attacker's that now points here
    assert_eq!(status(Some("rebind.attacker.example"), None), 403);
    // a page of another site calling the API
    assert_eq!(status(None, Some("http://evil.example")), 403);
    // nor may such a page open the WebSocket
    use tungstenite::client::IntoClientRequest;
    let mut ws = format!("ws://{own}/ws").into_client_request().unwrap();
    ws.headers_mut()
        .insert("Origin", "http://evil.example".parse().unwrap());
    match tungstenite::connect(ws) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("the handshake was not refused: {:?}", other.map(|_| ())),
    }
    let mut ws = format!("ws://{own}/ws").into_client_request().unwrap();
    ws.headers_mut()
        .insert("Origin", format!("http://{own}").parse().unwrap());
    assert!(tungstenite::connect(ws).is_ok());
}

const READ_TOKEN: &str = "test-read-token-0123456789";

/// GET with an optional bearer token: the status and the body.
fn get_with(proxy: &Proxy, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = ureq::get(&proxy.url(path));
    if let Some(t) = token {
        request = request.set("Authorization", &format!("Bearer {t}"));
    }
    match request.call() {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("GET {path}: {e}"),
    }
}

/// The HTTP status of a WebSocket handshake: 101 when it opened.
fn websocket_status(proxy: &Proxy, path: &str, token: Option<&str>) -> u16 {
    use tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://127.0.0.1:{}{path}", proxy.port)
        .into_client_request()
        .unwrap();
    if let Some(t) = token {
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tungstenite::connect(request) {
        Ok((_, response)) => response.status().as_u16(),
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("websocket {path}: {e}"),
    }
}

#[test]
fn a_read_token_guards_the_api_and_the_websocket() {
    let (cluster, _c) = cluster_with_reader();
    let admin_dsn = format!(
        "shop=host=127.0.0.1 port={} user=dba dbname=postgres",
        cluster.port
    );
    let proxy = Proxy::start(
        &["--dsn", &reader_dsn(&cluster), "--admin-dsn", &admin_dsn],
        &[
            ("OPTISCHEMA_PROXY_TOKEN", READ_TOKEN),
            ("OPTISCHEMA_ADMIN_TOKEN", TOKEN),
        ],
    );
    for path in ["/api/databases", "/api/fleet", "/api/shop/status"] {
        let (code, body) = get_with(&proxy, path, None);
        assert_eq!(code, 401, "{path}");
        assert!(
            body["error"].as_str().unwrap().contains("needs its token"),
            "{body}"
        );
        assert_eq!(
            get_with(&proxy, path, Some("wrong-token-0123456789")).0,
            401
        );
    }
    // in the query only the WebSocket takes it
    assert_eq!(
        get_with(&proxy, &format!("/api/databases?token={READ_TOKEN}"), None).0,
        401
    );
    let (code, body) = get_with(&proxy, "/api/databases", Some(READ_TOKEN));
    assert_eq!(code, 200);
    assert_eq!(body["databases"][0]["name"], "shop");
    // the admin token opens reads as well, and the read token opens no action
    assert_eq!(get_with(&proxy, "/api/databases", Some(TOKEN)).0, 200);
    let (code, body) = post(
        &proxy,
        "/api/shop/recommendations/1/dismiss",
        Some(READ_TOKEN),
    );
    assert_eq!(code, 401);
    assert!(body["error"].as_str().unwrap().contains("admin token"));
    // the static pages hold no data: open
    let page = ureq::get(&proxy.url("/")).call().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .into_string()
        .unwrap()
        .contains("<title>OptiSchema</title>"));

    assert_eq!(websocket_status(&proxy, "/ws", None), 401);
    assert_eq!(
        websocket_status(&proxy, "/ws?token=wrong-token-0123456789", None),
        401
    );
    assert_eq!(
        websocket_status(&proxy, &format!("/ws?token={READ_TOKEN}"), None),
        101
    );
    assert_eq!(websocket_status(&proxy, "/ws", Some(READ_TOKEN)), 101);

    // the same from a file
    let file = cluster.dir.join("read-token");
    std::fs::write(&file, format!("{READ_TOKEN}\n")).unwrap();
    let from_file = Proxy::start(
        &[
            "--dsn",
            &reader_dsn(&cluster),
            "--token-file",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(get_with(&from_file, "/api/databases", None).0, 401);
    assert_eq!(
        get_with(&from_file, "/api/databases", Some(READ_TOKEN)).0,
        200
    );
}

#[test]
fn the_dashboard_page_passes_the_read_token_from_its_address() {
    let (cluster, _c) = cluster_with_reader();
    let proxy = Proxy::start(
        &["--dsn", &reader_dsn(&cluster)],
        &[("OPTISCHEMA_PROXY_TOKEN", READ_TOKEN)],
    );
    let browser = optischema_cluster_tests::browser::Browser::start();
    browser.goto(&proxy.url(&format!("/#token={READ_TOKEN}")));
    browser.wait_for(
        "the live link",
        "return document.getElementById('link').dataset.state === 'live'",
        Duration::from_secs(10),
    );
    browser.wait_for(
        "the worker's status",
        "return document.getElementById('status').textContent.includes('running (pid')",
        Duration::from_secs(10),
    );
    // the token leaves the address bar (and so the history and screenshots)
    assert_eq!(
        browser.eval("return location.hash"),
        "",
        "the token stayed in the address"
    );
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA, a server certificate it signed for `db.optischema.test` only, and a second CA
/// that signed nothing, in `dir`.
fn certificates(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let mut args = vec!["req", "-x509", "-days", "2", "-subj"];
        let subject = format!("/CN=optischema test {ca}");
        args.push(&subject);
        args.extend_from_slice(&ec);
        let (key, crt) = (format!("{ca}.key"), format!("{ca}.crt"));
        args.extend_from_slice(&["-keyout", &key, "-out", &crt]);
        openssl(dir, &args);
    }
    let mut args = vec![
        "req",
        "-subj",
        "/CN=db.optischema.test",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ];
    args.extend_from_slice(&ec);
    openssl(dir, &args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:db.optischema.test\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
    // the server refuses a key others can read; as root, the server runs as postgres
    let mut chown = std::process::Command::new("chown");
    chown.args(["-R", "postgres", dir.to_str().unwrap()]);
    let _ = chown.status();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// How the proxy's connection to its one database went: connected, or why not (the error
/// `/api/databases` shows).
fn connection_outcome(proxy: &Proxy) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = get(proxy, "/api/databases");
        let db = &body["databases"][0];
        if db["connected"] == true {
            return Ok(());
        }
        if let Some(error) = db["error"].as_str() {
            return Err(error.to_string());
        }
        assert!(Instant::now() < deadline, "no connection, no error: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tls_to_postgres_follows_sslmode() {
    let certs = std::path::PathBuf::from(format!("/var/tmp/optischema-tls-{}", std::process::id()));
    certificates(&certs);
    let file = |name: &str| certs.join(name).to_str().unwrap().to_string();
    let cluster = Cluster::start(&[
        "ssl = on",
        &format!("ssl_cert_file = '{}'", file("server.crt")),
        &format!("ssl_key_file = '{}'", file("server.key")),
    ]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute("CREATE ROLE dash LOGIN; GRANT optischema_reader, pg_read_all_stats TO dash")
        .unwrap();
    // dash only over TLS; the others as before
    let hba = cluster.data().join("pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!(
            "hostssl all dash 127.0.0.1/32 trust\nhostnossl all dash 127.0.0.1/32 reject\n{rules}"
        ),
    )
    .unwrap();
    c.query_one("SELECT pg_reload_conf()", &[]).unwrap();
    let dsn = |options: &str| {
        format!(
            "shop=host=127.0.0.1 port={} user=dash dbname=postgres {options}",
            cluster.port
        )
    };
    let start = |dsn: &str| Proxy::start(&["--dsn", dsn], &[]);

    // require: encrypted, whatever the certificate
    let require = start(&dsn("sslmode=require"));
    assert_eq!(connection_outcome(&require), Ok(()));
    let encrypted: bool = c
        .query_one(
            "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
              WHERE a.application_name = 'optischema-proxy'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(encrypted, "the proxy's connection is not encrypted");
    assert_eq!(get(&require, "/api/shop/status").0, 200);
    drop(require);
    // no sslmode is libpq's prefer: TLS, since the server offers it
    assert_eq!(connection_outcome(&start(&dsn(""))), Ok(()));
    // disable: plain, which the server refuses for dash
    let refused = connection_outcome(&start(&dsn("sslmode=disable"))).unwrap_err();
    assert!(refused.contains("no encryption"), "{refused}");

    // verify-full: the root and the name must match
    let full = format!("sslmode=verify-full sslrootcert={}", file("ca.crt"));
    let right_name = dsn(&full).replace(
        "host=127.0.0.1",
        "host=db.optischema.test hostaddr=127.0.0.1",
    );
    assert_eq!(connection_outcome(&start(&right_name)), Ok(()));
    let wrong_name = connection_outcome(&start(&dsn(&full))).unwrap_err();
    assert!(
        wrong_name.contains("certificate not valid for name \"127.0.0.1\""),
        "{wrong_name}"
    );
    // verify-ca checks the chain only; require with a root certificate too, as libpq
    let ca = format!("sslmode=verify-ca sslrootcert={}", file("ca.crt"));
    assert_eq!(connection_outcome(&start(&dsn(&ca))), Ok(()));
    let other_root = format!("sslmode=require sslrootcert={}", file("other-ca.crt"));
    let unknown = connection_outcome(&start(&dsn(&other_root))).unwrap_err();
    assert!(unknown.contains("UnknownIssuer"), "{unknown}");
    let _ = std::fs::remove_dir_all(&certs);
}

#[test]
fn connection_strings_with_passwords_come_from_the_environment_or_a_file() {
    let (cluster, mut c) = cluster_with_reader();
    // dash and dba must give their passwords
    c.batch_execute(
        "SET password_encryption = 'scram-sha-256';
         ALTER ROLE dash PASSWORD 'dash-secret-1'; ALTER ROLE dba PASSWORD 'dba-secret-2'",
    )
    .unwrap();
    let hba = cluster.data().join("pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("host all dash,dba 127.0.0.1/32 scram-sha-256\n{rules}"),
    )
    .unwrap();
    c.query_one("SELECT pg_reload_conf()", &[]).unwrap();
    let dsn = |user: &str, password: &str| {
        format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname=postgres",
            cluster.port
        )
    };
    let admin_file = cluster.dir.join("admin-dsn");
    std::fs::write(&admin_file, dsn("dba", "dba-secret-2")).unwrap();
    let admin_ref = format!("shop=file:{}", admin_file.display());
    let proxy = Proxy::start(
        &["--dsn", "shop=env:SHOP_DSN", "--admin-dsn", &admin_ref],
        &[
            ("SHOP_DSN", &dsn("dash", "dash-secret-1")),
            ("OPTISCHEMA_ADMIN_TOKEN", TOKEN),
        ],
    );
    assert_eq!(connection_outcome(&proxy), Ok(()));
    let (code, _) = get(&proxy, "/api/shop/status");
    assert_eq!(code, 200);
    // the admin connection, from the file, logs in too
    let (code, body) = get_with(&proxy, "/api/shop/actions", Some(TOKEN));
    assert_eq!(code, 200, "{body}");
    // the password did matter
    let wrong = Proxy::start(
        &["--dsn", "shop=env:SHOP_DSN"],
        &[("SHOP_DSN", &dsn("dash", "wrong"))],
    );
    let error = connection_outcome(&wrong).unwrap_err();
    assert!(error.contains("password authentication failed"), "{error}");

    // a variable that is not set stops the proxy at once, naming it
    let binary = std::env::var("OPTISCHEMA_PROXY").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/release/optischema-proxy"
        )
        .to_string()
    });
    let out = std::process::Command::new(binary)
        .args(["--dsn", "shop=env:OPTISCHEMA_TEST_UNSET_DSN"])
        .env_remove("OPTISCHEMA_TEST_UNSET_DSN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("environment variable OPTISCHEMA_TEST_UNSET_DSN"),
        "{stderr}"
    );
}

#[test]
fn the_fleet_view_lists_the_served_databases_of_a_server_from_one_dsn() {
    let (cluster, mut c) = cluster_with_reader();
    for db in ["crm", "plain"] {
        c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    }
    let mut crm = cluster.connect_to("crm");
    crm.batch_execute("CREATE EXTENSION optischema CASCADE")
        .unwrap();
    // a database without the extension, with statements the sampler hands over: not served
    let mut plain = cluster.connect_to("plain");
    plain.batch_execute("SELECT 1").unwrap();
    wait_samples(&mut c, 2);
    // one DSN, the home database's
    let proxy = Proxy::start(&["--dsn", &reader_dsn(&cluster)], &[]);
    wait_connected(&proxy);
    let (status, fleet) = get(&proxy, "/api/fleet");
    assert_eq!(status, 200);
    let entries = fleet["databases"].as_array().unwrap();
    let names: Vec<&str> = entries
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop", "shop/crm"], "{fleet}");
    let crm_entry = &entries[1];
    assert_eq!(crm_entry["database"], "crm");
    assert_eq!(crm_entry["via"], "shop");
    assert_eq!(crm_entry["connected"], true, "{fleet}");
    assert_eq!(
        crm_entry["summary"]["status"]["served"], "served",
        "{fleet}"
    );
    assert_eq!(crm_entry["summary"]["open_recommendations"], 0);
    assert_eq!(entries[0]["summary"]["status"]["served"], "home");
    // crm named explicitly as well: shown once, under its own name
    let crm_dsn = reader_dsn(&cluster)
        .replacen("shop=", "crm=", 1)
        .replace("dbname=postgres", "dbname=crm");
    let both = Proxy::start(&["--dsn", &reader_dsn(&cluster), "--dsn", &crm_dsn], &[]);
    wait_connected(&both);
    let (_, fleet) = get(&both, "/api/fleet");
    let names: Vec<&str> = fleet["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop", "crm"], "{fleet}");
    // a role that may not connect to crm sees why, not the DSN
    c.batch_execute("REVOKE CONNECT ON DATABASE crm FROM PUBLIC")
        .unwrap();
    let (_, fleet) = get(&proxy, "/api/fleet");
    let crm_entry = &fleet["databases"][1];
    assert_eq!(crm_entry["connected"], false, "{fleet}");
    assert!(
        crm_entry["error"]
            .as_str()
            .unwrap()
            .contains("permission denied for database \"crm\""),
        "{fleet}"
    );
    assert!(!fleet.to_string().contains("hunter2"));
}
