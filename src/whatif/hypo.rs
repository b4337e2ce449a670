//! Hypothetical indexes: `IndexOptInfo`s added to the planner's view of a table by a
//! `get_relation_info_hook`, only while OptiSchema's own what-if planning runs (never for other
//! statements or sessions), with no catalog write and no lock beyond planning.
//!
//! A definition is a `CREATE INDEX` statement, parsed with the server's parser and analysed by
//! `transformIndexStmt`, so expressions, INCLUDE columns, partial predicates, operator classes,
//! collations and sort orders mean exactly what they mean to `CREATE INDEX`.

use super::{distinct, groups, size};
use crate::errors;
use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};

// not in pgrx's bindings (parser/parse_utilcmd.h, rewrite/rewriteManip.h): called through
// pg_guard_ffi_boundary, so that an ERROR they raise becomes a Rust panic as pgrx's own do
unsafe extern "C-unwind" {
    fn transformIndexStmt(
        relid: Oid,
        stmt: *mut pg_sys::IndexStmt,
        query: *const std::ffi::c_char,
    ) -> *mut pg_sys::IndexStmt;
    fn ChangeVarNodes(
        node: *mut pg_sys::Node,
        old_varno: c_int,
        new_varno: c_int,
        sublevels_up: c_int,
    );
}

/// One hypothetical index, as the planner needs it. Clones share the parsed expression and
/// predicate lists, which the planner only ever sees copies of.
#[derive(Clone)]
pub struct HypoIndex {
    pub oid: Oid,
    pub name: CString,
    pub relid: Oid,
    relam: Oid,
    nkeycolumns: i32,
    /// Per column (keys then INCLUDE): attribute number, or 0 for an expression.
    indexkeys: Vec<i32>,
    collations: Vec<Oid>,
    opfamily: Vec<Oid>,
    opcintype: Vec<Oid>,
    reverse_sort: Vec<bool>,
    nulls_first: Vec<bool>,
    canreturn: Vec<bool>,
    indexprs: *mut pg_sys::List,
    indpred: *mut pg_sys::List,
    unique: bool,
    amroutine: *mut pg_sys::IndexAmRoutine,
    /// Estimated width of one entry's data, for the size estimate: all columns, and the keys.
    pub data_width: i64,
    key_width: i64,
    /// Statistics of each key column (`None` for an expression), for how entries share keys.
    key_stats: Vec<Option<size::ColumnStats>>,
    /// Distinct keys of a multi-column key counted on the columns together, when known.
    key_combinations: Option<f64>,
    /// Whether CREATE INDEX would deduplicate equal keys into posting lists.
    deduplicate: bool,
    leaf_fillfactor: i64,
    /// Share of the table's rows a partial index holds (1 without a predicate).
    pred_selectivity: f64,
    /// Table columns the index uses: keys, INCLUDE, in expressions or the predicate.
    pub columns: Vec<String>,
}

thread_local! {
    static ACTIVE: RefCell<Vec<HypoIndex>> = const { RefCell::new(Vec::new()) };
    /// Pages estimated for each hypothetical index the planner saw, by oid.
    static SIZES: RefCell<Vec<(Oid, f64)>> = const { RefCell::new(Vec::new()) };
    /// Real indexes the planner is not shown, as if they were dropped.
    static HIDDEN: RefCell<Vec<Oid>> = const { RefCell::new(Vec::new()) };
}
static mut PREV_GET_RELATION_INFO: pg_sys::get_relation_info_hook_type = None;
static mut PREV_INDEX_NAME: pg_sys::explain_get_index_name_hook_type = None;

pub fn install() {
    unsafe {
        PREV_GET_RELATION_INFO = pg_sys::get_relation_info_hook;
        pg_sys::get_relation_info_hook = Some(get_relation_info);
        PREV_INDEX_NAME = pg_sys::explain_get_index_name_hook;
        pg_sys::explain_get_index_name_hook = Some(index_name);
    }
}

