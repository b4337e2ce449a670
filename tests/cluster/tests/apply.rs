//! Applying and reverting fixes: indexes built and dropped CONCURRENTLY by the apply worker
//! while writes go on, a failed build cleaned up, the audit trail, and refusals.

use optischema_cluster_tests::*;
use postgres::Client;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A table `wide` of `rows` rows whose index on (k, pad) takes a while to build, and the
/// recommendation of that index.
fn wide_index(c: &mut Client, rows: i64) -> i64 {
    c.batch_execute(&format!(
        "CREATE TABLE wide (id bigint, k int, pad text);
         INSERT INTO wide SELECT g, ((g::bigint * 7919) % 1000003)::int, repeat('p', 80) FROM generate_series(1, {rows}) g;"
    ))
    .unwrap();
    planted(
        c,
        "index",
        "CREATE INDEX CONCURRENTLY ON public.wide (k, pad)",
    )
}

fn index_valid(c: &mut Client, name: &str) -> Option<bool> {
    c.query_one(
        "SELECT (SELECT i.indisvalid FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid WHERE x.relname = $1)",
        &[&name],
    )
    .unwrap()
    .get(0)
}

/// Waits for a minute to begin after a whole minute in which the sampler recorded at least
/// `calls` calls of the statement whose text is LIKE `pattern`: a fix's realized saving compares
/// the whole minutes before and after it, and a minute in which a test's load ran only its first
/// moments (or that no sample fell in) has nothing to compare with.
fn wait_for_a_minute_of(c: &mut Client, pattern: &str, calls: i64) {
    let minute = |c: &mut Client| -> i64 {
        c.query_one(
            "SELECT extract(epoch FROM date_trunc('minute', now()))::int8",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let start = minute(c);
        while minute(c) == start {
            std::thread::sleep(Duration::from_millis(200));
        }
        let recorded: i64 = c
            .query_one(
                "SELECT coalesce(sum(h.calls), 0)::int8
                   FROM optischema.history_all h
                  WHERE h.bucket = date_trunc('minute', now()) - interval '1 minute'
                    AND h.queryid IN (SELECT queryid FROM pg_stat_statements WHERE query LIKE $1)",
                &[&pattern],
            )
            .unwrap()
            .get(0);
        if recorded >= calls {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the sampler never recorded a minute of {pattern}: {recorded} calls"
        );
    }
}

#[test]
fn an_index_is_built_while_writes_go_on_and_revert_drops_it() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    let id = index_recommendation(&mut c);
    let mut listener = cluster.connect();
    listener.batch_execute("LISTEN optischema").unwrap();

    // a writer inserting into the same table all along
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = cluster.connect();
    let flag = stop.clone();
    let writes = std::thread::spawn(move || {
        let insert = writer
            .prepare("INSERT INTO big (k, pad) VALUES ($1, 'w')")
            .unwrap();
        let (mut n, mut slowest) = (0i32, Duration::ZERO);
        while !flag.load(Ordering::Relaxed) {
            let t = Instant::now();
            writer.execute(&insert, &[&(n % 5000)]).unwrap();
            slowest = slowest.max(t.elapsed());
            n += 1;
        }
        (n, slowest)
    });
    std::thread::sleep(Duration::from_millis(300));
    let action: i64 = c
        .query_one("SELECT optischema.apply($1)", &[&id])
        .unwrap()
        .get(0);
    let (outcome, error) = wait_action(&mut c, action);
    stop.store(true, Ordering::Relaxed);
    let (inserted, slowest) = writes.join().unwrap();
    assert_eq!(outcome, "done", "{error:?}");
    assert!(inserted > 100, "{inserted} inserts");
    // no writer waited on the build longer than the worker's lock_timeout
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    let name = format!("optischema_rec_{id}");
    assert_eq!(index_valid(&mut c, &name), Some(true));
    let status: String = c
        .query_one(
            "SELECT status FROM optischema.recommendations WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "applied");
    // announced: started, then done; a build slow enough (a loaded machine) also announces
    // its progress in between (see a_long_build_announces_its_progress)
    let mut phases = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while phases.last().is_none_or(|p| p != "done") && Instant::now() < deadline {
        if let Some(n) = next_notification(&mut listener) {
            let v: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
            if v["type"] == "apply" && v["id"] == id {
                phases.push(v["phase"].as_str().unwrap().to_string());
            }
        }
    }
    let building: Vec<&String> = phases
        .iter()
        .filter(|p| *p != "started" && *p != "done")
        .collect();
    assert_eq!(
        (phases.first(), phases.last()),
        (Some(&"started".to_string()), Some(&"done".to_string())),
        "{phases:?}"
    );
    assert_eq!(phases.len(), building.len() + 2, "{phases:?}");
    assert!(
        building
            .iter()
            .all(|p| p.contains("index") || p.starts_with("waiting")),
        "{phases:?}"
    );

    let undo: i64 = c
        .query_one("SELECT optischema.revert($1)", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(wait_action(&mut c, undo).0, "done");
    assert_eq!(index_valid(&mut c, &name), None);
    let audit: Vec<(String, String, String)> = c
        .query(
            "SELECT mode, outcome, who FROM optischema.actions WHERE recommendation_id = $1 ORDER BY id",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        audit,
        [
            ("apply".into(), "done".into(), "postgres".into()),
            ("revert".into(), "done".into(), "postgres".into())
        ]
    );
    let status: String = c
        .query_one(
            "SELECT status FROM optischema.recommendations WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "reverted");
}

#[test]
fn a_failed_build_leaves_no_invalid_index() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    // the build divides by zero on the rows where k = 5
    let id = planted(
        &mut c,
        "index",
        "CREATE INDEX CONCURRENTLY ON public.big ((1 / (k - 5)))",
    );
    let action: i64 = c
        .query_one("SELECT optischema.apply($1)", &[&id])
        .unwrap()
        .get(0);
    let (outcome, error) = wait_action(&mut c, action);
    assert_eq!(outcome, "failed");
    assert!(error.unwrap().contains("division by zero"));
    assert_eq!(index_valid(&mut c, &format!("optischema_rec_{id}")), None);
    let status: String = c
        .query_one(
            "SELECT status FROM optischema.recommendations WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "open");
}

#[test]
fn a_dropped_index_comes_back_with_the_same_definition() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    c.batch_execute("CREATE INDEX big_pad_partial ON big (pad, k DESC) WHERE k > 10")
        .unwrap();
    let definition = |c: &mut Client| -> Option<String> {
        c.query_one(
            "SELECT (SELECT pg_get_indexdef('big_pad_partial'::regclass))",
            &[],
        )
        .ok()
        .and_then(|r| r.get(0))
    };
    let before = definition(&mut c).unwrap();
    let id = planted(
        &mut c,
        "drop_index",
        "DROP INDEX CONCURRENTLY public.big_pad_partial",
    );
    let action: i64 = c
        .query_one("SELECT optischema.apply($1)", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(wait_action(&mut c, action).0, "done");
    assert_eq!(index_valid(&mut c, "big_pad_partial"), None);
    let undo: i64 = c
        .query_one("SELECT optischema.revert($1)", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(wait_action(&mut c, undo).0, "done");
    assert_eq!(definition(&mut c).as_deref(), Some(before.as_str()));
    assert_eq!(index_valid(&mut c, "big_pad_partial"), Some(true));
}

#[test]
fn applies_that_cannot_be_done_are_refused_clearly() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    let refused = |c: &mut Client, sql: &str| {
        let e = c.query_one(sql, &[]).unwrap_err();
        let db = e.as_db_error().expect("a database error");
        assert_eq!(db.code().code(), "22023", "{sql}: {}", db.message());
        assert!(db.hint().is_some(), "{sql}");
        db.message().to_string()
    };
    refused(&mut c, "SELECT optischema.apply(NULL)");
    refused(&mut c, "SELECT optischema.apply(987654)");
    let id = planted(
        &mut c,
        "index",
        "CREATE INDEX CONCURRENTLY ON public.big (k)",
    );
    // a rewrite changes the application's SQL, not the database; a session setting is the
    // application's to set: neither is something apply() does (0A000, as PostgreSQL says of a
    // feature it does not have)
    let unsupported = |c: &mut Client, sql: &str| {
        let e = c.query_one(sql, &[]).unwrap_err();
        let db = e.as_db_error().expect("a database error");
        assert_eq!(db.code().code(), "0A000", "{sql}: {}", db.message());
        assert!(db.hint().is_some(), "{sql}");
        db.message().to_string()
    };
    let rewrite = planted(&mut c, "rewrite", "SELECT 1");
    assert!(
        unsupported(&mut c, &format!("SELECT optischema.apply({rewrite})"))
            .contains("not supported")
    );
    let session = planted(&mut c, "config", "SET work_mem = '64MB'");
    assert!(
        unsupported(&mut c, &format!("SELECT optischema.apply({session})")).contains("one session")
    );
    assert!(refused(&mut c, &format!("SELECT optischema.revert({id})")).contains("is open"));
    // two applies of one id at once: the second waits for the first's transaction, then fails
    c.batch_execute("BEGIN").unwrap();
    c.query_one("SELECT optischema.apply($1)", &[&id]).unwrap();
    let mut other = cluster.connect();
    let second = std::thread::spawn(move || {
        other
            .query_one("SELECT optischema.apply($1)", &[&id])
            .map(|_| ())
            .map_err(|e| e.as_db_error().map(|d| d.message().to_string()))
    });
    std::thread::sleep(Duration::from_millis(300));
    c.batch_execute("COMMIT").unwrap();
    let err = second.join().unwrap().unwrap_err().unwrap();
    assert!(
        err.contains("already queued or running") || err.contains("only open"),
        "{err}"
    );
    let dismissed = planted(
        &mut c,
        "index",
        "CREATE INDEX CONCURRENTLY ON public.big (pad)",
    );
    c.query_one("SELECT optischema.dismiss($1)", &[&dismissed])
        .unwrap();
    assert!(
        refused(&mut c, &format!("SELECT optischema.apply({dismissed})")).contains("dismissed")
    );
}

#[test]
fn statistics_settings_and_analyze_are_applied_and_undone() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    let run = |c: &mut Client, call: &str, id: i64| -> (String, Option<String>) {
        let action: i64 = c
            .query_one(&format!("SELECT optischema.{call}($1)"), &[&id])
            .unwrap()
            .get(0);
        wait_action(c, action)
    };

    // extended statistics: created, filled by an ANALYZE, dropped on revert
    let stats = planted(
        &mut c,
        "statistics",
        "CREATE STATISTICS public.os_big_k_pad (dependencies, ndistinct, mcv) ON k, pad FROM public.big",
    );
    assert_eq!(run(&mut c, "apply", stats).0, "done");
    let filled: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_statistic_ext e JOIN pg_statistic_ext_data d ON d.stxoid = e.oid
              WHERE e.stxname = 'os_big_k_pad'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(filled, 1);
    assert_eq!(run(&mut c, "revert", stats).0, "done");
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'os_big_k_pad'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);

    // a per-role setting: revert brings back the value the role had
    c.batch_execute("CREATE ROLE app; ALTER ROLE app SET work_mem = '8MB'")
        .unwrap();
    let role_setting = |c: &mut Client| -> Vec<String> {
        c.query_one(
            "SELECT coalesce((SELECT setconfig FROM pg_db_role_setting
                               WHERE setrole = 'app'::regrole AND setdatabase = 0), '{}')",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let config = planted(&mut c, "config", "ALTER ROLE app SET work_mem = '64MB'");
    assert_eq!(run(&mut c, "apply", config).0, "done");
    assert_eq!(role_setting(&mut c), ["work_mem=64MB"]);
    assert_eq!(run(&mut c, "revert", config).0, "done");
    assert_eq!(role_setting(&mut c), ["work_mem=8MB"]);

    // an ANALYZE runs, and has nothing to undo
    let analyze = planted(&mut c, "analyze", "ANALYZE public.big");
    let before: i64 = c
        .query_one(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'big'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(run(&mut c, "apply", analyze).0, "done");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // the statistics collector reports with a short delay
        let after: i64 = c
            .query_one(
                "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'big'",
                &[],
            )
            .unwrap()
            .get(0);
        if after > before {
            break;
        }
        assert!(Instant::now() < deadline, "no ANALYZE counted");
        std::thread::sleep(Duration::from_millis(200));
    }
    let e = c
        .query_one("SELECT optischema.revert($1)", &[&analyze])
        .unwrap_err();
    assert!(e
        .as_db_error()
        .unwrap()
        .message()
        .contains("nothing to undo"));
}

#[test]
fn a_long_build_announces_its_progress() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    let id = wide_index(&mut c, 2_000_000);
    let mut listener = cluster.connect();
    listener.batch_execute("LISTEN optischema").unwrap();
    let action: i64 = c
        .query_one("SELECT optischema.apply($1)", &[&id])
        .unwrap()
        .get(0);
    let mut building = Vec::new();
    let mut done = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done && Instant::now() < deadline {
        if let Some(n) = next_notification(&mut listener) {
            let v: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
            if v["type"] != "apply" || v["action_id"] != action {
                continue;
            }
            match v["phase"].as_str().unwrap() {
                "started" => {}
                "done" => done = true,
                _ => building.push(v),
            }
        }
    }
    assert!(done, "the build never finished");
    assert!(!building.is_empty(), "no progress was announced");
    for v in &building {
        // the phases of pg_stat_progress_create_index: "building index: ...", "index
        // validation: ...", "waiting for ..."
        let phase = v["phase"].as_str().unwrap();
        assert!(
            phase.contains("index") || phase.starts_with("waiting"),
            "{v}"
        );
        if let Some(pct) = v["pct"].as_i64() {
            assert!((0..=100).contains(&pct), "{v}");
        }
    }
}

