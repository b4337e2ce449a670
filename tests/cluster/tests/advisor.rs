//! The what-if advisor on a planted workload run for real: pg_stat_statements normalizes the
//! statements, the worker samples them and captures values, and the advisor must find each
//! planted index and propose nothing for the rest.

use optischema_cluster_tests::*;
use postgres::Client;
use serde_json::Value;

fn plant(c: &mut Client) {
    c.batch_execute(
        r#"CREATE TABLE pw_customers (id bigint PRIMARY KEY, email text NOT NULL);
           INSERT INTO pw_customers SELECT g, 'User' || g || '@Example.com' FROM generate_series(1, 50000) g;
           CREATE TABLE pw_orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL,
                                   total numeric NOT NULL, created_at timestamptz NOT NULL);
           INSERT INTO pw_orders
           SELECT g, g % 2000,
                  CASE abs(hashint4(g)) % 100 WHEN 0 THEN 'pending' WHEN 1 THEN 'shipped'
                       WHEN 2 THEN 'shipped' ELSE 'done' END,
                  g % 500,
                  now() - (g % 40000) * interval '1 minute'
             FROM generate_series(1, 200000) g;
           CREATE TABLE pw_items (id bigint PRIMARY KEY, order_id bigint NOT NULL, qty int NOT NULL);
           INSERT INTO pw_items SELECT g, (g + 1) / 2, 1 + g % 5 FROM generate_series(1, 400000) g;
           CREATE TABLE pw_products (id int PRIMARY KEY, name text COLLATE "en-x-icu" NOT NULL);
           INSERT INTO pw_products SELECT g, 'Item ' || md5(g::text) FROM generate_series(1, 50000) g;
           CREATE TABLE pw_payments (id bigint PRIMARY KEY, account_id int NOT NULL, amount numeric NOT NULL);
           INSERT INTO pw_payments SELECT g, g % 400, g % 97 FROM generate_series(1, 200000) g;
           CREATE TABLE pw_events (id bigserial PRIMARY KEY, kind int NOT NULL, at timestamptz NOT NULL);
           INSERT INTO pw_events (kind, at) SELECT g % 1000, now() FROM generate_series(1, 100000) g;
           CREATE TABLE pw_small (id int PRIMARY KEY, v int NOT NULL);
           INSERT INTO pw_small SELECT g, g FROM generate_series(1, 100) g;"#,
    )
    .unwrap();
    // all-visible pages: index-only scans cost what they will cost in production
    vacuum_all_visible(c, "");
}

fn run_workload(c: &mut Client) {
    // an expression filter
    let by_email = c
        .prepare("SELECT id FROM pw_customers WHERE lower(email) = lower($1)")
        .unwrap();
    for i in 0..200 {
        c.query(&by_email, &[&format!("user{}@example.com", i * 37)])
            .unwrap();
    }
    // equality + range + ORDER BY LIMIT, sent with constants: pg_stat_statements keeps
    // `interval $2` in its text
    for i in 0..150 {
        c.simple_query(&format!(
            "SELECT id, total FROM pw_orders WHERE customer_id = {} \
             AND created_at > now() - interval '30 days' ORDER BY created_at DESC LIMIT 10",
            i * 7 % 2000
        ))
        .unwrap();
    }
    // the inner side of a join
    let items = c
        .prepare(
            "SELECT o.id, i.qty FROM pw_orders o JOIN pw_items i ON i.order_id = o.id \
             WHERE o.customer_id = $1",
        )
        .unwrap();
    for i in 0..100i64 {
        c.query(&items, &[&(i * 13 % 2000)]).unwrap();
    }
    // a skewed column: the application asks for the rare value
    let by_status = c
        .prepare("SELECT id, total FROM pw_orders WHERE status = $1")
        .unwrap();
    for _ in 0..100 {
        c.query(&by_status, &[&"pending"]).unwrap();
    }
    for _ in 0..2 {
        c.query(&by_status, &[&"done"]).unwrap();
    }
    // a LIKE prefix under a linguistic collation
    let search = c
        .prepare("SELECT id FROM pw_products WHERE name LIKE $1")
        .unwrap();
    for i in 0..100 {
        c.query(&search, &[&format!("Item {:02x}%", i)]).unwrap();
    }
    // a covering aggregate
    let balance = c
        .prepare("SELECT sum(amount) FROM pw_payments WHERE account_id = $1")
        .unwrap();
    for i in 0..150 {
        c.query(&balance, &[&(i % 400)]).unwrap();
    }
    // statements that need nothing
    let by_id = c
        .prepare("SELECT customer_id FROM pw_orders WHERE id = $1")
        .unwrap();
    for i in 0..300i64 {
        c.query(&by_id, &[&(i * 11 + 1)]).unwrap();
    }
    run_times(c, "SELECT v FROM pw_small WHERE v = $1", 300);
    // an insert-heavy table, rarely searched: an index on kind would cost the inserts more
    // than it saves
    let insert = c
        .prepare("INSERT INTO pw_events (kind, at) VALUES ($1, now())")
        .unwrap();
    c.batch_execute("BEGIN").unwrap();
    for i in 0..20000 {
        c.execute(&insert, &[&(i % 1000)]).unwrap();
    }
    c.batch_execute("COMMIT").unwrap();
    let by_kind = c
        .prepare("SELECT count(*) FROM pw_events WHERE kind = $1")
        .unwrap();
    for i in 0..3 {
        c.query(&by_kind, &[&i]).unwrap();
    }
}

