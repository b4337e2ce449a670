//! The advisor inside the server: every candidate index is made hypothetical, every statement is
//! planned with each candidate on its tables (its generic plan, and custom plans for its most
//! frequent captured values, weighted by how often they were seen), the tables' writes are read
//! from the history, and [`super::select`] picks the set. Nothing is built, nothing stored.

use super::writes::{TableWrites, UpdateLoad};
use super::COST_FROM_PLANNER;
use super::{candidates, select, Eval, Load, Upkeep, WhatIf};
use crate::acting::Actor;
use crate::plans::explain::in_rolled_back_subtransaction;
use crate::plans::model::Explained;
use crate::plans::CustomPlan;
use crate::rules::{Finding, Kind};
use crate::statements::{HotStatement, WINDOW_MINUTES};
use crate::whatif::hypo::{self, HypoIndex};
use crate::whatif::planner;
use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;
use pgrx::spi;
use std::collections::HashMap;
use std::ffi::{CStr, CString};

/// A read statement of the workload, as the analysis saw it.
pub struct Read<'a> {
    pub statement: &'a HotStatement,
    pub plan: &'a Explained,
    /// The statement's findings: its index findings are the candidates it brings.
    pub findings: &'a [Finding],
    /// Custom plans made for its most frequent captured value sets.
    pub custom: &'a [CustomPlan],
}

/// One index of the selected set.
#[derive(Debug, Clone)]
pub struct Advice {
    /// The statement it helps most.
    pub queryid: i64,
    /// The recommendation as it is stored: planner costs for that statement, evidence naming
    /// every statement helped.
    pub finding: Finding,
    /// Statements helped.
    pub helped: Vec<i64>,
    /// Saved time as a share of the helped statements' time.
    pub improvement_pct: f64,
    /// Saved time per hour, net of the index maintenance writes would do.
    pub ms_saved_per_hour: f64,
    pub size_mb: f64,
    pub write_overhead_pct: f64,
}

/// The selected set, and whether the search weighed every step it would have (see
/// [`super::Selection::complete`]).
pub struct Advised {
    pub advice: Vec<Advice>,
    pub complete: bool,
}

/// In a worker's transaction the search stops once this share of the transaction's bound is
/// spent: the rest is for pruning, crediting and storing what it chose.
const SEARCH_SHARE_OF_BOUND: f64 = 0.6;

struct Candidate {
    finding: Finding,
    index: HypoIndex,
    size_mb: f64,
    /// Its first key, when that is a plain column.
    leading: Option<String>,
}

/// Which variants a statement is planned with, each with its weight: custom plans for its most
/// frequent captured value sets, weighted by how often each was seen (a skewed value counts as
/// often as the application sends it), or the generic plan when nothing was captured. The
/// less frequent sets are like the frequent ones, not like the generic plan: they are not
/// given to it.
pub fn variants(custom: &[CustomPlan]) -> Vec<(Option<Vec<Option<String>>>, f64)> {
    let seen: i64 = custom.iter().map(|c| c.times_seen.max(1)).sum();
    if custom.is_empty() || seen <= 0 {
        return vec![(None, 1.0)];
    }
    custom
        .iter()
        .map(|c| {
            (
                Some(c.values.clone()),
                c.times_seen.max(1) as f64 / seen as f64,
            )
        })
        .collect()
}

fn tables_of(plan: &Explained) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for node in plan.plan.walk() {
        if let (Some(s), Some(r)) = (&node.schema, &node.relation) {
            if !out.iter().any(|(a, b)| a == s && b == r) {
                out.push((s.clone(), r.clone()));
            }
        }
    }
    out
}

/// `schema.relation` of a table oid.
fn relation_of(relid: Oid) -> Option<(String, String)> {
    unsafe {
        let name = pg_sys::get_rel_name(relid);
        if name.is_null() {
            return None;
        }
        let schema = pg_sys::get_namespace_name(pg_sys::get_rel_namespace(relid));
        if schema.is_null() {
            return None;
        }
        Some((
            CStr::from_ptr(schema).to_string_lossy().into_owned(),
            CStr::from_ptr(name).to_string_lossy().into_owned(),
        ))
    }
}

