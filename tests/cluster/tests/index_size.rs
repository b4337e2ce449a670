//! The size model against real indexes: for keys from unique to heavily repeated, for types and
//! index shapes B-tree deduplication applies to and those it does not (numeric, INCLUDE, unique,
//! a non-deterministic collation), `whatif()`'s size must be within 10 % of `pg_relation_size`
//! of the same index built by a plain CREATE INDEX after ANALYZE.
//!
//! `cargo test --test index_size -- --nocapture` prints the table of model against real sizes.
//!
//! The model is as good as the statistics: keys are counted from ANALYZE's n_distinct, which a
//! 30,000-row sample estimates well here (the order lines are half a million rows; on a million
//! it finds 20 % fewer keys than there are, and the estimate comes out 8-10 % under). A column
//! stored in key order is the exception the model corrects: ANALYZE's block sample sees its
//! repeats too often (`lw`: order lines in wide rows, sampled from fewer blocks than the table
//! has, where ANALYZE finds about 40 % of the orders there are); that case is held to 15 %. A
//! partial index is taken to keep rows independently of their key. Two correlated columns make
//! far fewer keys than the product of their values: the keys are counted together, from
//! extended statistics or a block sample, also when a key's rows are stored side by side.

use optischema_cluster_tests::*;

/// (what the case shows, the index)
const CASES: &[(&str, &str)] = &[
    ("unique bigint", "CREATE INDEX ON sz (id)"),
    (
        "unique int, UNIQUE index",
        "CREATE UNIQUE INDEX ON sz (id4)",
    ),
    ("10 rows per int key", "CREATE INDEX ON sz (k10)"),
    (
        "1..7 rows per int key (order lines)",
        "CREATE INDEX ON li (orderkey)",
    ),
    (
        "~20 rows per int key, at random",
        "CREATE INDEX ON sz (cust)",
    ),
    ("100 int values", "CREATE INDEX ON sz (k100)"),
    ("skewed: 2 values take 80 %", "CREATE INDEX ON sz (skew)"),
    ("2,500 dates", "CREATE INDEX ON sz (d)"),
    ("50,000 texts", "CREATE INDEX ON sz (t)"),
    ("1,000 numerics (no dedup)", "CREATE INDEX ON sz (n)"),
    (
        "100 ints INCLUDE bigint (no dedup)",
        "CREATE INDEX ON sz (k100) INCLUDE (id)",
    ),
    (
        "1,000 texts, non-deterministic (no dedup)",
        "CREATE INDEX ON sz (ci)",
    ),
    (
        "100 ints, deduplicate_items off",
        "CREATE INDEX ON sz (k100) WITH (deduplicate_items = off)",
    ),
    (
        "two columns, 3,700 combinations",
        "CREATE INDEX ON sz (a, b)",
    ),
    (
        "two columns, unique combinations",
        "CREATE INDEX ON sz (k100, id)",
    ),
    (
        "two correlated columns: 25,000 parts × 4 suppliers, 10 rows per pair (sampled)",
        "CREATE INDEX ON sz (part, supp)",
    ),
    (
        "two correlated columns: 15,000 zips in 5,000 cities (extended statistics)",
        "CREATE INDEX ON sz (city, zip)",
    ),
    (
        "(customer, date) of 125,000 orders, an order's 1..7 lines stored together (sampled)",
        "CREATE INDEX ON li (cust, odate)",
    ),
    (
        "10 rows per key, partial (10 % of rows)",
        "CREATE INDEX ON sz (k10) WHERE cust <= 5000",
    ),
    ("mostly NULL (90 %)", "CREATE INDEX ON sz (sparse)"),
    (
        "date INCLUDE bigint, int, numeric (padding before the bigint)",
        "CREATE INDEX ON sz (d) INCLUDE (id, id4, n)",
    ),
    (
        "text, then a bigint at a varying offset",
        "CREATE INDEX ON sz (t, id)",
    ),
];

/// Order lines stored by order, in a table of more blocks than ANALYZE samples: the model
/// corrects ANALYZE's count, whose own sample noise (a few percent at this statistics target)
/// it inherits, so this case is held to 15 %.
const IN_KEY_ORDER: (&str, &str) = (
    "order lines stored by order, fewer blocks sampled than the table has",
    "CREATE INDEX ON lw (orderkey)",
);

