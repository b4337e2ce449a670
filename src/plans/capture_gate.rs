//! Which executions have their parameter values captured: the first few of every statement,
//! then a sampled share, within what the ring can hold until the worker drains it.
//!
//! The question is asked in every backend on every execution, so the answer must be cheap and
//! lock-free: a fixed-size open-addressing table in shared memory, keyed by queryid, counts the
//! captures each statement has had in the current window. A statement's common case reads its
//! slot (a few atomic loads on lines nobody writes) and goes on to the sampling rate; writes
//! happen only when a value set is about to be captured.
//!
//! - A statement's first `first_n` executions of each window (an hour, moved on by the worker)
//!   are captured: the statement that runs 20 times a day is the one whose values are missing.
//!   The worker also re-arms a statement that ran while no value set of it is stored (pruned,
//!   removed by `reset()`, lost).
//! - Budgets per drain: at most [`FIRST_PER_DRAIN`] first captures and [`SAMPLED_PER_DRAIN`]
//!   sampled ones reach the ring between two drains, so together they never overwrite a set
//!   the worker has not read. A statement's second and later first captures need half the first
//!   budget left: a burst of new statements gets one set each before any gets its fifth.
//! - The table is bounded ([`ENTRIES`]). A new statement takes an empty slot of its probe
//!   window, or one whose count belongs to an earlier window (it would start over anyway); when
//!   none is free it is left to the sampling rate until the window moves on.
//!
//! Counts are approximate under races (two backends may both take the last first capture):
//! they bound work, they are not a ledger.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Slots of the table: 16 bytes each.
pub const ENTRIES: usize = 8192;
/// Slots a queryid may live in, starting at its hash.
const PROBE: usize = 8;
/// First captures allowed between two drains of the ring.
pub const FIRST_PER_DRAIN: u32 = 256;
/// Sampled captures allowed between two drains of the ring.
pub const SAMPLED_PER_DRAIN: u32 = 256;
/// Length of a capture window, in seconds: a statement's first executions are captured again
/// in each.
pub const WINDOW_S: u64 = 3600;

/// Why an execution is captured: the budget it is paid from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    First,
    Sampled,
}

#[repr(C)]
struct Entry {
    /// pg_stat_statements' queryid; 0 is an empty slot (queryid 0 is never tracked).
    queryid: AtomicU64,
    /// First captures granted in `window`.
    taken: AtomicU32,
    window: AtomicU32,
}

/// A counter on a cache line of its own: written at captures, it must not slow the readers of
/// the lines next to it.
#[repr(C, align(64))]
struct Padded(AtomicU32);

/// The shared state. All zeros is a valid, empty table (shared memory starts zeroed), with no
/// budget until the first [`Gate::refill`].
#[repr(C)]
pub struct Gate {
    window: Padded,
    first_left: Padded,
    sampled_left: Padded,
    entries: [Entry; ENTRIES],
}

fn home(queryid: u64) -> usize {
    // Fibonacci hashing: queryids are hashes already, this only spreads any regularity
    (queryid.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - ENTRIES.trailing_zeros())) as usize
}

/// The window a time (seconds since the Unix epoch) falls in.
pub fn window_of(epoch_s: u64) -> u32 {
    (epoch_s / WINDOW_S) as u32
}

impl Gate {
    /// Whether this execution of `queryid` is captured, and from which budget. `sampled` draws
    /// the sampling rate; it is called only when the first captures do not apply.
    pub fn admit(
        &self,
        queryid: u64,
        first_n: u32,
        sampled: impl FnOnce() -> bool,
    ) -> Option<Capture> {
        if queryid == 0 {
            return None;
        }
        if first_n > 0 && self.first_wanted(queryid, first_n) {
            return Some(Capture::First);
        }
        (sampled() && self.sampled_left.0.load(Relaxed) > 0).then_some(Capture::Sampled)
    }

    fn first_wanted(&self, queryid: u64, first_n: u32) -> bool {
        let window = self.window.0.load(Relaxed);
        let Some(entry) = self.slot_of(queryid, window) else {
            return false;
        };
        let seen_in = entry.window.load(Relaxed);
        if seen_in != window
            && entry
                .window
                .compare_exchange(seen_in, window, Relaxed, Relaxed)
                .is_ok()
        {
            entry.taken.store(0, Relaxed);
        }
        let taken = entry.taken.load(Relaxed);
        if taken >= first_n {
            return false;
        }
        let reserve = if taken == 0 { 0 } else { FIRST_PER_DRAIN / 2 };
        if self.first_left.0.load(Relaxed) <= reserve {
            return false;
        }
        entry.taken.fetch_add(1, Relaxed) < first_n
    }

