//! The statements OptiSchema knows, as the analysis, the advisor, the LLM layer and the API read
//! them: the hot ones over the window with their figures, the role that runs each, and the
//! value sets captured for them.

use crate::rules::StatementFigures;
use pgrx::prelude::*;
use pgrx::spi;

/// Figures cover this many minutes of history.
pub const WINDOW_MINUTES: i32 = 60;

pub struct HotStatement {
    pub query: String,
    pub figures: StatementFigures,
}

/// The `limit` hottest statements of this database over the window that can be planned (none
/// recorded in `unexplainable`), or only `queryid`.
pub fn hot_statements(limit: i32, queryid: Option<i64>) -> spi::Result<Vec<HotStatement>> {
    Spi::connect(|client| {
        let table = client.select(
            include_str!("../sql/statements/hot_statements.sql"),
            None,
            &[limit.into(), WINDOW_MINUTES.into(), queryid.into()],
        )?;
        let mut out = Vec::new();
        for row in table {
            let Some(query) = row.get::<String>(2)? else {
                continue;
            };
            out.push(HotStatement {
                query,
                figures: StatementFigures {
                    queryid: row.get::<i64>(1)?.unwrap_or_default(),
                    calls: row.get::<i64>(3)?.unwrap_or_default(),
                    total_ms: row.get::<f64>(4)?.unwrap_or_default(),
                    rows: row.get::<i64>(5)?.unwrap_or_default(),
                    temp_blks_written: row.get::<i64>(6)?.unwrap_or_default(),
                    window_hours: WINDOW_MINUTES as f64 / 60.0,
                    role: row.get::<String>(7)?,
                },
            });
        }
        Ok(out)
    })
}

/// The role that ran `queryid` most over the whole history kept, None when it is unknown (no
/// history, or the role was dropped since).
pub fn statement_role(queryid: i64) -> spi::Result<Option<String>> {
    Spi::get_one_with_args::<String>(
        include_str!("../sql/statements/statement_role.sql"),
        &[queryid.into()],
    )
}

/// Custom plans are made for this many of a statement's captured value sets.
const CUSTOM_PLANS: i64 = 3;

/// One captured value set (SQL literals in `$n` order) and how often it was seen.
pub type CapturedSet = (Vec<Option<String>>, i64);

/// The most frequent captured value sets of `queryid` with how often each was seen, or None
/// when the caller may not read them (only superusers and members of optischema_admin may).
pub fn captured_sets(queryid: i64) -> spi::Result<Option<Vec<CapturedSet>>> {
    Spi::connect(|client| {
        let allowed = client
            .select(
                // admins only, whatever table privileges (pg_read_all_data) the caller holds
                "SELECT pg_has_role(current_user, 'optischema_admin', 'MEMBER')",
                Some(1),
                &[],
            )?
            .first()
            .get_one::<bool>()?
            .unwrap_or(false);
        if !allowed {
            return Ok(None);
        }
        let table = client.select(
            include_str!("../sql/statements/captured_sets.sql"),
            None,
            &[queryid.into(), CUSTOM_PLANS.into()],
        )?;
        let mut out = Vec::new();
        for row in table {
            let text = row.get::<String>(1)?.unwrap_or_default();
            if let Ok(values) = serde_json::from_str::<Vec<Option<String>>>(&text) {
                out.push((values, row.get::<i64>(2)?.unwrap_or_default()));
            }
        }
        Ok(Some(out))
    })
}
