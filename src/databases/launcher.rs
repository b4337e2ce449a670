//! The launcher, run by the sampler after each sample: which databases get a worker now.
//!
//! A database other than the sampler's own wants a turn when statements ran there since its
//! last one (batches wait in the spool) and its last turn is at least [`TURN_EVERY_SAMPLES`] samples old.
//! Turns go by share of statement time ([`Turns`]), within `optischema.max_database_workers`.

use super::handover::Spool;
use super::registry::{self, State};
use super::turns::{Turns, Want};
use super::worker::{self, SPOOL_DIR};
use crate::bgworker::{flattened, in_transaction, LogOnce};
use crate::settings;
use pgrx::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Least time between two turns of one database, in samples: a minute at the default interval.
pub const TURN_EVERY_SAMPLES: u64 = 6;

pub struct Launcher {
    turns: Turns,
    last_turn: HashMap<u32, Instant>,
    log_once: LogOnce,
}

impl Default for Launcher {
    fn default() -> Self {
        registry::become_launcher();
        Launcher {
            turns: Turns::default(),
            last_turn: HashMap::new(),
            log_once: LogOnce::new("database workers"),
        }
    }
}

impl Launcher {
    pub fn round(&mut self, home: u32) {
        let (shares, existing) = match flattened(in_transaction(shares)) {
            Ok(found) => found,
            Err(message) => return self.log_once.failed("choosing database turns", &message),
        };
        let spool = Spool::new(SPOOL_DIR);
        let entries = registry::entries();
        for e in &entries {
            if e.state == State::NoExtension {
                let _ = spool.forget(e.dbid);
            }
        }
        // batches for a database dropped since they were written
        for dbid in spool.databases().unwrap_or_default() {
            if !existing.contains(&dbid) {
                let _ = spool.forget(dbid);
            }
        }
        let running = entries.iter().filter(|e| e.pid != 0).count();
        let free = (settings::MAX_DATABASE_WORKERS.get().max(0) as usize).saturating_sub(running);
        let now = Instant::now();
        let turn_every =
            Duration::from_secs(settings::sample_interval_s() as u64 * TURN_EVERY_SAMPLES);
        let now_s = crate::clock::epoch_s();
        let requested: Vec<u32> = entries
            .iter()
            .filter(|e| e.asked(now_s) && existing.contains(&e.dbid))
            .map(|e| e.dbid)
            .collect();
        let mut wanting: Vec<Want> = shares
            .iter()
            .copied()
            .filter(|(dbid, _)| *dbid != home && registry::may_start(*dbid))
            .filter(|(dbid, _)| {
                requested.contains(dbid)
                    || (self
                        .last_turn
                        .get(dbid)
                        .is_none_or(|at| now.duration_since(*at) >= turn_every)
                        && spool.pending(*dbid).is_ok_and(|p| !p.is_empty()))
            })
            .map(|(dbid, share)| Want {
                dbid,
                share,
                requested: requested.contains(&dbid),
            })
            .collect();
        // asked for in a database without statements in the window
        for dbid in requested {
            if dbid != home && registry::may_start(dbid) && !wanting.iter().any(|w| w.dbid == dbid)
            {
                wanting.push(Want {
                    dbid,
                    share: 0.0,
                    requested: true,
                });
            }
        }
        for dbid in self.turns.choose(&wanting, free) {
            match worker::start(dbid) {
                Ok(()) => {
                    self.last_turn.insert(dbid, now);
                }
                Err(message) => {
                    // no slot left in max_worker_processes: the next round tries again
                    self.log_once.failed("starting a database worker", &message);
                    return;
                }
            }
        }
        self.log_once.clear();
    }
}

/// Each database's share of the server's statement time over the window, and the databases
/// that exist.
type Found = (Vec<(u32, f64)>, Vec<u32>);

fn shares() -> Result<Found, pgrx::spi::SpiError> {
    Spi::connect(|client| {
        let mut existing = Vec::new();
        for row in client.select(include_str!("../../sql/databases/existing.sql"), None, &[])? {
            if let Some(dbid) = row.get::<i64>(1)? {
                existing.push(dbid as u32);
            }
        }
        let table = client.select(
            include_str!("../../sql/databases/shares.sql"),
            None,
            &[crate::statements::WINDOW_MINUTES.into()],
        )?;
        let mut out = Vec::new();
        for row in table {
            if let Some(dbid) = row.get::<i64>(1)? {
                out.push((dbid as u32, row.get::<f64>(2)?.unwrap_or(0.0)));
            }
        }
        Ok((out, existing))
    })
}
