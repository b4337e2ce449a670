//! The launcher, run by the sampler after each sample: which databases get a worker now.
//!
//! A database other than the sampler's own wants a turn when statements ran there since its
//! last one (batches wait in the spool) and its last turn is at least [`TURN_EVERY`] old.
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

/// Least time between two turns of one database.
pub const TURN_EVERY: Duration = Duration::from_secs(60);

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
        let shares = match flattened(in_transaction(shares)) {
            Ok(shares) => shares,
            Err(message) => return self.log_once.failed("choosing database turns", &message),
        };
        let spool = Spool::new(SPOOL_DIR);
        let entries = registry::entries();
        for e in &entries {
            if e.state == State::NoExtension {
                let _ = spool.forget(e.dbid);
            }
        }
        let running = entries.iter().filter(|e| e.pid != 0).count();
        let free = (settings::MAX_DATABASE_WORKERS.get().max(0) as usize).saturating_sub(running);
        let now = Instant::now();
        let wanting: Vec<Want> = shares
            .into_iter()
            .filter(|(dbid, _)| *dbid != home && registry::may_start(*dbid))
            .filter(|(dbid, _)| {
                self.last_turn
                    .get(dbid)
                    .is_none_or(|at| now.duration_since(*at) >= TURN_EVERY)
            })
            .filter(|(dbid, _)| spool.pending(*dbid).is_ok_and(|p| !p.is_empty()))
            .map(|(dbid, share)| Want {
                dbid,
                share,
                requested: false,
            })
            .collect();
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

/// Each database's share of the server's statement time over the window.
fn shares() -> Result<Vec<(u32, f64)>, pgrx::spi::SpiError> {
    Spi::connect(|client| {
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
        Ok(out)
    })
}
