//! Writing OptiSchema's own tables through SPI. The SQL lives in `sql/sampling/*.sql`.

use super::delta::{Counters, StatementKey};
use crate::notify::HotQuery;
use pgrx::datum::{DatumWithOid, TimestampWithTimeZone};
use pgrx::spi::{self, quote_identifier, SpiClient};
use std::collections::{HashMap, HashSet};

pub struct State {
    pub generation: i64,
    pub baseline_taken: bool,
    /// pg_stat_statements' `stats_reset` differs from the one seen at the last sample.
    pub pgss_reset_moved: bool,
    pub hot_top: Vec<i64>,
    /// pg_stat_statements' `stats_reset` now, stored as the next sample's reference.
    pub pgss_stats_reset: Option<TimestampWithTimeZone>,
}

pub fn extension_installed(client: &SpiClient<'_>) -> spi::Result<bool> {
    Ok(client
        .select(
            "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'optischema'",
            None,
            &[],
        )?
        .len()
        == 1)
}

pub fn lock_state(client: &mut SpiClient<'_>, pgss_schema: &str) -> spi::Result<State> {
    let query = include_str!("../../sql/sampling/lock_state.sql")
        .replace("@pgss@", &quote_identifier(pgss_schema));
    let row = client.update(&query, Some(1), &[])?.first();
    Ok(State {
        generation: row.get::<i64>(1)?.unwrap_or_default(),
        baseline_taken: row.get::<bool>(2)?.unwrap_or(false),
        pgss_reset_moved: row.get::<bool>(3)?.unwrap_or(false),
        hot_top: row.get::<Vec<i64>>(4)?.unwrap_or_default(),
        pgss_stats_reset: row.get::<TimestampWithTimeZone>(5)?,
    })
}

pub fn load_snapshot(client: &SpiClient<'_>) -> spi::Result<HashMap<StatementKey, Counters>> {
    super::pgss::read_entries(client, include_str!("../../sql/sampling/load_snapshot.sql"))
}

pub fn load_known_queryids(client: &SpiClient<'_>) -> spi::Result<HashSet<i64>> {
    let table = client.select("SELECT queryid FROM optischema.statements", None, &[])?;
    let mut out = HashSet::with_capacity(table.len());
    for row in table {
        out.extend(row.get::<i64>(1)?);
    }
    Ok(out)
}

/// The ten columns of a list of entries, as arrays for `unnest()`.
fn columns(entries: &[(StatementKey, Counters)]) -> Vec<DatumWithOid<'static>> {
    let pick_i64 = |f: &dyn Fn(&(StatementKey, Counters)) -> i64| -> DatumWithOid<'static> {
        entries.iter().map(f).collect::<Vec<i64>>().into()
    };
    vec![
        pick_i64(&|(k, _)| k.queryid),
        pick_i64(&|(k, _)| k.userid as i64),
        pick_i64(&|(k, _)| k.dbid as i64),
        entries
            .iter()
            .map(|(k, _)| k.toplevel)
            .collect::<Vec<bool>>()
            .into(),
        pick_i64(&|(_, c)| c.calls),
        entries
            .iter()
            .map(|(_, c)| c.total_ms)
            .collect::<Vec<f64>>()
            .into(),
        pick_i64(&|(_, c)| c.rows),
        pick_i64(&|(_, c)| c.shared_blks_hit),
        pick_i64(&|(_, c)| c.shared_blks_read),
        pick_i64(&|(_, c)| c.temp_blks_written),
    ]
}

pub fn add_history(
    client: &mut SpiClient<'_>,
    deltas: &[(StatementKey, Counters)],
) -> spi::Result<()> {
    if !deltas.is_empty() {
        client.update(
            include_str!("../../sql/sampling/add_history.sql"),
            None,
            &columns(deltas),
        )?;
    }
    Ok(())
}

pub fn write_snapshot(
    client: &mut SpiClient<'_>,
    changed: &[(StatementKey, Counters)],
    vanished: &[StatementKey],
) -> spi::Result<()> {
    if !changed.is_empty() {
        client.update(
            include_str!("../../sql/sampling/write_snapshot.sql"),
            None,
            &columns(changed),
        )?;
    }
    if !vanished.is_empty() {
        let args: Vec<DatumWithOid> = vec![
            vanished
                .iter()
                .map(|k| k.queryid)
                .collect::<Vec<i64>>()
                .into(),
            vanished
                .iter()
                .map(|k| k.userid as i64)
                .collect::<Vec<i64>>()
                .into(),
            vanished
                .iter()
                .map(|k| k.dbid as i64)
                .collect::<Vec<i64>>()
                .into(),
            vanished
                .iter()
                .map(|k| k.toplevel)
                .collect::<Vec<bool>>()
                .into(),
        ];
        client.update(
            include_str!("../../sql/sampling/drop_snapshot.sql"),
            None,
            &args,
        )?;
    }
    Ok(())
}

