//! Planning one statement many times, each time with a different set of hypothetical indexes,
//! by calling the planner directly: parse and analyse once, then copy the query tree and plan
//! it in a memory context that is reset after every plan. No SPI round trip, no EXPLAIN text.
//!
//! Everything happens inside one subtransaction that is rolled back (see [`with_statement`]), so
//! the locks parse analysis takes are held while the planner reads the tables, and released
//! after.

use super::hypo::{self, list_items, HypoIndex};
use crate::acting::{act_as, Actor};
use crate::errors;
use crate::plans::explain;
use crate::plans::repair::Token;
use pgrx::pg_sys::{self, Oid};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use std::ffi::{c_int, CString};

/// A statement parsed and analysed, ready to be planned again and again.
pub struct Statement {
    query: *mut pg_sys::Query,
    text: CString,
    context: PgMemoryContexts,
}

/// What one planning concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub total_cost: f64,
    /// Every index the plan reads, hypothetical or real.
    pub indexes: Vec<Oid>,
}

impl Planned {
    pub fn uses(&self, oid: Oid) -> bool {
        self.indexes.contains(&oid)
    }
}

/// Parses and analyses `sql` (with `$n` parameters planned generically, or replaced by the
/// literals in `values`), as `actor` inside a security-restricted operation (see
/// [`crate::acting`]), then runs `body` with it. All in a subtransaction that is rolled back;
/// an ERROR comes back as `Err(message)`, but a cancel or a statement timeout ends the calling
/// statement (see [`explain::unless_canceled`]).
pub fn with_statement<R>(
    sql: &str,
    values: Option<&[Option<String>]>,
    actor: Actor<'_>,
    body: impl FnOnce(&mut Statement) -> R,
) -> Result<R, String> {
    with_statement_coded(sql, values, actor, body).map_err(|(message, _)| message)
}

/// [`with_statement`], with the SQLSTATE of the ERROR beside its message.
pub fn with_statement_coded<R>(
    sql: &str,
    values: Option<&[Option<String>]>,
    actor: Actor<'_>,
    body: impl FnOnce(&mut Statement) -> R,
) -> Result<R, (String, String)> {
    let text = explain::planning_text(sql);
    explain::unless_canceled(explain::in_rolled_back_subtransaction(|| {
        act_as(actor);
        explain::set_local(c"lock_timeout", c"1s");
        let mut statement = crate::plans::capture::unobserved(|| analyze(&text, values));
        body(&mut statement)
    }))
}

/// Where each `$n` of `sql` is, and how long its text is.
fn param_spans(sql: &str) -> Vec<(usize, usize, i32)> {
    crate::plans::lexer::tokens(sql)
        .into_iter()
        .filter_map(|t| match t {
            Token::Param { at, number } => Some((at, 1 + number.to_string().len(), number)),
            _ => None,
        })
        .collect()
}

fn raw_statement(text: &CString) -> *mut pg_sys::RawStmt {
    unsafe {
        let list = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        let count = list.as_ref().map(|l| l.length).unwrap_or(0);
        if count != 1 {
            errors::not_one_statement(count as usize);
        }
        (*(*list).elements).ptr_value.cast()
    }
}

fn only_query(list: *mut pg_sys::List) -> *mut pg_sys::Query {
    unsafe {
        let count = list.as_ref().map(|l| l.length).unwrap_or(0);
        if count != 1 {
            errors::unsupported(
                format!("the statement rewrites into {count} statements; only one can be planned"),
                "Plan the statements a rule produces one by one.",
            );
        }
        let query: *mut pg_sys::Query = (*(*list).elements).ptr_value.cast();
        if !(*query).utilityStmt.is_null() {
            errors::unsupported(
                "utility statements have no plan",
                "Give a SELECT, INSERT, UPDATE, DELETE or MERGE.",
            );
        }
        query
    }
}

/// The type of an unquoted captured constant (see
/// [`literal_type`](crate::plans::capture::literal_type)); 0, left to parse analysis, otherwise.
fn declared_type(value: Option<&str>) -> Oid {
    match value.and_then(crate::plans::capture::literal_type) {
        Some("bool") => pg_sys::BOOLOID,
        Some("int4") => pg_sys::INT4OID,
        Some("int8") => pg_sys::INT8OID,
        Some("numeric") => pg_sys::NUMERICOID,
        _ => Oid::INVALID,
    }
}

/// Parses and analyses `sql` with the `$n` of `declared` typed as given and the others
/// (InvalidOid, or past the end) typed by their use, as PREPARE with a list of types does.
/// Returns the text, the query tree and every parameter's type.
unsafe fn analyze_declared(sql: &str, declared: &[Oid]) -> (CString, *mut pg_sys::List, Vec<Oid>) {
    let text = CString::new(sql).unwrap_or_else(|_| errors::nul_byte("the statement"));
    unsafe {
        let raw = raw_statement(&text);
        // palloc'd: parse analysis enlarges it for parameters past the ones declared
        let mut types: *mut Oid = std::ptr::null_mut();
        if !declared.is_empty() {
            types = pg_sys::palloc(std::mem::size_of_val(declared)).cast();
            std::ptr::copy_nonoverlapping(declared.as_ptr(), types, declared.len());
        }
        let mut count: c_int = declared.len() as c_int;
        let analysed = pg_sys::pg_analyze_and_rewrite_varparams(
            raw,
            text.as_ptr(),
            &mut types,
            &mut count,
            std::ptr::null_mut(),
        );
        let types = (0..count as usize).map(|i| *types.add(i)).collect();
        (text, analysed, types)
    }
}

