//! What the apply worker agrees to run. Each statement is rebuilt from a typed step (see
//! [`super::action`]); when `apply()`/`revert()` queue it, and again right before the worker
//! runs it, the server's own parser reads it and it must be exactly one statement of the shape
//! its recommendation's kind allows: an index built CONCURRENTLY under OptiSchema's name, an index dropped
//! CONCURRENTLY by its qualified name (never one that backs a constraint), extended
//! statistics, ANALYZE of one table, a planner or memory setting from [`ALLOWED_SETTINGS`]
//! for a role, a database or the server. Nothing on `pg_catalog`, `information_schema`,
//! `pg_toast` or OptiSchema's own schema. Anything else is refused, whoever wrote it.

use super::action::dropped_names;
use super::Mode::{self, Apply, Revert, Trial};
use crate::rules::is_protected_schema;
use crate::rules::Kind;
use crate::whatif::hypo::list_items;
use pgrx::pg_sys::{self, NodeTag};
use pgrx::prelude::*;
use std::ffi::{CStr, CString};

/// Settings a config recommendation may change: the planner's costs and switches, and memory
/// for sorts, hashes and maintenance. Never anything that loads code, opens files or changes
/// who is who.
pub const ALLOWED_SETTINGS: &[&str] = &[
    "work_mem",
    "hash_mem_multiplier",
    "maintenance_work_mem",
    "temp_buffers",
    "effective_cache_size",
    "random_page_cost",
    "seq_page_cost",
    "cpu_tuple_cost",
    "cpu_index_tuple_cost",
    "cpu_operator_cost",
    "parallel_setup_cost",
    "parallel_tuple_cost",
    "min_parallel_table_scan_size",
    "min_parallel_index_scan_size",
    "max_parallel_workers_per_gather",
    "effective_io_concurrency",
    "default_statistics_target",
    "join_collapse_limit",
    "from_collapse_limit",
    "plan_cache_mode",
    "jit",
    "jit_above_cost",
    "jit_inline_above_cost",
    "jit_optimize_above_cost",
    "geqo",
    "geqo_threshold",
    "enable_bitmapscan",
    "enable_gathermerge",
    "enable_hashagg",
    "enable_hashjoin",
    "enable_incremental_sort",
    "enable_indexonlyscan",
    "enable_indexscan",
    "enable_material",
    "enable_memoize",
    "enable_mergejoin",
    "enable_nestloop",
    "enable_parallel_append",
    "enable_parallel_hash",
    "enable_partition_pruning",
    "enable_partitionwise_aggregate",
    "enable_partitionwise_join",
    "enable_seqscan",
    "enable_sort",
    "enable_tidscan",
];

/// The step that makes a server-wide setting take effect, allowed as it is.
const RELOAD: &str = super::RELOAD;

/// Checks one step of an action on a recommendation of `kind` (`mode` apply, trial or revert).
pub fn check(kind: Kind, mode: Mode, step: &str, recommendation_id: i64) -> Result<(), String> {
    if step == RELOAD && kind == Kind::Config {
        return Ok(());
    }
    let node = one_statement(step)?;
    let tag = unsafe { (*node).type_ };
    let ours = super::index_name(recommendation_id);
    let shape_ok = match (kind, mode, tag) {
        (Kind::Index, Apply | Trial, NodeTag::T_IndexStmt) => index_build(node, Some(&ours))?,
        (Kind::Index, Revert, NodeTag::T_DropStmt) => index_drop(node, Some(&ours))?,
        (Kind::DropIndex, Apply | Trial, NodeTag::T_DropStmt) => index_drop(node, None)?,
        (Kind::DropIndex, Revert, NodeTag::T_IndexStmt) => index_build(node, None)?,
        (Kind::Statistics, Apply | Trial, NodeTag::T_CreateStatsStmt) => statistics(node)?,
        (Kind::Statistics, Apply | Trial, NodeTag::T_VacuumStmt) => analyze(node)?,
        (Kind::Statistics, Revert, NodeTag::T_DropStmt) => statistics_drop(node),
        (Kind::Analyze, Apply | Trial, NodeTag::T_VacuumStmt) => analyze(node)?,
        (
            Kind::Config,
            _,
            NodeTag::T_AlterRoleSetStmt
            | NodeTag::T_AlterDatabaseSetStmt
            | NodeTag::T_AlterSystemStmt,
        ) => setting(node)?,
        // a session setting is only ever tried, in the trial's own transaction
        (Kind::Config, Trial, NodeTag::T_VariableSetStmt) => setting(node)?,
        // a rewrite is only ever tried: read-only, as its statement's role, rolled back
        (Kind::Rewrite, Trial, NodeTag::T_SelectStmt) => true,
        _ => false,
    };
    if shape_ok {
        Ok(())
    } else {
        Err(format!(
            "refused to run a {mode} step that is not what a {kind} recommendation runs: {}",
            step.chars().take(200).collect::<String>()
        ))
    }
}

