//! Sampling pg_stat_statements: read the counters, turn them into deltas, store them.
//!
//! `delta` is the pure arithmetic; `pgss` reads the server; `store` writes OptiSchema's tables;
//! `text` is what a statement's text becomes before it is stored.
//! The [`Sampler`] keeps the last snapshot in memory so an idle statement costs no write, and
//! reloads it from `optischema.snapshot` after a restart or a `reset()`.

pub mod delta;
mod pgss;
pub(crate) mod store;
pub mod text;
pub mod worker;

use crate::databases::handover;
use crate::databases::registry::{self, State};
use crate::hot;
use crate::notify;
use delta::{Baseline, Counters, SampleDiff, StatementKey};
use pgrx::spi::SpiError;
use pgrx::Spi;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// Why a sample could not run. PostgreSQL ERRORs are caught one level up, in the worker.
#[derive(Debug)]
pub enum SampleSkip {
    /// The optischema extension is not created in the worker's database.
    ExtensionMissing,
    /// pg_stat_statements is not created in the worker's database.
    PgssExtensionMissing,
    Spi(SpiError),
}

impl From<SpiError> for SampleSkip {
    fn from(e: SpiError) -> Self {
        SampleSkip::Spi(e)
    }
}

#[derive(Default)]
pub struct Sampler {
    snapshot: HashMap<StatementKey, Counters>,
    known_queryids: HashSet<i64>,
    /// Per database served by the launcher: the queryids whose text it was handed already.
    /// Lost at a restart, when texts are handed once more (taking them again changes nothing).
    texts_given: HashMap<u32, HashSet<i64>>,
    /// `sampler_state.generation` the in-memory state belongs to; None before the first load.
    generation: Option<i64>,
}

/// What a sample decided, applied to the in-memory state only once its transaction commits.
pub struct Pending {
    generation: i64,
    /// The stored snapshot, when the one in memory belonged to another generation.
    reloaded: Option<(HashMap<StatementKey, Counters>, HashSet<i64>)>,
    diff: SampleDiff,
    new_queryids: Vec<i64>,
    pruned_queryids: Vec<i64>,
    /// The other databases' shares of the sample, handed over once it has committed.
    batches: Vec<crate::databases::handover::Batch>,
}

pub struct SampleSettings {
    pub hot_top_n: i32,
    pub retention_min: i32,
}