#[test]
fn the_advisor_finds_each_planted_index_and_nothing_else() {
    let cluster = Cluster::start(&[
        "optischema.param_sample_rate = 1",
        // the worker analyses too; this test asks on its own
        "optischema.hot_top_n = 50",
        "log_min_messages = debug1",
    ]);
    let mut c = cluster.connect_with_extension();
    plant(&mut c);
    // loading the tables is not the workload: start the history after it
    wait_samples(&mut c, 2);
    c.query_one("SELECT optischema.reset()", &[]).unwrap();
    wait_samples(&mut c, 2);
    run_workload(&mut c);
    wait_samples(&mut c, 3);

    let rows = c
        .query(
            "SELECT index_sql, statements_helped, est_improvement_pct, est_ms_saved_per_hour,
                    size_mb, write_overhead_pct
               FROM optischema.recommend_indexes() ORDER BY index_sql",
            &[],
        )
        .unwrap();
    let proposed: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let expected = [
        "CREATE INDEX CONCURRENTLY ON public.pw_customers ((lower(email)))",
        // with nothing written to these tables, index-only scans are worth their INCLUDE columns
        "CREATE INDEX CONCURRENTLY ON public.pw_items (order_id) INCLUDE (qty)",
        // a backward scan serves ORDER BY created_at DESC
        "CREATE INDEX CONCURRENTLY ON public.pw_orders (customer_id, created_at) INCLUDE (id, total)",
        "CREATE INDEX CONCURRENTLY ON public.pw_orders (status) INCLUDE (id, total)",
        "CREATE INDEX CONCURRENTLY ON public.pw_payments (account_id) INCLUDE (amount)",
        "CREATE INDEX CONCURRENTLY ON public.pw_products (name text_pattern_ops) INCLUDE (id)",
    ];
    let trace: Vec<String> = cluster
        .log()
        .lines()
        .filter(|l| l.contains("optischema advisor"))
        .map(str::to_string)
        .collect();
    assert_eq!(proposed, expected, "{}", trace.join("\n"));
    for r in &rows {
        let pct: f64 = r.get(2);
        let saved: Option<f64> = r.get(3);
        let size: f64 = r.get(4);
        let helped: Vec<i64> = r.get(1);
        assert!(pct >= 20.0 && pct <= 100.0, "{r:?}");
        assert!(saved.unwrap() > 0.0, "{r:?}");
        assert!(size > 0.0 && size < 20.0, "{r:?}");
        assert!(!helped.is_empty());
    }
    // the composite index serves the ORDER BY statement and the join's outer side
    let composite = &rows[2];
    assert_eq!(composite.get::<_, Vec<i64>>(1).len(), 2, "{composite:?}");

    // analyze_now() stores the same set, source whatif, with the statements each helps
    c.query_one("SELECT optischema.analyze_now()", &[]).unwrap();
    let stored: Vec<(String, Value)> = c
        .query(
            "SELECT sql, evidence::text::json FROM optischema.recommendations
              WHERE kind = 'index' AND status = 'open' AND source = 'whatif' ORDER BY sql",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        stored.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        expected,
        "{stored:#?}"
    );
    for (_, evidence) in &stored {
        assert!(
            evidence["statements_helped"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "{evidence}"
        );
        assert!(evidence["index_size_mb"].as_f64().is_some(), "{evidence}");
    }
    // the ORDER BY statement's text as pg_stat_statements keeps it
    let text: String = c
        .query_one(
            "SELECT query FROM optischema.statements WHERE query LIKE 'SELECT id, total FROM pw_orders WHERE customer_id%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(text.contains("interval $2"), "{text}");

    // one statement at a time: the skewed one, with its captured values
    let one = c
        .query(
            "SELECT index_sql FROM optischema.recommend_indexes('SELECT id, total FROM pw_orders WHERE status = $1')",
            &[],
        )
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0].get::<_, String>(0),
        "CREATE INDEX CONCURRENTLY ON public.pw_orders (status) INCLUDE (id, total)"
    );
    // a statement OptiSchema never saw is planned as written; how often it would run is not
    // known, so the inserts on its table are reported but not weighed against it
    let adhoc = c
        .query(
            "SELECT index_sql, statements_helped, est_ms_saved_per_hour, write_overhead_pct
               FROM optischema.recommend_indexes('SELECT count(*) FROM pw_events WHERE kind = 5')",
            &[],
        )
        .unwrap();
    assert_eq!(adhoc.len(), 1, "{adhoc:?}");
    assert_eq!(
        adhoc[0].get::<_, String>(0),
        "CREATE INDEX CONCURRENTLY ON public.pw_events (kind)"
    );
    assert!(adhoc[0].get::<_, Vec<i64>>(1).is_empty());
    assert_eq!(adhoc[0].get::<_, Option<f64>>(2), None);
    let overhead: f64 = adhoc[0].get(3);
    assert!(overhead > 5.0 && overhead < 100.0, "{overhead}");
}
