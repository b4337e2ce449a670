//! A throw-away PostgreSQL 15 cluster with OptiSchema preloaded, for integration tests.
//!
//! Each [`Cluster`] gets its own data directory under /var/tmp and a free loopback port, and is
//! stopped (immediate mode) and removed when dropped. As root, the server runs as the `postgres`
//! OS user, since initdb refuses root.

pub mod mock_llm;

pub mod browser;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

pub struct Cluster {
    pub port: u16,
    pub dir: PathBuf,
    bindir: PathBuf,
}

fn bindir() -> PathBuf {
    let pg_config = std::env::var("PG_CONFIG")
        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pg_config".into());
    let out = Command::new(&pg_config)
        .arg("--bindir")
        .output()
        .expect("pg_config runs");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// Runs a server binary as the `postgres` OS user when we are root.
fn as_server_user(program: &Path, args: &[&str]) -> Output {
    let mut cmd = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .current_dir("/")
        .output()
        .expect("server binary runs")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// A new cluster whose postgresql.conf gets `settings` after the defaults below.
    pub fn start(settings: &[&str]) -> Cluster {
        let id = NEXT_ID.fetch_add(1, Ordering::SeqCst);
        let dir = PathBuf::from(format!(
            "/var/tmp/optischema-it-{}-{id}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if running_as_root() {
            assert!(Command::new("chown")
                .args(["postgres", dir.to_str().unwrap()])
                .status()
                .unwrap()
                .success());
        }
        let cluster = Cluster {
            port: free_port(),
            dir,
            bindir: bindir(),
        };
        let data = cluster.data();
        let out = as_server_user(
            &cluster.bindir.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "--auth=trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut conf = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nshared_preload_libraries = 'pg_stat_statements,optischema'\n\
             optischema.sample_interval = 1\nlogging_collector = off\n",
            cluster.port,
            cluster.dir.display()
        );
        for s in settings {
            conf.push_str(s);
            conf.push('\n');
        }
        let conf_path = data.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path).unwrap();
        existing.push_str(&conf);
        std::fs::write(&conf_path, existing).unwrap();
        cluster.pg_ctl_start();
        cluster
    }

    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts the server, retrying while the remains of a killed one still hold shared memory.
    pub fn pg_ctl_start(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = as_server_user(
                &self.bindir.join("pg_ctl"),
                &[
                    "-D",
                    self.data().to_str().unwrap(),
                    "-l",
                    self.log_path().to_str().unwrap(),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
            );
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pg_ctl start failed:\n{}",
                self.log()
            );
            sleep(Duration::from_millis(500));
        }
    }

    pub fn pg_ctl(&self, args: &[&str]) {
        let data = self.data();
        let mut all = vec!["-D", data.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = as_server_user(&self.bindir.join("pg_ctl"), &all);
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn postmaster_pid(&self) -> i32 {
        let pidfile = std::fs::read_to_string(self.data().join("postmaster.pid")).unwrap();
        pidfile.lines().next().unwrap().trim().parse().unwrap()
    }

    /// A connection, retried while the server (re)starts.
    pub fn connect(&self) -> Client {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Client::connect(
                &format!(
                    "host=127.0.0.1 port={} user=postgres dbname=postgres",
                    self.port
                ),
                NoTls,
            ) {
                Ok(mut c) => {
                    if c.simple_query("SELECT 1").is_ok() {
                        return c;
                    }
                }
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "cannot connect: {e}\n{}",
                    self.log()
                ),
            }
            sleep(Duration::from_millis(200));
        }
    }

    /// A connection to database `db` as postgres.
    pub fn connect_to(&self, db: &str) -> Client {
        Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname={db}",
                self.port
            ),
            NoTls,
        )
        .unwrap_or_else(|e| panic!("cannot connect to {db}: {e}"))
    }

    /// Polls `done` every 50 ms until it holds; fails with `what` and the server log after
    /// `within`.
    pub fn wait_until(&self, within: Duration, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + within;
        while !done() {
            assert!(Instant::now() < deadline, "{what}\n{}", self.log());
            sleep(Duration::from_millis(50));
        }
    }

    /// A connection as another role (trust authentication).
    pub fn connect_as(&self, user: &str) -> Client {
        Client::connect(
            &format!(
                "host=127.0.0.1 port={} user={user} dbname=postgres",
                self.port
            ),
            NoTls,
        )
        .expect("connects")
    }

    /// Connects and creates the extension (and pg_stat_statements with it).
    pub fn connect_with_extension(&self) -> Client {
        let mut c = self.connect();
        c.batch_execute("CREATE EXTENSION IF NOT EXISTS optischema CASCADE")
            .unwrap();
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_server_user(
            &self.bindir.join("pg_ctl"),
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        if std::env::var_os("OPTISCHEMA_KEEP_CLUSTERS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn samples_taken(c: &mut Client) -> i64 {
    c.query_one("SELECT samples_taken FROM optischema.status()", &[])
        .unwrap()
        .get(0)
}

pub fn worker_pid(c: &mut Client) -> Option<i32> {
    c.query_one("SELECT worker_pid FROM optischema.status()", &[])
        .unwrap()
        .get(0)
}

/// Waits until `n` more samples have committed: with n >= 2, at least one whole sample ran
/// after this call, so everything done before it is counted.
pub fn wait_samples(c: &mut Client, n: i64) {
    let target = samples_taken(c) + n;
    let deadline = Instant::now() + Duration::from_secs(30);
    while samples_taken(c) < target {
        assert!(
            Instant::now() < deadline,
            "the worker took no sample for 30 s"
        );
        sleep(Duration::from_millis(100));
    }
}

/// Calls recorded in the history for one statement text (as pg_stat_statements normalized it).
pub fn recorded_calls(c: &mut Client, query: &str) -> i64 {
    c.query_one(
        "SELECT coalesce(sum(h.calls), 0)::bigint FROM optischema.history_all h
           JOIN optischema.statements s USING (queryid) WHERE s.query = $1",
        &[&query],
    )
    .unwrap()
    .get(0)
}

/// The queryid of the statement OptiSchema stored with exactly this text.
pub fn queryid_of(c: &mut Client, text: &str) -> i64 {
    c.query_one(
        "SELECT queryid FROM optischema.statements WHERE query = $1",
        &[&text],
    )
    .unwrap()
    .get(0)
}

/// `optischema.ask()` in `c`'s database, as JSON.
pub fn ask(c: &mut Client, queryid: i64) -> serde_json::Value {
    c.query_one("SELECT optischema.ask($1)::text::json", &[&queryid])
        .unwrap()
        .get(0)
}

/// The model's explanation shown with the statement's recommendations, if any.
pub fn ai_explanation(c: &mut Client, queryid: i64) -> Option<String> {
    c.query_one(
        "SELECT ai_explanation FROM optischema.recommendations WHERE queryid = $1 LIMIT 1",
        &[&queryid],
    )
    .unwrap()
    .get(0)
}

/// `status()`'s tokens used today and what is left of the daily budget.
pub fn ai_tokens(c: &mut Client) -> (i64, i64) {
    let r = c
        .query_one(
            "SELECT ai_tokens_today, ai_token_budget_left FROM optischema.status()",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

/// Waits until the newest AI request for `queryid` is neither queued nor running; its status.
pub fn wait_request_done(c: &mut Client, queryid: i64, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let status: Option<String> = c
            .query_one(
                "SELECT (SELECT status FROM optischema.ai_requests WHERE queryid = $1 ORDER BY id DESC LIMIT 1)",
                &[&queryid],
            )
            .unwrap()
            .get(0);
        match status.as_deref() {
            Some("queued") | Some("running") | None if Instant::now() < deadline => {
                sleep(Duration::from_millis(100))
            }
            other => return other.unwrap_or("none").to_string(),
        }
    }
}

/// Runs `sql` (one `$1` int parameter) `n` times with different values.
pub fn run_times(c: &mut Client, sql: &str, n: i32) {
    let stmt = c.prepare(sql).unwrap();
    for i in 0..n {
        c.query(&stmt, &[&i]).unwrap();
    }
}

/// The next notification within half a second, if any (a fresh iterator each call: one that
/// timed out once stops waiting).
pub fn next_notification(listener: &mut Client) -> Option<postgres::Notification> {
    listener
        .notifications()
        .timeout_iter(Duration::from_millis(500))
        .next()
        .unwrap()
}

// Recommendations to apply or try, and waiting for the apply worker.

pub fn load_big(c: &mut Client) {
    c.batch_execute(
        "CREATE TABLE big (id bigserial PRIMARY KEY, k int, pad text);
         INSERT INTO big (k, pad) SELECT g % 5000, repeat('x', 50) FROM generate_series(1, 200000) g;",
    )
    .unwrap();
    // vacuumed now, not by autovacuum in the middle of a test: the visibility map decides
    // whether an index-only scan pays, so the best index on big (k) is (k) before a vacuum and
    // (k) INCLUDE (id) after one, and a test must not see the advice change under it
    vacuum_all_visible(c, "big");
    forget_the_load(c);
}

/// `VACUUM (ANALYZE)` of `table` (of every table in `public` when empty) that leaves each of
/// its pages all-visible, as the advice the tests expect assumes (an index-only scan pays on
/// all-visible pages only, so the best index for a lookup is (k) on a table just loaded and
/// (k) INCLUDE (id) once it is vacuumed). VACUUM marks a page all-visible only when no running
/// transaction could still see the page otherwise, and OptiSchema's workers hold a transaction
/// through each sample, longer on a loaded machine; VACUUM also passes over pages another
/// backend has pinned, as an autovacuum ANALYZE of the new table does. So: autovacuum is turned
/// off for the table (which waits for one under way); before each VACUUM every transaction
/// older than the load must have ended; and VACUUM runs again (at most five times) until the
/// visibility map covers every page, which is then asserted: the test's premise, not the
/// product's behaviour, is what is waited for.
pub fn vacuum_all_visible(c: &mut Client, table: &str) {
    let tables: Vec<String> = c
        .query(
            "SELECT oid::regclass::text FROM pg_class
              WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace
                AND ($1 = '' OR oid = $1::text::regclass)",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for t in &tables {
        c.batch_execute(&format!("ALTER TABLE {t} SET (autovacuum_enabled = off)"))
            .unwrap();
    }
    let loaded: String = c
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .unwrap()
        .get(0);
    let mut partly_visible = Vec::new();
    for _ in 0..5 {
        wait_for_transactions_before(c, &loaded);
        c.batch_execute(&format!("VACUUM (ANALYZE) {table}"))
            .unwrap();
        partly_visible = c
            .query(
                "SELECT relname || ': ' || relallvisible || ' of ' || relpages
                   FROM pg_class
                  WHERE oid::regclass::text = ANY ($1) AND relallvisible < relpages",
                &[&tables],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        if partly_visible.is_empty() {
            return;
        }
    }
    panic!("pages left not all-visible after five VACUUMs: {partly_visible:?}");
}

/// Waits (at most 60 s) until no transaction of this database that began before transaction
/// `xid` is still running.
fn wait_for_transactions_before(c: &mut Client, xid: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let older: Vec<String> = c
            .query(
                "SELECT coalesce(backend_type, '') || ' ' || pid || ': ' || coalesce(left(query, 60), '')
                   FROM pg_stat_activity
                  WHERE (datname = current_database() OR datname IS NULL) AND pid <> pg_backend_pid()
                    AND (age(backend_xmin) >= age($1::text::xid) OR age(backend_xid) >= age($1::text::xid))",
                &[&xid],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        if older.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "transactions older than {xid} after 60 s: {older:?}"
        );
        sleep(Duration::from_millis(100));
    }
}

/// Clears the history, so that loading a test's tables is not taken for its workload: the
/// advisor weighs an index against the last hour's inserts, and a 200,000-row load against a
/// few lookups is a close call that CPU contention decides either way.
pub fn forget_the_load(c: &mut Client) {
    c.query_one("SELECT optischema.reset()", &[]).unwrap();
    // the next sample takes a new baseline: what runs after it is counted
    wait_samples(c, 2);
}

/// The open index recommendation on big (k), found by the analysis (the one the advisor
/// selects: `big (k) INCLUDE (id)` on the vacuumed table).
pub fn index_recommendation(c: &mut Client) -> i64 {
    wait_samples(c, 2);
    run_times(c, "SELECT id FROM big WHERE k = $1", 20);
    wait_samples(c, 2);
    c.query_one("SELECT optischema.analyze_now()", &[]).unwrap();
    let found: Vec<(i64, String)> = c
        .query(
            "SELECT id, sql FROM optischema.recommendations
              WHERE kind = 'index' AND status = 'open'
                AND sql LIKE 'CREATE INDEX CONCURRENTLY ON public.big (k)%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(found.len(), 1, "one open index on big (k): {found:?}");
    found[0].0
}

/// A recommendation row as the analysis would store it, for fixes it would not find here.
pub fn planted(c: &mut Client, kind: &str, sql: &str) -> i64 {
    planted_for(c, None, kind, sql)
}

/// The same, found for statement `queryid`.
pub fn planted_for(c: &mut Client, queryid: Option<i64>, kind: &str, sql: &str) -> i64 {
    c.query_one(
        "INSERT INTO optischema.recommendation_store (fingerprint, queryid, kind, title, sql, explanation, confidence)
         VALUES ($1 || ':' || $2, $3, $1, 'planted', $2, 'planted for the test', 0.5) RETURNING id",
        &[&kind, &sql, &queryid],
    )
    .unwrap()
    .get(0)
}

/// Waits for action `action` to end; returns its outcome and error.
pub fn wait_action(c: &mut Client, action: i64) -> (String, Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = c
            .query_one(
                "SELECT outcome, error FROM optischema.actions WHERE id = $1",
                &[&action],
            )
            .unwrap();
        let outcome: String = row.get(0);
        if outcome == "done" || outcome == "failed" {
            return (outcome, row.get(1));
        }
        assert!(Instant::now() < deadline, "action {action} still {outcome}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// The dashboard's proxy, started on a free loopback port.

/// A running `optischema-proxy`, stopped when dropped.
pub struct Proxy {
    pub port: u16,
    child: std::process::Child,
}

impl Proxy {
    /// Starts the proxy (the binary `OPTISCHEMA_PROXY` names, or the workspace's release build)
    /// with `args`; waits until it answers.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Proxy {
        let binary = std::env::var("OPTISCHEMA_PROXY").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/release/optischema-proxy"
            )
            .to_string()
        });
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let ui = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui");
        let mut command = Command::new(&binary);
        command.args(args).args(["--listen", &listen, "--ui", ui]);
        command.env_remove("OPTISCHEMA_ADMIN_TOKEN");
        command.env_remove("OPTISCHEMA_PROXY_TOKEN");
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {binary}: {e} (build it: cargo build --release -p optischema-proxy)"
            )
        });
        let proxy = Proxy { port, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the proxy did not start");
            sleep(Duration::from_millis(50));
        }
        proxy
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
