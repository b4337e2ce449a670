//! Distinct keys of a multi-column index. Each column's statistics count its own values, not the
//! combinations the columns make together: TPC-H's order lines name 200,000 parts and 10,000
//! suppliers, but only 800,000 (part, supplier) pairs, since each part has four suppliers; the
//! product of the two counts says every one of the 6 million lines has a pair of its own, and an
//! index on the pair then looks twice its size, with nothing for B-tree deduplication to merge.
//! The planner counts groups the same way unless extended statistics say otherwise
//! (estimate_num_groups).
//!
//! So the combinations are taken from the `ndistinct` of extended statistics on the columns when
//! there are some (`CREATE STATISTICS ... (ndistinct)`), and otherwise counted on a block sample
//! of as many rows as ANALYZE samples, scaled to the table with the estimator ANALYZE applies to
//! one column (Haas and Stokes' Duj1). A block sample reads the rows of a block together, so a
//! key whose rows are stored side by side (an order's lines) is seen in all its rows or in none:
//! counted per row, it looks repeated, and Duj1 takes the table for a few keys of many rows each.
//! So each key counts once per block it is seen in: the sample's observations are its (key,
//! block) pairs, and a key seen in one block only is a key seen once. Where a key's rows are
//! spread over the table, a block holds one of them at most and this is the count per row.
//! The sample is read as the table's owner, in the
//! security-restricted operation the index's definition is analysed in, and only for columns of
//! PostgreSQL's own types, whose equality is PostgreSQL's code. Each count is kept per table and
//! columns until ANALYZE (anywhere in the database) writes new statistics.

use super::distinct;
use crate::errors;
use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;
use pgrx::spi::quote_identifier;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_int;

/// Counts kept at most; an advisor run asks about a few dozen combinations.
const KEPT: usize = 512;

/// What a count was made from, to know when it is out of date.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TableState {
    reltuples: f32,
    relpages: i32,
}

/// Per table and sorted columns: the figures the count was made from, and the count.
type Counts = HashMap<(Oid, Vec<i16>), (TableState, Option<f64>)>;

