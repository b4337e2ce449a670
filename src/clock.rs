//! The wall clock, in whole seconds since the epoch: what budgets and schedules kept in shared
//! memory count in (every process reads the same clock; `Instant`s are per process).

pub fn epoch_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
