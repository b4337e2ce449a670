//! Applying a recommendation, and reverting it: what is run, and what undoes it. Index
//! changes run `CONCURRENTLY`, so writes go on meanwhile; they cannot run in the caller's
//! transaction, so `apply()` queues them and the apply worker runs them at top level. What is
//! queued is typed ([`action::Step`]); the worker rebuilds each statement from it when it runs.

pub mod action;
pub mod exec;
pub mod progress;
pub mod realized;
pub mod validate;
pub mod worker;

/// What an action does with its recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Make the change.
    Apply,
    /// Measure the change without making it (see `crate::trial`).
    Trial,
    /// Undo an applied change.
    Revert,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        [Mode::Apply, Mode::Trial, Mode::Revert]
            .into_iter()
            .find(|m| m.as_str() == text)
    }

    /// As `optischema.action_log.mode` stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::Trial => "trial",
            Mode::Revert => "revert",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What makes a server-wide setting (ALTER SYSTEM) take effect.
pub const RELOAD: &str = "SELECT pg_catalog.pg_reload_conf()";

/// The name OptiSchema gives the index it builds for recommendation `id`: known in advance, so
/// an index left invalid by a failed build can be found and dropped.
pub fn index_name(recommendation_id: i64) -> String {
    format!("optischema_rec_{recommendation_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Kind;

    #[test]
    fn kinds_and_modes_read_back_as_stored() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        for mode in [Mode::Apply, Mode::Trial, Mode::Revert] {
            assert_eq!(Mode::parse(&mode.to_string()), Some(mode));
        }
        assert_eq!(Kind::parse("vacuum"), None);
        assert_eq!(Mode::parse("Apply"), None);
    }
}
