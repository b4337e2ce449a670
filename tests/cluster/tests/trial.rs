//! Trials: a recommendation tried here (rolled back, with the what-if projection) and in a
//! sandbox (a second cluster getting copies of the tables), before and after timings, and the
//! refusals.

use optischema_cluster_tests::*;
use postgres::Client;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Every execution's parameter values captured: trials run statements with them.
const SETTINGS: &[&str] = &["optischema.param_sample_rate = 1"];

/// The message of a failed statement.
fn refused(result: Result<postgres::Row, postgres::Error>) -> String {
    let err = result.expect_err("refused");
    err.as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| err.to_string())
}

/// Tries recommendation `id` and waits for the trial; its outcome, error and result.
fn tried(c: &mut Client, id: i64) -> (String, Option<String>, Value) {
    let action: i64 = c
        .query_one("SELECT optischema.apply($1, 'trial')", &[&id])
        .unwrap()
        .get(0);
    let (outcome, error) = wait_action(c, action);
    let result: Option<Value> = c
        .query_one(
            "SELECT result FROM optischema.actions WHERE id = $1",
            &[&action],
        )
        .unwrap()
        .get(0);
    (outcome, error, result.unwrap_or(Value::Null))
}

fn sandbox_conninfo(sandbox: &Cluster) -> String {
    format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres",
        sandbox.port
    )
}

fn set_sandbox(c: &mut Client, conninfo: &str) {
    c.execute(
        &format!(
            "ALTER SYSTEM SET optischema.sandbox_conninfo = '{}'",
            conninfo.replace('\'', "''")
        ),
        &[],
    )
    .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    // the apply worker reads it at its next wake-up
    std::thread::sleep(Duration::from_millis(1500));
}