/// Makes `indexes` visible to the planner while `f` runs, and only then. Returns what `f`
/// returns and the pages the planner was told each index has.
pub fn with_indexes<R>(indexes: Vec<HypoIndex>, f: impl FnOnce() -> R) -> (R, Vec<(Oid, f64)>) {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.borrow_mut().clear());
            SIZES.with(|s| s.borrow_mut().clear());
        }
    }
    let _clear = Clear;
    ACTIVE.with(|a| *a.borrow_mut() = indexes);
    SIZES.with(|s| s.borrow_mut().clear());
    let result = f();
    let sizes = SIZES.with(|s| s.borrow().clone());
    (result, sizes)
}

/// Hides the real indexes `oids` from the planner while `f` runs, as if they were dropped.
pub fn without_indexes<R>(oids: Vec<Oid>, f: impl FnOnce() -> R) -> R {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            HIDDEN.with(|h| h.borrow_mut().clear());
        }
    }
    let _clear = Clear;
    HIDDEN.with(|h| *h.borrow_mut() = oids);
    f()
}

/// The pointers a `List` holds.
pub(crate) fn list_items(list: *mut pg_sys::List) -> Vec<*mut std::ffi::c_void> {
    unsafe {
        match list.as_ref() {
            None => Vec::new(),
            Some(l) => (0..l.length as usize)
                .map(|i| (*l.elements.add(i)).ptr_value)
                .collect(),
        }
    }
}

fn reject(message: String) -> ! {
    errors::reject(errors::ArgError {
        message,
        hint: "Give a CREATE INDEX statement on an existing table, for example: CREATE INDEX ON t (a, b).".into(),
    })
}

/// Parses and analyses one `CREATE INDEX` statement into a hypothetical index. Raises a clear
/// ERROR for anything else, a missing table or column, or an unsupported access method.
pub fn define(sql: &str, ordinal: usize) -> HypoIndex {
    let text = CString::new(sql)
        .unwrap_or_else(|_| reject("the index definition contains a NUL byte".into()));
    unsafe {
        let parsed = list_items(pg_sys::raw_parser(
            text.as_ptr(),
            pg_sys::RawParseMode::RAW_PARSE_DEFAULT,
        ));
        if parsed.len() != 1 {
            reject(format!(
                "expected one CREATE INDEX statement, found {} statements: {sql}",
                parsed.len()
            ));
        }
        let raw = parsed[0] as *mut pg_sys::RawStmt;
        let node = (*raw).stmt;
        if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_IndexStmt {
            reject(format!("not a CREATE INDEX statement: {sql}"));
        }
        let stmt = node as *mut pg_sys::IndexStmt;
        let relid = pg_sys::RangeVarGetRelidExtended(
            (*stmt).relation,
            pg_sys::AccessShareLock as _,
            0,
            None,
            std::ptr::null_mut(),
        );
        let kind = pg_sys::get_rel_relkind(relid) as u8;
        if ![pg_sys::RELKIND_RELATION, pg_sys::RELKIND_MATVIEW].contains(&kind) {
            reject(format!(
                "{sql}: only tables and materialized views can have hypothetical indexes"
            ));
        }
        // expressions and the predicate are evaluated (constant folding, the predicate's
        // selectivity) as the table's owner, restricted, as CREATE INDEX would
        let caller = pg_sys::GetUserId();
        crate::acting::as_table_owner(relid, || analysed(sql, &text, relid, stmt, ordinal, caller))
    }
}