#[test]
fn the_size_model_is_within_ten_percent_of_real_indexes() {
    let cluster = Cluster::start(&[]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute(
        r#"CREATE COLLATION sz_ci (provider = icu, deterministic = false, locale = 'und-u-ks-level2');
           CREATE TABLE sz AS
           SELECT g::bigint AS id, g::int AS id4, (g / 10)::int AS k10, (g % 100)::int AS k100,
                  CASE WHEN g % 10 < 6 THEN 0 WHEN g % 10 < 8 THEN 1 ELSE g % 100000 END AS skew,
                  date '2000-01-01' + (g % 2500) AS d,
                  'customer#' || lpad((g % 50000)::text, 9, '0') AS t,
                  (g % 1000)::numeric AS n,
                  1 + abs(hashint4(g)) % 50000 AS cust,
                  (g % 100)::int AS a, (g % 37)::int AS b,
                  ('key ' || (g % 1000)) COLLATE sz_ci AS ci,
                  CASE WHEN g % 10 = 0 THEN g END AS sparse,
                  abs(hashint4(g)) % 25000 AS part,
                  (abs(hashint4(g)) % 25000 + (abs(hashint4(-g)) % 4) * 2500) % 10000 AS supp,
                  g % 5000 AS city, (g % 5000) * 3 + (g / 5000) % 3 AS zip
             FROM generate_series(1, 1000000) g;
           CREATE STATISTICS sz_city_zip (ndistinct) ON city, zip FROM sz;
           CREATE TABLE li AS
           SELECT o AS orderkey, l AS linenumber, abs(hashint4(-o)) % 10000 AS cust,
                  date '2000-01-01' + abs(hashint4(o + 500000)) % 2500 AS odate
             FROM generate_series(1, 125000) o, generate_series(1, 1 + abs(hashint4(o)) % 7) l;
           CREATE TABLE lw AS
           SELECT o AS orderkey, repeat('x', 200) AS filler
             FROM generate_series(1, 120000) o, generate_series(1, 1 + abs(hashint4(o)) % 7) l;
           ALTER TABLE lw ALTER orderkey SET STATISTICS 20, ALTER filler SET STATISTICS 20;
           ANALYZE sz; ANALYZE li; ANALYZE lw;"#,
    )
    .unwrap();
    // the premise of the `lw` case: ANALYZE's sample (6,000 rows from 6,000 of its 14,000
    // blocks) misses a third of its 120,000 orders or more
    // (a negative n_distinct is a share of the rows)
    let estimated: f64 = c
        .query_one(
            "SELECT CASE WHEN s.n_distinct < 0 THEN -s.n_distinct * c.reltuples
                         ELSE s.n_distinct END::float8
               FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename
              WHERE s.tablename = 'lw' AND s.attname = 'orderkey'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!((1.0..80_000.0).contains(&estimated), "{estimated}");
    let mut rows = Vec::new();
    let cases = CASES
        .iter()
        .map(|(what, index)| (*what, *index, 0.10))
        .chain(std::iter::once((IN_KEY_ORDER.0, IN_KEY_ORDER.1, 0.15)));
    for (what, index, tolerance) in cases {
        let table = index
            .split(" ON ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let model: f64 = c
            .query_one(
                "SELECT size_mb FROM optischema.whatif($1, ARRAY[$2])",
                &[&format!("SELECT 1 FROM {table}"), &index],
            )
            .unwrap()
            .get(0);
        c.batch_execute(&index.replacen(" ON ", " size_real ON ", 1))
            .unwrap();
        let real: f64 = c
            .query_one(
                "SELECT pg_relation_size('size_real') / 1048576.0::float8",
                &[],
            )
            .unwrap()
            .get(0);
        c.batch_execute("DROP INDEX size_real").unwrap();
        rows.push((what, index, model, real, tolerance));
    }
    println!("| index | what | model MB | real MB | error |");
    println!("|---|---|---:|---:|---:|");
    for (what, index, model, real, _) in &rows {
        println!(
            "| `{}` | {what} | {model:.2} | {real:.2} | {:+.1} % |",
            index.trim_start_matches("CREATE "),
            (model - real) / real * 100.0
        );
    }
    let off: Vec<_> = rows
        .iter()
        .filter(|(_, _, model, real, tolerance)| (model - real).abs() > tolerance * real)
        .collect();
    assert!(off.is_empty(), "further off than allowed: {off:?}");
}
