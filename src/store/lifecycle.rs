//! How a recommendation's row changes when an analysis finds it again: pure decisions.
//!
//! - new fingerprint → inserted, open, announced;
//! - open → figures refreshed; announced again only when the estimate moved materially;
//! - stale (its statement had left the workload, or its fix existed) → open again, announced;
//! - dismissed, applied, reverted → figures refreshed, status kept: a later analysis never
//!   re-opens what a user dismissed.

/// A stored recommendation, as far as the decision needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub id: i64,
    pub status: String,
    pub est_improvement_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Insert,
    /// Refresh the row; `status` is the status it ends with; `announce` when it changed status
    /// or its estimate moved materially.
    Update {
        status: String,
        announce: bool,
    },
}

/// Estimates this many percentage points apart are a material change.
pub const MATERIAL_CHANGE_POINTS: f64 = 10.0;

pub fn decide(stored: Option<&Stored>, new_pct: Option<f64>) -> Action {
    let Some(stored) = stored else {
        return Action::Insert;
    };
    match stored.status.as_str() {
        "stale" => Action::Update {
            status: "open".into(),
            announce: true,
        },
        "open" => Action::Update {
            status: "open".into(),
            announce: material_change(stored.est_improvement_pct, new_pct),
        },
        kept => Action::Update {
            status: kept.into(),
            announce: false,
        },
    }
}

pub fn material_change(old: Option<f64>, new: Option<f64>) -> bool {
    match (old, new) {
        (Some(a), Some(b)) => (a - b).abs() >= MATERIAL_CHANGE_POINTS,
        (None, None) => false,
        _ => true,
    }
}

pub fn fingerprint(kind: &str, target: &str) -> String {
    format!("{kind}:{target}")
}

/// The README's model: calls per hour × mean time × share of the time the fix removes.
pub fn ms_saved_per_hour(
    calls_per_hour: f64,
    mean_ms: f64,
    improvement_pct: Option<f64>,
) -> Option<f64> {
    improvement_pct.map(|pct| (calls_per_hour * mean_ms * pct / 100.0).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(status: &str, pct: Option<f64>) -> Stored {
        Stored {
            id: 1,
            status: status.into(),
            est_improvement_pct: pct,
        }
    }

    #[test]
    fn new_findings_are_inserted() {
        assert_eq!(decide(None, Some(50.0)), Action::Insert);
    }

    #[test]
    fn dismissed_stays_dismissed_and_quiet() {
        for kept in ["dismissed", "applied", "reverted"] {
            assert_eq!(
                decide(Some(&stored(kept, Some(10.0))), Some(90.0)),
                Action::Update {
                    status: kept.into(),
                    announce: false
                }
            );
        }
    }

    #[test]
    fn stale_comes_back_open_and_is_announced() {
        assert_eq!(
            decide(Some(&stored("stale", Some(50.0))), Some(50.0)),
            Action::Update {
                status: "open".into(),
                announce: true
            }
        );
    }

    #[test]
    fn open_is_announced_again_only_on_a_material_change() {
        assert_eq!(
            decide(Some(&stored("open", Some(50.0))), Some(55.0)),
            Action::Update {
                status: "open".into(),
                announce: false
            }
        );
        assert_eq!(
            decide(Some(&stored("open", Some(50.0))), Some(70.0)),
            Action::Update {
                status: "open".into(),
                announce: true
            }
        );
        assert!(material_change(None, Some(1.0)));
        assert!(!material_change(None, None));
    }

    #[test]
    fn saving_model() {
        // 3600 calls an hour of 20 ms each, 75% of it saved: 54 s an hour
        assert_eq!(ms_saved_per_hour(3600.0, 20.0, Some(75.0)), Some(54_000.0));
        assert_eq!(ms_saved_per_hour(3600.0, 20.0, None), None);
    }
}