impl Sampler {
    /// Takes one sample. Must run inside a transaction; nothing is applied in memory until
    /// [`Sampler::committed`] is called after that transaction commits.
    pub fn sample(&self, settings: &SampleSettings) -> Result<Pending, SampleSkip> {
        let started = Instant::now();
        Spi::connect_mut(|client| {
            if !store::extension_installed(client)? {
                return Err(SampleSkip::ExtensionMissing);
            }
            let pgss_schema = pgss::schema(client)?.ok_or(SampleSkip::PgssExtensionMissing)?;
            // Locks our state row first: reset() takes the same lock, so the two never interleave.
            let state = store::lock_state(client, &pgss_schema)?;
            let reloaded = if self.generation == Some(state.generation) {
                None
            } else {
                Some((
                    store::load_snapshot(client)?,
                    store::load_known_queryids(client)?,
                ))
            };
            let (snapshot, known) = match &reloaded {
                Some((snapshot, known)) => (snapshot, known),
                None => (&self.snapshot, &self.known_queryids),
            };

            let baseline = if !state.baseline_taken {
                Baseline::FirstSample
            } else if state.pgss_reset_moved {
                Baseline::CountersReset
            } else {
                Baseline::Continuing
            };
            let current = pgss::read_counters(client, &pgss_schema)?;
            let diff = delta::diff(snapshot, &current, baseline);

            let mut ran: Vec<i64> = diff.deltas.iter().map(|(k, _)| k.queryid).collect();
            ran.sort_unstable();
            ran.dedup();
            let (new_queryids, seen_again): (Vec<i64>, Vec<i64>) =
                ran.iter().partition(|q| !known.contains(q));

            store::close_minutes(client)?;
            store::add_history(client, &diff.deltas)?;
            store::write_snapshot(client, &diff.changed, &diff.vanished)?;
            store::add_statements(client, &pgss_schema, &new_queryids)?;
            store::touch_statements(client, &seen_again)?;
            let captured = crate::plans::capture::drain_with_databases();
            let sets: Vec<(i64, String)> = captured
                .iter()
                .map(|(q, _, set)| (*q, set.clone()))
                .collect();
            store::add_captured_params(client, &sets)?;
            let batches = self.handover(client, &diff.deltas, &captured)?;
            // a statement that runs without a stored value set has its next executions captured
            crate::plans::capture::rearm(&store::without_captured_params(client, &ran)?);

            let top = store::hot_list(client, settings.hot_top_n)?;
            let top_ids: Vec<i64> = top.iter().map(|h| h.queryid).collect();
            let newcomers = hot::newcomers(&state.hot_top, &top_ids);
            let calls: i64 = diff.deltas.iter().map(|(_, c)| c.calls).sum();
            // fold from +0.0: an empty float sum would be -0.0
            let total_ms = diff.deltas.iter().fold(0.0, |sum, (_, c)| sum + c.total_ms);
            let mut payloads = vec![notify::sample_payload(&notify::Sample {
                at: store::now_iso(client)?,
                statements: ran.len() as i64,
                calls,
                total_ms,
            })];
            for (queryid, _) in &newcomers {
                let entry = top
                    .iter()
                    .find(|h| h.queryid == *queryid)
                    .expect("newcomer is in the top");
                payloads.push(notify::hot_query_payload(entry));
            }
            notify::send(client, &payloads)?;

            let pruned_queryids = store::prune(client, settings.retention_min)?;
            store::finish_sample(
                client,
                &state,
                &top_ids,
                started.elapsed().as_secs_f64() * 1000.0,
            )?;
            let pending = Pending {
                generation: state.generation,
                reloaded,
                diff,
                new_queryids,
                pruned_queryids,
                batches,
            };
            Ok(pending)
        })
    }

    /// Applies a committed sample to the in-memory snapshot.
    pub fn committed(&mut self, pending: Pending) {
        if let Some((snapshot, known)) = pending.reloaded {
            self.snapshot = snapshot;
            self.known_queryids = known;
        }
        self.generation = Some(pending.generation);
        delta::apply(&mut self.snapshot, &pending.diff);
        self.known_queryids.extend(pending.new_queryids);
        for q in pending.pruned_queryids {
            self.known_queryids.remove(&q);
        }
        // written after the commit, so that a rolled-back sample hands nothing over; a batch
        // that cannot be written leaves that database's history short of this sample
        // a database found without the extension has its batches removed: what it was given
        // is given again once it has the extension
        for e in registry::entries() {
            if matches!(e.state, State::NoExtension | State::Dropping) {
                self.texts_given.remove(&e.dbid);
            }
        }
        let spool = handover::Spool::new(crate::databases::worker::SPOOL_DIR);
        for batch in pending.batches {
            if batch.catch_up {
                // everything older is in it: the database takes it first, and nothing twice
                if spool.remove_through(batch.dbid, batch.seq - 1).is_err() {
                    continue;
                }
                self.texts_given.remove(&batch.dbid);
            }
            if spool.write(&batch).is_ok() {
                if batch.catch_up {
                    registry::caught_up(batch.dbid);
                }
                self.texts_given
                    .entry(batch.dbid)
                    .or_default()
                    .extend(batch.texts.iter().map(|(q, _)| *q));
            }
        }
    }

