//! A database's worker takes in the batches the sampler handed over: history deltas, statement
//! texts and captured value sets of the statements that ran in this database, stored in its own
//! `optischema` tables, each batch once.

use super::handover::{is_new, Batch, Spool};
use crate::sampling::store;
use pgrx::prelude::*;
use pgrx::spi::{self, SpiClient};

/// Takes every waiting batch in one transaction (the caller's); gives the last one taken, so
/// the caller removes the files once the transaction has committed.
pub fn take_waiting(spool: &Spool, dbid: u32) -> Result<Option<i64>, String> {
    let paths = spool.pending(dbid).map_err(|e| e.to_string())?;
    Spi::connect_mut(|client| {
        let mut last = last_taken(client)?;
        // a database that has taken nothing yet starts from its catch-up batch (the history the
        // home database kept of it), which replaces every older batch: until it is there,
        // nothing is taken
        let catch_up_first = || {
            paths
                .first()
                .and_then(|p| Spool::read(p).ok())
                .is_some_and(|b| b.catch_up)
        };
        if last.is_none() && !catch_up_first() {
            super::registry::want_catch_up(dbid);
            return Ok(None);
        }
        if paths.is_empty() {
            return Ok(None);
        }
        let mut taken = None;
        let mut stored = 0i64;
        for path in &paths {
            // a batch that cannot be read (cut by a full disk) is skipped and removed: its
            // minutes stay in the home database's history
            let Ok(batch) = Spool::read(path) else {
                continue;
            };
            if batch.dbid != dbid || !is_new(&batch, last) {
                taken = Some(taken.unwrap_or(i64::MIN).max(batch.seq));
                continue;
            }
            store_batch(client, &batch)?;
            stored += 1;
            last = Some((batch.source, batch.seq));
            taken = Some(batch.seq);
        }
        if let Some((source, seq)) = last {
            client.update(
                include_str!("../../sql/databases/taken.sql"),
                None,
                &[(source as i64).into(), seq.into(), stored.into()],
            )?;
        }
        store::close_minutes(client)?;
        Ok::<_, spi::SpiError>(taken)
    })
    .map_err(|e| e.to_string())
}

fn last_taken(client: &mut SpiClient<'_>) -> spi::Result<Option<(u32, i64)>> {
    let row = client
        .update(
            include_str!("../../sql/databases/last_taken.sql"),
            Some(1),
            &[],
        )?
        .first()
        .get_two::<i64, i64>()?;
    Ok(match row {
        (Some(source), Some(seq)) => Some((source as u32, seq)),
        _ => None,
    })
}

fn store_batch(client: &mut SpiClient<'_>, batch: &Batch) -> spi::Result<()> {
    if !batch.deltas.is_empty() {
        let d = &batch.deltas;
        client.update(
            include_str!("../../sql/databases/ingest_history.sql"),
            None,
            &[
                d.iter().map(|r| r.bucket).collect::<Vec<_>>().into(),
                d.iter().map(|r| r.queryid).collect::<Vec<_>>().into(),
                d.iter().map(|r| r.userid as i64).collect::<Vec<_>>().into(),
                d.iter().map(|r| r.toplevel).collect::<Vec<_>>().into(),
                d.iter().map(|r| r.calls).collect::<Vec<_>>().into(),
                d.iter().map(|r| r.total_ms).collect::<Vec<_>>().into(),
                d.iter().map(|r| r.rows).collect::<Vec<_>>().into(),
                d.iter()
                    .map(|r| r.shared_blks_hit)
                    .collect::<Vec<_>>()
                    .into(),
                d.iter()
                    .map(|r| r.shared_blks_read)
                    .collect::<Vec<_>>()
                    .into(),
                d.iter()
                    .map(|r| r.temp_blks_written)
                    .collect::<Vec<_>>()
                    .into(),
                (batch.dbid as i64).into(),
            ],
        )?;
    }
    if !batch.texts.is_empty() {
        client.update(
            include_str!("../../sql/databases/ingest_texts.sql"),
            None,
            &[
                batch
                    .texts
                    .iter()
                    .map(|(q, _)| *q)
                    .collect::<Vec<_>>()
                    .into(),
                batch
                    .texts
                    .iter()
                    .map(|(_, t)| t.clone())
                    .collect::<Vec<_>>()
                    .into(),
            ],
        )?;
    }
    store::add_captured_params(client, &batch.captured)
}
