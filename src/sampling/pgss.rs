//! Reading pg_stat_statements through SPI.

use super::delta::{Counters, StatementKey};
use pgrx::spi::{self, quote_identifier, SpiClient};

/// Schema pg_stat_statements is created in, in the worker's database.
pub fn schema(client: &SpiClient<'_>) -> spi::Result<Option<String>> {
    client
        .select(
            include_str!("../../sql/sampling/pgss_schema.sql"),
            None,
            &[],
        )?
        .first()
        .get_one::<String>()
}

/// Every entry's cumulative counters, without the statement text (reading the text file for
/// thousands of entries on each sample would be the most expensive part of it).
pub fn read_counters(
    client: &SpiClient<'_>,
    pgss_schema: &str,
) -> spi::Result<Vec<(StatementKey, Counters)>> {
    let query = format!(
        "SELECT userid::int8, dbid::int8, queryid, toplevel, calls, \
                total_plan_time + total_exec_time, rows, \
                shared_blks_hit, shared_blks_read, temp_blks_written \
           FROM {}.pg_stat_statements(false) WHERE queryid IS NOT NULL",
        quote_identifier(pgss_schema)
    );
    read_entries(client, &query)
}

/// Runs a query whose ten columns are an entry's key and counters, in [`StatementKey`] and
/// [`Counters`] order (userid and dbid as int8), and collects its rows.
pub fn read_entries<C: FromIterator<(StatementKey, Counters)>>(
    client: &SpiClient<'_>,
    query: &str,
) -> spi::Result<C> {
    client
        .select(query, None, &[])?
        .map(|row| entry_of(&row))
        .collect()
}

/// One row in [`StatementKey`] then [`Counters`] order (userid and dbid as int8).
pub fn entry_of(row: &spi::SpiHeapTupleData<'_>) -> spi::Result<(StatementKey, Counters)> {
    let key = StatementKey {
        userid: row.get::<i64>(1)?.unwrap_or_default() as u32,
        dbid: row.get::<i64>(2)?.unwrap_or_default() as u32,
        queryid: row.get::<i64>(3)?.unwrap_or_default(),
        toplevel: row.get::<bool>(4)?.unwrap_or(true),
    };
    let counters = Counters {
        calls: row.get::<i64>(5)?.unwrap_or_default(),
        total_ms: row.get::<f64>(6)?.unwrap_or_default(),
        rows: row.get::<i64>(7)?.unwrap_or_default(),
        shared_blks_hit: row.get::<i64>(8)?.unwrap_or_default(),
        shared_blks_read: row.get::<i64>(9)?.unwrap_or_default(),
        temp_blks_written: row.get::<i64>(10)?.unwrap_or_default(),
    };
    Ok((key, counters))
}
