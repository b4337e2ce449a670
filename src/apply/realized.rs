//! What a fix really saved: after `optischema.realize_window`, the helped statements' mean time
//! and calls in the window after the apply against the same length before, from the history.
//! Run by the sampler after its analysis; announced on NOTIFY `realized`.

use super::action;
use crate::notify;
use crate::settings;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi;

/// The saving measured from calls and time before and after (per window of equal length):
/// (improvement of the mean time in percent, ms saved per hour at the calls seen after).
/// None when either side has no calls.
pub fn saving(before: (i64, f64), after: (i64, f64), window_minutes: i32) -> Option<(f64, f64)> {
    let ((calls_before, ms_before), (calls_after, ms_after)) = (before, after);
    if calls_before <= 0 || calls_after <= 0 || ms_before <= 0.0 {
        return None;
    }
    let mean_before = ms_before / calls_before as f64;
    let mean_after = ms_after / calls_after as f64;
    let pct = (mean_before - mean_after) / mean_before * 100.0;
    let calls_per_hour = calls_after as f64 * 60.0 / window_minutes.max(1) as f64;
    Some((pct, (mean_before - mean_after) * calls_per_hour))
}

pub fn measure() -> spi::Result<()> {
    if !crate::bgworker::installed("optischema.action_log")? {
        return Ok(());
    }
    // statements' tables are found as their users name them, not with the worker's search_path
    crate::acting::use_planning_path();
    let window = settings::REALIZE_WINDOW_MIN.get();
    let due: Vec<(i64, TimestampWithTimeZone, Vec<i64>)> = Spi::connect(|client| {
        client
            .select(
                include_str!("../../sql/apply/to_measure.sql"),
                None,
                &[window.into()],
            )?
            .map(|row| {
                Ok((
                    row.get::<i64>(1)?.unwrap_or_default(),
                    row.get::<TimestampWithTimeZone>(2)?
                        .expect("a finished action has a time"),
                    row.get::<Vec<i64>>(3)?.unwrap_or_default(),
                ))
            })
            .collect::<spi::Result<Vec<_>>>()
    })?;
    for (id, applied_at, statements) in due {
        let (before, after) = before_after(&statements, applied_at, window)?;
        let measured = saving(before, after, window);
        let reason = if settings::AUTO_REVERT.get() {
            harm(id, applied_at, window, measured.map(|m| m.0))?
        } else {
            None
        };
        Spi::run_with_args(
            include_str!("../../sql/apply/record_realized.sql"),
            &[
                id.into(),
                measured.map(|m| m.0).into(),
                measured.map(|m| m.1).into(),
            ],
        )?;
        let payload = notify::realized_payload(&notify::Realized {
            id,
            statements: statements.clone(),
            calls_before: before.0,
            calls_after: after.0,
            realized_improvement_pct: measured.map(|m| m.0),
            realized_ms_saved_per_hour: measured.map(|m| m.1),
        });
        Spi::connect_mut(|client| notify::send(client, &[payload]))?;
        if let Some(reason) = reason {
            auto_revert(id, &reason)?;
        }
    }
    Ok(())
}

/// Calls and time of `statements` in the windows before and after `applied_at`.
fn before_after(
    statements: &[i64],
    applied_at: TimestampWithTimeZone,
    window: i32,
) -> spi::Result<((i64, f64), (i64, f64))> {
    Spi::connect(|client| {
        let table = client.select(
            include_str!("../../sql/apply/before_after.sql"),
            Some(1),
            &[statements.to_vec().into(), applied_at.into(), window.into()],
        )?;
        let row = table.first();
        Ok((
            (
                row.get::<i64>(1)?.unwrap_or(0),
                row.get::<f64>(2)?.unwrap_or(0.0),
            ),
            (
                row.get::<i64>(3)?.unwrap_or(0),
                row.get::<f64>(4)?.unwrap_or(0.0),
            ),
        ))
    })
}

/// The helped statements count as slower beyond this share of their mean time.
const SLOWER_PCT: f64 = 10.0;

/// Why the fix should be undone, if it should: its statements got slower, or (for an index)
/// the writes on its table slowed by more than `optischema.auto_revert_write_slowdown_pct`.
fn harm(
    id: i64,
    applied_at: TimestampWithTimeZone,
    window: i32,
    improvement_pct: Option<f64>,
) -> spi::Result<Option<String>> {
    // a tenth either way is what timings wander by from one window to the next
    if let Some(pct) = improvement_pct.filter(|p| *p < -SLOWER_PCT) {
        return Ok(Some(format!(
            "the statements it was for got {:.0}% slower",
            -pct
        )));
    }
    let table = Spi::get_one_with_args::<pgrx::pg_sys::Oid>(
        include_str!("../../sql/apply/index_table.sql"),
        &[super::index_name(id).into()],
    )?;
    let Some(table) = table else { return Ok(None) };
    let writers = crate::advisor::workload::writers_of(table)?;
    if writers.is_empty() {
        return Ok(None);
    }
    let (before, after) = before_after(&writers, applied_at, window)?;
    let limit = settings::AUTO_REVERT_WRITE_SLOWDOWN_PCT.get();
    Ok(saving(before, after, window)
        .map(|(pct, _)| -pct)
        .filter(|slowdown| *slowdown > limit)
        .map(|slowdown| {
            format!("writes on its table got {slowdown:.0}% slower (more than {limit:.0}%)")
        }))
}

/// Queues the revert of recommendation `id`, saying why.
fn auto_revert(id: i64, reason: &str) -> spi::Result<()> {
    let Some(plan) = action::last_undo(id)? else {
        return Ok(());
    };
    // how it reads now; the worker rebuilds and checks it again when it runs
    let Ok(steps) = action::statements(&plan, id) else {
        return Ok(());
    };
    let plan = pgrx::JsonB(serde_json::to_value(&plan).expect("steps serialize"));
    Spi::run_with_args(
        include_str!("../../sql/apply/queue_auto_revert.sql"),
        &[
            id.into(),
            plan.into(),
            steps.into(),
            format!("auto_revert: {reason}").into(),
        ],
    )?;
    crate::databases::wake_apply_at_commit();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saving_compares_mean_times_and_counts_the_calls_after() {
        // 100 calls of 10 ms before, 120 calls of 1 ms after, over 15 minutes
        let (pct, ms) = saving((100, 1000.0), (120, 120.0), 15).unwrap();
        assert!((pct - 90.0).abs() < 1e-9);
        assert!((ms - 9.0 * 120.0 * 4.0).abs() < 1e-9);
        // slower after: a negative saving
        assert!(saving((10, 10.0), (10, 20.0), 15).unwrap().0 < 0.0);
        assert_eq!(saving((0, 0.0), (10, 20.0), 15), None);
    }
}