thread_local! {
    static COUNTS: RefCell<Counts> = RefCell::new(HashMap::new());
    static FORGETS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Bumped at every invalidation: a count made across one is not kept.
    static GENERATION: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Has the counts forgotten whenever statistics change: ANALYZE rewrites pg_statistic (and
/// pg_statistic_ext_data), and each change reaches this backend as a cache invalidation, also
/// within its own transaction. pg_class's figures alone may not move.
fn forget_on_new_statistics() {
    if FORGETS.with(|f| f.replace(true)) {
        return;
    }
    #[pg_guard]
    unsafe extern "C-unwind" fn forget(_arg: pg_sys::Datum, _cache: c_int, _hash: u32) {
        GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
        COUNTS.with(|c| {
            if let Ok(mut counts) = c.try_borrow_mut() {
                counts.clear();
            }
        });
    }
    unsafe {
        for cache in [
            pg_sys::SysCacheIdentifier::STATRELATTINH,
            pg_sys::SysCacheIdentifier::STATEXTDATASTXOID,
        ] {
            pg_sys::CacheRegisterSyscacheCallback(
                cache as c_int,
                Some(forget),
                pg_sys::Datum::from(0),
            );
        }
    }
}

/// What a block sample saw of a key: `rows` rows in `observations` (key, block) pairs, of
/// `seen` keys, `once` of them in one block only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub rows: f64,
    pub observations: f64,
    pub seen: f64,
    pub once: f64,
}

/// The distinct keys of a table of `total` rows, from a block sample of it: Duj1 over the
/// sample's (key, block) pairs, of which the table has as many more as it has rows.
pub fn from_sample(sample: &Sample, total: f64) -> Option<f64> {
    let Sample {
        rows,
        observations,
        seen,
        once,
    } = *sample;
    if rows < 1.0 || observations < 1.0 || seen < 1.0 || total < 1.0 {
        return None;
    }
    if rows >= total {
        // the whole table was read
        return Some(seen);
    }
    let all_observations = observations * total / rows;
    Some(distinct::duj1(observations, seen, once, all_observations))
}

/// The `ndistinct` figure for exactly the columns `attnums` in the text form of a
/// `pg_ndistinct` (`{"1, 2": 800000, ...}`, keys are attribute numbers).
pub fn ndistinct_for(text: &str, attnums: &[i16]) -> Option<f64> {
    let mut wanted = attnums.to_vec();
    wanted.sort_unstable();
    let items: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    items.iter().find_map(|(key, value)| {
        let mut columns: Vec<i16> = key
            .split(',')
            .map(|a| a.trim().parse::<i16>())
            .collect::<Result<_, _>>()
            .ok()?;
        columns.sort_unstable();
        (columns == wanted).then(|| value.as_f64()).flatten()
    })
}

/// Distinct keys of an index on columns `attnums` (at least two, all plain columns) of `relid`,
/// `sample_rows` the rows ANALYZE samples there. `None` when they cannot be counted: no
/// statistics yet, a type PostgreSQL does not define, row-level security on the table. Runs as
/// the table's owner, for a caller who may read the columns (see [`super::hypo::define`]).
pub fn distinct_keys(relid: Oid, attnums: &[i16], sample_rows: f64) -> Option<f64> {
    forget_on_new_statistics();
    let state = table_state(relid)?;
    // (a, b) and (b, a) make the same keys
    let mut columns = attnums.to_vec();
    columns.sort_unstable();
    let key = (relid, columns);
    if let Some((kept, count)) = COUNTS.with(|c| c.borrow().get(&key).cloned()) {
        if kept == state {
            return count;
        }
    }
    let generation = GENERATION.with(|g| g.get());
    // a failed count is not kept: the next definition tries again
    let count = count(relid, attnums, sample_rows, state)?;
    if GENERATION.with(|g| g.get()) == generation {
        COUNTS.with(|c| {
            let mut counts = c.borrow_mut();
            if counts.len() >= KEPT {
                counts.clear();
            }
            counts.insert(key, (state, count));
        });
    }
    count
}

/// pg_class's figures for `relid`, when ANALYZE or VACUUM has set them and the table has no
/// row-level security: its owner would count the rows its policies hide from others (pg_stats
/// and pg_stats_ext hide such a table's figures too).
fn table_state(relid: Oid) -> Option<TableState> {
    let (state, row_security) = super::with_pg_class(relid, |form| {
        let state = TableState {
            reltuples: form.reltuples,
            relpages: form.relpages,
        };
        (state, form.relrowsecurity)
    })?;
    (state.reltuples > 0.0 && state.relpages > 0 && !row_security).then_some(state)
}

/// Counts the keys, in a subtransaction: a statement that fails here (a table being rewritten,
/// a column's type changed meanwhile) leaves the key count unknown (`Some(None)` is a count the
/// statistics cannot give, `None` a failure), not the caller's transaction aborted. A cancel or
/// a timeout still ends the statement, and so does a bug (an internal error).
fn count(relid: Oid, attnums: &[i16], sample_rows: f64, state: TableState) -> Option<Option<f64>> {
    let Some((table, columns)) = (unsafe { names(relid, attnums) }) else {
        return Some(None);
    };
    let rows = unsafe { rows_now(relid, state) };
    let counted = crate::plans::explain::in_rolled_back_subtransaction(|| {
        // every name is pg_catalog's: a type of the caller's pg_temp (searched first for types)
        // or of a schema ahead of pg_catalog must not stand in for float8 or text
        crate::plans::explain::set_local(c"search_path", c"pg_catalog, pg_temp");
        count_in(&table, &columns, relid, attnums, sample_rows, rows)
    });
    match crate::plans::explain::unless_canceled(counted) {
        Ok(count) => Some(count),
        Err((message, sqlstate)) if sqlstate == "XX000" => errors::internal("key count", message),
        Err(_) => None,
    }
}

/// The table's rows now: pg_class's rows per page times the pages it has now, as the planner
/// estimates a table that grew since ANALYZE (estimate_rel_size), so that a sample of
/// `sample_rows` stays that size.
unsafe fn rows_now(relid: Oid, state: TableState) -> f64 {
    unsafe {
        let rel = pg_sys::RelationIdGetRelation(relid);
        if rel.is_null() {
            return state.reltuples as f64;
        }
        let pages = pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM);
        pg_sys::RelationClose(rel);
        let density = state.reltuples as f64 / state.relpages as f64;
        (pages as f64 * density).max(1.0)
    }
}

fn count_in(
    table: &str,
    columns: &str,
    relid: Oid,
    attnums: &[i16],
    sample_rows: f64,
    total: f64,
) -> Option<f64> {
    let extended = Spi::get_one_with_args::<String>(
        include_str!("../../sql/whatif/ndistinct.sql"),
        &[relid.into()],
    )
    .ok()
    .flatten();
    if let Some(n) = extended
        .as_deref()
        .and_then(|all| all.split('\u{1}').find_map(|t| ndistinct_for(t, attnums)))
    {
        return Some(n);
    }
    let percent = (100.0 * sample_rows / total).clamp(0.0001, 100.0);
    // a fixed seed: the same statistics give the same advice; a row's block is its ctid's first
    // number, `(7,3)` read as a point
    let sql = format!(
        "SELECT pg_catalog.count(*)::pg_catalog.float8,
                (pg_catalog.count(*) FILTER (WHERE blocks OPERATOR(pg_catalog.=) 1))::pg_catalog.float8,
                COALESCE(pg_catalog.sum(blocks), 0)::pg_catalog.float8,
                COALESCE(pg_catalog.sum(n), 0)::pg_catalog.float8
           FROM (SELECT pg_catalog.count(*) AS n,
                        pg_catalog.count(DISTINCT ((ctid::pg_catalog.text)::pg_catalog.point)[0])
                            AS blocks
                   FROM ONLY {table} TABLESAMPLE pg_catalog.system ($1) REPEATABLE (0)
                  GROUP BY {columns}) g"
    );
    let row = Spi::connect(|client| {
        let table = client.select(&sql, Some(1), &[percent.into()])?;
        let row = table.first();
        Ok::<_, pgrx::spi::Error>((
            row.get::<f64>(1)?,
            row.get::<f64>(2)?,
            row.get::<f64>(3)?,
            row.get::<f64>(4)?,
        ))
    })
    .ok()?;
    let sample = Sample {
        seen: row.0?,
        once: row.1?,
        observations: row.2?,
        rows: row.3?,
    };
    from_sample(&sample, total)
}

