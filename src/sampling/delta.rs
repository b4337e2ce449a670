//! Turning cumulative pg_stat_statements counters into per-interval deltas.
//!
//! Pure arithmetic over plain values, so every edge case (first sample, resets, eviction,
//! restarts) is tested without a server.

use std::collections::HashMap;

/// One pg_stat_statements entry is identified by these four columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatementKey {
    pub userid: u32,
    pub dbid: u32,
    pub queryid: i64,
    pub toplevel: bool,
}

/// The cumulative counters OptiSchema keeps for each entry.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Counters {
    pub calls: i64,
    /// Planning plus execution time, in milliseconds.
    pub total_ms: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub temp_blks_written: i64,
}

impl Counters {
    /// True when any counter is lower than in `earlier`: the entry was reset or evicted and
    /// created again, so `earlier` is no baseline for it.
    fn went_down_since(&self, earlier: &Counters) -> bool {
        self.calls < earlier.calls
            || self.total_ms < earlier.total_ms
            || self.rows < earlier.rows
            || self.shared_blks_hit < earlier.shared_blks_hit
            || self.shared_blks_read < earlier.shared_blks_read
            || self.temp_blks_written < earlier.temp_blks_written
    }

    fn minus(&self, earlier: &Counters) -> Counters {
        Counters {
            calls: self.calls - earlier.calls,
            total_ms: (self.total_ms - earlier.total_ms).max(0.0),
            rows: self.rows - earlier.rows,
            shared_blks_hit: self.shared_blks_hit - earlier.shared_blks_hit,
            shared_blks_read: self.shared_blks_read - earlier.shared_blks_read,
            temp_blks_written: self.temp_blks_written - earlier.temp_blks_written,
        }
    }
}

/// How the stored snapshot relates to what pg_stat_statements holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// No baseline yet (fresh install or after `reset()`): lifetime totals are not deltas.
    FirstSample,
    /// pg_stat_statements was reset as a whole since the snapshot (its `stats_reset` moved, or
    /// the server crashed and lost it): everything it holds now happened since the snapshot.
    CountersReset,
    /// The snapshot is a valid baseline for every entry it contains.
    Continuing,
}

/// What one sample changes: deltas for the history, and the snapshot rows to write or drop.
#[derive(Debug, Default, PartialEq)]
pub struct SampleDiff {
    /// Work done since the previous sample, only for entries that ran (calls > 0).
    pub deltas: Vec<(StatementKey, Counters)>,
    /// Entries whose stored snapshot must be written (new or changed).
    pub changed: Vec<(StatementKey, Counters)>,
    /// Entries gone from pg_stat_statements (evicted or reset).
    pub vanished: Vec<StatementKey>,
}

pub fn diff(
    snapshot: &HashMap<StatementKey, Counters>,
    current: &[(StatementKey, Counters)],
    baseline: Baseline,
) -> SampleDiff {
    let mut out = SampleDiff::default();
    let mut still_present = 0usize;
    for (key, now) in current {
        if snapshot.contains_key(key) {
            still_present += 1;
        }
        let delta = match (baseline, snapshot.get(key)) {
            (Baseline::FirstSample, _) => {
                // the whole snapshot is written: the stored one must be complete from here on
                out.changed.push((*key, *now));
                continue;
            }
            (Baseline::CountersReset, _) | (Baseline::Continuing, None) => *now,
            (Baseline::Continuing, Some(before)) if now.went_down_since(before) => *now,
            (Baseline::Continuing, Some(before)) => now.minus(before),
        };
        if snapshot.get(key) != Some(now) {
            out.changed.push((*key, *now));
        }
        if delta.calls > 0 {
            out.deltas.push((*key, delta));
        }
    }
    // Only walk the snapshot when some of it is missing from pg_stat_statements.
    if still_present < snapshot.len() {
        let present: std::collections::HashSet<&StatementKey> =
            current.iter().map(|(k, _)| k).collect();
        out.vanished = snapshot
            .keys()
            .filter(|k| !present.contains(k))
            .copied()
            .collect();
        out.vanished.sort();
    }
    out
}

