//! Which NOTIFY payloads are OptiSchema's. Any role may `NOTIFY optischema, '...'`, so a payload
//! is forwarded only when the process that sent it is one of OptiSchema's background workers:
//! its `pg_stat_activity.backend_type` starts with `optischema ` (`optischema sampler`,
//! `optischema apply`, `optischema ai`). A client session's backend_type is always
//! `client backend`; unlike application_name, it cannot be set by the session.
//!
//! The worker pids are cached and looked up again only when a payload comes from a pid not in
//! the cache (a restarted worker has a new pid), at most once per [`LOOKUP_INTERVAL`]: a flood
//! of forged payloads costs one query per interval, not one per payload.

use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// backend_type of every OptiSchema background worker begins with this.
pub const WORKER_TYPE_PREFIX: &str = "optischema ";

/// Least time between two lookups; a payload from an unknown pid within it is dropped.
pub const LOOKUP_INTERVAL: Duration = Duration::from_secs(1);

/// Longest a pid found to be a worker is trusted without a new lookup: once a worker exits,
/// the OS may give its pid to a client backend.
pub const TRUST_FOR: Duration = Duration::from_secs(60);

/// The workers, and the sender's own row (`pid = $1`): its backend_type is NULL when this role
/// may not see other sessions (no pg_read_all_stats).
const LOOKUP_SQL: &str = "SELECT pid, backend_type FROM pg_catalog.pg_stat_activity
                           WHERE backend_type LIKE 'optischema %' OR pid = $1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A known worker: forward.
    Forward,
    /// Unknown, and the last lookup was less than [`LOOKUP_INTERVAL`] ago: drop.
    Drop,
    /// Unknown (or trusted for too long): look the workers up, then decide.
    LookUp,
}

/// The cache of one connection's worker pids, and when they were last looked up.
#[derive(Debug, Default)]
pub struct WorkerPids {
    known: HashSet<i32>,
    looked_up: Option<Instant>,
}

impl WorkerPids {
    pub fn verdict(&self, pid: i32, now: Instant) -> Verdict {
        let age = self.looked_up.map(|t| now.saturating_duration_since(t));
        match age {
            Some(age) if age < TRUST_FOR && self.known.contains(&pid) => Verdict::Forward,
            Some(age) if age < LOOKUP_INTERVAL => Verdict::Drop,
            _ => Verdict::LookUp,
        }
    }

    /// Records a lookup made at `now` (a failed one too: it counts against the rate).
    pub fn looked_up(&mut self, workers: HashSet<i32>, now: Instant) {
        self.known = workers;
        self.looked_up = Some(now);
    }

    pub fn is_worker(&self, pid: i32) -> bool {
        self.known.contains(&pid)
    }
}

/// What one lookup found.
#[derive(Debug, Default, PartialEq)]
pub struct Found {
    pub workers: HashSet<i32>,
    /// The sender's row was there but its backend_type hidden: this role cannot tell workers
    /// from other sessions.
    pub sender_hidden: bool,
}

/// Sorts pg_stat_activity rows `(pid, backend_type)` for sender `pid`.
pub fn classify(rows: impl IntoIterator<Item = (i32, Option<String>)>, pid: i32) -> Found {
    let mut found = Found::default();
    for (row_pid, backend_type) in rows {
        match backend_type {
            Some(t) if t.starts_with(WORKER_TYPE_PREFIX) => {
                found.workers.insert(row_pid);
            }
            None if row_pid == pid => found.sender_hidden = true,
            _ => {}
        }
    }
    found
}

/// Looks the workers up on `client`, for a payload from `pid`.
pub async fn look_up(client: &Client, pid: i32) -> Result<Found, tokio_postgres::Error> {
    let rows = client.query(LOOKUP_SQL, &[&pid]).await?;
    Ok(classify(
        rows.iter()
            .map(|r| (r.get::<_, i32>(0), r.get::<_, Option<String>>(1))),
        pid,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pids(p: &[i32]) -> HashSet<i32> {
        p.iter().copied().collect()
    }

    #[test]
    fn an_empty_cache_looks_up_first() {
        assert_eq!(
            WorkerPids::default().verdict(42, Instant::now()),
            Verdict::LookUp
        );
    }

    #[test]
    fn known_workers_are_forwarded_and_unknown_pids_looked_up_at_most_once_a_second() {
        let t0 = Instant::now();
        let mut cache = WorkerPids::default();
        cache.looked_up(pids(&[100, 101]), t0);
        assert_eq!(cache.verdict(100, t0), Verdict::Forward);
        assert_eq!(
            cache.verdict(101, t0 + Duration::from_millis(10)),
            Verdict::Forward
        );
        // a forged payload right after a lookup costs no query
        assert_eq!(
            cache.verdict(666, t0 + Duration::from_millis(999)),
            Verdict::Drop
        );
        // a second later, an unknown pid may be a restarted worker: look again
        assert_eq!(cache.verdict(666, t0 + LOOKUP_INTERVAL), Verdict::LookUp);
        let t1 = t0 + LOOKUP_INTERVAL;
        cache.looked_up(pids(&[100, 102]), t1);
        // the new lookup replaces the old: 101 exited
        assert_eq!(cache.verdict(101, t1), Verdict::Drop);
        assert_eq!(cache.verdict(102, t1), Verdict::Forward);
        assert!(!cache.is_worker(666));
    }

    #[test]
    fn a_worker_pid_is_checked_again_after_a_minute() {
        let t0 = Instant::now();
        let mut cache = WorkerPids::default();
        cache.looked_up(pids(&[100]), t0);
        assert_eq!(
            cache.verdict(100, t0 + TRUST_FOR - Duration::from_millis(1)),
            Verdict::Forward
        );
        assert_eq!(cache.verdict(100, t0 + TRUST_FOR), Verdict::LookUp);
    }

    #[test]
    fn only_optischema_backend_types_are_workers_and_a_hidden_sender_is_noticed() {
        let rows = vec![
            (10, Some("optischema sampler".to_string())),
            (11, Some("optischema apply".to_string())),
            (12, Some("optischema ai".to_string())),
            (13, Some("client backend".to_string())),
            (14, Some("optischemax".to_string())),
        ];
        let found = classify(rows.clone(), 13);
        assert_eq!(found.workers, pids(&[10, 11, 12]));
        assert!(!found.sender_hidden);
        // without pg_read_all_stats another role's row has no backend_type
        let found = classify(vec![(20, None)], 20);
        assert!(found.workers.is_empty());
        assert!(found.sender_hidden);
        assert!(!classify(vec![(20, None)], 21).sender_hidden);
    }
}
