//! Attacks on OptiSchema from roles with logins: each test tries what SECURITY.md says cannot
//! be done, and checks that it is not.

use optischema_cluster_tests::mock_llm::{MockLlm, Reply};
use optischema_cluster_tests::*;
use postgres::Client;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A role with no grant, a schema of its own and a table in it, and an IMMUTABLE function
/// that, when called, says in the server log as whom it runs, tries to become the session's
/// user again, and writes a file only the server's OS user (or a superuser) could write. Run by
/// the role itself, every attempt fails quietly and the function returns 1.
fn attacker(cluster: &Cluster, c: &mut Client) -> PathBuf {
    let target = cluster.dir.join("pwned");
    c.batch_execute(
        "CREATE ROLE mallory LOGIN;
         CREATE SCHEMA AUTHORIZATION mallory;",
    )
    .unwrap();
    let mut m = cluster.connect_as("mallory");
    m.batch_execute(&format!(
        "CREATE TABLE mallory.t (a int, pad text);
         INSERT INTO mallory.t SELECT g % 1000, repeat('x', 40) FROM generate_series(1, 100000) g;
         CREATE FUNCTION mallory.evil() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $f$
         BEGIN
             RAISE LOG 'evil ran as %', current_user;
             BEGIN
                 PERFORM set_config('role', 'none', true);
             EXCEPTION WHEN others THEN
                 RAISE LOG 'evil could not reset its role: %', SQLERRM;
             END;
             BEGIN
                 EXECUTE 'SET ROLE postgres';
             EXCEPTION WHEN others THEN
                 RAISE LOG 'evil could not set its role: %', SQLERRM;
             END;
             RAISE LOG 'evil now runs as %', current_user;
             BEGIN
                 COPY (SELECT 'pwned') TO '{}';
             EXCEPTION WHEN others THEN
                 RAISE LOG 'evil could not write: %', SQLERRM;
             END;
             RETURN 1;
         END $f$;",
        target.display()
    ))
    .unwrap();
    m.batch_execute("VACUUM (ANALYZE) mallory.t").unwrap();
    target
}

/// Runs `text` (one text parameter) `n` times as `role`, waits until the samples have seen it,
/// and returns its queryid.
fn run_as(cluster: &Cluster, c: &mut Client, role: &str, text: &str, n: usize) -> i64 {
    let mut r = cluster.connect_as(role);
    let stmt = r.prepare(text).unwrap();
    for _ in 0..n {
        r.query(&stmt, &[&"y"]).unwrap();
    }
    wait_samples(c, 2);
    queryid_of(c, text)
}

/// mallory's hot statement: the function runs when it is planned.
const EVIL_TEXT: &str = "SELECT count(*) FROM mallory.t WHERE a = mallory.evil() AND pad <> $1";