/// The rest of [`define`], for `stmt` on table `relid`, asked by role `caller`.
fn analysed(
    sql: &str,
    text: &CString,
    relid: Oid,
    stmt: *mut pg_sys::IndexStmt,
    ordinal: usize,
    caller: Oid,
) -> HypoIndex {
    unsafe {
        let stmt =
            pg_sys::ffi::pg_guard_ffi_boundary(|| transformIndexStmt(relid, stmt, text.as_ptr()));
        // an expression or a predicate is evaluated (folded, its selectivity estimated): only
        // PostgreSQL's own functions and operators, never code a role wrote
        for item in list_items((*stmt).indexParams)
            .into_iter()
            .chain(list_items((*stmt).indexIncludingParams))
        {
            if calls_user_code((*(item as *mut pg_sys::IndexElem)).expr) {
                reject(format!(
                    "{sql}: a hypothetical index may use only built-in functions and operators"
                ));
            }
        }
        if calls_user_code((*stmt).whereClause) {
            reject(format!(
                "{sql}: a hypothetical index's predicate may use only built-in functions and operators"
            ));
        }
        let am_name = CStr::from_ptr((*stmt).accessMethod)
            .to_string_lossy()
            .into_owned();
        if am_name != "btree" && am_name != "hash" {
            reject(format!(
                "{sql}: access method \"{am_name}\" is not supported, only btree and hash"
            ));
        }
        let relam = pg_sys::get_am_oid((*stmt).accessMethod, false);
        let amroutine = pg_sys::GetIndexAmRoutineByAmId(relam, false);
        let btree = am_name == "btree";

        let keys = list_items((*stmt).indexParams);
        let include = list_items((*stmt).indexIncludingParams);
        if keys.len() > 1 && !(*amroutine).amcanmulticol {
            reject(format!(
                "{sql}: access method \"{am_name}\" does not support multicolumn indexes"
            ));
        }
        if !include.is_empty() && !(*amroutine).amcaninclude {
            reject(format!(
                "{sql}: access method \"{am_name}\" does not support INCLUDE"
            ));
        }
        let mut h = HypoIndex {
            oid: pg_sys::Oid::from(4_000_000_000u32 + ordinal as u32),
            name: CString::new(format!("<hypothetical {}>", ordinal + 1)).unwrap(),
            relid,
            relam,
            nkeycolumns: keys.len() as i32,
            indexkeys: Vec::new(),
            collations: Vec::new(),
            opfamily: Vec::new(),
            opcintype: Vec::new(),
            reverse_sort: Vec::new(),
            nulls_first: Vec::new(),
            canreturn: Vec::new(),
            indexprs: std::ptr::null_mut(),
            indpred: std::ptr::null_mut(),
            unique: (*stmt).unique,
            amroutine,
            data_width: 0,
            key_width: 0,
            key_stats: Vec::new(),
            key_combinations: None,
            deduplicate: false,
            leaf_fillfactor: size::DEFAULT_LEAF_FILLFACTOR,
            pred_selectivity: 1.0,
            columns: Vec::new(),
        };
        let mut layouts = Vec::new();
        let table_sampling = sampling(relid);
        for (i, item) in keys.iter().chain(include.iter()).enumerate() {
            let elem = &*(*item as *mut pg_sys::IndexElem);
            // "(column)" is a plain column, as CREATE INDEX treats it
            let var = elem.expr as *mut pg_sys::Var;
            let plain_var = !elem.expr.is_null()
                && (*elem.expr).type_ == pg_sys::NodeTag::T_Var
                && (*var).varattno > 0;
            let (attnum, typ, mut collation, width) = if plain_var {
                let attnum = (*var).varattno;
                let typ = ((*var).vartype, (*var).vartypmod);
                let width = average_width(relid, attnum, typ);
                (attnum as i32, typ, (*var).varcollid, width)
            } else if !elem.name.is_null() {
                let attnum = pg_sys::get_attnum(relid, elem.name);
                if attnum == pg_sys::InvalidAttrNumber as i16 {
                    reject(format!(
                        "{sql}: column \"{}\" does not exist",
                        CStr::from_ptr(elem.name).to_string_lossy()
                    ));
                }
                let (mut typ, mut typmod, mut coll) = (Oid::INVALID, -1, Oid::INVALID);
                pg_sys::get_atttypetypmodcoll(relid, attnum, &mut typ, &mut typmod, &mut coll);
                let width = average_width(relid, attnum, (typ, typmod));
                (attnum as i32, (typ, typmod), coll, width)
            } else {
                let expr = elem.expr;
                if pg_sys::contain_mutable_functions(expr) {
                    reject(format!(
                        "{sql}: functions in an index expression must be marked IMMUTABLE"
                    ));
                }
                let (typ, typmod) = (pg_sys::exprType(expr), pg_sys::exprTypmod(expr));
                h.indexprs = pg_sys::lappend(h.indexprs, expr.cast());
                let width = (pg_sys::get_typavgwidth(typ, typmod), false);
                (0, (typ, typmod), pg_sys::exprCollation(expr), width)
            };
            let (typ, typmod) = typ;
            layouts.push(column_layout(typ, typmod, width.0, width.1));
            h.indexkeys.push(attnum);
            h.canreturn.push(btree && attnum != 0);
            if i >= keys.len() {
                continue;
            }
            h.key_stats.push(
                (attnum > 0)
                    .then(|| column_stats(relid, attnum as i16, table_sampling))
                    .flatten(),
            );
            if !elem.collation.is_null() {
                collation = pg_sys::get_collation_oid(elem.collation, false);
            }
            let opclass = pg_sys::ResolveOpClass(elem.opclass, typ, (*stmt).accessMethod, relam);
            h.collations.push(collation);
            h.opfamily.push(pg_sys::get_opclass_family(opclass));
            h.opcintype.push(pg_sys::get_opclass_input_type(opclass));
            let desc = elem.ordering == pg_sys::SortByDir::SORTBY_DESC;
            h.reverse_sort.push(desc);
            h.nulls_first.push(match elem.nulls_ordering {
                pg_sys::SortByNulls::SORTBY_NULLS_FIRST => true,
                pg_sys::SortByNulls::SORTBY_NULLS_LAST => false,
                _ => desc,
            });
        }
        (h.key_width, h.data_width) = size::entry_widths(&layouts, keys.len());
        // _bt_load(): a fresh unique index has no duplicates to merge, INCLUDE columns and
        // opclasses without "equal means identical bytes" (_bt_allequalimage) rule it out
        h.deduplicate = btree
            && !h.unique
            && include.is_empty()
            && (0..keys.len()).all(|i| equal_image(h.opfamily[i], h.opcintype[i], h.collations[i]));
        for option in list_items((*stmt).options) {
            let def = option as *mut pg_sys::DefElem;
            match CStr::from_ptr((*def).defname).to_bytes() {
                b"deduplicate_items" if btree => h.deduplicate &= pg_sys::defGetBoolean(def),
                b"fillfactor" if btree => {
                    h.leaf_fillfactor = (pg_sys::defGetInt32(def) as i64).clamp(10, 100)
                }
                _ => {}
            }
        }
        if !(*stmt).whereClause.is_null() {
            h.indpred = pg_sys::make_ands_implicit((*stmt).whereClause.cast());
            h.pred_selectivity = predicate_selectivity(relid, (*stmt).whereClause);
        }
        // the key columns' values say little of how many keys they make together: count them,
        // for a caller who may read them (the table is read as its owner)
        let key_columns = &h.indexkeys[..keys.len()];
        if h.deduplicate
            && keys.len() > 1
            && key_columns.iter().all(|&a| a > 0)
            && h.readable_by(caller)
        {
            let attnums: Vec<i16> = key_columns.iter().map(|&a| a as i16).collect();
            let sample_rows = table_sampling.map_or(30_000.0, |s| s.target_rows);
            h.key_combinations = groups::distinct_keys(relid, &attnums, sample_rows);
        }
        h.columns = columns_used(&h);
        h
    }
}

