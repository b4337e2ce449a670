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