/// Checks every step, the first refusal wins.
pub fn check_all(
    kind: Kind,
    mode: Mode,
    steps: &[String],
    recommendation_id: i64,
) -> Result<(), String> {
    steps
        .iter()
        .try_for_each(|s| check(kind, mode, s, recommendation_id))
}

pub(super) fn one_statement(sql: &str) -> Result<*mut pg_sys::Node, String> {
    let text = CString::new(sql).map_err(|_| "a step contains a NUL byte".to_string())?;
    let parsed = crate::plans::explain::in_rolled_back_subtransaction(|| unsafe {
        list_items(pg_sys::raw_parser(
            text.as_ptr(),
            pg_sys::RawParseMode::RAW_PARSE_DEFAULT,
        ))
    });
    let statements = parsed.map_err(|(message, _)| format!("a step does not parse: {message}"))?;
    if statements.len() != 1 {
        return Err(format!(
            "a step must be one statement, this one has {}: {}",
            statements.len(),
            sql.chars().take(200).collect::<String>()
        ));
    }
    let raw = statements[0] as *mut pg_sys::RawStmt;
    Ok(unsafe { (*raw).stmt })
}

pub(super) fn text(p: *const std::ffi::c_char) -> Option<String> {
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p).to_string_lossy().into_owned() })
}

/// The schema a RangeVar names: it must name one, and not a protected one.
fn table_schema_ok(rv: *mut pg_sys::RangeVar) -> Result<bool, String> {
    if rv.is_null() {
        return Ok(false);
    }
    let schema = unsafe { text((*rv).schemaname) };
    match schema {
        None => Err("a step must name its table's schema".into()),
        Some(s) if is_protected_schema(&s) => {
            Err(format!("OptiSchema never changes objects in schema {s}"))
        }
        Some(_) => Ok(true),
    }
}

/// CREATE [UNIQUE] INDEX CONCURRENTLY [name] ON schema.table ...; named `name` when given;
/// no storage options or tablespace, and functions and operators from pg_catalog only (the
/// worker resolves unqualified names in pg_catalog alone).
fn index_build(node: *mut pg_sys::Node, name: Option<&str>) -> Result<bool, String> {
    let stmt = unsafe { &*(node as *mut pg_sys::IndexStmt) };
    if !stmt.concurrent || !table_schema_ok(stmt.relation)? {
        return Ok(false);
    }
    // a dropped index comes back exactly as pg_get_indexdef printed it (its owner's functions,
    // options and tablespace included: CREATE INDEX runs them as the table's owner, restricted)
    let Some(name) = name else { return Ok(true) };
    if !stmt.tableSpace.is_null() || !list_items(stmt.options).is_empty() {
        return Err("an index OptiSchema builds has no storage options or tablespace".into());
    }
    let exprs = list_items(stmt.indexParams)
        .into_iter()
        .chain(list_items(stmt.indexIncludingParams))
        .map(|e| unsafe { (*(e as *mut pg_sys::IndexElem)).expr })
        .chain(std::iter::once(stmt.whereClause));
    for expr in exprs {
        if names_code_outside_catalog(expr) {
            return Err(
                "an index OptiSchema builds uses only built-in functions and operators".into(),
            );
        }
    }
    Ok(text(stmt.idxname).as_deref() == Some(name) && !stmt.unique)
}

/// Whether a raw expression names a function or an operator in a schema other than
/// pg_catalog.
fn names_code_outside_catalog(node: *mut pg_sys::Node) -> bool {
    fn foreign(names: *mut pg_sys::List) -> bool {
        let parts = list_items(names);
        parts.len() > 1
            && unsafe { text((*(parts[0] as *mut pg_sys::String)).sval) }.as_deref()
                != Some("pg_catalog")
    }
    #[pg_guard]
    unsafe extern "C-unwind" fn walk(node: *mut pg_sys::Node, ctx: *mut std::ffi::c_void) -> bool {
        unsafe {
            if node.is_null() {
                return false;
            }
            let found = match (*node).type_ {
                NodeTag::T_FuncCall => foreign((*(node as *mut pg_sys::FuncCall)).funcname),
                NodeTag::T_A_Expr => foreign((*(node as *mut pg_sys::A_Expr)).name),
                _ => false,
            };
            found || pg_sys::raw_expression_tree_walker(node, Some(walk), ctx)
        }
    }
    unsafe { walk(node, std::ptr::null_mut()) }
}