/// Waits until the server log holds `needle`.
fn wait_log(cluster: &Cluster, needle: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cluster.log().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Nothing ran as a superuser and no file was written.
fn assert_contained(cluster: &Cluster, target: &PathBuf) {
    let log = cluster.log();
    assert!(
        !log.contains("evil ran as postgres") && !log.contains("evil now runs as postgres"),
        "user code ran as the superuser:\n{log}"
    );
    assert!(!target.exists(), "user code wrote {}", target.display());
}

#[test]
fn user_code_in_a_hot_statement_or_a_trial_runs_as_its_role_and_cannot_change_it() {
    let cluster = Cluster::start(&["optischema.param_sample_rate = 1"]);
    let mut c = cluster.connect_with_extension();
    let target = attacker(&cluster, &mut c);
    wait_samples(&mut c, 2);
    let queryid = run_as(&cluster, &mut c, "mallory", EVIL_TEXT, 30);
    // the worker plans it after a sample; analyze_now() plans it as the superuser calling it
    c.query_one("SELECT optischema.analyze_now()", &[]).unwrap();
    assert!(
        wait_log(
            &cluster,
            "evil could not reset its role",
            Duration::from_secs(10)
        ),
        "{}",
        cluster.log()
    );
    assert!(cluster.log().contains("evil now runs as mallory"));
    assert_contained(&cluster, &target);

    // a trial runs the statement here, read-only, as mallory
    let id = planted_for(
        &mut c,
        Some(queryid),
        "index",
        "CREATE INDEX CONCURRENTLY ON mallory.t (a)",
    );
    let action: i64 = c
        .query_one("SELECT optischema.apply($1, 'trial')", &[&id])
        .unwrap()
        .get(0);
    wait_action(&mut c, action);
    assert_contained(&cluster, &target);

    // a statement whose role was dropped is not planned at all
    c.batch_execute(
        "REASSIGN OWNED BY mallory TO postgres; DROP OWNED BY mallory; DROP ROLE mallory",
    )
    .unwrap();
    let why: String = c
        .query_one("SELECT optischema.explain($1)::text", &[&queryid])
        .map(|r| r.get(0))
        .unwrap_or_else(|e| e.to_string());
    assert!(
        why.contains("unknown or was dropped") || why.contains("does not exist"),
        "{why}"
    );
    assert_contained(&cluster, &target);
}

#[test]
fn a_rewrite_check_and_a_suggested_predicate_run_user_code_as_its_owner_only() {
    let mock = MockLlm::start(vec![Reply::Answer {
        answer: serde_json::json!({
            "explanation": "evil() is constant.",
            "rewritten_sql": "SELECT count(*) FROM mallory.t WHERE mallory.evil() = a AND pad <> $1",
            "index_suggestions": ["CREATE INDEX ON mallory.t (a) WHERE a = mallory.evil()"],
            "risks": [],
        }),
        prompt_tokens: 100,
        completion_tokens: 100,
    }]);
    let cluster = Cluster::start(&[
        &format!("optischema.llm_base_url = '{}'", mock.base_url()),
        "optischema.llm_api_key = 'sk-test-security'",
        "optischema.param_sample_rate = 1",
    ]);
    let mut c = cluster.connect_with_extension();
    let target = attacker(&cluster, &mut c);
    wait_samples(&mut c, 2);
    let queryid = run_as(&cluster, &mut c, "mallory", EVIL_TEXT, 30);
    c.query_one("SELECT optischema.ask($1)", &[&queryid])
        .unwrap();
    assert_eq!(
        wait_request_done(&mut c, queryid, Duration::from_secs(30)),
        "done"
    );
    assert_eq!(mock.recorded().len(), 1, "the model was asked");
    assert_contained(&cluster, &target);
    assert!(cluster.log().contains("evil now runs as mallory"));
}

#[test]
fn no_recommendation_touches_the_catalogs_or_optischema_itself() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    wait_samples(&mut c, 2);
    // hot statements on catalogs, information_schema and OptiSchema's own tables: pg_class has
    // an index never scanned here (pg_class_tblspc_relfilenode_index), pg_description's
    // lookups by description have no index
    run_times(
        &mut c,
        "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = $1::int::text",
        40,
    );
    run_times(
        &mut c,
        "SELECT count(*) FROM pg_catalog.pg_description WHERE description = $1::int::text",
        40,
    );
    run_times(
        &mut c,
        "SELECT count(*) FROM information_schema.columns WHERE column_name = $1::int::text",
        5,
    );
    wait_samples(&mut c, 2);
    c.query_one("SELECT optischema.analyze_now()", &[]).unwrap();
    let touching: Vec<(String, String)> = c
        .query(
            "SELECT kind, sql FROM optischema.recommendations
              WHERE sql ~* '(pg_catalog|information_schema|pg_toast|optischema)\\.'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(touching.is_empty(), "{touching:?}");
}

#[test]
fn the_api_key_reaches_no_log_however_it_is_set() {
    let cluster = Cluster::start(&["log_statement = 'all'", "log_min_messages = debug1"]);
    let mut c = cluster.connect_with_extension();
    // as documented: ALTER SYSTEM and a reload (the postmaster logs every changed setting)
    c.batch_execute("ALTER SYSTEM SET optischema.llm_api_key = 'sk-first-key-0001'")
        .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    c.batch_execute("ALTER SYSTEM SET optischema.llm_api_key = 'sk-second-key-0002'")
        .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    // a session SET and set_config(), and a failing statement (its STATEMENT: line)
    c.batch_execute("SET optischema.llm_api_key = 'sk-third-key-0003'")
        .ok();
    c.batch_execute("SELECT set_config('optischema.llm_api_key', 'sk-fourth-key-0004', false)")
        .ok();
    c.batch_execute("ALTER SYSTEM SET optischema.llm_api_key = 'sk-fifth-key-0005' nonsense")
        .ok();
    assert!(wait_log(
        &cluster,
        "parameter \"optischema.llm_api_key\" changed to",
        Duration::from_secs(10)
    ));
    std::thread::sleep(Duration::from_millis(500));
    let log = cluster.log();
    for key in [
        "first-key",
        "second-key",
        "third-key",
        "fourth-key",
        "fifth-key",
    ] {
        assert!(!log.contains(key), "{key} is in the log:\n{log}");
    }
    assert!(log.contains("[redacted]"), "{log}");

    // the texts the sampler copies from pg_stat_statements lose their string literals
    wait_samples(&mut c, 2);
    c.batch_execute(
        "CREATE ROLE app LOGIN; ALTER ROLE app PASSWORD 'hunter2-secret'; SELECT pg_sleep(0.01)",
    )
    .unwrap();
    wait_samples(&mut c, 2);
    let leaked: Vec<String> = c
        .query(
            "SELECT query FROM optischema.statements
              WHERE query ~ '(hunter2|sk-[a-z]+-key)'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
    let stored: i64 = c
        .query_one(
            "SELECT count(*) FROM optischema.statements
              WHERE query IN ('ALTER ROLE app PASSWORD $1',
                              'ALTER SYSTEM SET optischema.llm_api_key = $1')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, 2, "the statements are kept, without their values");
}

#[test]
fn a_key_file_must_be_private_to_the_server() {
    let mock = MockLlm::start(vec![]);
    let key_path =
        std::path::PathBuf::from(format!("/var/tmp/optischema-key-{}", std::process::id()));
    std::fs::write(&key_path, "sk-from-file-0006\n").unwrap();
    let chown = |mode: &str| {
        assert!(std::process::Command::new("chown")
            .args(["postgres", key_path.to_str().unwrap()])
            .status()
            .unwrap()
            .success());
        assert!(std::process::Command::new("chmod")
            .args([mode, key_path.to_str().unwrap()])
            .status()
            .unwrap()
            .success());
    };
    chown("644");
    let cluster = Cluster::start(&[
        &format!("optischema.llm_base_url = '{}'", mock.base_url()),
        &format!("optischema.llm_api_key_file = '{}'", key_path.display()),
    ]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute("CREATE TABLE k (a int); INSERT INTO k SELECT generate_series(1, 1000)")
        .unwrap();
    wait_samples(&mut c, 2);
    run_times(&mut c, "SELECT count(*) FROM k WHERE a = $1", 5);
    wait_samples(&mut c, 2);
    let queryid: i64 = c
        .query_one(
            "SELECT queryid FROM optischema.statements WHERE query = 'SELECT count(*) FROM k WHERE a = $1'",
            &[],
        )
        .unwrap()
        .get(0);
    let ask = |c: &mut Client| -> serde_json::Value {
        let text: String = c
            .query_one("SELECT optischema.ask($1)::text", &[&queryid])
            .unwrap()
            .get(0);
        serde_json::from_str(&text).unwrap()
    };
    // readable by others: refused, with the reason
    let answer = ask(&mut c);
    assert_eq!(answer["status"], "unavailable", "{answer}");
    assert!(
        answer["reason"].as_str().unwrap().contains("chmod 600"),
        "{answer}"
    );
    // private to the server's OS user: the key is used
    chown("600");
    let answer = ask(&mut c);
    assert_eq!(answer["status"], "queued", "{answer}");
    std::fs::remove_file(&key_path).ok();
    assert!(!cluster.log().contains("from-file"));
}

#[test]
fn a_listener_without_grants_gets_ids_and_figures_only() {
    let cluster = Cluster::start(&["optischema.param_sample_rate = 1"]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute(
        "CREATE ROLE nobody LOGIN;
         CREATE TABLE secretive (id int, ssn text);
         INSERT INTO secretive SELECT g, 'ssn-' || g FROM generate_series(1, 50000) g;",
    )
    .unwrap();
    c.batch_execute("VACUUM (ANALYZE) secretive").unwrap();
    wait_samples(&mut c, 2);
    let mut listener = cluster.connect_as("nobody");
    listener.batch_execute("LISTEN optischema").unwrap();
    let stmt = c
        .prepare("SELECT id FROM secretive WHERE ssn = $1")
        .unwrap();
    for i in 0..20 {
        c.query(&stmt, &[&format!("ssn-{i}")]).unwrap();
    }
    wait_samples(&mut c, 2);
    c.query_one("SELECT optischema.analyze_now()", &[]).unwrap();
    let mut payloads = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Some(n) = next_notification(&mut listener) {
            payloads.push(n.payload().to_string());
        }
    }
    assert!(
        payloads.iter().any(|p| p.contains("\"hot_query\"")),
        "{payloads:?}"
    );
    assert!(
        payloads.iter().any(|p| p.contains("\"recommendation\"")),
        "{payloads:?}"
    );
    for p in &payloads {
        assert!(
            !p.contains("secretive") && !p.contains("ssn") && !p.contains("\"query\""),
            "{p}"
        );
    }

    // captured values are for admins only, whatever table privileges a role holds
    c.batch_execute("CREATE ROLE snoop LOGIN; GRANT pg_read_all_data, pg_read_all_stats, optischema_reader TO snoop")
        .unwrap();
    let captured: i64 = c
        .query_one("SELECT count(*) FROM optischema.captured_params", &[])
        .unwrap()
        .get(0);
    assert!(captured > 0, "values were captured");
    let mut snoop = cluster.connect_as("snoop");
    let seen: i64 = snoop
        .query_one("SELECT count(*) FROM optischema.captured_params", &[])
        .unwrap()
        .get(0);
    assert_eq!(seen, 0);
    let queryid: i64 = c
        .query_one(
            "SELECT queryid FROM optischema.statements WHERE query = 'SELECT id FROM secretive WHERE ssn = $1'",
            &[],
        )
        .unwrap()
        .get(0);
    let explained: String = snoop
        .query_one("SELECT optischema.explain($1)::text", &[&queryid])
        .unwrap()
        .get(0);
    assert!(explained.contains("custom_plans_hidden"), "{explained}");
    assert!(!explained.contains("ssn-"), "{explained}");
}

/// The error a statement raised: (SQLSTATE, message).
fn refused(result: Result<impl Sized, postgres::Error>) -> (String, String) {
    let err = result.err().expect("refused");
    let db = err.as_db_error().expect("a database error");
    (db.code().code().to_string(), db.message().to_string())
}

#[test]
fn an_admin_acts_only_through_the_functions_and_they_run_only_what_a_kind_allows() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute(
        "CREATE ROLE boss LOGIN; GRANT optischema_admin TO boss;
         CREATE TABLE big (id int, k int);
         INSERT INTO big SELECT g, g % 100 FROM generate_series(1, 10000) g;",
    )
    .unwrap();
    let mut boss = cluster.connect_as("boss");
    let good = planted(
        &mut c,
        "index",
        "CREATE INDEX CONCURRENTLY ON public.big (k)",
    );
    // no write on any table: the reproduction of the escalation, and its neighbours
    let escalation = format!(
        "INSERT INTO optischema.action_log (recommendation_id, mode, plan, steps) VALUES ({good}, 'apply', '[]', '{{ALTER ROLE boss SUPERUSER}}')"
    );
    for sql in [
        escalation.as_str(),
        "UPDATE optischema.recommendation_store SET sql = 'ALTER ROLE boss SUPERUSER'",
        "INSERT INTO optischema.recommendation_store (fingerprint, kind, title, sql, explanation, confidence) VALUES ('x', 'config', 'x', 'ALTER ROLE boss SUPERUSER', 'x', 1)",
        "DELETE FROM optischema.captured_params",
        "INSERT INTO optischema.ai_requests (queryid) VALUES (1)",
        "UPDATE optischema.sampler_state SET generation = 0",
    ] {
        let (code, message) = refused(boss.batch_execute(sql));
        assert_eq!(code, "42501", "{sql}: {message}");
    }

    // a recommendation whose stored text a superuser altered to hold two statements
    let tampered = planted(
        &mut c,
        "index",
        "CREATE INDEX CONCURRENTLY ON public.big (k); ALTER ROLE boss SUPERUSER",
    );
    let (code, message) = refused(boss.query_one("SELECT optischema.apply($1)", &[&tampered]));
    assert_eq!(code, "0A000", "{message}");
    // a setting outside the allowed planner and memory settings
    let preload = planted(
        &mut c,
        "config",
        "ALTER ROLE boss SET shared_preload_libraries = 'evil'",
    );
    let (code, message) = refused(boss.query_one("SELECT optischema.apply($1)", &[&preload]));
    assert!(
        message.contains("shared_preload_libraries"),
        "{code} {message}"
    );
    // a server-wide setting: only a superuser caller may make it
    let system = planted(&mut c, "config", "ALTER SYSTEM SET work_mem = '64MB'");
    let (code, message) = refused(boss.query_one("SELECT optischema.apply($1)", &[&system]));
    assert_eq!(code, "42501", "{message}");
    // an index on a catalog
    let catalog = planted(
        &mut c,
        "drop_index",
        "DROP INDEX CONCURRENTLY pg_catalog.pg_class_tblspc_relfilenode_index",
    );
    let (_, message) = refused(boss.query_one("SELECT optischema.apply($1)", &[&catalog]));
    assert!(message.contains("pg_catalog"), "{message}");

    // actions a superuser queued by hand: the worker runs only OptiSchema's typed steps,
    // rebuilt from their fields, and refuses what a kind does not run
    let queued = |c: &mut Client, plan: &str, steps: &str| -> i64 {
        c.query_one(
            "INSERT INTO optischema.action_log (recommendation_id, mode, plan, steps)
             VALUES ($1, 'apply', $2::text::jsonb, $3::text::text[]) RETURNING id",
            &[&good, &plan, &steps],
        )
        .unwrap()
        .get(0)
    };
    let oid = |c: &mut Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    let boss_oid = oid(
        &mut c,
        "SELECT oid::int8 FROM pg_roles WHERE rolname = 'boss'",
    );
    let big_oid = oid(&mut c, "SELECT 'public.big'::regclass::oid::int8");
    for (plan, why) in [
        // a step of a kind OptiSchema does not have
        (
            r#"[{"op": "run", "sql": "ALTER ROLE boss SUPERUSER"}]"#.to_string(),
            "not a list of OptiSchema's steps",
        ),
        // a setting outside the allowlist, on an index recommendation
        (
            format!(
                r#"[{{"op": "set", "scope": {{"of": "role", "role": {boss_oid}}}, "name": "shared_preload_libraries", "value": "evil"}}]"#
            ),
            "shared_preload_libraries",
        ),
        // an allowed setting, but not what an index recommendation runs
        (
            format!(
                r#"[{{"op": "set", "scope": {{"of": "role", "role": {boss_oid}}}, "name": "work_mem", "value": "1GB"}}]"#
            ),
            "refused",
        ),
        // a value that would end the literal
        (
            format!(
                r#"[{{"op": "set", "scope": {{"of": "system"}}, "name": "work_mem", "value": "1GB\\'; ALTER ROLE boss SUPERUSER; --"}}]"#
            ),
            "unexpected setting value",
        ),
        // an index on a catalog, by its oid
        (
            r#"[{"op": "build_index", "table": 1259, "body": "(oid)"}]"#.to_string(),
            "pg_catalog",
        ),
        // an index body that carries a second statement
        (
            format!(
                r#"[{{"op": "build_index", "table": {big_oid}, "body": "(k); ALTER ROLE boss SUPERUSER"}}]"#
            ),
            "one statement",
        ),
    ] {
        let action = queued(&mut c, &plan, "{}");
        let (outcome, error) = wait_action(&mut c, action);
        assert_eq!(outcome, "failed", "{plan}");
        let error = error.unwrap_or_default();
        assert!(error.contains(why), "{plan}: {error}");
    }
    // the readable steps are never run: a plan that builds the good index, with a hostile text
    let plan = format!(r#"[{{"op": "build_index", "table": {big_oid}, "body": "(k)"}}]"#);
    let action = queued(&mut c, &plan, r#"{"ALTER ROLE boss SUPERUSER"}"#);
    let (outcome, error) = wait_action(&mut c, action);
    assert_eq!(outcome, "done", "{error:?}");
    let superuser: bool = c
        .query_one("SELECT rolsuper FROM pg_roles WHERE rolname = 'boss'", &[])
        .unwrap()
        .get(0);
    assert!(!superuser);
    // the index it built is dropped again by its oid when reverted
    let revert: i64 = boss
        .query_one("SELECT optischema.revert($1)", &[&good])
        .unwrap()
        .get(0);
    assert_eq!(wait_action(&mut c, revert), ("done".to_string(), None));
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE indexname = $1",
            &[&format!("optischema_rec_{good}")],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    c.batch_execute(&format!(
        "UPDATE optischema.recommendation_store SET status = 'open' WHERE id = {good}"
    ))
    .unwrap();

    // and what the admin may do still works: the good recommendation is applied
    let action: i64 = boss
        .query_one("SELECT optischema.apply($1)", &[&good])
        .unwrap()
        .get(0);
    let (outcome, error) = wait_action(&mut c, action);
    assert_eq!(outcome, "done", "{error:?}");
    // recorded as the admin's, although the row was written as the extension's owner
    let who: String = c
        .query_one(
            "SELECT who FROM optischema.actions WHERE id = $1",
            &[&action],
        )
        .unwrap()
        .get(0);
    assert_eq!(who, "boss");
    let dismissed: i64 = boss
        .query_one("SELECT (optischema.dismiss($1, 'not now')).id", &[&system])
        .unwrap()
        .get(0);
    assert_eq!(dismissed, system);
}

/// Arguments to try for a parameter of type `ty`: NULL, edges, hostile text.
fn hostile_values(ty: &str) -> Vec<String> {
    let long = format!("'{}'", "x".repeat(100_000));
    let injection = "$$'); DROP TABLE optischema.history; --$$".to_string();
    let mut values = vec!["NULL".to_string()];
    values.extend(match ty {
        "bigint" => vec!["-1", "0", "9223372036854775807", "-9223372036854775808"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
        "integer" => vec!["-1", "0", "2147483647", "-2147483648"]
            .into_iter()
            .map(String::from)
            .collect(),
        "interval" => vec!["'-1 day'", "'0'", "'1000 years'", "'1 microsecond'"]
            .into_iter()
            .map(String::from)
            .collect(),
        "text" => vec![
            "''".to_string(),
            injection.clone(),
            long,
            "'SELECT 1; ALTER ROLE current_user SUPERUSER'".to_string(),
        ],
        "text[]" => vec![
            "'{}'".to_string(),
            format!("ARRAY[{injection}]"),
            "ARRAY['CREATE INDEX ON pg_catalog.pg_class (relname)']".to_string(),
            "ARRAY[NULL::text]".to_string(),
        ],
        _ => Vec::new(),
    });
    values
}

/// A checksum of every OptiSchema table's rows.
fn tables_checksum(c: &mut Client) -> String {
    let tables: Vec<String> = c
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = 'optischema' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tables
        .iter()
        .map(|t| {
            let sum: Option<String> = c
                .query_one(
                    &format!("SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM {t} x"),
                    &[],
                )
                .unwrap()
                .get(0);
            format!("{t}={}", sum.unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_function_survives_hostile_arguments_as_every_role() {
    let cluster = Cluster::start(&["optischema.param_sample_rate = 1"]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute(
        "CREATE ROLE f_admin LOGIN IN ROLE optischema_admin;
         CREATE ROLE f_reader LOGIN IN ROLE optischema_reader;
         CREATE ROLE f_nobody LOGIN;
         CREATE TABLE f (id int, k int);
         INSERT INTO f SELECT g, g % 100 FROM generate_series(1, 20000) g;",
    )
    .unwrap();
    wait_samples(&mut c, 2);
    run_times(&mut c, "SELECT count(*) FROM f WHERE k = $1", 20);
    wait_samples(&mut c, 2);
    c.query_one("SELECT optischema.analyze_now()", &[]).unwrap();
    // the workers stand still, so that any change to a table comes from a call
    c.batch_execute("ALTER SYSTEM SET optischema.enabled = off")
        .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let postmaster = cluster.postmaster_pid();
    let functions: Vec<(String, String, Vec<String>)> = c
        .query(
            "SELECT p.oid::regprocedure::text, p.proname::text,
                    array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) t)
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'optischema' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(functions.len() >= 15, "{functions:?}");
    let mut calls = 0;
    for role in ["f_nobody", "f_reader", "f_admin", "postgres"] {
        let before = tables_checksum(&mut c);
        let mut s = cluster.connect_as(role);
        s.batch_execute("SET statement_timeout = '20s'").unwrap();
        for (signature, name, types) in &functions {
            let values: Vec<Vec<String>> = types.iter().map(|t| hostile_values(t)).collect();
            let rounds = values.iter().map(Vec::len).max().unwrap_or(1).max(1);
            for round in 0..rounds {
                let args: Vec<String> = values.iter().map(|v| v[round % v.len()].clone()).collect();
                let sql = format!("SELECT optischema.{name}({})", args.join(", "));
                calls += 1;
                if let Err(e) = s.batch_execute(&sql) {
                    let db = e.as_db_error().unwrap_or_else(|| {
                        panic!(
                            "{role}: {signature} lost the connection: {e}\n{}",
                            cluster.log()
                        )
                    });
                    assert_eq!(db.code().code().len(), 5, "{role}: {sql:.200}");
                    assert!(
                        !db.code().code().starts_with("XX"),
                        "{role}: {sql:.200}: internal error {}",
                        db.message()
                    );
                }
            }
        }
        assert_eq!(cluster.postmaster_pid(), postmaster, "the server restarted");
        assert!(
            !cluster.log().contains("terminated by signal"),
            "{}",
            cluster.log()
        );
        if role == "f_nobody" || role == "f_reader" {
            assert_eq!(tables_checksum(&mut c), before, "{role} changed a table");
        }
    }
    assert!(calls > 100, "{calls} calls");
    // and the server still answers
    c.batch_execute("SELECT 1").unwrap();
}

#[test]
fn a_reader_sees_the_texts_of_its_own_roles_and_all_only_with_pg_read_all_stats() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute(
        "CREATE ROLE alice LOGIN;
         CREATE ROLE bob LOGIN IN ROLE optischema_reader;
         CREATE ROLE carol LOGIN IN ROLE optischema_reader, alice;
         CREATE ROLE stats LOGIN IN ROLE optischema_reader, pg_read_all_stats;
         CREATE TABLE alices (id int, note text);
         GRANT SELECT ON alices TO alice;",
    )
    .unwrap();
    wait_samples(&mut c, 2);
    let text = "SELECT count(*) FROM alices WHERE note = $1";
    let queryid = run_as(&cluster, &mut c, "alice", text, 5);
    let seen = |role: &str| -> (Option<String>, i64) {
        let mut r = cluster.connect_as(role);
        let hot: Option<String> = r
            .query_one(
                "SELECT query FROM optischema.hot_queries('1 hour', 100) WHERE queryid = $1",
                &[&queryid],
            )
            .unwrap()
            .get(0);
        let rows: i64 = r
            .query_one(
                "SELECT count(*) FROM optischema.statements WHERE queryid = $1",
                &[&queryid],
            )
            .unwrap()
            .get(0);
        (hot, rows)
    };
    assert_eq!(seen("carol"), (Some(text.to_string()), 1));
    assert_eq!(seen("stats"), (Some(text.to_string()), 1));
    // bob sees the figures, not the text
    assert_eq!(seen("bob"), (None, 0));
    let mut bob = cluster.connect_as("bob");
    let (code, message) = refused(bob.query_one("SELECT optischema.explain($1)", &[&queryid]));
    assert_eq!(code, "42501", "{message}");
}