    /// The batches of the other databases the launcher serves (or has yet to visit).
    fn handover(
        &self,
        client: &mut pgrx::spi::SpiClient<'_>,
        deltas: &[(StatementKey, Counters)],
        captured: &[(i64, u32, String)],
    ) -> Result<Vec<handover::Batch>, SpiError> {
        let home = unsafe { pgrx::pg_sys::MyDatabaseId }.to_u32();
        let known = registry::entries();
        // a database that has taken nothing yet gets its whole history instead of its share
        let catching_up: Vec<u32> = known
            .iter()
            .filter(|e| e.catch_up && e.state == State::Served && e.dbid != home)
            .map(|e| e.dbid)
            .collect();
        let skip = |dbid: u32| {
            catching_up.contains(&dbid)
                || known.iter().any(|e| {
                    e.dbid == dbid && matches!(e.state, State::NoExtension | State::Dropping)
                })
        };
        if catching_up.is_empty()
            && deltas.iter().all(|(k, _)| k.dbid == home || skip(k.dbid))
            && captured.iter().all(|(_, db, _)| *db == home || skip(*db))
        {
            return Ok(Vec::new());
        }
        let (bucket, seq) = client
            .select(
                include_str!("../../sql/sampling/handover_stamp.sql"),
                Some(1),
                &[],
            )?
            .first()
            .get_two::<i64, i64>()?;
        let rows: Vec<(u32, handover::Delta)> = deltas
            .iter()
            .map(|(k, c)| {
                (
                    k.dbid,
                    handover::Delta::new(bucket.unwrap_or_default(), k, c),
                )
            })
            .collect();
        let mut needed: Vec<i64> = deltas
            .iter()
            .filter(|(k, _)| k.dbid != home && !skip(k.dbid))
            .filter(|(k, _)| {
                !self
                    .texts_given
                    .get(&k.dbid)
                    .is_some_and(|g| g.contains(&k.queryid))
            })
            .map(|(k, _)| k.queryid)
            .collect();
        needed.sort_unstable();
        needed.dedup();
        let texts: HashMap<i64, String> = stored_texts(client, needed)?.into_iter().collect();
        let mut batches = handover::split(
            home,
            seq.unwrap_or_default(),
            &rows,
            captured,
            &self.texts_given,
            &skip,
            &|q| texts.get(&q).cloned(),
        );
        for dbid in catching_up {
            batches.push(catch_up_batch(
                client,
                home,
                seq.unwrap_or_default(),
                dbid,
                captured,
            )?);
        }
        Ok(batches)
    }

    /// Drops the in-memory state, so the next sample reloads it from the tables.
    pub fn forget(&mut self) {
        *self = Sampler::default();
    }
}

/// The catch-up batch of `dbid`: the history the home database keeps of it (this sample's
/// deltas, already stored, included), the texts of its statements, and this sample's captured
/// values there.
fn catch_up_batch(
    client: &mut pgrx::spi::SpiClient<'_>,
    source: u32,
    seq: i64,
    dbid: u32,
    captured: &[(i64, u32, String)],
) -> Result<handover::Batch, SpiError> {
    let mut deltas = Vec::new();
    for row in client.select(
        include_str!("../../sql/sampling/catch_up_history.sql"),
        None,
        &[(dbid as i64).into()],
    )? {
        let (key, counters) = pgss::entry_of(&row)?;
        let bucket = row.get::<i64>(11)?.unwrap_or_default();
        deltas.push(handover::Delta::new(bucket, &key, &counters));
    }
    let mut queryids: Vec<i64> = deltas.iter().map(|d| d.queryid).collect();
    queryids.sort_unstable();
    queryids.dedup();
    let texts = stored_texts(client, queryids)?;
    Ok(handover::Batch {
        source,
        seq,
        dbid,
        deltas,
        texts,
        captured: captured
            .iter()
            .filter(|(_, db, _)| *db == dbid)
            .map(|(q, _, set)| (*q, set.clone()))
            .collect(),
        catch_up: true,
    })
}

/// The stored texts of `queryids` (a statement without one is left out).
fn stored_texts(
    client: &mut pgrx::spi::SpiClient<'_>,
    queryids: Vec<i64>,
) -> Result<Vec<(i64, String)>, SpiError> {
    if queryids.is_empty() {
        return Ok(Vec::new());
    }
    let mut texts = Vec::new();
    for row in client.select(
        include_str!("../../sql/sampling/handover_texts.sql"),
        None,
        &[queryids.into()],
    )? {
        if let (Some(q), Some(t)) = (row.get::<i64>(1)?, row.get::<String>(2)?) {
            texts.push((q, t));
        }
    }
    Ok(texts)
}

pub use store::record_error;

/// The text a statement is stored with: utility statements without their string literals (see
/// [`text::stored_text`]). Called by the sampler's SQL as it copies new texts.
#[pgrx::pg_extern(immutable, strict, parallel_safe)]
fn stored_statement_text(query: &str) -> String {
    text::stored_text(query)
}