/// The table's qualified name and its columns `attnums`, quoted, when every column is of a type
/// defined in pg_catalog.
unsafe fn names(relid: Oid, attnums: &[i16]) -> Option<(String, String)> {
    unsafe {
        let table = super::qualified_name(relid)?;
        let mut columns = Vec::new();
        for &attnum in attnums {
            let typ = pg_sys::get_atttype(relid, attnum);
            let builtin = typ != pg_sys::InvalidOid
                && pg_sys::get_typ_typrelid(typ) == pg_sys::InvalidOid
                && type_namespace(typ) == Oid::from(pg_sys::PG_CATALOG_NAMESPACE);
            if !builtin {
                return None;
            }
            columns.push(quote_identifier(super::utf8(pg_sys::get_attname(
                relid, attnum, false,
            ))?));
        }
        Some((table, columns.join(", ")))
    }
}

unsafe fn type_namespace(typ: Oid) -> Oid {
    unsafe {
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::TYPEOID as c_int,
            pg_sys::Datum::from(typ),
        );
        if tuple.is_null() {
            return pg_sys::InvalidOid;
        }
        let namespace =
            (*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_type>(tuple)).typnamespace;
        pg_sys::ReleaseSysCache(tuple);
        namespace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(rows: f64, seen: f64, once: f64) -> Sample {
        // a key's rows in different blocks: one observation per row
        Sample {
            rows,
            observations: rows,
            seen,
            once,
        }
    }

    #[test]
    fn a_sample_of_the_whole_table_is_its_count() {
        assert_eq!(
            from_sample(&spread(1000.0, 370.0, 2.0), 1000.0),
            Some(370.0)
        );
        assert_eq!(from_sample(&spread(0.0, 0.0, 0.0), 1000.0), None);
    }

    #[test]
    fn part_and_supplier_pairs_are_found_from_a_sample() {
        // 800,000 pairs of 7.5 rows each in 6,001,215 rows; a 30,000-row sample sees about 560
        // pairs twice, every other one once (the rows of a pair are spread over the table)
        let (n, total, pairs) = (30_000.0, 6_001_215.0, 800_000.0);
        let per_pair: f64 = total / pairs;
        let twice = n * n / 2.0 * pairs * (per_pair / total).powi(2);
        let estimate = from_sample(&spread(n, n - twice, n - 2.0 * twice), total).unwrap();
        assert!((pairs * 0.8..pairs * 1.2).contains(&estimate), "{estimate}");
        // nothing seen twice: as unique as the table
        let unique = from_sample(&spread(n, n, n), total).unwrap();
        assert_eq!(unique, total);
    }

    #[test]
    fn keys_stored_side_by_side_count_once_per_block() {
        // 125,000 orders of 1 to 7 lines (4 on average), each order's lines in one block: a
        // 30,000-row block sample holds all the lines of 7,500 orders, each order in one block
        let (n, total, orders) = (30_000.0, 500_000.0, 125_000.0);
        let seen = n / 4.0;
        let by_block = Sample {
            rows: n,
            observations: seen,
            seen,
            once: seen,
        };
        assert_eq!(from_sample(&by_block, total), Some(orders));
        // counted per row, the one-line orders alone are seen once: a twentieth of the orders
        let per_row = from_sample(&spread(n, seen, seen / 7.0), total).unwrap();
        assert!(per_row < orders / 10.0, "{per_row}");
    }

    #[test]
    fn extended_statistics_are_read_for_the_same_columns_in_any_order() {
        let text = r#"{"2, 3": 800000, "2, 5": 6001215, "3, 5": 6000000, "2, 3, 5": 6001215}"#;
        assert_eq!(ndistinct_for(text, &[3, 2]), Some(800_000.0));
        assert_eq!(ndistinct_for(text, &[2, 3, 5]), Some(6_001_215.0));
        assert_eq!(ndistinct_for(text, &[2, 4]), None);
        assert_eq!(ndistinct_for("not json", &[2, 3]), None);
    }
}
