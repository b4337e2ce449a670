//! What the SQL API tests plant in OptiSchema's tables and in the test database.

use pgrx::prelude::*;

/// Three statements with history in the current minute and one an hour ago.
pub fn seed_history() {
    Spi::run(
        "INSERT INTO optischema.statements VALUES
            (11, 'SELECT * FROM orders WHERE customer_id = $1', now() - interval '2 hours', now()),
            (22, 'SELECT count(*) FROM items', now() - interval '1 hour', now()),
            (33, 'UPDATE carts SET n = $1', now(), now());
         INSERT INTO optischema.history
         SELECT date_trunc('minute', now()) - m * interval '1 minute', q, u, d.oid, top,
                calls, ms, rows, hit, read, temp
           FROM (VALUES (0, 11, 10, true, 137, 274.0, 137, 500, 20, 0),
                        (0, 11, 11, true, 3, 6.0, 3, 10, 0, 0),
                        (0, 22, 10, true, 10, 100.0, 10, 0, 900, 64),
                        (0, 33, 10, false, 5, 20.0, 5, 1, 1, 0),
                        (90, 33, 10, false, 1000, 9000.0, 0, 0, 0, 0))
                AS v(m, q, u, top, calls, ms, rows, hit, read, temp)
           JOIN pg_database d ON d.datname = current_database();
         -- statement 11 also ran in another database, which this one's figures leave out
         INSERT INTO optischema.history
         SELECT date_trunc('minute', now()), 11, 10, oid, true, 50, 1000.0, 50, 0, 0, 0
           FROM pg_database WHERE datname = 'template1';",
    )
    .unwrap();
}

/// A table and one sampled statement per text, all run in this database.
pub fn seed_statements(texts: &[(i64, &str)]) {
    Spi::run(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text, at timestamptz);
         INSERT INTO events SELECT g, 'k' || (g % 7), now() - g * interval '1 minute'
           FROM generate_series(1, 2000) g;
         ANALYZE events;",
    )
    .unwrap();
    for (queryid, text) in texts {
        Spi::run_with_args(
            "INSERT INTO optischema.statements VALUES ($1, $2, now(), now());
             INSERT INTO optischema.history
             SELECT date_trunc('minute', now()), $1, 10, oid, true, 1, 1.0, 1, 0, 0, 0
               FROM pg_database WHERE datname = current_database();",
            &[(*queryid).into(), (*text).into()],
        )
        .unwrap();
    }
}

pub fn explain(queryid: i64) -> serde_json::Value {
    Spi::get_one_with_args::<pgrx::JsonB>("SELECT optischema.explain($1)", &[queryid.into()])
        .unwrap()
        .unwrap()
        .0
}

/// A planted workload: tables with data and statistics, and sampled statements that need
/// an index, an expression index, a sorted index, nothing, or cannot be planned.
pub fn plant_workload() {
    Spi::run(
        "CREATE TABLE shop_orders (id bigint PRIMARY KEY, customer_id bigint, status text, created_at timestamptz);
         INSERT INTO shop_orders SELECT g, g % 20000, CASE WHEN g % 100 = 0 THEN 'pending' ELSE 'done' END,
                now() - g * interval '1 minute' FROM generate_series(1, 60000) g;
         CREATE TABLE shop_customers (id bigint PRIMARY KEY, email text);
         INSERT INTO shop_customers SELECT g, 'User' || g || '@Example.com' FROM generate_series(1, 20000) g;
         CREATE TABLE shop_small (id int PRIMARY KEY, v int);
         INSERT INTO shop_small SELECT g, g FROM generate_series(1, 100) g;
         CREATE INDEX shop_orders_status_unused ON shop_orders (status);
         ANALYZE shop_orders, shop_customers, shop_small;",
    )
    .unwrap();
    let statements: &[(i64, &str, i64, f64)] = &[
        (101, "SELECT id FROM shop_orders WHERE customer_id = $1", 5000, 40_000.0),
        (102, "SELECT id FROM shop_customers WHERE lower(email) = lower($1)", 3000, 30_000.0),
        (103, "SELECT id, created_at FROM shop_orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2", 2000, 20_000.0),
        (104, "SELECT v FROM shop_small WHERE v = $1", 9000, 900.0),
        (105, "SELECT customer_id FROM shop_orders WHERE id = $1", 9000, 450.0),
        (106, "INSERT INTO shop_orders (id, customer_id, status, created_at) VALUES ($1, $2, $3, $4)", 800, 400.0),
        (107, "SELECT count(*) FROM shop_orders WHERE created_at > now() - interval $1", 10, 100.0),
        (108, "VACUUM shop_orders", 1, 50.0),
    ];
    for (queryid, text, calls, ms) in statements {
        Spi::run_with_args(
            "INSERT INTO optischema.statements VALUES ($1, $2, now(), now());
             INSERT INTO optischema.history
             SELECT date_trunc('minute', now()), $1, 10, oid, true, $3, $4, $3, 0, 0, 0
               FROM pg_database WHERE datname = current_database();",
            &[
                (*queryid).into(),
                (*text).into(),
                (*calls).into(),
                (*ms).into(),
            ],
        )
        .unwrap();
    }
}
