//! The sampling worker against real preloaded clusters: exact counts, resets, crashes,
//! restarts, reloads, errors and a missing pg_stat_statements.

use optischema_cluster_tests::*;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

const LOOKUP: &str = "SELECT v FROM t WHERE id = $1";

fn with_table(c: &mut postgres::Client) {
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;",
    )
    .unwrap();
}

#[test]
fn counts_exactly_the_calls_made_between_two_samples() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    with_table(&mut c);
    wait_samples(&mut c, 2);
    run_times(&mut c, LOOKUP, 137);
    wait_samples(&mut c, 2);
    assert_eq!(recorded_calls(&mut c, LOOKUP), 137);
    let row = c
        .query_one(
            "SELECT calls, rows FROM optischema.hot_queries() WHERE query = $1",
            &[&LOOKUP],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 137);
    // ids 0..=136 were asked for, and there is no row with id 0
    assert_eq!(row.get::<_, i64>(1), 136);
    // the worker's own statements never show up
    let own: i64 = c
        .query_one(
            "SELECT count(*) FROM optischema.statements
              WHERE query ILIKE '%optischema.history%' OR query ILIKE 'SET %'
                 OR query ILIKE '%pg_stat_statements(%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(own, 0);
}

#[test]
fn pg_stat_statements_reset_between_samples_starts_a_new_baseline() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    with_table(&mut c);
    wait_samples(&mut c, 2);
    run_times(&mut c, LOOKUP, 50);
    wait_samples(&mut c, 2);
    assert_eq!(recorded_calls(&mut c, LOOKUP), 50);
    // 80 calls after a reset: more than the 50 the snapshot holds, and all of them new work
    c.batch_execute("SELECT pg_stat_statements_reset()")
        .unwrap();
    run_times(&mut c, LOOKUP, 80);
    wait_samples(&mut c, 2);
    assert_eq!(recorded_calls(&mut c, LOOKUP), 130);
    // and fewer calls than before after a second reset: never a negative figure
    c.batch_execute("SELECT pg_stat_statements_reset()")
        .unwrap();
    run_times(&mut c, LOOKUP, 7);
    wait_samples(&mut c, 2);
    assert_eq!(recorded_calls(&mut c, LOOKUP), 137);
    let negatives: i64 = c
        .query_one(
            "SELECT count(*) FROM optischema.history_all WHERE calls < 0 OR total_ms < 0 OR rows < 0
                OR shared_blks_hit < 0 OR shared_blks_read < 0 OR temp_blks_written < 0",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(negatives, 0);
}

#[test]
fn killed_worker_is_back_within_10_s_and_counts_each_call_once() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    with_table(&mut c);
    wait_samples(&mut c, 2);
    run_times(&mut c, LOOKUP, 40);
    wait_samples(&mut c, 2);
    let old_pid = worker_pid(&mut c).expect("worker runs");
    drop(c);
    let killed_at = Instant::now();
    assert!(Command::new("kill")
        .args(["-9", &old_pid.to_string()])
        .status()
        .unwrap()
        .success());
    // the postmaster restarts every backend after a crash: reconnect until a new worker shows
    let new_pid = loop {
        assert!(
            killed_at.elapsed() < Duration::from_secs(10),
            "worker not back within 10 s"
        );
        if let Ok(mut c) = postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres",
                cluster.port
            ),
            postgres::NoTls,
        ) {
            if let Ok(row) = c.query_one("SELECT worker_pid FROM optischema.status()", &[]) {
                if let Some(pid) = row.get::<_, Option<i32>>(0) {
                    if pid != old_pid {
                        break pid;
                    }
                }
            }
        }
        sleep(Duration::from_millis(100));
    };
    assert_ne!(new_pid, old_pid);
    let mut c = cluster.connect();
    run_times(&mut c, LOOKUP, 25);
    wait_samples(&mut c, 2);
    assert_eq!(recorded_calls(&mut c, LOOKUP), 40 + 25);
}

#[test]
fn killed_server_carries_on_from_its_stored_snapshot() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    with_table(&mut c);
    wait_samples(&mut c, 2);
    run_times(&mut c, LOOKUP, 30);
    wait_samples(&mut c, 2);
    drop(c);
    let postmaster = cluster.postmaster_pid();
    assert!(Command::new("kill")
        .args(["-9", &postmaster.to_string()])
        .status()
        .unwrap()
        .success());
    sleep(Duration::from_millis(500));
    cluster.pg_ctl_start();
    let mut c = cluster.connect();
    run_times(&mut c, LOOKUP, 12);
    wait_samples(&mut c, 2);
    assert_eq!(recorded_calls(&mut c, LOOKUP), 30 + 12);

    // a clean restart keeps pg_stat_statements: the snapshot is still its baseline
    drop(c);
    cluster.pg_ctl(&[
        "-m",
        "fast",
        "-w",
        "restart",
        "-l",
        cluster.log_path().to_str().unwrap(),
    ]);
    let mut c = cluster.connect();
    run_times(&mut c, LOOKUP, 9);
    wait_samples(&mut c, 2);
    assert_eq!(recorded_calls(&mut c, LOOKUP), 30 + 12 + 9);
}