/// DROP INDEX CONCURRENTLY schema.index, one index; `name` when given, else any index that
/// backs no constraint.
fn index_drop(node: *mut pg_sys::Node, name: Option<&str>) -> Result<bool, String> {
    let stmt = unsafe { &*(node as *mut pg_sys::DropStmt) };
    if stmt.removeType != pg_sys::ObjectType::OBJECT_INDEX || !stmt.concurrent {
        return Ok(false);
    }
    let names = dropped_names(stmt);
    let [qualified] = names.as_slice() else {
        return Ok(false);
    };
    let [schema, index] = qualified.as_slice() else {
        return Err("a step must name its index's schema".into());
    };
    if is_protected_schema(schema) {
        return Err(format!(
            "OptiSchema never changes objects in schema {schema}"
        ));
    }
    if let Some(n) = name {
        return Ok(index == n);
    }
    let backs_constraint = Spi::get_one_with_args::<bool>(
        include_str!("../../sql/apply/backs_constraint.sql"),
        &[schema.clone().into(), index.clone().into()],
    )
    .map_err(|e| e.to_string())?
    .unwrap_or(true);
    if backs_constraint {
        return Err(format!(
            "index {schema}.{index} backs a constraint: OptiSchema never drops it"
        ));
    }
    Ok(true)
}

fn statistics(node: *mut pg_sys::Node) -> Result<bool, String> {
    let stmt = unsafe { &*(node as *mut pg_sys::CreateStatsStmt) };
    let relations = list_items(stmt.relations);
    let [relation] = relations.as_slice() else {
        return Ok(false);
    };
    let relation = *relation as *mut pg_sys::Node;
    if unsafe { (*relation).type_ } != NodeTag::T_RangeVar {
        return Ok(false);
    }
    table_schema_ok(relation as *mut pg_sys::RangeVar)
}

fn statistics_drop(node: *mut pg_sys::Node) -> bool {
    let stmt = unsafe { &*(node as *mut pg_sys::DropStmt) };
    stmt.removeType == pg_sys::ObjectType::OBJECT_STATISTIC_EXT && dropped_names(stmt).len() == 1
}

/// ANALYZE schema.table: one table, no VACUUM, no options.
fn analyze(node: *mut pg_sys::Node) -> Result<bool, String> {
    let stmt = unsafe { &*(node as *mut pg_sys::VacuumStmt) };
    if stmt.is_vacuumcmd || !list_items(stmt.options).is_empty() {
        return Ok(false);
    }
    let rels = list_items(stmt.rels);
    let [rel] = rels.as_slice() else {
        return Ok(false);
    };
    let rel = unsafe { &*(*rel as *mut pg_sys::VacuumRelation) };
    table_schema_ok(rel.relation)
}

/// SET or RESET of an allowed setting, for a role, a database, the server or (in a trial) the
/// session.
fn setting(node: *mut pg_sys::Node) -> Result<bool, String> {
    let set = unsafe {
        match (*node).type_ {
            NodeTag::T_AlterRoleSetStmt => {
                let stmt = &*(node as *mut pg_sys::AlterRoleSetStmt);
                // one named role, in every database: not ALL, not IN DATABASE
                if stmt.role.is_null() || !stmt.database.is_null() {
                    return Ok(false);
                }
                stmt.setstmt
            }
            NodeTag::T_AlterDatabaseSetStmt => {
                (*(node as *mut pg_sys::AlterDatabaseSetStmt)).setstmt
            }
            NodeTag::T_AlterSystemStmt => (*(node as *mut pg_sys::AlterSystemStmt)).setstmt,
            NodeTag::T_VariableSetStmt => node as *mut pg_sys::VariableSetStmt,
            _ => return Ok(false),
        }
    };
    if set.is_null() {
        return Ok(false);
    }
    let set = unsafe { &*set };
    if !matches!(
        set.kind,
        pg_sys::VariableSetKind::VAR_SET_VALUE | pg_sys::VariableSetKind::VAR_RESET
    ) {
        return Ok(false);
    }
    let name = text(set.name).unwrap_or_default().to_ascii_lowercase();
    if !ALLOWED_SETTINGS.contains(&name.as_str()) {
        return Err(format!(
            "setting {name} is not one OptiSchema changes (planner and memory settings only)"
        ));
    }
    Ok(true)
}
