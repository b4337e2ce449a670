//! Every database of the server is served: one sampler, a worker per database where the
//! extension is created, each database with its own recommendations.

use optischema_cluster_tests::mock_llm::{explanation_answer, MockLlm};
use optischema_cluster_tests::*;
use postgres::Client;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A table whose lookups on `column` need an index, and the lookups.
fn plant(c: &mut Client, table: &str, column: &str) {
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id bigserial PRIMARY KEY, {column} int, pad text);
         INSERT INTO {table} ({column}, pad) SELECT g % 5000, repeat('x', 50) FROM generate_series(1, 200000) g;"
    ))
    .unwrap();
    vacuum_all_visible(c, table);
}

fn look_up(c: &mut Client, table: &str, column: &str) {
    for i in 0..20 {
        c.query(
            &format!("SELECT id FROM {table} WHERE {column} = $1"),
            &[&i],
        )
        .unwrap();
    }
}

/// The open index recommendations of the database `c` is connected to.
fn index_sqls(c: &mut Client) -> Vec<String> {
    c.query(
        "SELECT sql FROM optischema.recommendations WHERE kind = 'index' AND status = 'open' ORDER BY sql",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn wait_for_index(c: &mut Client, table: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let sqls = index_sqls(c);
        if sqls
            .iter()
            .any(|s| s.contains(&format!("public.{table} (")))
            || Instant::now() > deadline
        {
            return sqls;
        }
        sleep(Duration::from_millis(250));
    }
}

#[test]
fn each_database_gets_its_own_recommendations_and_a_dropped_one_leaves_at_once() {
    let cluster = Cluster::start(&[]);
    let mut home = cluster.connect_with_extension();
    // statements that ran before the sampler's baseline are not counted: the loads come after
    // it, so that each database has statements the sampler hands over
    wait_samples(&mut home, 2);
    for db in ["shop", "crm", "plain"] {
        home.batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
    }
    let mut shop = cluster.connect_to("shop");
    let mut crm = cluster.connect_to("crm");
    let mut plain = cluster.connect_to("plain");
    // the tables are loaded before any database is served, so that the load is not taken for
    // their workload (an index is weighed against the last hour's inserts): the first visit of
    // each finds no extension, and what was handed over for it is removed
    plant(&mut shop, "orders", "customer");
    plant(&mut crm, "contacts", "account");
    plant(&mut plain, "events", "device");
    cluster.wait_until(
        Duration::from_secs(60),
        "the databases were not visited",
        || {
            home.query_one(
                "SELECT count(*) FROM optischema.databases() WHERE state = 'no extension'",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
                == 3
        },
    );
    // a database served later is handed the history kept of it until then (a catch-up batch):
    // the loads are forgotten here, so that they are not weighed as the databases' workload
    home.batch_execute("SELECT optischema.reset()").unwrap();
    wait_samples(&mut home, 2);
    look_up(&mut plain, "events", "device");
    wait_samples(&mut home, 1);
    for c in [&mut shop, &mut crm] {
        c.batch_execute("CREATE EXTENSION optischema CASCADE")
            .unwrap();
    }
    look_up(&mut shop, "orders", "customer");
    look_up(&mut crm, "contacts", "account");

    let in_shop = wait_for_index(&mut shop, "orders", Duration::from_secs(60));
    let in_crm = wait_for_index(&mut crm, "contacts", Duration::from_secs(60));
    assert!(
        in_shop
            .iter()
            .all(|s| s.contains("public.orders (customer")),
        "{in_shop:?}"
    );
    assert!(
        !in_shop.is_empty(),
        "shop got no recommendation\n{}",
        cluster.log()
    );
    assert!(
        in_crm
            .iter()
            .all(|s| s.contains("public.contacts (account")),
        "{in_crm:?}"
    );
    assert!(
        !in_crm.is_empty(),
        "crm got no recommendation\n{}",
        cluster.log()
    );
    // the sampler's database lists who is served, and why not
    let deadline = Instant::now() + Duration::from_secs(30);
    let states = loop {
        let states: Vec<(Option<String>, String)> = home
            .query("SELECT database, state FROM optischema.databases()", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if states.contains(&(Some("plain".into()), "no extension".into()))
            || Instant::now() > deadline
        {
            break states;
        }
        sleep(Duration::from_millis(250));
    };
    for expected in [
        ("postgres", "home"),
        ("shop", "served"),
        ("crm", "served"),
        ("plain", "no extension"),
    ] {
        assert!(
            states.contains(&(Some(expected.0.into()), expected.1.into())),
            "{expected:?} not in {states:?}"
        );
    }
    // status() in a served database describes it: what it took in from the sampler
    let row = shop
        .query_one(
            "SELECT served, samples_taken, statements_tracked, last_sample_at IS NOT NULL,
                    (SELECT count(*) FROM optischema.statements WHERE query LIKE '%contacts%')
               FROM optischema.status()",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "served");
    assert!(row.get::<_, i64>(1) > 0, "no batch counted");
    assert!(row.get::<_, i64>(2) > 0, "no statement counted");
    assert!(row.get::<_, bool>(3));
    assert_eq!(
        row.get::<_, i64>(4),
        0,
        "crm's statements were handed to shop"
    );
    let served: String = home
        .query_one("SELECT served FROM optischema.status()", &[])
        .unwrap()
        .get(0);
    assert_eq!(served, "home");
    // the home database advises on none of theirs
    assert!(index_sqls(&mut home).is_empty());
    // each database's figures are its own statements', exact once it has taken what was
    // handed over: the lookups may straddle a sample, and what a sample after the worker's
    // turn hands over waits for its next turn (on a loaded machine, seen once: 19 of 20)
    wait_samples(&mut home, 2);
    cluster.wait_until(
        Duration::from_secs(60),
        "shop did not take the batches handed over",
        || {
            shop.query_one("SELECT batches_waiting FROM optischema.status()", &[])
                .unwrap()
                .get::<_, i64>(0)
                == 0
        },
    );
    let calls: i64 = shop
        .query_one(
            "SELECT coalesce(sum(h.calls), 0)::bigint FROM optischema.history_all h
               JOIN optischema.statements s USING (queryid)
              WHERE s.query = 'SELECT id FROM orders WHERE customer = $1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(calls, 20);
    // hot_queries() shows the database's own statements; the home database keeps the whole
    // server's, shown to members of pg_read_all_stats when asked for
    const LOOKUP: &str = "SELECT id FROM orders WHERE customer = $1";
    let hot =
        "SELECT database, calls FROM optischema.hot_queries('1 hour', 10000, $2) WHERE query = $1";
    let rows_of = |c: &mut Client, whole_server: bool| -> Vec<(Option<String>, i64)> {
        c.query(hot, &[&LOOKUP, &whole_server])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    assert_eq!(rows_of(&mut shop, false), vec![(Some("shop".into()), 20)]);
    assert_eq!(rows_of(&mut home, false), vec![]);
    assert_eq!(rows_of(&mut home, true), vec![(Some("shop".into()), 20)]);
    let err = shop.query(hot, &[&LOOKUP, &true]).unwrap_err();
    assert_eq!(
        err.code(),
        Some(&postgres::error::SqlState::FEATURE_NOT_SUPPORTED)
    );
    home.batch_execute("CREATE ROLE os_db_reader IN ROLE optischema_reader; SET ROLE os_db_reader")
        .unwrap();
    let err = home.query(hot, &[&LOOKUP, &true]).unwrap_err();
    assert_eq!(
        err.code(),
        Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    home.batch_execute("RESET ROLE").unwrap();

    // the extension created later in the third: served without a restart, with the lookups
    // that ran there before, exactly, and nothing run since
    plain
        .batch_execute("CREATE EXTENSION optischema CASCADE")
        .unwrap();
    let in_plain = wait_for_index(&mut plain, "events", Duration::from_secs(60));
    assert!(
        in_plain.iter().any(|s| s.contains("public.events (device")),
        "{in_plain:?}\n{}",
        cluster.log()
    );
    let calls: i64 = plain
        .query_one(
            "SELECT coalesce(sum(calls), 0)::bigint FROM optischema.hot_queries()
              WHERE query = 'SELECT id FROM events WHERE device = $1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(calls, 20);

    // a fix is applied in its own database, by that database's worker
    let id: i64 = crm
        .query_one(
            "SELECT id FROM optischema.recommendations
              WHERE kind = 'index' AND status = 'open' AND sql LIKE '%public.contacts (account%'",
            &[],
        )
        .unwrap()
        .get(0);
    let action: i64 = crm
        .query_one("SELECT optischema.apply($1)", &[&id])
        .unwrap()
        .get(0);
    let (status, error) = wait_action(&mut crm, action);
    assert_eq!(
        (status.as_str(), error),
        ("done", None),
        "{}",
        cluster.log()
    );
    let built: i64 = crm
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'contacts' AND indexdef LIKE '%(account%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(built, 1);

    let oid_of = |c: &mut Client, db: &str| -> u32 {
        c.query_one("SELECT oid FROM pg_database WHERE datname = $1", &[&db])
            .unwrap()
            .get(0)
    };
    let shop_oid = oid_of(&mut home, "shop");
    let plain_oid = oid_of(&mut home, "plain");
    // dropping the extension stops serving the database, quietly
    let before_drops = cluster.log().len();
    plain.batch_execute("DROP EXTENSION optischema").unwrap();
    look_up(&mut plain, "events", "device");

    // dropping a served database does not wait for its worker
    drop(shop);
    let started = Instant::now();
    home.batch_execute("DROP DATABASE shop").unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "DROP DATABASE took {took:?}");
    look_up(&mut crm, "contacts", "account");
    wait_samples(&mut home, 3);
    let log = cluster.log();
    assert!(
        !log[before_drops..]
            .lines()
            .any(|l| l.contains("ERROR") || l.contains("FATAL")),
        "{log}"
    );
    // nobody serves the database without the extension, and nothing waits for the dropped one
    let spool = cluster.data().join("optischema_spool");
    let folders: Vec<String> = std::fs::read_dir(&spool)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    for gone in [shop_oid, plain_oid] {
        assert!(
            !folders.contains(&gone.to_string()),
            "{gone} in {folders:?}"
        );
    }
}

#[test]
fn a_database_dropped_while_its_worker_plans_is_dropped_at_once() {
    let cluster = Cluster::start(&[]);
    let mut home = cluster.connect_with_extension();
    // after the sampler's baseline, so that the slow statement is counted
    wait_samples(&mut home, 2);
    home.batch_execute("CREATE DATABASE busy").unwrap();
    let mut busy = cluster.connect_to("busy");
    // a statement whose planning takes 3 s: the planner runs an immutable function with
    // constant arguments, so the worker that plans it to analyse it sleeps in the planner
    busy.batch_execute(
        "CREATE EXTENSION optischema CASCADE;
         CREATE TABLE t (a int);
         INSERT INTO t SELECT generate_series(1, 1000);
         CREATE FUNCTION slow_to_plan() RETURNS int IMMUTABLE LANGUAGE plpgsql
             AS $$ BEGIN PERFORM pg_sleep(3); RETURN 1; END $$;",
    )
    .unwrap();
    busy.query("SELECT a FROM t WHERE a = slow_to_plan()", &[])
        .unwrap();
    drop(busy);
    cluster.wait_until(
        Duration::from_secs(60),
        "the worker never planned the statement",
        || {
            home.query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE backend_type = 'optischema database worker' AND wait_event = 'PgSleep'",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
                > 0
        },
    );
    let before_drop = cluster.log().len();
    let started = Instant::now();
    home.batch_execute("DROP DATABASE busy").unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "DROP DATABASE took {took:?}");
    wait_samples(&mut home, 2);
    let log = cluster.log();
    assert!(
        !log[before_drop..]
            .lines()
            .any(|l| l.contains("ERROR") || l.contains("FATAL")),
        "{log}"
    );
    // a drop that fails (a session is still connected) leaves a database OptiSchema never
    // heard of unknown to it
    home.batch_execute("CREATE DATABASE held").unwrap();
    let held = cluster.connect_to("held");
    let refused = home.batch_execute("DROP DATABASE held").unwrap_err();
    assert_eq!(
        refused.code(),
        Some(&postgres::error::SqlState::OBJECT_IN_USE),
        "{refused}"
    );
    let listed: i64 = home
        .query_one(
            "SELECT count(*) FROM optischema.databases() WHERE database = 'held'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(listed, 0);
    drop(held);
}

#[test]
fn the_model_is_asked_in_every_database_from_one_daily_budget() {
    let mock = MockLlm::start(vec![explanation_answer(
        "orders is read whole to find one customer's rows.",
    )]);
    let cluster = Cluster::start(&[
        &format!("optischema.llm_base_url = '{}'", mock.base_url()),
        "optischema.llm_api_key = 'test-key-databases-41d2'",
        // one answer (900 + 150 tokens, as the mock reports) spends the day's budget
        "optischema.llm_daily_token_budget = 1000",
    ]);
    let mut home = cluster.connect_with_extension();
    wait_samples(&mut home, 2);
    for db in ["shop", "crm"] {
        home.batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
    }
    let mut shop = cluster.connect_to("shop");
    let mut crm = cluster.connect_to("crm");
    // loaded, then forgotten, before either database is served: the loads are not workload
    plant(&mut shop, "orders", "customer");
    plant(&mut crm, "contacts", "account");
    home.batch_execute("SELECT optischema.reset()").unwrap();
    wait_samples(&mut home, 2);
    for c in [&mut shop, &mut crm] {
        c.batch_execute("CREATE EXTENSION optischema CASCADE")
            .unwrap();
    }
    look_up(&mut shop, "orders", "customer");
    let found = wait_for_index(&mut shop, "orders", Duration::from_secs(60));
    assert!(
        !found.is_empty(),
        "shop got no recommendation\n{}",
        cluster.log()
    );

    // asked in shop, answered by shop's worker (its own analysis may have asked first)
    let queryid = queryid_of(&mut shop, "SELECT id FROM orders WHERE customer = $1");
    let asked = ask(&mut shop, queryid);
    assert!(
        asked["status"] == "queued" || asked["status"] == "cached",
        "{asked}"
    );
    assert_eq!(
        wait_request_done(&mut shop, queryid, Duration::from_secs(60)),
        "done",
        "{}",
        cluster.log()
    );
    assert_eq!(
        ai_explanation(&mut shop, queryid).as_deref(),
        Some("orders is read whole to find one customer's rows.")
    );
    let calls = || {
        mock.recorded()
            .iter()
            .filter(|r| r.path == "/v1/chat/completions")
            .count()
    };
    assert_eq!(calls(), 1);

    // the budget is the server's: every database shows what shop spent, none is left
    for c in [&mut home, &mut shop, &mut crm] {
        assert_eq!(ai_tokens(c), (1050, 0));
    }
    let kept = std::fs::read_to_string(cluster.data().join("optischema_tokens")).unwrap();
    assert!(kept.ends_with(" 1050\n"), "{kept:?}");

    // so crm's statement is not asked about, by a user or by crm's own analysis
    look_up(&mut crm, "contacts", "account");
    let found = wait_for_index(&mut crm, "contacts", Duration::from_secs(60));
    assert!(
        !found.is_empty(),
        "crm got no recommendation\n{}",
        cluster.log()
    );
    let in_crm = queryid_of(&mut crm, "SELECT id FROM contacts WHERE account = $1");
    let refused = ask(&mut crm, in_crm);
    assert_eq!(refused["status"], "unavailable", "{refused}");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("budget is spent (1050 of 1000 tokens today"),
        "{refused}"
    );
    wait_samples(&mut home, 3);
    assert_eq!(calls(), 1);

    // a restart keeps the day's figure: crm, which made no call, still sees it spent
    drop((home, shop, crm));
    cluster.pg_ctl(&["-m", "fast", "-w", "-t", "30", "stop"]);
    cluster.pg_ctl_start();
    let mut crm = cluster.connect_to("crm");
    assert_eq!(ai_tokens(&mut crm), (1050, 0));
}