fn indexes_named_like_ours(c: &mut Client) -> i64 {
    c.query_one(
        "SELECT count(*) FROM pg_class WHERE relkind = 'i' AND relname LIKE 'optischema_rec_%'",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn a_trial_here_runs_the_reads_and_projects_the_index() {
    let cluster = Cluster::start(SETTINGS);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    let id = index_recommendation(&mut c);
    let mut listener = cluster.connect();
    listener.batch_execute("LISTEN optischema").unwrap();

    let (outcome, error, result) = tried(&mut c, id);
    assert_eq!((outcome.as_str(), error), ("done", None), "{result}");
    assert_eq!(result["ran_in"], "here");
    let s = &result["statements"][0];
    let before = &s["before"];
    assert!(before["ms"].as_f64().unwrap() > 0.0, "{result}");
    assert!(
        before["plan"].as_str().unwrap().contains("Seq Scan on big"),
        "{result}"
    );
    // an index is not built here: the planner's projection stands in for the run after
    assert!(s["after"].is_null(), "{result}");
    let (pb, pa) = (
        s["projected_cost_before"].as_f64().unwrap(),
        s["projected_cost_after"].as_f64().unwrap(),
    );
    assert!(pa < pb / 10.0, "projection {pb} -> {pa}");
    assert_eq!(indexes_named_like_ours(&mut c), 0);

    // the recommendation is still open, with the trial in its evidence
    let row = c
        .query_one(
            "SELECT status, evidence -> 'trial' FROM optischema.recommendations WHERE id = $1",
            &[&id],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "open");
    let evidence: Value = row.get(1);
    assert_eq!(evidence, result);

    let deadline = Instant::now() + Duration::from_secs(10);
    let payload = loop {
        assert!(Instant::now() < deadline, "no trial payload");
        if let Some(n) = next_notification(&mut listener) {
            let v: Value = serde_json::from_str(n.payload()).unwrap();
            if v["type"] == "trial" {
                break v;
            }
        }
    };
    assert_eq!(payload["id"], id);
    assert_eq!(payload["ran_in"], "here");
    assert_eq!(payload["errors"], 0);
}

#[test]
fn a_setting_is_tried_here_and_rolled_back() {
    let cluster = Cluster::start(SETTINGS);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    index_recommendation(&mut c);
    let queryid: i64 = c
        .query_one(
            "SELECT queryid FROM optischema.statements WHERE query = 'SELECT id FROM big WHERE k = $1'",
            &[],
        )
        .unwrap()
        .get(0);
    let id = planted_for(
        &mut c,
        Some(queryid),
        "config",
        "ALTER ROLE postgres SET parallel_setup_cost = 0",
    );
    let (outcome, error, result) = tried(&mut c, id);
    assert_eq!((outcome.as_str(), error), ("done", None), "{result}");
    let s = &result["statements"][0];
    assert!(
        s["before"]["plan"]
            .as_str()
            .unwrap()
            .contains("Seq Scan on big"),
        "{result}"
    );
    // with workers free to start, the planner shares the scan among them
    let after = s["after"]["plan"].as_str().unwrap();
    assert!(after.starts_with("Gather > Seq Scan on big"), "{result}");
    assert_eq!(s["plan_changed"], true);
    assert_eq!(result["plan_changed"], true);
    // nothing outlives the trial
    let config: Option<Vec<String>> = c
        .query_one(
            "SELECT rolconfig FROM pg_roles WHERE rolname = 'postgres'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(config, None);
}

#[test]
fn a_sandbox_trial_copies_the_tables_and_times_the_statements_before_and_after() {
    let cluster = Cluster::start(SETTINGS);
    let sandbox = Cluster::start(SETTINGS);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    let id = index_recommendation(&mut c);
    set_sandbox(&mut c, &sandbox_conninfo(&sandbox));

    let (outcome, error, result) = tried(&mut c, id);
    assert_eq!((outcome.as_str(), error), ("done", None), "{result}");
    assert_eq!(result["ran_in"], "sandbox");
    assert_eq!(
        result["copied"],
        serde_json::json!([{"table": "public.big", "rows": 200000, "sampled": false}])
    );
    let s = &result["statements"][0];
    assert!(
        s["before"]["plan"]
            .as_str()
            .unwrap()
            .contains("Seq Scan on big"),
        "{result}"
    );
    let after = s["after"]["plan"].as_str().unwrap();
    assert!(after.contains(&format!("optischema_rec_{id}")), "{result}");
    assert_eq!(s["plan_changed"], true);
    let (before_ms, after_ms) = (
        result["before_ms"].as_f64().unwrap(),
        result["after_ms"].as_f64().unwrap(),
    );
    assert!(
        after_ms < before_ms / 5.0,
        "{before_ms} ms -> {after_ms} ms"
    );
    assert!(
        result["improvement_pct"].as_f64().unwrap() > 80.0,
        "{result}"
    );
    assert_eq!(result["errors"], 0);

    // nothing changed here, nothing is left there
    assert_eq!(indexes_named_like_ours(&mut c), 0);
    let mut s = sandbox.connect();
    let left: i64 = s
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'optischema_trial_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);

    // above the size limit, a sample of the table's blocks is copied
    c.batch_execute("ALTER SYSTEM SET optischema.sandbox_copy_limit = '2MB'")
        .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (outcome, error, result) = tried(&mut c, id);
    assert_eq!((outcome.as_str(), error), ("done", None), "{result}");
    let copied = &result["copied"][0];
    assert_eq!(copied["sampled"], true);
    let rows = copied["rows"].as_i64().unwrap();
    assert!(rows > 5_000 && rows < 100_000, "{rows} rows copied");
}

#[test]
fn trials_that_cannot_run_fail_clearly() {
    let cluster = Cluster::start(SETTINGS);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    let id = index_recommendation(&mut c);

    let err = refused(c.query_one("SELECT optischema.apply($1, 'bogus')", &[&id]));
    assert!(
        err.contains("mode must be 'apply' or 'trial', not 'bogus'"),
        "{err}"
    );
    let err = refused(c.query_one("SELECT optischema.apply($1, NULL)", &[&id]));
    assert!(err.contains("not NULL"), "{err}");

    // a sandbox must be another server
    let own = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres",
        cluster.port
    );
    set_sandbox(&mut c, &own);
    let (outcome, error, _) = tried(&mut c, id);
    assert_eq!(outcome, "failed");
    assert!(error.unwrap().contains("leads to this very server"));

    // an unreachable sandbox
    set_sandbox(
        &mut c,
        "host=127.0.0.1 port=1 user=postgres connect_timeout=2",
    );
    let (outcome, error, _) = tried(&mut c, id);
    assert_eq!(outcome, "failed");
    assert!(error.unwrap().contains("cannot connect to the sandbox"));

    // only superusers see where the sandbox is (its conninfo may hold a password)
    c.batch_execute("CREATE ROLE watcher LOGIN; GRANT optischema_admin TO watcher")
        .unwrap();
    let mut w = cluster.connect_as("watcher");
    let err = refused(w.query_one("SHOW optischema.sandbox_conninfo", &[]));
    assert!(err.contains("superuser"), "{err}");

    // a dismissed recommendation is not tried
    c.execute(
        "UPDATE optischema.recommendation_store SET status = 'dismissed' WHERE id = $1",
        &[&id],
    )
    .unwrap();
    let err = refused(c.query_one("SELECT optischema.apply($1, 'trial')", &[&id]));
    assert!(
        err.contains("only open recommendations can be tried"),
        "{err}"
    );
}

#[test]
fn statements_with_typed_literals_of_parameters_are_run_with_their_values() {
    let cluster = Cluster::start(SETTINGS);
    let mut c = cluster.connect_with_extension();
    load_big(&mut c);
    wait_samples(&mut c, 1);
    // pg_stat_statements keeps this as `interval $2`, which does not parse as it stands
    for k in 0..20 {
        c.batch_execute(&format!(
            "SELECT id FROM big WHERE k = {k} AND now() - interval '1 day' < now()"
        ))
        .unwrap();
    }
    wait_samples(&mut c, 2);
    let queryid: i64 = c
        .query_one(
            "SELECT queryid FROM optischema.statements WHERE query LIKE '%interval $2%'",
            &[],
        )
        .unwrap()
        .get(0);
    let id = planted_for(
        &mut c,
        Some(queryid),
        "index",
        "CREATE INDEX CONCURRENTLY ON public.big (k)",
    );
    let (outcome, error, result) = tried(&mut c, id);
    assert_eq!((outcome.as_str(), error), ("done", None), "{result}");
    assert_eq!(result["errors"], 0, "{result}");
    let s = &result["statements"][0];
    assert_eq!(s["value_set"], 1, "{result}");
    assert!(
        s["before"]["plan"]
            .as_str()
            .unwrap()
            .contains("Seq Scan on big"),
        "{result}"
    );
}
