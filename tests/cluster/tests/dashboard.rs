//! The dashboard in headless Chromium, served by the proxy from a real cluster: the page loads,
//! a statement that starts running appears in the hot queries without a reload, a
//! recommendation found meanwhile opens in its modal with its SQL, and a trial started there
//! is announced live. Screenshots go to target/screenshots for review.

use optischema_cluster_tests::browser::Browser;
use optischema_cluster_tests::*;
use postgres::fallible_iterator::FallibleIterator;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TOKEN: &str = "dashboard-test-token-0123456789";

#[test]
fn the_dashboard_follows_the_workload_live() {
    let cluster = Cluster::start(&["optischema.param_sample_rate = 1"]);
    let mut c = cluster.connect_with_extension();
    c.batch_execute(
        "CREATE ROLE dash LOGIN; GRANT optischema_reader TO dash;
         CREATE ROLE dba LOGIN; GRANT optischema_admin TO dba;
         -- every statement's text, as pg_stat_statements shows it to pg_read_all_stats; the
         -- statements are planned as the roles that ran them, so no SELECT on their tables
         GRANT pg_read_all_stats TO dash, dba;
         CREATE TABLE dash_orders (id bigserial PRIMARY KEY, customer int, total numeric);
         INSERT INTO dash_orders (customer, total) SELECT g % 20000, g FROM generate_series(1, 200000) g;",
    )
    .unwrap();
    // in a transaction of its own: an ANALYZE in the loading transaction is followed, at its
    // commit, by the 200,000 inserts counted as changes since ANALYZE, and the analysis then
    // rightly proposes ANALYZE dash_orders too (unless autovacuum got there first)
    c.batch_execute("ANALYZE dash_orders").unwrap();
    let reader = format!(
        "shop=host=127.0.0.1 port={} user=dash dbname=postgres",
        cluster.port
    );
    let admin = format!(
        "shop=host=127.0.0.1 port={} user=dba dbname=postgres",
        cluster.port
    );
    let proxy = Proxy::start(
        &["--dsn", &reader, "--admin-dsn", &admin],
        &[("OPTISCHEMA_ADMIN_TOKEN", TOKEN)],
    );
    let browser = Browser::start();

    let opened = Instant::now();
    browser.goto(&proxy.url("/"));
    browser.wait_for(
        "the live link",
        "return document.getElementById('link').dataset.state === 'live'",
        Duration::from_secs(10),
    );
    let load_ms = browser
        .eval("return performance.timing.loadEventEnd - performance.timing.navigationStart")
        .as_f64()
        .unwrap();
    assert!(
        load_ms > 0.0 && load_ms < 3000.0,
        "the page took {load_ms} ms to load"
    );
    assert!(opened.elapsed() < Duration::from_secs(10));
    assert_eq!(
        browser.eval("return document.getElementById('mode').textContent"),
        "actions allowed"
    );
    browser.wait_for(
        "the worker's status",
        "return document.getElementById('status').textContent.includes('running (pid')",
        Duration::from_secs(10),
    );
    browser.screenshot("dashboard-overview");

    // a change announced by a worker reaches the screen within 2 s (here a dismissal, which
    // the apply worker announces for the caller; a client's own NOTIFY is not forwarded). The
    // times are taken where they happen: the page stamps the feed line when it adds it (the
    // WebDriver round trips that look for it are the test's, and take seconds on a busy
    // machine), and a plain LISTEN session stamps the NOTIFY, which tells the server's share
    // from the proxy's and the page's when the limit is missed
    let planted = planted(
        &mut c,
        "index",
        "CREATE INDEX CONCURRENTLY ON public.dash_feed (x)",
    );
    let mut listener = cluster.connect();
    listener.batch_execute("LISTEN optischema").unwrap();
    browser.eval(&format!(
        "window.shownAt = null;
         new MutationObserver((changes, observer) => {{
           if ([...document.querySelectorAll('#feed li')].some(li => li.textContent.includes('recommendation {planted} (index) dismissed'))) {{
             window.shownAt = Date.now();
             observer.disconnect();
           }}
         }}).observe(document.getElementById('feed'), {{ childList: true }});
         return true"
    ));
    let sent = epoch_ms();
    c.query_one("SELECT (optischema.dismiss($1)).id", &[&planted])
        .unwrap();
    let announced = loop {
        let n = listener
            .notifications()
            .timeout_iter(Duration::from_secs(10))
            .next()
            .unwrap()
            .expect("the dismissal was announced within 10 s");
        if n.payload().contains(&format!("\"id\":{planted},")) {
            break epoch_ms();
        }
    };
    let shown = browser
        .wait_for(
            "the NOTIFY in the feed",
            "return window.shownAt",
            Duration::from_secs(10),
        )
        .as_f64()
        .unwrap();
    let took = shown - sent;
    eprintln!(
        "dashboard: the dismissal reached the listeners in {} ms, the page {} ms later",
        announced - sent,
        shown - announced
    );
    assert!(
        took < 2000.0,
        "a NOTIFY took {took} ms to reach the screen: {} ms to the server's listeners, then {} ms \
         through the proxy to the page",
        announced - sent,
        shown - announced
    );

    // a statement starts running: it appears without a reload
    browser.eval("window.sameLoad = true; return true");
    let stmt = c
        .prepare("SELECT id, total FROM dash_orders WHERE customer = $1")
        .unwrap();
    for i in 0..40 {
        c.query(&stmt, &[&i]).unwrap();
    }
    browser.wait_for(
        "the new hot query",
        "return [...document.querySelectorAll('#hot tbody td.query')].some(td => td.textContent.includes('dash_orders'))",
        Duration::from_secs(15),
    );
    assert_eq!(
        browser.eval("return window.sameLoad === true"),
        true,
        "the page reloaded"
    );
    browser.wait_for(
        "a heatmap row",
        "return !!document.querySelector('#heat svg rect')",
        Duration::from_secs(10),
    );
    browser.screenshot("dashboard-hot-queries");

    // the analysis finds an index: the recommendation arrives live and opens in its modal
    c.query_one("SELECT optischema.analyze_now()", &[]).unwrap();
    browser.wait_for(
        "the recommendation row",
        "return [...document.querySelectorAll('#recs tbody tr')].some(tr => tr.textContent.includes('dash_orders'))",
        Duration::from_secs(10),
    );
    browser.eval(
        "[...document.querySelectorAll('#recs tbody tr')].find(tr => tr.textContent.includes('dash_orders')).click(); return true",
    );
    let sql = browser.wait_for(
        "the modal's SQL",
        "return document.getElementById('modal').open && document.getElementById('m-sql').textContent",
        Duration::from_secs(10),
    );
    assert!(
        sql.as_str()
            .unwrap()
            .starts_with("CREATE INDEX CONCURRENTLY ON public.dash_orders (customer"),
        "{sql}"
    );
    browser.wait_for(
        "the plan",
        "return document.getElementById('m-plan').textContent.includes('Seq Scan on dash_orders')",
        Duration::from_secs(10),
    );
    browser.screenshot("dashboard-recommendation");

    // a trial from the modal, confirmed, announced live
    browser.eval(
        &format!("window.confirm = () => true; document.getElementById('token').value = '{TOKEN}';
                  document.querySelector('#m-actions button[data-action=trial]').click(); return true"),
    );
    browser.wait_for(
        "the trial to be queued",
        "return document.getElementById('m-result').textContent.includes('queued as action')",
        Duration::from_secs(10),
    );
    browser.wait_for(
        "the trial's result in the feed",
        "return [...document.querySelectorAll('#feed li')].some(li => li.textContent.includes('trial of'))",
        Duration::from_secs(30),
    );
    browser.wait_for(
        "the trial in the modal",
        "return !document.getElementById('m-trial-box').hidden && document.getElementById('m-trial').textContent.includes('ran in here')
                && document.getElementById('m-trial').textContent.includes('(projected)')",
        Duration::from_secs(10),
    );
    browser.screenshot("dashboard-trial");
}

/// Now, in milliseconds since the epoch: the clock the page's `Date.now()` reads.
fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}