/// `sql` with each `$n` replaced by its value from `values` (SQL literals, `$n` order, None
/// for NULL), typed as the parser types an unquoted constant (see
/// [`literal_type`](crate::plans::capture::literal_type)), otherwise as parse analysis types
/// the parameter: a statement to run or plan as the application ran it. Raises an ERROR when
/// the statement does not analyse or the count differs.
pub fn with_values(sql: &str, values: &[Option<String>]) -> String {
    // the constants' own types first: `$8 + $9` alone is `unknown + unknown`, which no
    // operator resolves, while the application wrote `1 + 10`
    let spans = param_spans(sql);
    let takes = spans.iter().map(|(_, _, n)| *n).max().unwrap_or(0) as usize;
    if values.len() != takes {
        errors::raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "the captured set has {} values, the statement takes {takes}",
                values.len(),
            ),
            None,
        );
    }
    let declared: Vec<Oid> = values.iter().map(|v| declared_type(v.as_deref())).collect();
    let (_, _, types) = unsafe { analyze_declared(sql, &declared) };
    let mut literal = sql.to_string();
    for (at, len, number) in spans.into_iter().rev() {
        let value = values[number as usize - 1].as_deref().unwrap_or("NULL");
        // the type declared for an unquoted constant, or the one its use gives; with no
        // length given, as a parameter is: "character" alone would be char(1) and cut the
        // value to its first letter, "bpchar" keeps it whole
        let type_name = unsafe {
            std::ffi::CStr::from_ptr(pg_sys::format_type_extended(
                types[number as usize - 1],
                -1,
                pg_sys::FORMAT_TYPE_TYPEMOD_GIVEN as u16,
            ))
            .to_string_lossy()
            .into_owned()
        };
        literal.replace_range(at..at + len, &format!("({value})::{type_name}"));
    }
    literal
}

