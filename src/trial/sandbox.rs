//! A trial in the sandbox: a database of its own there, made for this trial and dropped after,
//! gets copies of the tables; the statements run before and after the change, each in a
//! transaction that is rolled back. No transaction is open on this server meanwhile.

use super::gather::{Copy, Plan};
use super::libpq::{array_literal, Connection};
use super::{
    compared, read_explain, repeated, sandbox_database, sandbox_steps, Copied, Run, StatementTrial,
};

/// Rows sent in one INSERT.
const BATCH_BYTES: usize = 4 << 20;

/// Runs the trial of `plan` in the sandbox at `conninfo`, with `copy` of the tables;
/// `timeout_ms` bounds each statement there.
pub fn run(
    plan: &Plan,
    copy: &Copy,
    conninfo: &str,
    timeout_ms: i32,
) -> Result<(Vec<Copied>, Vec<StatementTrial>), String> {
    let mut admin = Connection::open(conninfo, None)?;
    admin.run(&format!("SET statement_timeout = {timeout_ms}"))?;
    let theirs =
        admin.value("SELECT system_identifier::text FROM pg_catalog.pg_control_system()")?;
    if theirs.as_deref() == Some(copy.system_identifier.as_str()) {
        return Err("optischema.sandbox_conninfo leads to this very server: the sandbox must be a separate PostgreSQL".into());
    }
    // databases of this server's trials that a crash kept from being dropped
    let prefix = format!("optischema_trial_{}_", copy.system_identifier);
    for row in admin.query(
        "SELECT datname FROM pg_catalog.pg_database WHERE starts_with(datname, $1)",
        &[Some(&prefix)],
    )? {
        if let Some(name) = row.into_iter().next().flatten() {
            admin.run(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                crate::plans::ident::quote_ident(&name)
            ))?;
        }
    }
    let database = sandbox_database(&copy.system_identifier, plan.action_id);
    admin
        .run(&format!(
            "CREATE DATABASE {database} TEMPLATE template0 {}",
            copy.locale
        ))
        .map_err(|e| format!("creating the sandbox database failed: {e}"))?;
    let outcome = Connection::open(conninfo, Some(&database)).and_then(|mut conn| {
        conn.run(&format!("SET statement_timeout = {timeout_ms}"))?;
        let copied = fill(&mut conn, copy)?;
        Ok((copied, measure(&mut conn, plan)?))
    });
    let dropped = admin.run(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
    match (outcome, dropped) {
        (Ok(done), Ok(())) => Ok(done),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(format!(
            "the trial ran, but dropping its sandbox database {database} failed: {e}"
        )),
    }
}

/// Creates the copies, loads their rows, then their indexes and statistics, and analyses them.
fn fill(conn: &mut Connection, copy: &Copy) -> Result<Vec<Copied>, String> {
    let step = |conn: &mut Connection, sql: &str| {
        conn.run(sql)
            .map_err(|e| format!("creating the copy failed on {sql}: {e}"))
    };
    conn.run("SET client_min_messages = warning")?;
    for (name, value) in &copy.settings {
        conn.query(
            "SELECT pg_catalog.set_config($1, $2, false)",
            &[Some(name), Some(value)],
        )?;
    }
    for sql in copy.schemas.iter().chain(&copy.types) {
        step(conn, sql)?;
    }
    let mut copied = Vec::new();
    for t in &copy.tables {
        step(conn, &t.create)?;
        let insert = format!(
            "INSERT INTO {0} SELECT * FROM unnest($1::text[]::{0}[])",
            t.qualified
        );
        let mut start = 0;
        while start < t.rows.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < t.rows.len() && (end == start || bytes < BATCH_BYTES) {
                bytes += t.rows[end].len();
                end += 1;
            }
            let literal = array_literal(&t.rows[start..end]);
            conn.query(&insert, &[Some(&literal)])
                .map_err(|e| format!("copying the rows of {} failed: {e}", t.qualified))?;
            start = end;
        }
        for sql in &t.after_rows {
            step(conn, sql)?;
        }
        copied.push(Copied {
            table: t.qualified.clone(),
            rows: t.rows.len() as i64,
            sampled: t.sampled,
        });
    }
    for sql in &copy.views {
        step(conn, sql)?;
    }
    conn.run("ANALYZE")?;
    conn.query(
        "SELECT pg_catalog.set_config('search_path', $1, false)",
        &[Some(&copy.search_path)],
    )?;
    Ok(copied)
}

/// One statement run, each time rolled back.
fn explain(conn: &mut Connection, text: &str) -> Result<Run, String> {
    repeated(|| {
        conn.run("BEGIN")?;
        let out = conn.value(&format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {text}"));
        conn.run("ROLLBACK")?;
        read_explain(&out?.unwrap_or_default())
    })
}

/// Every statement before the change, the change, every statement after.
fn measure(conn: &mut Connection, plan: &Plan) -> Result<Vec<StatementTrial>, String> {
    let mut trials = Vec::new();
    // the trials that ran before the change, with what runs after it
    let mut again: Vec<(usize, &str)> = Vec::new();
    for s in &plan.subjects {
        if let Some(t) = s.not_run() {
            trials.push(t);
            continue;
        }
        for (i, (_, text)) in s.texts.iter().enumerate() {
            let mut t = s.entry(i);
            match explain(conn, text) {
                Ok(run) => {
                    t.before = Some(run);
                    again.push((trials.len(), s.after_text(i, plan.kind)));
                }
                Err(e) => t.error = Some(format!("before: {e}")),
            }
            trials.push(t);
        }
    }
    for sql in sandbox_steps(plan.kind, &plan.steps)? {
        conn.run(&sql)
            .map_err(|e| format!("the change failed in the sandbox: {e}"))?;
    }
    for (at, text) in again {
        match explain(conn, text) {
            Ok(run) => trials[at].after = Some(run),
            Err(e) => trials[at].error = Some(format!("after: {e}")),
        }
    }
    Ok(trials.into_iter().map(compared).collect())
}