/// Applies a committed diff to the in-memory snapshot.
pub fn apply(snapshot: &mut HashMap<StatementKey, Counters>, diff: &SampleDiff) {
    for key in &diff.vanished {
        snapshot.remove(key);
    }
    for (key, counters) in &diff.changed {
        snapshot.insert(*key, *counters);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(queryid: i64) -> StatementKey {
        StatementKey {
            userid: 10,
            dbid: 5,
            queryid,
            toplevel: true,
        }
    }

    fn calls(calls: i64, total_ms: f64) -> Counters {
        Counters {
            calls,
            total_ms,
            rows: calls,
            ..Default::default()
        }
    }

    fn snapshot_of(entries: &[(StatementKey, Counters)]) -> HashMap<StatementKey, Counters> {
        entries.iter().copied().collect()
    }

    #[test]
    fn first_sample_records_a_baseline_and_no_delta() {
        let now = vec![(key(1), calls(500, 20.0)), (key(2), calls(3, 1.0))];
        let d = diff(&HashMap::new(), &now, Baseline::FirstSample);
        assert!(d.deltas.is_empty());
        assert_eq!(d.changed.len(), 2);
        assert!(d.vanished.is_empty());
    }

    #[test]
    fn exact_call_count_between_two_samples() {
        let before = snapshot_of(&[(key(1), calls(1000, 50.0))]);
        let now = vec![(key(1), calls(1137, 57.5))];
        let d = diff(&before, &now, Baseline::Continuing);
        assert_eq!(d.deltas.len(), 1);
        assert_eq!(d.deltas[0].1.calls, 137);
        assert_eq!(d.deltas[0].1.rows, 137);
        assert!((d.deltas[0].1.total_ms - 7.5).abs() < 1e-9);
        assert_eq!(d.changed, now);
    }

    #[test]
    fn idle_statement_writes_nothing() {
        let before = snapshot_of(&[(key(1), calls(10, 1.0))]);
        let d = diff(&before, &[(key(1), calls(10, 1.0))], Baseline::Continuing);
        assert_eq!(d, SampleDiff::default());
    }

    #[test]
    fn entry_that_went_down_is_a_new_baseline_counted_from_zero() {
        // reset of one entry (or eviction and return) between samples: 40 calls since then
        let before = snapshot_of(&[(key(1), calls(900, 90.0))]);
        let d = diff(&before, &[(key(1), calls(40, 4.0))], Baseline::Continuing);
        assert_eq!(d.deltas, vec![(key(1), calls(40, 4.0))]);
        assert!(d
            .deltas
            .iter()
            .all(|(_, c)| c.calls >= 0 && c.total_ms >= 0.0));
    }

    #[test]
    fn global_reset_counts_everything_present_even_above_the_old_value() {
        // 50 calls before pg_stat_statements_reset(), 80 after: the 80 are all new work
        let before = snapshot_of(&[(key(1), calls(50, 5.0))]);
        let d = diff(
            &before,
            &[(key(1), calls(80, 8.0))],
            Baseline::CountersReset,
        );
        assert_eq!(d.deltas, vec![(key(1), calls(80, 8.0))]);
    }

    #[test]
    fn new_entry_after_the_first_sample_counts_in_full() {
        let before = snapshot_of(&[(key(1), calls(5, 1.0))]);
        let now = vec![(key(1), calls(5, 1.0)), (key(2), calls(7, 2.0))];
        let d = diff(&before, &now, Baseline::Continuing);
        assert_eq!(d.deltas, vec![(key(2), calls(7, 2.0))]);
        assert_eq!(d.changed, vec![(key(2), calls(7, 2.0))]);
    }

    #[test]
    fn vanished_entries_are_dropped_from_the_snapshot() {
        let mut snap = snapshot_of(&[(key(1), calls(5, 1.0)), (key(2), calls(9, 1.0))]);
        let d = diff(&snap, &[(key(2), calls(9, 1.0))], Baseline::Continuing);
        assert_eq!(d.vanished, vec![key(1)]);
        assert!(d.deltas.is_empty());
        apply(&mut snap, &d);
        assert_eq!(snap.len(), 1);
        // and if it comes back, it counts from zero, never twice
        let d = diff(
            &snap,
            &[(key(1), calls(3, 0.3)), (key(2), calls(9, 1.0))],
            Baseline::Continuing,
        );
        assert_eq!(d.deltas, vec![(key(1), calls(3, 0.3))]);
    }

    #[test]
    fn vanished_found_when_one_entry_replaces_another() {
        // same count of entries, but a different one: eviction plus a newcomer
        let snap = snapshot_of(&[(key(1), calls(5, 1.0))]);
        let d = diff(&snap, &[(key(2), calls(2, 1.0))], Baseline::Continuing);
        assert_eq!(d.vanished, vec![key(1)]);
        assert_eq!(d.deltas, vec![(key(2), calls(2, 1.0))]);
    }

    #[test]
    fn n_plus_m_across_a_lost_pg_stat_statements() {
        // N calls sampled, the server crashes (pgss empty again), M calls: N + M in total
        let mut snap = HashMap::new();
        let first = diff(&snap, &[(key(1), calls(100, 1.0))], Baseline::FirstSample);
        apply(&mut snap, &first);
        let n = diff(&snap, &[(key(1), calls(140, 1.4))], Baseline::Continuing);
        apply(&mut snap, &n);
        let m = diff(&snap, &[(key(1), calls(25, 0.25))], Baseline::CountersReset);
        let total: i64 = n
            .deltas
            .iter()
            .chain(m.deltas.iter())
            .map(|(_, c)| c.calls)
            .sum();
        assert_eq!(total, 40 + 25);
    }

    #[test]
    fn time_rounding_never_makes_a_negative_delta() {
        let before = snapshot_of(&[(key(1), calls(10, 1.000_000_1))]);
        let d = diff(
            &before,
            &[(key(1), calls(11, 1.000_000_1))],
            Baseline::Continuing,
        );
        assert_eq!(d.deltas[0].1.calls, 1);
        assert!(d.deltas[0].1.total_ms >= 0.0);
    }
}
