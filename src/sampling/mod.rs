//! Sampling pg_stat_statements: read the counters, turn them into deltas, store them.
//!
//! `delta` is the pure arithmetic; `pgss` reads the server; `store` writes OptiSchema's tables;
//! `text` is what a statement's text becomes before it is stored.
//! The [`Sampler`] keeps the last snapshot in memory so an idle statement costs no write, and
//! reloads it from `optischema.snapshot` after a restart or a `reset()`.

pub mod delta;
mod pgss;
mod store;
pub mod text;
pub mod worker;

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
            store::add_captured_params(client, &crate::plans::capture::drain())?;
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
    }

    /// Drops the in-memory state, so the next sample reloads it from the tables.
    pub fn forget(&mut self) {
        *self = Sampler::default();
    }
}

pub use store::record_error;

/// The text a statement is stored with: utility statements without their string literals (see
/// [`text::stored_text`]). Called by the sampler's SQL as it copies new texts.
#[pgrx::pg_extern(immutable, strict, parallel_safe)]
fn stored_statement_text(query: &str) -> String {
    text::stored_text(query)
}
