//! Which databases get a worker when more of them want one than `max_database_workers` allows:
//! turns in proportion to each database's share of the server's statement time (stride
//! scheduling), with a floor so that a small database still gets its turn, and explicit
//! requests (an `apply()`, an `ask()`) ahead of routine analysis.

use std::collections::HashMap;

/// The least share a database with work is credited per round: one turn in fifty at worst.
pub const MIN_SHARE: f64 = 0.02;

/// A database that wants a worker and has none running.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Want {
    pub dbid: u32,
    /// Its share of the server's statement time over the window, 0 to 1.
    pub share: f64,
    /// A user asked for something there (an action, an explanation) that waits for its worker.
    pub requested: bool,
}

#[derive(Debug, Default)]
pub struct Turns {
    credit: HashMap<u32, f64>,
}

impl Turns {
    /// One launcher round: credits every wanting database with its share and picks at most
    /// `free` of them to start, each paying one turn. Databases that no longer want a worker
    /// lose their credit (a database idle for a day does not come back with a day's credit).
    pub fn choose(&mut self, wanting: &[Want], free: usize) -> Vec<u32> {
        self.credit
            .retain(|dbid, _| wanting.iter().any(|w| w.dbid == *dbid));
        // each round hands out as many turns as it can give, split by floored share, so the
        // credit in the table stays constant and turns follow the shares exactly
        let floored = |w: &Want| {
            if w.share.is_finite() {
                w.share.clamp(MIN_SHARE, 1.0)
            } else {
                MIN_SHARE
            }
        };
        let total: f64 = wanting.iter().map(floored).sum();
        let turns = free.min(wanting.len()) as f64;
        for want in wanting {
            *self.credit.entry(want.dbid).or_default() += turns * floored(want) / total;
        }
        let mut order: Vec<&Want> = wanting.iter().collect();
        order.sort_by(|a, b| {
            b.requested
                .cmp(&a.requested)
                .then(self.credit[&b.dbid].total_cmp(&self.credit[&a.dbid]))
                .then(a.dbid.cmp(&b.dbid))
        });
        let chosen: Vec<u32> = order.iter().take(free).map(|w| w.dbid).collect();
        for dbid in &chosen {
            if let Some(c) = self.credit.get_mut(dbid) {
                *c -= 1.0;
            }
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(dbid: u32, share: f64) -> Want {
        Want {
            dbid,
            share,
            requested: false,
        }
    }

    #[test]
    fn one_slot_is_shared_in_proportion_to_time() {
        let mut turns = Turns::default();
        let wanting = [want(1, 0.6), want(2, 0.3), want(3, 0.1)];
        let mut got: HashMap<u32, usize> = HashMap::new();
        for _ in 0..100 {
            for dbid in turns.choose(&wanting, 1) {
                *got.entry(dbid).or_default() += 1;
            }
        }
        assert_eq!((got[&1], got[&2], got[&3]), (60, 30, 10));
    }

    #[test]
    fn a_tiny_database_is_not_starved_and_a_request_goes_first() {
        let mut turns = Turns::default();
        let wanting = [want(1, 0.999), want(2, 0.0), want(3, f64::NAN)];
        let mut got: HashMap<u32, usize> = HashMap::new();
        for _ in 0..400 {
            for dbid in turns.choose(&wanting, 1) {
                *got.entry(dbid).or_default() += 1;
            }
        }
        // 0.02 of 1.039 each: 7.7 turns in 400
        assert!(
            (7..=8).contains(&got[&2]) && (7..=8).contains(&got[&3]),
            "{got:?}"
        );
        let asked = [
            want(1, 0.9),
            Want {
                dbid: 2,
                share: 0.0,
                requested: true,
            },
        ];
        assert_eq!(turns.choose(&asked, 1), [2]);
        // enough slots for all: everyone starts, nobody waits
        let mut both = turns.choose(&asked, 5);
        both.sort();
        assert_eq!(both, [1, 2]);
        assert!(turns.choose(&asked, 0).is_empty());
    }

    #[test]
    fn credit_is_forgotten_when_a_database_stops_wanting() {
        let mut turns = Turns::default();
        for _ in 0..50 {
            turns.choose(&[want(1, 0.5), want(2, 0.5), want(3, 0.5)], 1);
        }
        turns.choose(&[want(1, 0.5)], 1);
        assert_eq!(turns.credit.keys().copied().collect::<Vec<_>>(), [1]);
    }
}
