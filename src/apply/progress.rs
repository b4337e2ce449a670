//! Progress of the index build the apply worker runs, read from
//! `pg_stat_progress_create_index` by the sampler (the apply worker is busy building) and
//! announced on NOTIFY `apply` with its phase and percent done.

use crate::notify;
use pgrx::prelude::*;
use pgrx::spi;

pub fn announce() -> spi::Result<()> {
    if !crate::bgworker::installed("optischema.action_log")? {
        return Ok(());
    }
    Spi::connect_mut(|client| {
        let table = client.select(
            include_str!("../../sql/apply/progress.sql"),
            Some(1),
            &[super::worker::WORKER_TYPE.into()],
        )?;
        if table.is_empty() {
            return Ok(());
        }
        let row = table.first();
        let action = row.get::<i64>(1)?.unwrap_or_default();
        let id = row.get::<i64>(2)?.unwrap_or_default();
        let phase = row.get::<String>(3)?.unwrap_or_default();
        let pct = row.get::<i32>(4)?;
        let payload = notify::apply_progress_payload(action, id, &phase, pct);
        notify::send(client, &[payload])
    })
}