/// Defines one candidate as a hypothetical index; None when the server rejects it.
fn define(finding: Finding, ordinal: usize) -> Option<(Candidate, (String, String))> {
    let defined = in_rolled_back_subtransaction(|| {
        let index = hypo::define(&finding.sql, ordinal);
        let table = relation_of(index.relid);
        let pages = hypo::standalone_pages(&index);
        (index, table, pages)
    });
    let Ok((index, Some(table), pages)) = defined else {
        return None;
    };
    // a candidate on a catalog or on OptiSchema's own tables is never proposed
    if crate::rules::is_protected_schema(&table.0) {
        return None;
    }
    Some((
        Candidate {
            leading: candidates::leading_column(&finding.target),
            finding,
            index,
            size_mb: pages * 8192.0 / 1048576.0,
        },
        table,
    ))
}

/// What a statement reads of each table: the columns, or None for whole rows.
type ColumnsRead = Vec<(Oid, Option<Vec<String>>)>;

/// The candidates, and per statement what it reads and what it uses of its tables.
type Gathered = (
    Vec<(Candidate, (String, String))>,
    Vec<ColumnsRead>,
    Vec<Vec<candidates::ColumnUses>>,
);

/// Adds `finding` to `out` unless a candidate with its target is there; returns the table oid
/// of the candidate with that target, if any.
fn add_candidate(out: &mut Vec<(Candidate, (String, String))>, finding: Finding) -> Option<Oid> {
    if let Some(known) = out.iter().find(|(c, _)| c.finding.target == finding.target) {
        return Some(known.0.index.relid);
    }
    let defined = define(finding, out.len())?;
    let relid = defined.0.index.relid;
    out.push(defined);
    Some(relid)
}

/// The candidates the statements bring, once each, made hypothetical: each index finding and
/// its covering variant, and the columns each statement compares, joins on or orders by (see
/// [`candidates::column_keys`]). A definition the server rejects is left out. Also what each
/// statement reads of its tables.
fn gather_candidates(reads: &[Read]) -> Gathered {
    let mut out: Vec<(Candidate, (String, String))> = Vec::new();
    let mut read_by: Vec<ColumnsRead> = Vec::with_capacity(reads.len());
    let mut uses_by: Vec<Vec<candidates::ColumnUses>> = Vec::with_capacity(reads.len());
    for read in reads {
        let (columns, uses) = Actor::of_statement(read.statement.figures.role.as_deref())
            .and_then(|actor| {
                planner::with_statement(&read.statement.query, None, actor, |st| {
                    (st.columns_read(), st.column_uses())
                })
            })
            .unwrap_or_default();
        for finding in read.findings.iter().filter(|f| f.kind == Kind::Index) {
            let base = add_candidate(&mut out, finding.clone());
            let read_here = base.and_then(|relid| {
                columns
                    .iter()
                    .find(|(r, _)| *r == relid)
                    .and_then(|(_, c)| c.clone())
            });
            if let Some(variant) =
                read_here.and_then(|cols| candidates::covering_variant(finding, &cols))
            {
                add_candidate(&mut out, variant);
            }
        }
        for table in &uses {
            let Some((schema, name)) = relation_of(Oid::from(table.relid)) else {
                continue;
            };
            for keys in candidates::column_keys(table) {
                add_candidate(&mut out, candidates::column_finding(&schema, &name, &keys));
            }
        }
        read_by.push(columns);
        uses_by.push(uses);
    }
    (out, read_by, uses_by)
}

/// Whether an index on `relid` led by `leading` can serve a statement that reads `read`: its
/// first key is a column the statement reads (or an expression), or the statement reads no
/// column of the table (a count over an index-only scan).
fn serves(read: &ColumnsRead, relid: Oid, leading: Option<&str>) -> bool {
    let Some(leading) = leading else { return true };
    match read.iter().find(|(r, _)| *r == relid) {
        Some((_, Some(columns))) => columns.is_empty() || columns.iter().any(|c| c == leading),
        _ => true,
    }
}

/// The planner, asked about the statements of `reads` with candidates of `all` in place.
/// Verdicts are cached by statement and set: pruning asks about the same sets again.
struct Planner<'a> {
    reads: &'a [Read<'a>],
    all: Vec<(Candidate, (String, String))>,
    /// What each statement reads of its tables, and the columns it compares, joins on or
    /// orders by: where widenings take their columns from.
    read_by: Vec<ColumnsRead>,
    uses_by: Vec<Vec<candidates::ColumnUses>>,
    writes: HashMap<Oid, TableWrites>,
    weigh_writes: bool,
    cache: HashMap<(usize, Vec<usize>), Option<Eval>>,
}