fn analyze(sql: &str, values: Option<&[Option<String>]>) -> Statement {
    let Some(values) = values else {
        let (text, analysed, _) = unsafe { analyze_declared(sql, &[]) };
        return Statement {
            query: only_query(analysed),
            text,
            context: PgMemoryContexts::new("optischema what-if planning"),
        };
    };
    // a custom plan: each $n becomes its value
    let literal = with_values(sql, values);
    let text = CString::new(literal).unwrap_or_else(|_| errors::nul_byte("a value"));
    unsafe {
        let raw = raw_statement(&text);
        let analysed = pg_sys::pg_analyze_and_rewrite_fixedparams(
            raw,
            text.as_ptr(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
        );
        Statement {
            query: only_query(analysed),
            text,
            context: PgMemoryContexts::new("optischema what-if planning"),
        }
    }
}

impl Statement {
    /// The text parsed: with the values in place of the `$n` for a custom plan, and typed
    /// literals of parameters repaired (what runs as the application ran it).
    pub fn text(&self) -> String {
        self.text.to_string_lossy().into_owned()
    }

    /// Whether the statement only reads: a plain SELECT, no row locks, no data-modifying WITH,
    /// no SELECT INTO.
    pub fn is_read_only_select(&self) -> bool {
        unsafe {
            let q = &*self.query;
            q.commandType == pg_sys::CmdType::CMD_SELECT
                && q.utilityStmt.is_null()
                && q.rowMarks.is_null()
                && !q.hasModifyingCTE
        }
    }

    /// Plans the statement with `indexes` visible to the planner (and nothing else
    /// hypothetical).
    pub fn plan(&mut self, indexes: &[HypoIndex]) -> Planned {
        let (query, text) = (self.query, self.text.as_ptr());
        let (planned, _) = hypo::with_indexes(indexes.to_vec(), || unsafe {
            let planned = self.context.switch_to(|_| {
                // the planner scribbles on its input
                let copy = pg_sys::copyObjectImpl(query.cast()).cast::<pg_sys::Query>();
                let stmt = pg_sys::pg_plan_query(
                    copy,
                    text,
                    pg_sys::CURSOR_OPT_PARALLEL_OK as c_int,
                    std::ptr::null_mut(),
                );
                // as EXPLAIN does: the acting role must be allowed to read every table the
                // plan touches (views and subqueries included), or its estimates are not theirs
                pg_sys::ExecCheckRTPerms((*stmt).rtable, true);
                let mut indexes = Vec::new();
                collect_indexes((*stmt).planTree, &mut indexes);
                for sub in list_items((*stmt).subplans) {
                    collect_indexes(sub.cast(), &mut indexes);
                }
                Planned {
                    total_cost: (*(*stmt).planTree).total_cost,
                    indexes,
                }
            });
            self.context.reset();
            planned
        });
        planned
    }
}

impl Statement {
    /// The columns the statement reads of each table it names, by table oid, as parse analysis
    /// recorded them for the privilege check; None for a table whose whole rows it reads.
    pub fn columns_read(&self) -> Vec<(Oid, Option<Vec<String>>)> {
        let mut out = Vec::new();
        unsafe { query_columns(self.query, &mut out) };
        out
    }

    /// The columns an index could serve, per table: compared, joined on, grouped or sorted by.
    pub fn column_uses(&self) -> Vec<crate::advisor::candidates::ColumnUses> {
        unsafe { super::columns::column_uses(self.query) }
    }
}

unsafe fn query_columns(query: *mut pg_sys::Query, out: &mut Vec<(Oid, Option<Vec<String>>)>) {
    unsafe {
        let Some(q) = query.as_ref() else { return };
        for cte in list_items(q.cteList) {
            let cte = cte.cast::<pg_sys::CommonTableExpr>();
            if (*(*cte).ctequery).type_ == pg_sys::NodeTag::T_Query {
                query_columns((*cte).ctequery.cast(), out);
            }
        }
        for rte in list_items(q.rtable) {
            let rte = &*rte.cast::<pg_sys::RangeTblEntry>();
            match rte.rtekind {
                pg_sys::RTEKind::RTE_SUBQUERY => query_columns(rte.subquery, out),
                pg_sys::RTEKind::RTE_RELATION => {
                    let mut names = Some(Vec::new());
                    let mut member = -1;
                    loop {
                        member = pg_sys::bms_next_member(rte.selectedCols, member);
                        if member < 0 {
                            break;
                        }
                        let attnum = member + pg_sys::FirstLowInvalidHeapAttributeNumber;
                        if attnum == 0 {
                            names = None;
                        } else if attnum > 0 {
                            if let Some(n) = names.as_mut() {
                                n.push(
                                    std::ffi::CStr::from_ptr(pg_sys::get_attname(
                                        rte.relid,
                                        attnum as i16,
                                        false,
                                    ))
                                    .to_string_lossy()
                                    .into_owned(),
                                );
                            }
                        }
                    }
                    match out.iter_mut().find(|(relid, _)| *relid == rte.relid) {
                        Some((_, existing)) => {
                            *existing = match (existing.take(), names) {
                                (Some(mut a), Some(b)) => {
                                    a.extend(
                                        b.into_iter()
                                            .filter(|c| !a.contains(c))
                                            .collect::<Vec<_>>(),
                                    );
                                    Some(a)
                                }
                                _ => None,
                            }
                        }
                        None => out.push((rte.relid, names)),
                    }
                }
                _ => {}
            }
        }
    }
}

/// The indexes a plan tree reads, in every branch (appends, bitmap trees, subqueries).
unsafe fn collect_indexes(plan: *mut pg_sys::Plan, out: &mut Vec<Oid>) {
    unsafe {
        let Some(node) = plan.as_ref() else { return };
        let mut children: Vec<*mut pg_sys::Plan> = vec![node.lefttree, node.righttree];
        match node.type_ {
            pg_sys::NodeTag::T_IndexScan => out.push((*plan.cast::<pg_sys::IndexScan>()).indexid),
            pg_sys::NodeTag::T_IndexOnlyScan => {
                out.push((*plan.cast::<pg_sys::IndexOnlyScan>()).indexid)
            }
            pg_sys::NodeTag::T_BitmapIndexScan => {
                out.push((*plan.cast::<pg_sys::BitmapIndexScan>()).indexid)
            }
            pg_sys::NodeTag::T_Append => children.extend(
                list_items((*plan.cast::<pg_sys::Append>()).appendplans)
                    .into_iter()
                    .map(|p| p.cast()),
            ),
            pg_sys::NodeTag::T_MergeAppend => children.extend(
                list_items((*plan.cast::<pg_sys::MergeAppend>()).mergeplans)
                    .into_iter()
                    .map(|p| p.cast()),
            ),
            pg_sys::NodeTag::T_BitmapAnd => children.extend(
                list_items((*plan.cast::<pg_sys::BitmapAnd>()).bitmapplans)
                    .into_iter()
                    .map(|p| p.cast()),
            ),
            pg_sys::NodeTag::T_BitmapOr => children.extend(
                list_items((*plan.cast::<pg_sys::BitmapOr>()).bitmapplans)
                    .into_iter()
                    .map(|p| p.cast()),
            ),
            pg_sys::NodeTag::T_SubqueryScan => {
                children.push((*plan.cast::<pg_sys::SubqueryScan>()).subplan)
            }
            pg_sys::NodeTag::T_CustomScan => children.extend(
                list_items((*plan.cast::<pg_sys::CustomScan>()).custom_plans)
                    .into_iter()
                    .map(|p| p.cast()),
            ),
            _ => {}
        }
        for child in children {
            collect_indexes(child, out);
        }
    }
}