/// Stores the text of statements seen for the first time.
pub fn add_statements(
    client: &mut SpiClient<'_>,
    pgss_schema: &str,
    queryids: &[i64],
) -> spi::Result<()> {
    if queryids.is_empty() {
        return Ok(());
    }
    let query = include_str!("../../sql/sampling/add_statements.sql")
        .replace("@pgss@", &quote_identifier(pgss_schema));
    client.update(&query, None, &[queryids.to_vec().into()])?;
    Ok(())
}

/// Moves closed minutes to `history`; each sample's additions stay in the small open table.
pub fn close_minutes(client: &mut SpiClient<'_>) -> spi::Result<()> {
    client.update(
        include_str!("../../sql/sampling/close_minutes.sql"),
        None,
        &[],
    )?;
    Ok(())
}

/// `last_seen` moves once a minute at most: the history has no finer grain anyway.
pub fn touch_statements(client: &mut SpiClient<'_>, queryids: &[i64]) -> spi::Result<()> {
    if !queryids.is_empty() {
        client.update(
            include_str!("../../sql/sampling/touch_statements.sql"),
            None,
            &[queryids.to_vec().into()],
        )?;
    }
    Ok(())
}

/// Stores captured parameter value sets and keeps at most 20 per statement.
pub fn add_captured_params(client: &mut SpiClient<'_>, sets: &[(i64, String)]) -> spi::Result<()> {
    if sets.is_empty() {
        return Ok(());
    }
    let queryids: Vec<i64> = sets.iter().map(|(q, _)| *q).collect();
    let values: Vec<String> = sets.iter().map(|(_, v)| v.clone()).collect();
    client.update(
        include_str!("../../sql/sampling/add_captured_params.sql"),
        None,
        &[queryids.clone().into(), values.into()],
    )?;
    client.update(
        include_str!("../../sql/sampling/trim_captured_params.sql"),
        None,
        &[queryids.into()],
    )?;
    Ok(())
}

/// Of `queryids`, those of which no captured value set is stored.
pub fn without_captured_params(client: &SpiClient<'_>, queryids: &[i64]) -> spi::Result<Vec<i64>> {
    if queryids.is_empty() {
        return Ok(Vec::new());
    }
    let table = client.select(
        include_str!("../../sql/sampling/without_captured_params.sql"),
        None,
        &[queryids.to_vec().into()],
    )?;
    let mut out = Vec::new();
    for row in table {
        out.extend(row.get::<i64>(1)?);
    }
    Ok(out)
}

/// The top `n` statements by total time over the last 5 minutes, best first.
pub fn hot_list(client: &SpiClient<'_>, n: i32) -> spi::Result<Vec<HotQuery>> {
    let table = client.select(
        include_str!("../../sql/sampling/hot_list.sql"),
        None,
        &[n.into()],
    )?;
    let mut out = Vec::with_capacity(table.len());
    for (i, row) in table.enumerate() {
        out.push(HotQuery {
            queryid: row.get::<i64>(1)?.unwrap_or_default(),
            calls: row.get::<i64>(2)?.unwrap_or_default(),
            total_ms: row.get::<f64>(3)?.unwrap_or_default(),
            mean_ms: row.get::<f64>(4)?.unwrap_or_default(),
            rank: i as i32 + 1,
        });
    }
    Ok(out)
}

pub fn now_iso(client: &SpiClient<'_>) -> spi::Result<String> {
    Ok(client
        .select("SELECT to_json(now()) #>> '{}'", None, &[])?
        .first()
        .get_one::<String>()?
        .unwrap_or_default())
}

/// Deletes one small batch of history older than the retention, and the text of statements
/// that have not run for as long. Returns the queryids whose text was dropped.
pub fn prune(client: &mut SpiClient<'_>, retention_min: i32) -> spi::Result<Vec<i64>> {
    let args = [retention_min.into()];
    client.update(
        include_str!("../../sql/sampling/prune_history.sql"),
        None,
        &args,
    )?;
    client.update(
        include_str!("../../sql/sampling/prune_captured_params.sql"),
        None,
        &args,
    )?;
    let table = client.update(
        include_str!("../../sql/sampling/prune_statements.sql"),
        None,
        &args,
    )?;
    let mut out = Vec::new();
    for row in table {
        out.extend(row.get::<i64>(1)?);
    }
    Ok(out)
}

pub fn finish_sample(
    client: &mut SpiClient<'_>,
    state: &State,
    hot_top: &[i64],
    sample_ms: f64,
) -> spi::Result<()> {
    client.update(
        include_str!("../../sql/sampling/finish_sample.sql"),
        None,
        &[
            hot_top.to_vec().into(),
            sample_ms.into(),
            state.pgss_stats_reset.into(),
        ],
    )?;
    Ok(())
}

/// Records a failed sample; runs in its own transaction after the sample's was rolled back.
pub fn record_error(message: &str, at_epoch_s: f64) -> spi::Result<()> {
    pgrx::Spi::run_with_args(
        "UPDATE optischema.sampler_state SET last_error = $1, last_error_at = to_timestamp($2) WHERE id = 1",
        &[message.into(), at_epoch_s.into()],
    )
}