    /// The slot of `queryid`, claimed if it has none: an empty one, or one last counted in an
    /// earlier window. None when every slot of its probe window counts for this window.
    fn slot_of(&self, queryid: u64, window: u32) -> Option<&Entry> {
        let start = home(queryid);
        let mut stale: Option<(&Entry, u64)> = None;
        for i in 0..PROBE {
            let entry = &self.entries[(start + i) % ENTRIES];
            let key = entry.queryid.load(Relaxed);
            if key == queryid {
                return Some(entry);
            }
            if key == 0 {
                // slots are filled in probe order and never emptied: it is not further on
                match entry.queryid.compare_exchange(0, queryid, Relaxed, Relaxed) {
                    Ok(_) => {
                        entry.taken.store(0, Relaxed);
                        entry.window.store(window, Relaxed);
                        return Some(entry);
                    }
                    Err(now) if now == queryid => return Some(entry),
                    Err(_) => continue,
                }
            }
            if stale.is_none() && entry.window.load(Relaxed) != window {
                stale = Some((entry, key));
            }
        }
        let (entry, key) = stale?;
        entry
            .queryid
            .compare_exchange(key, queryid, Relaxed, Relaxed)
            .ok()?;
        entry.taken.store(0, Relaxed);
        entry.window.store(window, Relaxed);
        Some(entry)
    }

    /// Pays for one capture about to be written to the ring; false when the budget is spent
    /// (another backend took the last of it since `admit`).
    pub fn pay(&self, capture: Capture) -> bool {
        let budget = match capture {
            Capture::First => &self.first_left.0,
            Capture::Sampled => &self.sampled_left.0,
        };
        budget
            .fetch_update(Relaxed, Relaxed, |left| left.checked_sub(1))
            .is_ok()
    }

    /// The ring was drained: budgets start over, and the window follows the clock.
    pub fn refill(&self, epoch_s: u64) {
        self.first_left.0.store(FIRST_PER_DRAIN, Relaxed);
        self.sampled_left.0.store(SAMPLED_PER_DRAIN, Relaxed);
        let window = window_of(epoch_s);
        if self.window.0.load(Relaxed) != window {
            self.window.0.store(window, Relaxed);
        }
    }