#[test]
fn the_real_saving_is_measured_after_the_window() {
    let cluster = Cluster::start(&["optischema.realize_window = 1"]);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    let id = index_recommendation(&mut c);
    let mut listener = cluster.connect();
    listener.batch_execute("LISTEN optischema").unwrap();
    // the statement keeps running, before and after the apply
    let stop = Arc::new(AtomicBool::new(false));
    let mut app = cluster.connect();
    let flag = stop.clone();
    let load = std::thread::spawn(move || {
        let lookup = app.prepare("SELECT id FROM big WHERE k = $1").unwrap();
        let mut i = 0;
        while !flag.load(Ordering::Relaxed) {
            app.query(&lookup, &[&(i % 5000)]).unwrap();
            i += 1;
        }
    });
    wait_for_a_minute_of(&mut c, "SELECT id FROM big WHERE k = %", 1);
    let action: i64 = c
        .query_one("SELECT optischema.apply($1)", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(wait_action(&mut c, action).0, "done");
    // measured once the minute after the apply's minute is over
    let deadline = Instant::now() + Duration::from_secs(200);
    let mut realized = None;
    while realized.is_none() && Instant::now() < deadline {
        if let Some(n) = next_notification(&mut listener) {
            let v: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
            if v["type"] == "realized" && v["id"] == id {
                realized = Some(v);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let realized = realized.expect("the saving was measured");
    assert!(realized["calls_before"].as_i64().unwrap() > 0, "{realized}");
    assert!(realized["calls_after"].as_i64().unwrap() > 0, "{realized}");
    let pct = realized["realized_improvement_pct"].as_f64().unwrap();
    assert!(pct > 50.0, "{realized}");
    let (stored_pct, saved): (f64, f64) = {
        let r = c
            .query_one(
                "SELECT realized_improvement_pct, realized_ms_saved_per_hour FROM optischema.recommendations WHERE id = $1",
                &[&id],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    // the payload's JSON number and the stored float8 may differ in the last digit
    assert!(
        (stored_pct - pct).abs() < 1e-9,
        "{stored_pct} against {pct}"
    );
    assert!(saved > 0.0);
}

#[test]
fn auto_revert_undoes_an_index_that_slows_the_writes() {
    // the limit is low: CPU contention from other work on the machine stretches every call
    // alike, which shrinks the measured ratio of a slowdown, not its sign
    let cluster = Cluster::start(&[
        "optischema.realize_window = 1",
        "optischema.auto_revert = on",
        "optischema.auto_revert_write_slowdown_pct = 5",
    ]);
    let mut c = cluster.connect_with_extension();
    // updates of counter are HOT while no index uses it; four other indexes to maintain
    c.batch_execute(
        "CREATE TABLE hot (id int PRIMARY KEY, a int, b int, c int, d int, counter int NOT NULL DEFAULT 0)
           WITH (fillfactor = 50);
         INSERT INTO hot SELECT g, g, g, g, g FROM generate_series(1, 20000) g;
         CREATE INDEX ON hot (a); CREATE INDEX ON hot (b); CREATE INDEX ON hot (c); CREATE INDEX ON hot (d);",
    )
    .unwrap();
    c.batch_execute("VACUUM ANALYZE hot").unwrap();
    let id = planted(
        &mut c,
        "index",
        "CREATE INDEX CONCURRENTLY ON public.hot (counter)",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut app = cluster.connect();
    let flag = stop.clone();
    let load = std::thread::spawn(move || {
        let bump = app
            .prepare("UPDATE hot SET counter = counter + 1 WHERE id = $1")
            .unwrap();
        let mut i: i32 = 0;
        while !flag.load(Ordering::Relaxed) {
            app.execute(&bump, &[&((1 + (i as i64 * 7919) % 20000) as i32)])
                .unwrap();
            i = i.wrapping_add(1);
        }
    });
    // enough calls that the first ones (caches still cold) do not weigh on the mean
    wait_for_a_minute_of(&mut c, "UPDATE hot SET counter = %", 1000);
    let action: i64 = c
        .query_one("SELECT optischema.apply($1)", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(wait_action(&mut c, action).0, "done");
    // after the window, the slowdown is measured and the index reverted on its own
    let deadline = Instant::now() + Duration::from_secs(240);
    let revert = loop {
        let row = c
            .query_opt(
                "SELECT id, who, reason FROM optischema.actions WHERE recommendation_id = $1 AND mode = 'revert'",
                &[&id],
            )
            .unwrap();
        if let Some(row) = row {
            break row;
        }
        if Instant::now() > deadline {
            let measured: String = c
                .query_one(
                    "SELECT format('realized: %s%% at %s; the writes by minute: %s',
                                   realized_improvement_pct, realized_at,
                                   (SELECT string_agg(format('%s %s calls %s ms', h.bucket, h.calls, round(h.total_ms::numeric)), ', ' ORDER BY h.bucket)
                                      FROM optischema.history_all h
                                     WHERE h.queryid IN (SELECT queryid FROM pg_stat_statements
                                                          WHERE query LIKE 'UPDATE hot SET counter = %')))
                       FROM optischema.recommendation_store WHERE id = $1",
                    &[&id],
                )
                .unwrap()
                .get(0);
            panic!("no automatic revert; {measured}");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let (revert_id, who, reason): (i64, String, String) =
        (revert.get(0), revert.get(1), revert.get(2));
    assert_eq!(who, "optischema auto_revert");
    assert!(reason.contains("writes on its table got"), "{reason}");
    assert_eq!(wait_action(&mut c, revert_id).0, "done");
    assert_eq!(index_valid(&mut c, &format!("optischema_rec_{id}")), None);
    let status: String = c
        .query_one(
            "SELECT status FROM optischema.recommendations WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "reverted");
}

#[test]
fn a_fast_shutdown_cuts_a_build_short_and_the_next_start_cleans_up() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    let id = wide_index(&mut c, 3_000_000);
    let action: i64 = c
        .query_one("SELECT optischema.apply($1)", &[&id])
        .unwrap()
        .get(0);
    let name = format!("optischema_rec_{id}");
    // the build has begun once its (still invalid) index is in the catalog
    let deadline = Instant::now() + Duration::from_secs(30);
    while index_valid(&mut c, &name).is_none() {
        assert!(Instant::now() < deadline, "the build never began");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(index_valid(&mut c, &name), Some(false));
    drop(c);

    let stopping = Instant::now();
    cluster.pg_ctl(&["-m", "fast", "-w", "-t", "30", "stop"]);
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "fast shutdown took {took:?}"
    );

    cluster.pg_ctl_start();
    let mut c = cluster.connect();
    let (outcome, error) = wait_action(&mut c, action);
    assert_eq!(outcome, "failed");
    assert!(error.unwrap().starts_with("interrupted"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while index_valid(&mut c, &name).is_some() {
        assert!(
            Instant::now() < deadline,
            "the invalid index was left behind"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status: String = c
        .query_one(
            "SELECT status FROM optischema.recommendations WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "open");
}

#[test]
fn a_server_setting_is_applied_with_alter_system_and_reverted() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    // a new session sees the configuration once the postmaster has reloaded it
    let shown = |cluster: &Cluster, expected: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now: String = cluster
                .connect()
                .query_one("SHOW random_page_cost", &[])
                .unwrap()
                .get(0);
            if now == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "random_page_cost is {now}, not {expected}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    shown(&cluster, "4");
    let id = planted(
        &mut c,
        "config",
        "ALTER SYSTEM SET random_page_cost = '1.1'",
    );
    let action: i64 = c
        .query_one("SELECT optischema.apply($1)", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(wait_action(&mut c, action), ("done".to_string(), None));
    shown(&cluster, "1.1");
    let undo: String = c
        .query_one(
            "SELECT undo_sql FROM optischema.action_log WHERE id = $1",
            &[&action],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        undo,
        "ALTER SYSTEM RESET random_page_cost; SELECT pg_catalog.pg_reload_conf()"
    );
    let revert: i64 = c
        .query_one("SELECT optischema.revert($1)", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(wait_action(&mut c, revert), ("done".to_string(), None));
    shown(&cluster, "4");
    let what: String = c
        .query_one(
            "SELECT what FROM optischema.actions WHERE id = $1",
            &[&revert],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        what,
        "ALTER SYSTEM RESET random_page_cost; SELECT pg_catalog.pg_reload_conf()"
    );
}