impl Planner<'_> {
    /// What candidate `c` would cost to keep.
    fn upkeep(&self, c: usize) -> Upkeep {
        let candidate = &self.all[c].0;
        let (ms, pct) = self
            .writes
            .get(&candidate.index.relid)
            .map(|w| w.cost_of_index(&candidate.index.columns))
            .unwrap_or((0.0, 0.0));
        Upkeep {
            size_mb: candidate.size_mb,
            write_ms_per_hour: if self.weigh_writes { ms } else { 0.0 },
            write_overhead_pct: pct,
        }
    }
}

/// One variant's plan: (weight, cost without hypothetical indexes, cost with, candidates used).
type Planned = (f64, f64, f64, Vec<usize>);

fn combine(seen: &[Planned], captured: bool) -> Option<Eval> {
    let weights: f64 = seen.iter().map(|v| v.0).sum();
    if weights <= 0.0 {
        return None;
    }
    let share_of = |v: &Planned| {
        if v.1 > 0.0 {
            ((v.1 - v.2.min(v.1)) / v.1).max(0.0)
        } else {
            0.0
        }
    };
    let share = seen.iter().map(|v| v.0 * share_of(v)).sum::<f64>() / weights;
    let variance = seen
        .iter()
        .map(|v| v.0 * (share_of(v) - share).powi(2))
        .sum::<f64>()
        / weights;
    let mut used: Vec<usize> = seen.iter().flat_map(|v| v.3.iter().copied()).collect();
    used.sort_unstable();
    used.dedup();
    Some(Eval {
        cost_before: seen.iter().map(|v| v.0 * v.1).sum::<f64>() / weights,
        cost_after: seen.iter().map(|v| v.0 * v.2.min(v.1)).sum::<f64>() / weights,
        share,
        spread: variance.sqrt(),
        from_captured: captured,
        used,
    })
}