    /// Captures the next first executions of `queryid` again (none of its sets is stored). A
    /// statement without a slot needs nothing: it gets one as new.
    pub fn rearm(&self, queryid: u64) {
        let start = home(queryid);
        for i in 0..PROBE {
            let entry = &self.entries[(start + i) % ENTRIES];
            match entry.queryid.load(Relaxed) {
                key if key == queryid => {
                    entry.taken.store(0, Relaxed);
                    return;
                }
                0 => return,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zeroed gate on the heap, as shared memory gives it, refilled as after a drain.
    fn gate() -> Box<Gate> {
        let layout = std::alloc::Layout::new::<Gate>();
        // SAFETY: all-zero bytes are valid atomics; the layout is Gate's own
        let gate = unsafe { Box::from_raw(std::alloc::alloc_zeroed(layout).cast::<Gate>()) };
        gate.refill(0);
        gate
    }

    fn first_of(gate: &Gate, queryid: u64, first_n: u32) -> Option<Capture> {
        let admitted = gate.admit(queryid, first_n, || false);
        if let Some(capture) = admitted {
            assert!(gate.pay(capture));
        }
        admitted
    }

    #[test]
    fn the_first_executions_of_each_statement_are_captured_then_the_rate_applies() {
        let gate = gate();
        let outcomes: Vec<_> = (0..8).map(|_| first_of(&gate, 42, 5)).collect();
        assert_eq!(outcomes[..5], [Some(Capture::First); 5]);
        assert_eq!(outcomes[5..], [None; 3]);
        // another statement has counts of its own
        assert_eq!(first_of(&gate, 43, 5), Some(Capture::First));
        // past its first ones, the sampling rate decides
        assert_eq!(gate.admit(42, 5, || true), Some(Capture::Sampled));
        assert_eq!(gate.admit(42, 5, || false), None);
    }

    #[test]
    fn queryid_zero_and_a_zero_first_n_leave_it_to_the_rate() {
        let gate = gate();
        assert_eq!(gate.admit(0, 5, || true), None);
        assert_eq!(gate.admit(7, 0, || false), None);
        assert_eq!(gate.admit(7, 0, || true), Some(Capture::Sampled));
    }

    #[test]
    fn a_new_window_and_a_rearm_capture_the_first_ones_again() {
        let gate = gate();
        for _ in 0..3 {
            first_of(&gate, 9, 3);
        }
        assert_eq!(first_of(&gate, 9, 3), None);
        gate.rearm(9);
        assert_eq!(first_of(&gate, 9, 3), Some(Capture::First));
        // a rearm of a statement never seen changes nothing
        gate.rearm(10);
        for _ in 0..2 {
            first_of(&gate, 9, 3);
        }
        assert_eq!(first_of(&gate, 9, 3), None);
        // the drain in the next hour opens a new window
        gate.refill(WINDOW_S);
        assert_eq!(first_of(&gate, 9, 3), Some(Capture::First));
        // a drain in the same hour only refills the budgets
        gate.refill(WINDOW_S + 10);
        for _ in 0..2 {
            first_of(&gate, 9, 3);
        }
        assert_eq!(first_of(&gate, 9, 3), None);
    }

    #[test]
    fn a_burst_of_new_statements_gets_one_set_each_before_any_gets_more() {
        let gate = gate();
        let mut firsts = 0;
        for q in 1..=400u64 {
            for _ in 0..5 {
                if first_of(&gate, q, 5).is_some() {
                    firsts += 1;
                }
            }
        }
        // the ring's share for first captures, and not one more
        assert_eq!(firsts, FIRST_PER_DRAIN);
        // statements took their five until half the budget was spent (25 of them, and 3 for
        // the 26th); from then on each new statement got one set: 128 more
        let with_sets = (1..=400u64)
            .filter(|q| {
                gate.entries
                    .iter()
                    .any(|e| e.queryid.load(Relaxed) == *q && e.taken.load(Relaxed) > 0)
            })
            .count();
        assert_eq!(with_sets, 25 + 1 + 128);
        // after a drain the budget is back
        gate.refill(0);
        assert_eq!(first_of(&gate, 401, 5), Some(Capture::First));
    }

    #[test]
    fn the_second_capture_of_a_statement_needs_half_the_budget_left() {
        let gate = gate();
        assert_eq!(first_of(&gate, 1, 5), Some(Capture::First));
        // spend the budget down to its reserve with other statements' first sets
        for q in 2..=(FIRST_PER_DRAIN / 2) as u64 {
            assert_eq!(first_of(&gate, q, 5), Some(Capture::First));
        }
        assert_eq!(gate.first_left.0.load(Relaxed), FIRST_PER_DRAIN / 2);
        assert_eq!(
            first_of(&gate, 1, 5),
            None,
            "a second set eats into the reserve"
        );
        assert_eq!(
            first_of(&gate, 5000, 5),
            Some(Capture::First),
            "a first set may"
        );
    }

    #[test]
    fn sampled_captures_stop_when_their_budget_is_spent() {
        let gate = gate();
        for _ in 0..SAMPLED_PER_DRAIN {
            assert!(gate.pay(Capture::Sampled));
        }
        assert!(!gate.pay(Capture::Sampled));
        assert_eq!(gate.admit(1, 0, || true), None);
        // an empty gate (before the first drain) captures nothing
        let layout = std::alloc::Layout::new::<Gate>();
        let fresh = unsafe { Box::from_raw(std::alloc::alloc_zeroed(layout).cast::<Gate>()) };
        assert_eq!(fresh.admit(1, 5, || true), None);
    }

    #[test]
    fn a_full_probe_window_takes_a_slot_of_an_earlier_window_or_none() {
        let gate = gate();
        // nine queryids with the same home: the ninth finds its probe window full
        let same_home: Vec<u64> = (1..u64::MAX)
            .filter(|q| home(*q) == home(1))
            .take(PROBE + 1)
            .collect();
        for q in &same_home[..PROBE] {
            assert_eq!(first_of(&gate, *q, 5), Some(Capture::First));
        }
        let late = same_home[PROBE];
        assert_eq!(
            first_of(&gate, late, 5),
            None,
            "every slot counts for this window"
        );
        assert_eq!(gate.admit(late, 5, || true), Some(Capture::Sampled));
        // the next window: the slots of the last one may be reused
        gate.refill(WINDOW_S);
        assert_eq!(first_of(&gate, late, 5), Some(Capture::First));
        let slots_of_late = gate
            .entries
            .iter()
            .filter(|e| e.queryid.load(Relaxed) == late)
            .count();
        assert_eq!(slots_of_late, 1);
    }

    #[test]
    fn backends_racing_on_a_new_statement_capture_its_first_ones_once() {
        let gate = gate();
        let firsts = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        if first_of(&gate, 77, 5).is_some() {
                            firsts.fetch_add(1, Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(firsts.load(Relaxed), 5);
        let slots = gate
            .entries
            .iter()
            .filter(|e| e.queryid.load(Relaxed) == 77)
            .count();
        assert_eq!(slots, 1);
    }

    #[test]
    fn a_known_statement_is_never_admitted_again() {
        let gate = gate();
        for _ in 0..5 {
            first_of(&gate, 123, 5);
        }
        // what an execution costs is measured by bench/overhead.sh (capture mode), not here:
        // a timed test fails on a loaded machine
        let admitted = (0..100_000)
            .filter(|_| gate.admit(std::hint::black_box(123), 5, || false).is_some())
            .count();
        assert_eq!(admitted, 0);
    }

    #[test]
    fn the_table_is_bounded() {
        assert_eq!(std::mem::size_of::<Entry>(), 16);
        assert!(std::mem::size_of::<Gate>() <= ENTRIES * 16 + 3 * 64);
        assert!(ENTRIES.is_power_of_two());
    }
}