/// Whether an analysed expression calls a function (or an operator's function) outside
/// pg_catalog.
fn calls_user_code(node: *mut pg_sys::Node) -> bool {
    #[pg_guard]
    unsafe extern "C-unwind" fn not_builtin(func: Oid, _context: *mut std::ffi::c_void) -> bool {
        unsafe { pg_sys::get_func_namespace(func) != Oid::from(pg_sys::PG_CATALOG_NAMESPACE) }
    }
    #[pg_guard]
    unsafe extern "C-unwind" fn walk(node: *mut pg_sys::Node, ctx: *mut std::ffi::c_void) -> bool {
        unsafe {
            if node.is_null() {
                return false;
            }
            if pg_sys::check_functions_in_node(node, Some(not_builtin), ctx) {
                return true;
            }
            pg_sys::expression_tree_walker(node, Some(walk), ctx)
        }
    }
    unsafe { walk(node, std::ptr::null_mut()) }
}

/// Names of the table columns `h` uses, in attribute order.
unsafe fn columns_used(h: &HypoIndex) -> Vec<String> {
    unsafe {
        let mut attnums: Vec<i32> = h.indexkeys.iter().copied().filter(|a| *a > 0).collect();
        let mut set: *mut pg_sys::Bitmapset = std::ptr::null_mut();
        pg_sys::pull_varattnos(h.indexprs.cast(), 1, &mut set);
        pg_sys::pull_varattnos(h.indpred.cast(), 1, &mut set);
        let mut member = -1;
        loop {
            member = pg_sys::bms_next_member(set, member);
            if member < 0 {
                break;
            }
            attnums.push(member + pg_sys::FirstLowInvalidHeapAttributeNumber);
        }
        attnums.retain(|a| *a > 0);
        attnums.sort_unstable();
        attnums.dedup();
        attnums
            .into_iter()
            .map(|a| {
                CStr::from_ptr(pg_sys::get_attname(h.relid, a as i16, false))
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }
}

/// Share of `relid`'s rows a partial index predicate keeps, as the planner estimates it. Asked
/// before planning: inside get_relation_info the relation is not yet known to the planner.
unsafe fn predicate_selectivity(relid: Oid, predicate: *mut pg_sys::Node) -> f64 {
    unsafe {
        let context = pg_sys::deparse_context_for(pg_sys::get_rel_name(relid), relid);
        let text = CStr::from_ptr(pg_sys::deparse_expression(predicate, context, false, false))
            .to_string_lossy()
            .into_owned();
        let Some(table) = super::qualified_name(relid) else {
            return 1.0;
        };
        let estimate = |sql: String| -> f64 {
            Spi::get_one::<pgrx::Json>(&format!("EXPLAIN (FORMAT JSON) {sql}"))
                .ok()
                .flatten()
                .and_then(|j| j.0[0]["Plan"]["Plan Rows"].as_f64())
                .unwrap_or(0.0)
        };
        let all = estimate(format!("SELECT 1 FROM ONLY {table}"));
        let kept = estimate(format!("SELECT 1 FROM ONLY {table} WHERE {text}"));
        if all > 0.0 {
            (kept / all).clamp(0.0, 1.0)
        } else {
            1.0
        }
    }
}

/// Whether the B-tree opclass of `opfamily` for `opcintype` under `collation` says equal values
/// are always bitwise equal (its BTEQUALIMAGE_PROC, as _bt_allequalimage asks it). Only a
/// built-in procedure is called: an opclass a role wrote counts as "no".
unsafe fn equal_image(opfamily: Oid, opcintype: Oid, collation: Oid) -> bool {
    const BTEQUALIMAGE_PROC: i16 = 4;
    unsafe {
        let proc = pg_sys::get_opfamily_proc(opfamily, opcintype, opcintype, BTEQUALIMAGE_PROC);
        if proc == Oid::INVALID
            || pg_sys::get_func_namespace(proc) != Oid::from(pg_sys::PG_CATALOG_NAMESPACE)
        {
            return false;
        }
        pg_sys::OidFunctionCall1Coll(proc, collation, pg_sys::Datum::from(opcintype)).value() != 0
    }
}

/// What pg_statistic says about column `attnum` of `relid`: NULLs, distinct values and the
/// frequencies of the most common ones, and its correlation; `sampling` is how ANALYZE sampled
/// the table. `None` before the first ANALYZE.
unsafe fn column_stats(
    relid: Oid,
    attnum: i16,
    sampling: Option<distinct::Sampling>,
) -> Option<size::ColumnStats> {
    unsafe {
        let tuple = pg_sys::SearchSysCache3(
            pg_sys::SysCacheIdentifier::STATRELATTINH as c_int,
            pg_sys::Datum::from(relid),
            pg_sys::Datum::from(attnum),
            pg_sys::Datum::from(false),
        );
        if tuple.is_null() {
            return None;
        }
        let form = &*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_statistic>(tuple);
        let numbers = |kind: u32| {
            let mut slot = pg_sys::AttStatsSlot::default();
            if !pg_sys::get_attstatsslot(
                &mut slot,
                tuple,
                kind as c_int,
                Oid::INVALID,
                pg_sys::ATTSTATSSLOT_NUMBERS as c_int,
            ) {
                return Vec::new();
            }
            let numbers = (0..slot.nnumbers as usize)
                .map(|i| *slot.numbers.add(i) as f64)
                .collect();
            pg_sys::free_attstatsslot(&mut slot);
            numbers
        };
        let stats = size::ColumnStats {
            null_frac: form.stanullfrac as f64,
            n_distinct: form.stadistinct as f64,
            common_freqs: numbers(pg_sys::STATISTIC_KIND_MCV),
            correlation: numbers(pg_sys::STATISTIC_KIND_CORRELATION)
                .first()
                .copied()
                .unwrap_or(0.0),
            sampling,
        };
        pg_sys::ReleaseSysCache(tuple);
        Some(stats)
    }
}

/// How ANALYZE samples `relid` (acquire_sample_rows): 300 rows per unit of the largest
/// statistics target among its columns, from a table of pg_class's blocks and rows.
unsafe fn sampling(relid: Oid) -> Option<distinct::Sampling> {
    unsafe {
        let (blocks, rows, columns) =
            super::with_pg_class(relid, |form| (form.relpages, form.reltuples, form.relnatts))?;
        let target = (1..=columns)
            .map(|attnum| match pg_sys::get_attstattarget(relid, attnum) {
                t if t < 0 => pg_sys::default_statistics_target,
                t => t,
            })
            .max()?;
        (blocks > 0 && rows > 0.0 && target > 0).then_some(distinct::Sampling {
            target_rows: 300.0 * target as f64,
            table_blocks: blocks as f64,
            table_rows: rows as f64,
        })
    }
}

/// Average bytes of column `attnum` of type `typ` (and typmod): ANALYZE's (true), or the type's
/// guess when the column has no statistics (false).
unsafe fn average_width(relid: Oid, attnum: i16, typ: (Oid, i32)) -> (i32, bool) {
    let sampled = pg_sys::get_attavgwidth(relid, attnum);
    if sampled > 0 {
        (sampled, true)
    } else {
        (pg_sys::get_typavgwidth(typ.0, typ.1), false)
    }
}

/// How a column of type `typ` lies in an index entry; `width` is its average bytes, from
/// ANALYZE (`sampled`) or from the type.
unsafe fn column_layout(typ: Oid, typmod: i32, width: i32, sampled: bool) -> size::ColumnLayout {
    let (mut typlen, mut byval, mut align) = (0i16, false, 0 as c_char);
    pg_sys::get_typlenbyvalalign(typ, &mut typlen, &mut byval, &mut align);
    // ANALYZE truncates a varying width's mean to whole bytes, half a byte on average; char(n)
    // is blank-padded to one width, which it keeps whole
    let fixed_char = typ == pg_sys::BPCHAROID && typmod >= 0;
    let truncated = if sampled && typlen < 0 && !fixed_char {
        0.5
    } else {
        0.0
    };
    size::ColumnLayout {
        width: width as f64 + truncated,
        typlen,
        align: match align as u8 {
            b'd' => 8,
            b'i' => 4,
            b's' => 2,
            _ => 1,
        },
        packable: pg_sys::get_typstorage(typ) != pg_sys::TYPSTORAGE_PLAIN as c_char,
    }
}

impl HypoIndex {
    /// Whether `role` may read what this index's size is estimated from: the table, or every
    /// column the index names when it has no expression and no predicate (as `pg_stats` shows a
    /// column's statistics only to who may read the column).
    pub fn readable_by(&self, role: Oid) -> bool {
        unsafe {
            let select = pg_sys::ACL_SELECT as pg_sys::AclMode;
            if pg_sys::pg_class_aclcheck(self.relid, role, select) == pg_sys::AclResult::ACLCHECK_OK
            {
                return true;
            }
            self.indexprs.is_null()
                && self.indpred.is_null()
                && self.indexkeys.iter().all(|&attnum| {
                    attnum > 0
                        && pg_sys::pg_attribute_aclcheck(self.relid, attnum as i16, role, select)
                            == pg_sys::AclResult::ACLCHECK_OK
                })
        }
    }

    /// The tree `h` would be on a table of `table_rows` rows.
    fn tree(&self, table_rows: f64) -> size::TreeSize {
        let keys = if self.deduplicate {
            size::key_distribution(
                table_rows,
                &self.key_stats,
                self.pred_selectivity,
                self.key_combinations,
            )
        } else {
            None
        };
        let shape = size::Shape {
            key_width: self.key_width,
            include_width: self.data_width - self.key_width,
            keys,
            leaf_fillfactor: self.leaf_fillfactor,
        };
        size::btree(table_rows * self.pred_selectivity, &shape)
    }
}

/// Pages of `h` from the table's statistics, for an index the planner never looked at.
pub fn standalone_pages(h: &HypoIndex) -> f64 {
    let tuples = unsafe {
        let rel = pg_sys::RelationIdGetRelation(h.relid);
        let tuples = if rel.is_null() {
            0.0
        } else {
            (*(*rel).rd_rel).reltuples.max(0.0) as f64
        };
        if !rel.is_null() {
            pg_sys::RelationClose(rel);
        }
        tuples
    };
    h.tree(tuples).pages
}

#[pg_guard]
unsafe extern "C-unwind" fn get_relation_info(
    root: *mut pg_sys::PlannerInfo,
    relation_oid: Oid,
    inhparent: bool,
    rel: *mut pg_sys::RelOptInfo,
) {
    unsafe {
        if let Some(prev) = PREV_GET_RELATION_INFO {
            prev(root, relation_oid, inhparent, rel);
        }
        if inhparent {
            return;
        }
        HIDDEN.with(|hidden| {
            let hidden = hidden.borrow();
            if hidden.is_empty() {
                return;
            }
            for info in list_items((*rel).indexlist) {
                let oid = (*info.cast::<pg_sys::IndexOptInfo>()).indexoid;
                if hidden.contains(&oid) {
                    (*rel).indexlist = pg_sys::list_delete_ptr((*rel).indexlist, info);
                }
            }
        });
        ACTIVE.with(|active| {
            for h in active.borrow().iter().filter(|h| h.relid == relation_oid) {
                inject(rel, h);
            }
        });
    }
}

/// Builds the `IndexOptInfo` as `get_relation_info` (plancat.c) would for a real index.
unsafe fn inject(rel: *mut pg_sys::RelOptInfo, h: &HypoIndex) {
    unsafe {
        let ncolumns = h.indexkeys.len();
        let nkey = h.nkeycolumns as usize;
        let index = pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexOptInfo>())
            as *mut pg_sys::IndexOptInfo;
        let info = &mut *index;
        info.type_ = pg_sys::NodeTag::T_IndexOptInfo;
        info.indexoid = h.oid;
        info.reltablespace = (*rel).reltablespace;
        info.rel = rel;
        info.ncolumns = ncolumns as c_int;
        info.nkeycolumns = nkey as c_int;
        info.indexkeys = copy_to_palloc(&h.indexkeys);
        info.indexcollations = copy_to_palloc(&h.collations);
        info.opfamily = copy_to_palloc(&h.opfamily);
        info.opcintype = copy_to_palloc(&h.opcintype);
        info.canreturn = copy_to_palloc(&h.canreturn);
        let am = &*h.amroutine;
        if am.amcanorder {
            // a btree's operator families are its sort families (plancat.c does the same)
            info.sortopfamily = info.opfamily;
            info.reverse_sort = copy_to_palloc(&h.reverse_sort);
            info.nulls_first = copy_to_palloc(&h.nulls_first);
        }
        info.relam = h.relam;
        let varno = (*rel).relid as c_int;
        info.indexprs = pg_sys::copyObjectImpl(h.indexprs.cast()).cast();
        info.indpred = pg_sys::copyObjectImpl(h.indpred.cast()).cast();
        if varno != 1 {
            pg_sys::ffi::pg_guard_ffi_boundary(|| {
                ChangeVarNodes(info.indexprs.cast(), 1, varno, 0);
                ChangeVarNodes(info.indpred.cast(), 1, varno, 0);
            });
        }
        info.indextlist = index_tlist(h, info.indexprs, varno);
        info.predOK = false;
        info.unique = h.unique;
        info.immediate = true;
        info.hypothetical = true;
        info.amcanorderbyop = am.amcanorderbyop;
        info.amoptionalkey = am.amoptionalkey;
        info.amsearcharray = am.amsearcharray;
        info.amsearchnulls = am.amsearchnulls;
        info.amhasgettuple = am.amgettuple.is_some();
        info.amhasgetbitmap = am.amgetbitmap.is_some();
        info.amcanparallel = am.amcanparallel;
        info.amcanmarkpos = am.ammarkpos.is_some() && am.amrestrpos.is_some();
        info.amcostestimate = std::mem::transmute::<
            pg_sys::amcostestimate_function,
            Option<unsafe extern "C-unwind" fn()>,
        >(am.amcostestimate);

        // size: entries are the table's rows, or those its predicate keeps
        let tuples = (*rel).tuples.max(0.0) * h.pred_selectivity;
        let tree = h.tree((*rel).tuples.max(0.0));
        info.tuples = tuples;
        info.pages = tree.pages as pg_sys::BlockNumber;
        info.tree_height = tree.tree_height;
        SIZES.with(|s| s.borrow_mut().push((h.oid, tree.pages)));

        (*rel).indexlist = pg_sys::lcons(index.cast(), (*rel).indexlist);
    }
}

unsafe fn copy_to_palloc<T: Copy>(values: &[T]) -> *mut T {
    unsafe {
        let p = pg_sys::palloc0(std::mem::size_of_val(values).max(1)) as *mut T;
        std::ptr::copy_nonoverlapping(values.as_ptr(), p, values.len());
        p
    }
}

/// The index's target list: a Var per plain column, the expression otherwise (plancat.c's
/// build_index_tlist).
unsafe fn index_tlist(
    h: &HypoIndex,
    indexprs: *mut pg_sys::List,
    varno: c_int,
) -> *mut pg_sys::List {
    unsafe {
        let mut exprs = list_items(indexprs).into_iter();
        let mut tlist: *mut pg_sys::List = std::ptr::null_mut();
        for (i, attnum) in h.indexkeys.iter().enumerate() {
            let expr: *mut pg_sys::Expr = if *attnum != 0 {
                let (mut typ, mut typmod, mut coll) = (Oid::INVALID, -1, Oid::INVALID);
                pg_sys::get_atttypetypmodcoll(
                    h.relid,
                    *attnum as i16,
                    &mut typ,
                    &mut typmod,
                    &mut coll,
                );
                pg_sys::makeVar(varno, *attnum as i16, typ, typmod, coll, 0).cast()
            } else {
                exprs
                    .next()
                    .unwrap_or_else(|| {
                        errors::internal(
                            "building the hypothetical index",
                            "its expression list is too short",
                        )
                    })
                    .cast()
            };
            let entry = pg_sys::makeTargetEntry(expr, (i + 1) as i16, std::ptr::null_mut(), false);
            tlist = pg_sys::lappend(tlist, entry.cast());
        }
        tlist
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn index_name(index_oid: Oid) -> *const std::ffi::c_char {
    unsafe {
        let ours = ACTIVE.with(|active| {
            active
                .borrow()
                .iter()
                .find(|h| h.oid == index_oid)
                .map(|h| pg_sys::pstrdup(h.name.as_ptr()) as *const _)
        });
        match (ours, PREV_INDEX_NAME) {
            (Some(name), _) => name,
            (None, Some(prev)) => prev(index_oid),
            (None, None) => std::ptr::null(),
        }
    }
}