impl WhatIf for Planner<'_> {
    fn evaluate(&mut self, s: usize, sets: &[Vec<usize>]) -> Vec<Option<Eval>> {
        // a cancel, a timeout or a shutdown is seen between two plannings at the latest
        pg_sys::check_for_interrupts!();
        let key = |set: &[usize]| {
            let mut k = set.to_vec();
            k.sort_unstable();
            (s, k)
        };
        let mut missing: Vec<&Vec<usize>> = Vec::new();
        for set in sets {
            if !self.cache.contains_key(&key(set)) && !missing.iter().any(|m| key(m) == key(set)) {
                missing.push(set);
            }
        }
        if !missing.is_empty() {
            let read = &self.reads[s];
            let mut seen: Vec<Vec<Planned>> = vec![Vec::new(); missing.len()];
            let mut captured = false;
            for (values, weight) in variants(read.custom) {
                let all = &self.all;
                let actor = Actor::of_statement(read.statement.figures.role.as_deref());
                let planned = actor.and_then(|actor| {
                    planner::with_statement(&read.statement.query, values.as_deref(), actor, |st| {
                        let before = st.plan(&[]).total_cost;
                        missing
                            .iter()
                            .map(|set| {
                                let indexes: Vec<HypoIndex> =
                                    set.iter().map(|c| all[*c].0.index.clone()).collect();
                                let p = st.plan(&indexes);
                                let used: Vec<usize> = set
                                    .iter()
                                    .copied()
                                    .filter(|c| p.uses(all[*c].0.index.oid))
                                    .collect();
                                (weight, before, p.total_cost, used)
                            })
                            .collect::<Vec<Planned>>()
                    })
                });
                let Ok(planned) = planned else { continue };
                captured |= values.is_some();
                for (i, p) in planned.into_iter().enumerate() {
                    seen[i].push(p);
                }
            }
            for (set, seen) in missing.iter().zip(seen) {
                self.cache.insert(key(set), combine(&seen, captured));
            }
        }
        sets.iter()
            .map(|set| self.cache[&key(set)].clone())
            .collect()
    }

    fn widen(&mut self, c: usize) -> Vec<(usize, Upkeep)> {
        let (relid, leading, base) = {
            let candidate = &self.all[c].0;
            (
                candidate.index.relid,
                candidate.leading.clone(),
                candidate.finding.clone(),
            )
        };
        let Some(base_keys) = candidates::plain_keys(&base.target) else {
            return Vec::new();
        };
        // what the statements this index serves use and read of its table
        let mut wider: Vec<Finding> = Vec::new();
        for (read, uses) in self.read_by.iter().zip(&self.uses_by) {
            if !serves(read, relid, leading.as_deref()) {
                continue;
            }
            if let Some(used) = uses.iter().find(|u| u.relid == relid.to_u32()) {
                for column in candidates::used_columns(used) {
                    wider.extend(candidates::widened(&base, &column));
                }
            }
            if let Some((_, Some(read_here))) = read.iter().find(|(r, _)| *r == relid) {
                wider.extend(candidates::covering_variant(&base, read_here));
            }
        }
        let mut made: Vec<usize> = Vec::new();
        for finding in wider {
            // a candidate with these keys already (`created_at DESC` where widening appends
            // `created_at`) is the widening: its finding says why it helps
            let keys = candidates::plain_keys(&finding.target);
            let known = self.all.iter().position(|(k, _)| {
                k.finding.target == finding.target
                    || (keys.is_some() && candidates::plain_keys(&k.finding.target) == keys)
            });
            let id = match known {
                Some(known) => known,
                None => {
                    let Some(defined) = define(finding, self.all.len()) else {
                        continue;
                    };
                    self.all.push(defined);
                    self.all.len() - 1
                }
            };
            if id != c && !made.contains(&id) {
                made.push(id);
            }
        }
        // and the candidates that already extend it: its covering variants, wider rule findings
        for (id, (k, _)) in self.all.iter().enumerate() {
            if id != c
                && !made.contains(&id)
                && k.index.relid == relid
                && candidates::extends(&k.finding.target, &base_keys)
            {
                made.push(id);
            }
        }
        made.into_iter().map(|id| (id, self.upkeep(id))).collect()
    }

    fn time_is_up(&self) -> bool {
        crate::bgworker::transaction_time_spent()
            .is_some_and(|spent| spent >= SEARCH_SHARE_OF_BOUND)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum WriteOp {
    Insert,
    Update,
    Delete,
}

/// What a statement writes: the operation, the table and, for UPDATE, the columns it assigns.
/// None for anything that does not write a table (or names one that does not exist).
fn write_target(sql: &str) -> Option<(WriteOp, Oid, Vec<String>)> {
    let text = CString::new(sql).ok()?;
    in_rolled_back_subtransaction(|| unsafe {
        let list = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        if list.as_ref().map(|l| l.length) != Some(1) {
            return None;
        }
        let raw: *mut pg_sys::RawStmt = (*(*list).elements).ptr_value.cast();
        let node = (*raw).stmt;
        let (op, relation, mut columns) = match (*node).type_ {
            pg_sys::NodeTag::T_InsertStmt => (
                WriteOp::Insert,
                (*node.cast::<pg_sys::InsertStmt>()).relation,
                Vec::new(),
            ),
            pg_sys::NodeTag::T_DeleteStmt => (
                WriteOp::Delete,
                (*node.cast::<pg_sys::DeleteStmt>()).relation,
                Vec::new(),
            ),
            pg_sys::NodeTag::T_UpdateStmt => {
                let update = &*node.cast::<pg_sys::UpdateStmt>();
                let mut columns = Vec::new();
                if let Some(targets) = update.targetList.as_ref() {
                    for i in 0..targets.length as usize {
                        let target: *mut pg_sys::ResTarget =
                            (*targets.elements.add(i)).ptr_value.cast();
                        if !(*target).name.is_null() {
                            columns.push(
                                CStr::from_ptr((*target).name)
                                    .to_string_lossy()
                                    .into_owned(),
                            );
                        }
                    }
                }
                (WriteOp::Update, update.relation, columns)
            }
            // rows merged may be inserted or updated: counted as inserts, every index pays
            pg_sys::NodeTag::T_MergeStmt => (
                WriteOp::Insert,
                (*node.cast::<pg_sys::MergeStmt>()).relation,
                Vec::new(),
            ),
            pg_sys::NodeTag::T_CopyStmt => {
                let copy = &*node.cast::<pg_sys::CopyStmt>();
                if !copy.is_from {
                    return None;
                }
                (WriteOp::Insert, copy.relation, Vec::new())
            }
            _ => return None,
        };
        if relation.is_null() {
            return None;
        }
        let relid = pg_sys::RangeVarGetRelidExtended(
            relation,
            pg_sys::NoLock as _,
            pg_sys::RVROption::RVR_MISSING_OK as _,
            None,
            std::ptr::null_mut(),
        );
        if relid == Oid::INVALID {
            return None;
        }
        columns.sort();
        columns.dedup();
        Some((op, relid, columns))
    })
    .ok()
    .flatten()
}

/// A statement of the window that writes a table, as the server's parser reads it.
struct Write {
    queryid: i64,
    op: WriteOp,
    relid: Oid,
    /// Columns an UPDATE assigns.
    columns: Vec<String>,
    total_ms: f64,
    rows: f64,
}

/// The statements of the window that write a table.
fn window_writes() -> spi::Result<Vec<Write>> {
    let statements: Vec<(i64, String, f64, f64)> = Spi::connect(|client| {
        client
            .select(
                include_str!("../../sql/advisor/write_statements.sql"),
                None,
                &[WINDOW_MINUTES.into()],
            )?
            .map(|row| {
                Ok((
                    row.get::<i64>(1)?.unwrap_or_default(),
                    row.get::<String>(2)?.unwrap_or_default(),
                    row.get::<f64>(4)?.unwrap_or_default(),
                    row.get::<i64>(5)?.unwrap_or_default() as f64,
                ))
            })
            .collect::<spi::Result<Vec<_>>>()
    })?;
    Ok(statements
        .into_iter()
        .filter_map(|(queryid, sql, total_ms, rows)| {
            let (op, relid, columns) = write_target(&sql)?;
            Some(Write {
                queryid,
                op,
                relid,
                columns,
                total_ms,
                rows,
            })
        })
        .collect())
}

/// The statements of the window that write table `relid`.
pub fn writers_of(relid: Oid) -> spi::Result<Vec<i64>> {
    Ok(window_writes()?
        .into_iter()
        .filter(|w| w.relid == relid)
        .map(|w| w.queryid)
        .collect())
}

/// The writes of the window on each table in `tables`, with the table's indexes.
fn table_writes(tables: &[Oid]) -> spi::Result<HashMap<Oid, TableWrites>> {
    let mut out: HashMap<Oid, TableWrites> = HashMap::new();
    if tables.is_empty() {
        return Ok(out);
    }
    let hours = WINDOW_MINUTES as f64 / 60.0;
    for w in window_writes()?
        .into_iter()
        .filter(|w| tables.contains(&w.relid))
    {
        let writes = out.entry(w.relid).or_default();
        match w.op {
            WriteOp::Insert => {
                writes.inserted_rows_per_hour += w.rows / hours;
                writes.insert_ms_per_hour += w.total_ms / hours;
            }
            WriteOp::Update => writes.updates.push(UpdateLoad {
                rows_per_hour: w.rows / hours,
                ms_per_hour: w.total_ms / hours,
                columns: w.columns,
            }),
            WriteOp::Delete => writes.delete_ms_per_hour += w.total_ms / hours,
        }
    }
    for (relid, writes) in out.iter_mut() {
        let (count, columns) = Spi::connect(|client| {
            let row = client
                .select(
                    include_str!("../../sql/advisor/indexed_columns.sql"),
                    Some(1),
                    &[(*relid).into()],
                )?
                .first()
                .get_two::<i64, Vec<String>>()?;
            Ok::<_, spi::Error>(row)
        })?;
        writes.existing_indexes = count.unwrap_or_default() as usize;
        writes.indexed_columns = columns.unwrap_or_default();
    }
    Ok(out)
}

/// Selects the indexes worth building for `reads`, within the budget. Without `weigh_writes`
/// the index maintenance is reported but not counted against the benefit (for a statement whose
/// frequency is not known).
pub fn advise(
    reads: &[Read],
    budget_mb: f64,
    min_improvement_pct: f64,
    weigh_writes: bool,
) -> spi::Result<Advised> {
    let (all, read_by, uses_by) = gather_candidates(reads);
    if all.is_empty() {
        return Ok(Advised {
            advice: Vec::new(),
            complete: true,
        });
    }
    let loads: Vec<Load> = reads
        .iter()
        .map(|r| Load {
            queryid: r.statement.figures.queryid,
            calls_per_hour: r.statement.figures.calls_per_hour(),
            mean_ms: r.statement.figures.mean_ms(),
        })
        .collect();
    let relevant: Vec<Vec<usize>> = reads
        .iter()
        .zip(&read_by)
        .map(|(read, read_columns)| {
            let tables = tables_of(read.plan);
            (0..all.len())
                .filter(|c| {
                    let (candidate, table) = &all[*c];
                    tables.contains(table)
                        && serves(
                            read_columns,
                            candidate.index.relid,
                            candidate.leading.as_deref(),
                        )
                })
                .collect()
        })
        .collect();
    let mut relids: Vec<Oid> = all.iter().map(|(c, _)| c.index.relid).collect();
    relids.sort_unstable_by_key(|o| o.to_u32());
    relids.dedup();
    let writes = table_writes(&relids)?;
    let mut planner = Planner {
        reads,
        all,
        read_by,
        uses_by,
        writes,
        weigh_writes,
        cache: HashMap::new(),
    };
    let upkeep: Vec<Upkeep> = (0..planner.all.len()).map(|c| planner.upkeep(c)).collect();
    let selection = select(
        &loads,
        &upkeep,
        &relevant,
        &mut planner,
        budget_mb,
        min_improvement_pct,
    );
    let all = planner.all;
    for (c, (candidate, _)) in all.iter().enumerate() {
        debug1!(
            "optischema advisor: candidate {c}: {}",
            candidate.finding.sql
        );
    }
    for line in &selection.trace {
        debug1!("optischema advisor: {line}");
    }
    let mut out = Vec::with_capacity(selection.choices.len());
    for choice in selection.choices {
        let (candidate, _) = &all[choice.candidate];
        let keep = &selection.upkeep[choice.candidate];
        // the statement it saves most time for speaks for it
        let main = choice
            .helped
            .iter()
            .max_by(|a, b| {
                (loads[a.0].ms_per_hour() * a.1).total_cmp(&(loads[b.0].ms_per_hour() * b.1))
            })
            .map(|(s, _)| *s)
            .expect("a choice helps at least one statement");
        let mut finding = candidate.finding.clone();
        if let Some(e) = selection.statements.get(&main) {
            finding.est_cost_before = Some(e.cost_before);
            finding.est_cost_after = Some(e.cost_after);
        }
        finding.confidence = choice.confidence;
        let helped: Vec<serde_json::Value> = choice
            .helped
            .iter()
            .map(|(s, lost)| {
                let e = selection.statements.get(s);
                serde_json::json!({
                    "queryid": loads[*s].queryid,
                    "cost_before": e.map(|e| e.cost_before),
                    "cost_after": e.map(|e| e.cost_after),
                    "improvement_pct": e.map(|e| e.share * 100.0),
                    "without_this_index_pct": lost * 100.0,
                })
            })
            .collect();
        if !finding.evidence.is_object() {
            finding.evidence = serde_json::json!({});
        }
        let evidence = finding.evidence.as_object_mut().expect("an object");
        evidence.insert("cost_model".into(), COST_FROM_PLANNER.into());
        evidence.insert("statements_helped".into(), helped.into());
        evidence.insert("index_size_mb".into(), candidate.size_mb.into());
        evidence.insert("write_ms_per_hour".into(), keep.write_ms_per_hour.into());
        evidence.insert("write_overhead_pct".into(), keep.write_overhead_pct.into());
        evidence.insert(
            "ms_saved_per_hour_before_writes".into(),
            choice.ms_saved_per_hour.into(),
        );
        out.push(Advice {
            queryid: loads[main].queryid,
            helped: choice
                .helped
                .iter()
                .map(|(s, _)| loads[*s].queryid)
                .collect(),
            improvement_pct: choice.improvement_pct,
            ms_saved_per_hour: choice.net_ms_per_hour(keep),
            size_mb: candidate.size_mb,
            write_overhead_pct: keep.write_overhead_pct,
            finding,
        });
    }
    Ok(Advised {
        advice: out,
        complete: selection.complete,
    })
}
