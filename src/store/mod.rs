//! The recommendations store: upsert by fingerprint, status changes, and the NOTIFY payloads
//! they produce. The decisions are in `lifecycle`; this file talks to the tables.

pub mod lifecycle;

use crate::notify::{self, Recommendation};
use crate::rules::{Finding, StatementFigures};
use lifecycle::{Action, Stored};
use pgrx::spi::{self, SpiClient};

fn payload_of(row: &pgrx::spi::SpiHeapTupleData) -> spi::Result<String> {
    Ok(notify::recommendation_payload(&Recommendation {
        id: row.get::<i64>(1)?.unwrap_or_default(),
        queryid: row.get::<i64>(2)?,
        kind: row.get::<String>(3)?.unwrap_or_default(),
        status: row.get::<String>(4)?.unwrap_or_default(),
        est_improvement_pct: row.get::<f64>(6)?,
    }))
}

/// Stores one finding for statement `queryid` (None for table-level findings). Returns the
/// NOTIFY payload to send, if the change is worth announcing.
pub fn upsert(
    client: &mut SpiClient<'_>,
    queryid: Option<i64>,
    finding: &Finding,
    figures: Option<&StatementFigures>,
) -> spi::Result<Option<String>> {
    let pct = finding.improvement_pct();
    let saved =
        figures.and_then(|f| lifecycle::ms_saved_per_hour(f.calls_per_hour(), f.mean_ms(), pct));
    upsert_estimated(client, queryid, finding, pct, saved)
}

/// Stores one finding with its estimated improvement and time saved per hour as given (the
/// advisor's, over every statement the fix helps).
pub fn upsert_estimated(
    client: &mut SpiClient<'_>,
    queryid: Option<i64>,
    finding: &Finding,
    pct: Option<f64>,
    saved: Option<f64>,
) -> spi::Result<Option<String>> {
    let fingerprint = lifecycle::fingerprint(finding.kind.as_str(), &finding.target);
    let existing = {
        let table = client.update(
            include_str!("../../sql/store/lock_by_fingerprint.sql"),
            Some(1),
            &[fingerprint.clone().into()],
        )?;
        if table.is_empty() {
            None
        } else {
            let row = table.first();
            Some(Stored {
                id: row.get::<i64>(1)?.unwrap_or_default(),
                status: row.get::<String>(2)?.unwrap_or_default(),
                est_improvement_pct: row.get::<f64>(3)?,
            })
        }
    };
    let (status, announce) = match lifecycle::decide(existing.as_ref(), pct) {
        Action::Insert => ("open".to_string(), true),
        Action::Update { status, announce } => (status, announce),
    };
    let source = if finding.rule.starts_with("ai_") {
        "ai"
    } else if finding.evidence["cost_model"] == crate::advisor::COST_FROM_PLANNER {
        "whatif"
    } else {
        "rules"
    };
    let args = [
        fingerprint.into(),
        queryid.into(),
        finding.kind.as_str().into(),
        status.into(),
        finding.title.clone().into(),
        finding.sql.clone().into(),
        finding.explanation.clone().into(),
        pgrx::JsonB(finding.evidence.clone()).into(),
        finding.est_cost_before.into(),
        finding.est_cost_after.into(),
        pct.into(),
        saved.into(),
        finding.confidence.into(),
        finding.rule.into(),
        source.into(),
    ];
    let table = client.update(
        include_str!("../../sql/store/upsert_recommendation.sql"),
        Some(1),
        &args,
    )?;
    if announce {
        Ok(Some(payload_of(
            &table
                .first()
                .get_heap_tuple()?
                .expect("upsert returns its row"),
        )?))
    } else {
        Ok(None)
    }
}

/// Marks stale the open recommendations of `queryid` that this analysis did not find again
/// (their fix exists now, or the plan changed), its index recommendations only unless
/// `keep_indexes`. Returns the payloads announcing it.
pub fn stale_unless_found(
    client: &mut SpiClient<'_>,
    queryid: i64,
    found: &[String],
    keep_indexes: bool,
) -> spi::Result<Vec<String>> {
    let table = client.update(
        include_str!("../../sql/store/stale_unless_found.sql"),
        None,
        &[queryid.into(), found.to_vec().into(), keep_indexes.into()],
    )?;
    table.map(|row| payload_of(&row)).collect()
}

/// Marks stale the open drop-index recommendations on `relation` that this analysis did not
/// find again (the index is used now, or gone).
pub fn stale_table_findings(
    client: &mut SpiClient<'_>,
    relation: &str,
    found: &[String],
) -> spi::Result<Vec<String>> {
    let table = client.update(
        include_str!("../../sql/store/stale_table_findings.sql"),
        None,
        &[relation.into(), found.to_vec().into()],
    )?;
    table.map(|row| payload_of(&row)).collect()
}

/// Marks stale the open recommendations whose statement has not run within `window`.
pub fn stale_when_gone(
    client: &mut SpiClient<'_>,
    window_minutes: i32,
) -> spi::Result<Vec<String>> {
    let table = client.update(
        include_str!("../../sql/store/stale_when_gone.sql"),
        None,
        &[window_minutes.into()],
    )?;
    table.map(|row| payload_of(&row)).collect()
}

/// Records once that a statement cannot be planned; later analyses skip it.
pub fn record_unexplainable(
    client: &mut SpiClient<'_>,
    queryid: i64,
    reason: &str,
) -> spi::Result<()> {
    client.update(
        "INSERT INTO optischema.unexplainable (queryid, reason) VALUES ($1, $2) ON CONFLICT (queryid) DO NOTHING",
        None,
        &[queryid.into(), reason.into()],
    )?;
    Ok(())
}

/// Dismisses a recommendation; raises 22023 for an unknown id. Returns the payload to send.
pub fn dismiss(
    client: &mut SpiClient<'_>,
    id: i64,
    reason: Option<&str>,
) -> spi::Result<Option<String>> {
    let table = client.update(
        include_str!("../../sql/store/dismiss.sql"),
        Some(1),
        &[id.into(), reason.into()],
    )?;
    if table.is_empty() {
        return Ok(None);
    }
    let row = table.first().get_heap_tuple()?.expect("one row");
    Ok(Some(payload_of(&row)?))
}