#[test]
fn reloaded_sample_interval_changes_the_sampling_rate() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    wait_samples(&mut c, 1);
    let count_over = |c: &mut postgres::Client, secs: u64| {
        let before = samples_taken(c);
        sleep(Duration::from_secs(secs));
        samples_taken(c) - before
    };
    let fast = count_over(&mut c, 6);
    assert!((5..=7).contains(&fast), "{fast} samples in 6 s at 1 s");
    c.batch_execute("ALTER SYSTEM SET optischema.sample_interval = '3s'")
        .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    sleep(Duration::from_millis(3500));
    let slow = count_over(&mut c, 12);
    assert!((3..=5).contains(&slow), "{slow} samples in 12 s at 3 s");
    let shown: String = c
        .query_one("SELECT sample_interval::text FROM optischema.status()", &[])
        .unwrap()
        .get(0);
    assert_eq!(shown, "00:00:03");
}

#[test]
fn failed_samples_are_recorded_logged_once_and_sampling_resumes() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    wait_samples(&mut c, 1);
    // hold the worker's state row hostage for 4 s: its lock_timeout (1 s) fires at each sample
    let mut holder = cluster.connect();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("LOCK TABLE optischema.sampler_state IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    sleep(Duration::from_secs(4));
    tx.rollback().unwrap();
    // the failure is on record right after the first sample once the lock is gone, at the
    // latest: two more samples and it is there
    wait_samples(&mut c, 2);
    let (error, at): (Option<String>, Option<std::time::SystemTime>) = {
        let row = c
            .query_one(
                "SELECT last_error, last_error_at FROM optischema.status()",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(
        error
            .as_deref()
            .unwrap_or_default()
            .contains("lock timeout"),
        "{error:?}"
    );
    assert!(at.is_some());
    wait_samples(&mut c, 2);
    let log = cluster.log();
    assert_eq!(log.matches("optischema: sample failed").count(), 1, "{log}");
    assert_eq!(
        log.matches("optischema: sampling works again").count(),
        1,
        "{log}"
    );
}

#[test]
fn without_pg_stat_statements_preloaded_the_worker_warns_once_and_waits() {
    let cluster = Cluster::start(&["shared_preload_libraries = 'optischema'"]);
    let mut c = cluster.connect_with_extension();
    let pid = worker_pid(&mut c).expect("worker runs");
    sleep(Duration::from_secs(4));
    assert_eq!(worker_pid(&mut c), Some(pid), "the worker must not restart");
    assert_eq!(samples_taken(&mut c), 0);
    let log = cluster.log();
    assert_eq!(
        log.matches("pg_stat_statements is not loaded").count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("HINT:  Add pg_stat_statements to shared_preload_libraries"),
        "{log}"
    );
}

#[test]
fn enabled_off_pauses_sampling_and_on_resumes_it() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    wait_samples(&mut c, 1);
    c.batch_execute("ALTER SYSTEM SET optischema.enabled = off")
        .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    sleep(Duration::from_millis(1500));
    let paused_at = samples_taken(&mut c);
    sleep(Duration::from_secs(3));
    assert_eq!(samples_taken(&mut c), paused_at);
    let enabled: bool = c
        .query_one("SELECT enabled FROM optischema.status()", &[])
        .unwrap()
        .get(0);
    assert!(!enabled);
    c.batch_execute("ALTER SYSTEM SET optischema.enabled = on")
        .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    wait_samples(&mut c, 2);
}

#[test]
fn history_past_the_retention_is_pruned_by_the_worker() {
    let cluster = Cluster::start(&["optischema.retention = '1h'"]);
    let mut c = cluster.connect_with_extension();
    wait_samples(&mut c, 1);
    c.batch_execute(
        "INSERT INTO optischema.statements VALUES
            (1, 'old', now() - interval '3 hours', now() - interval '2 hours'),
            (2, 'recent', now() - interval '3 hours', now() - interval '2 hours');
         INSERT INTO optischema.history
         SELECT date_trunc('minute', now()) - g * interval '1 minute', 1, 10, 1, true, 1, 1, 1, 0, 0, 0
           FROM generate_series(61, 180) g;
         INSERT INTO optischema.history VALUES
            (date_trunc('minute', now()) - interval '30 minutes', 2, 10, 1, true, 1, 1, 1, 0, 0, 0);",
    )
    .unwrap();
    wait_samples(&mut c, 2);
    let rows: Vec<(i64, i64)> = c
        .query("SELECT queryid, count(*) FROM optischema.history_all WHERE queryid IN (1, 2) GROUP BY 1 ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, vec![(2, 1)]);
    // the text of a statement with no history left goes too; one with history stays
    let texts: Vec<String> = c
        .query(
            "SELECT query FROM optischema.statements WHERE queryid IN (1, 2)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(texts, vec!["recent".to_string()]);
}

#[test]
fn dropped_and_recreated_extension_starts_from_a_new_baseline() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    with_table(&mut c);
    wait_samples(&mut c, 2);
    run_times(&mut c, LOOKUP, 20);
    wait_samples(&mut c, 2);
    c.batch_execute("DROP EXTENSION optischema").unwrap();
    run_times(&mut c, LOOKUP, 5);
    sleep(Duration::from_secs(2));
    c.batch_execute("CREATE EXTENSION optischema").unwrap();
    wait_samples(&mut c, 2);
    run_times(&mut c, LOOKUP, 3);
    wait_samples(&mut c, 2);
    // only the calls after the new baseline count
    assert_eq!(recorded_calls(&mut c, LOOKUP), 3);
    assert!(cluster
        .log()
        .contains("the extension is not created in database \"postgres\""));
}

#[test]
fn closed_minutes_move_from_the_open_table_into_history() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    wait_samples(&mut c, 1);
    c.batch_execute(
        "INSERT INTO optischema.history VALUES
            (date_trunc('minute', now()) - interval '2 minutes', 77, 10, 1, true, 5, 5.0, 5, 0, 0, 0);
         INSERT INTO optischema.history_open VALUES
            (date_trunc('minute', now()) - interval '2 minutes', 77, 10, 1, true, 3, 1.5, 3, 0, 0, 0),
            (date_trunc('minute', now()) - interval '3 minutes', 77, 10, 1, true, 2, 1.0, 2, 0, 0, 0);",
    )
    .unwrap();
    wait_samples(&mut c, 2);
    let left_open: i64 = c
        .query_one(
            "SELECT count(*) FROM optischema.history_open WHERE queryid = 77",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left_open, 0);
    let rows: Vec<(i64, f64)> = c
        .query(
            "SELECT calls, total_ms FROM optischema.history WHERE queryid = 77 ORDER BY bucket",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // the minute already in history is added to, never duplicated
    assert_eq!(rows, vec![(2, 1.0), (8, 6.5)]);
}

/// SIGTERM (a fast shutdown sends it) ends the worker in the middle of an analysis, as it ends
/// any backend; and an analysis stays within the worker's 10 s bound: a timeout while a
/// statement is planned ends it, and is logged, instead of passing for a statement that cannot
/// be planned while the rest of the analysis runs unbounded.
#[test]
fn sigterm_ends_the_worker_within_an_analysis_and_an_analysis_keeps_its_bound() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    // the planner folds the immutable call: planning the statement in the sampler takes a minute
    c.batch_execute(
        "CREATE TABLE slow (a int);
         CREATE FUNCTION slow_to_plan() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
         BEGIN
             IF (SELECT backend_type FROM pg_stat_activity WHERE pid = pg_backend_pid())
                = 'optischema sampler' THEN
                 PERFORM pg_sleep(60);
             END IF;
             RETURN 1;
         END $$;",
    )
    .unwrap();
    wait_samples(&mut c, 2);
    run_times(
        &mut c,
        "SELECT * FROM slow WHERE a = $1 + slow_to_plan()",
        20,
    );
    let sleeping = |c: &mut postgres::Client| -> Option<i32> {
        c.query_opt(
            "SELECT pid FROM pg_stat_activity
              WHERE backend_type = 'optischema sampler' AND wait_event = 'PgSleep'",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0))
    };
    let mut planning: Option<i32> = None;
    cluster.wait_until(
        Duration::from_secs(60),
        "the sampler never planned the statement",
        || {
            planning = sleeping(&mut c);
            planning.is_some()
        },
    );
    let pid = planning.unwrap();
    let asked = Instant::now();
    c.execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    cluster.wait_until(
        Duration::from_secs(60),
        "the sampler outlived SIGTERM",
        || {
            c.query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .unwrap()
            .get::<_, i64>(0)
                == 0
        },
    );
    // until the bound fired (10 s into the analysis), a worker that only noted the signal slept on
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the sampler took {took:?} to stop"
    );
    assert!(cluster.log().contains(
        "terminating background worker \"optischema sampler\" due to administrator command"
    ));

    // restarted within 5 s, the worker plans the statement again, until the bound ends that
    let timed_out = "optischema: analysis failed: canceling statement due to statement timeout";
    cluster.wait_until(
        Duration::from_secs(90),
        "the analysis was not ended by its bound",
        || cluster.log().contains(timed_out),
    );
    // an analysis that ran into its bound would again: it waits as a finished one does, while
    // sampling goes on
    let mut c = cluster.connect();
    let target = samples_taken(&mut c) + 3;
    let deadline = Instant::now() + Duration::from_secs(60);
    while samples_taken(&mut c) < target {
        assert_eq!(
            sleeping(&mut c),
            None,
            "the analysis was tried again at once"
        );
        assert!(Instant::now() < deadline, "sampling stopped");
        sleep(Duration::from_millis(50));
    }
}
