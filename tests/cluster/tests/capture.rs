//! Captured parameter values: stored by the worker, bounded, admin-only, used for custom plans.

use optischema_cluster_tests::*;
use serde_json::Value;

#[test]
fn captured_values_give_custom_plans_and_a_prefix_index_but_only_admins_see_them() {
    let cluster = Cluster::start(&["optischema.param_sample_rate = 1"]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute(
        "CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL);
         INSERT INTO products SELECT g, (ARRAY['lamp','desk','sofa','chair'])[1 + g % 4] || ' model ' || g
           FROM generate_series(1, 40000) g;",
    )
    .unwrap();
    c.batch_execute("ANALYZE products").unwrap();
    wait_samples(&mut c, 2);
    let search = c
        .prepare("SELECT id FROM products WHERE name LIKE $1")
        .unwrap();
    for i in 0..30 {
        let pattern = format!("lamp model {}%", 1000 + i);
        c.query(&search, &[&pattern]).unwrap();
    }
    wait_samples(&mut c, 3);

    let queryid: i64 = c
        .query_one("SELECT queryid FROM optischema.statements WHERE query = 'SELECT id FROM products WHERE name LIKE $1'", &[])
        .unwrap()
        .get(0);
    let (sets, seen): (i64, i64) = {
        let r = c
            .query_one("SELECT count(*), sum(times_seen)::bigint FROM optischema.captured_params WHERE queryid = $1", &[&queryid])
            .unwrap();
        (r.get(0), r.get(1))
    };
    // 30 distinct value sets captured, at most 20 kept
    assert_eq!(sets, 20, "{sets} sets kept");
    assert!(seen >= 20);
    let one: String = c
        .query_one(
            "SELECT params::text FROM optischema.captured_params WHERE queryid = $1 LIMIT 1",
            &[&queryid],
        )
        .unwrap()
        .get(0);
    assert!(one.starts_with("[\"'lamp model 1"), "{one}");
    // OptiSchema's own EXPLAINs (NULL parameters for the generic plan) are not executions
    let nulls: i64 = c
        .query_one(
            "SELECT count(*) FROM optischema.captured_params WHERE params = '[null]'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(nulls, 0);

    // an admin's explain() has custom plans for the captured values
    let out: Value = c
        .query_one("SELECT optischema.explain($1)::text::json", &[&queryid])
        .unwrap()
        .get::<_, serde_json::Value>(0);
    let custom = out["custom_plans"].as_array().expect("custom plans");
    assert_eq!(custom.len(), 3);
    assert!(custom[0]["plan"][0]["Plan"]
        .to_string()
        .contains("lamp model 1"));

    // the prefix was only visible in the custom plans: the index comes from them, without values
    c.batch_execute("SELECT optischema.analyze_now()").unwrap();
    let (sql, evidence): (String, Value) = {
        let r = c
            .query_one(
                "SELECT sql, evidence::text::json FROM optischema.recommendations WHERE queryid = $1 AND kind = 'index'",
                &[&queryid],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(
        sql.starts_with("CREATE INDEX CONCURRENTLY ON public.products (name"),
        "{sql}"
    );
    assert!(!evidence.to_string().contains("lamp model"), "{evidence}");

    // readers see the recommendation (and, with pg_read_all_stats, every text) but not the values
    c.batch_execute("CREATE ROLE analyst LOGIN IN ROLE optischema_reader, pg_read_all_stats")
        .unwrap();
    let mut reader = cluster.connect_as("analyst");
    let denied = reader
        .query("SELECT * FROM optischema.captured_params", &[])
        .unwrap_err();
    assert_eq!(denied.code().unwrap().code(), "42501");
    let out: Value = reader
        .query_one("SELECT optischema.explain($1)::text::json", &[&queryid])
        .unwrap()
        .get(0);
    assert!(out.get("custom_plans").is_none());
    assert!(out["custom_plans_hidden"].is_string());
    assert!(!out.to_string().contains("lamp model 1"), "{out}");
    let recs: i64 = reader
        .query_one("SELECT count(*) FROM optischema.recommendations", &[])
        .unwrap()
        .get(0);
    assert!(recs >= 1);
}

#[test]
fn a_large_value_is_never_formatted_or_kept() {
    let cluster = Cluster::start(&["optischema.param_sample_rate = 1"]);
    let mut c = cluster.connect_with_extension();
    wait_samples(&mut c, 2);
    let stmt = c.prepare("SELECT length($1::bytea)").unwrap();
    let big = vec![7u8; 20 << 20];
    for _ in 0..3 {
        let n: i32 = c.query_one(&stmt, &[&big]).unwrap().get(0);
        assert_eq!(n, 20 << 20);
    }
    let small = vec![1u8, 2, 3];
    c.query_one(&stmt, &[&small]).unwrap();
    wait_samples(&mut c, 3);
    let kept: Vec<String> = c
        .query(
            "SELECT params::text FROM optischema.captured_params p
               JOIN optischema.statements s USING (queryid)
              WHERE s.query = 'SELECT length($1::bytea)'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // the small value only (as a literal: E'\\x010203')
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].contains("x010203"), "{kept:?}");
}

/// The demo's `orders`: `status` is 'pending' for 0.1 % of the rows, so only the value the
/// application sends shows that an index pays.
fn skewed_orders(c: &mut postgres::Client) {
    c.batch_execute(
        "CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL,
                              created_at timestamptz NOT NULL, total numeric(10,2) NOT NULL);
         INSERT INTO orders
         SELECT g, CASE WHEN g % 1000 = 0 THEN 'pending' WHEN g % 100 = 0 THEN 'shipped' ELSE 'delivered' END,
                now() - (g % 730) * interval '1 day' - (g % 86400) * interval '1 second', (g % 900) + 5.5
           FROM generate_series(1, 200000) g;",
    )
    .unwrap();
    c.batch_execute("VACUUM ANALYZE orders").unwrap();
}

#[test]
fn a_statement_run_twenty_times_at_the_default_rate_has_its_values_and_the_advisor_uses_them() {
    // param_sample_rate and param_capture_first at their defaults (0.01, 5)
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    let (rate, first): (String, String) = {
        let r = c
            .query_one(
                "SELECT current_setting('optischema.param_sample_rate'),
                        current_setting('optischema.param_capture_first')",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((rate.as_str(), first.as_str()), ("0.01", "5"));
    skewed_orders(&mut c);
    wait_samples(&mut c, 2);

    // the demo's statement, sent with constants (simple protocol), 20 times
    for _ in 0..20 {
        c.simple_query(
            "SELECT count(*), sum(total) FROM orders WHERE status = 'pending' \
             AND created_at > now() - interval '30 days'",
        )
        .unwrap();
    }
    // and one with a bound parameter (extended protocol), 20 times, for the common value
    let by_status = c
        .prepare("SELECT count(*) FROM orders WHERE status = $1")
        .unwrap();
    for _ in 0..20 {
        c.query(&by_status, &[&"delivered"]).unwrap();
    }
    // stored by the next whole sample
    wait_samples(&mut c, 2);

    let pending = queryid_of(
        &mut c,
        "SELECT count(*), sum(total) FROM orders WHERE status = $1 AND created_at > now() - interval $2",
    );
    let sets: Vec<(String, i64)> = c
        .query(
            "SELECT params::text, times_seen FROM optischema.captured_params WHERE queryid = $1",
            &[&pending],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert_eq!(sets[0].0, r#"["'pending'", "'30 days'"]"#);
    // its first five executions, and perhaps one of the other 15 at 1 %
    assert!((5..=20).contains(&sets[0].1), "{sets:?}");
    let by_status = queryid_of(&mut c, "SELECT count(*) FROM orders WHERE status = $1");
    let seen: i64 = c
        .query_one(
            "SELECT coalesce(sum(times_seen), 0)::bigint FROM optischema.captured_params
              WHERE queryid = $1 AND params = '[\"''delivered''\"]'",
            &[&by_status],
        )
        .unwrap()
        .get(0);
    assert!((5..=20).contains(&seen), "{seen}");

    // the generic plan hides the skew; the plan for the captured values shows it
    let out: Value = c
        .query_one("SELECT optischema.explain($1)::text::json", &[&pending])
        .unwrap()
        .get(0);
    let rows_of = |plan: &Value| -> f64 {
        let text = plan.to_string();
        // the scan of orders: the deepest node with a "Relation Name"
        fn scan_rows(node: &Value) -> Option<f64> {
            if node["Relation Name"] == "orders" {
                return node["Plan Rows"].as_f64();
            }
            node["Plans"].as_array()?.iter().find_map(scan_rows)
        }
        scan_rows(&plan[0]["Plan"]).unwrap_or_else(|| panic!("no scan of orders in {text}"))
    };
    let generic_rows = rows_of(&out["generic_plan"]);
    let custom_rows = rows_of(&out["custom_plans"][0]["plan"]);
    // (per worker when parallel: 200,000 rows × 1/3 × 1/3 over up to 3 processes)
    assert!(generic_rows > 2_000.0, "generic estimate {generic_rows}");
    assert!(custom_rows < 200.0, "estimate for 'pending' {custom_rows}");

    // the advisor plans it with its values and proposes the index only they justify
    c.batch_execute("SELECT optischema.analyze_now()").unwrap();
    let recs: Vec<String> = c
        .query(
            "SELECT sql FROM optischema.recommendations
              WHERE kind = 'index' AND status = 'open'
                AND evidence -> 'statements_helped' @> jsonb_build_array(jsonb_build_object('queryid', $1::bigint))",
            &[&pending],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert!(
        recs[0].starts_with("CREATE INDEX CONCURRENTLY ON public.orders (status, created_at)"),
        "{recs:?}"
    );
    // the common value needs nothing: no other index on orders
    let on_orders: i64 = c
        .query_one(
            "SELECT count(*) FROM optischema.recommendations
              WHERE kind = 'index' AND status = 'open' AND sql LIKE '%public.orders %'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(on_orders, 1);
}
