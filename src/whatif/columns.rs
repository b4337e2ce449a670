//! Which columns of its tables a statement compares, joins on, groups or sorts by, read from
//! the analysed query tree (its own level, subqueries in FROM, CTEs and sublinks such as EXISTS
//! and IN): the columns an index could serve. A column only counts where it stands alone as an
//! operand (`l_shipdate <= $1`, `o_orderkey = l_orderkey`, `ps_partkey IN (...)`); inside a
//! function or an expression it needs an expression index, which the rules propose.

use super::hypo::list_items;
use crate::advisor::candidates::ColumnUses;
use pgrx::pg_sys::{self, Oid};
use std::ffi::CStr;

/// One column of a table, by table oid and attribute number.
type Column = (Oid, i16);

#[derive(Default)]
struct Uses {
    compared: Vec<Column>,
    /// (column, the table it is equated with)
    joined: Vec<(Column, Oid)>,
    ordered: Vec<Column>,
}

fn push<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The uses in `query`, per table (tables in order of first use).
///
/// # Safety
/// `query` is an analysed query tree, valid for the call.
pub unsafe fn column_uses(query: *mut pg_sys::Query) -> Vec<ColumnUses> {
    let mut uses = Uses::default();
    let mut stack = Vec::new();
    unsafe { walk_query(query, &mut stack, &mut uses) };
    let mut out: Vec<ColumnUses> = Vec::new();
    for (relid, attnum) in uses.compared {
        if let Some(name) = attribute_name(relid, attnum) {
            table(&mut out, relid).compared.push(name);
        }
    }
    for ((relid, attnum), partner) in uses.joined {
        if let Some(name) = attribute_name(relid, attnum) {
            table(&mut out, relid).joined.push((partner.to_u32(), name));
        }
    }
    for (relid, attnum) in uses.ordered {
        if let Some(name) = attribute_name(relid, attnum) {
            let t = table(&mut out, relid);
            if !t.ordered.contains(&name) {
                t.ordered.push(name);
            }
        }
    }
    out
}

/// The entry of table `relid` in `out`, added when missing.
fn table(out: &mut Vec<ColumnUses>, relid: Oid) -> &mut ColumnUses {
    let at = match out.iter().position(|t| t.relid == relid.to_u32()) {
        Some(at) => at,
        None => {
            out.push(ColumnUses {
                relid: relid.to_u32(),
                ..Default::default()
            });
            out.len() - 1
        }
    };
    &mut out[at]
}

fn attribute_name(relid: Oid, attnum: i16) -> Option<String> {
    if attnum <= 0 {
        return None;
    }
    unsafe {
        let name = pg_sys::get_attname(relid, attnum, true);
        (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

unsafe fn walk_query(
    query: *mut pg_sys::Query,
    stack: &mut Vec<*mut pg_sys::Query>,
    uses: &mut Uses,
) {
    unsafe {
        let Some(q) = query.as_ref() else { return };
        stack.push(query);
        for cte in list_items(q.cteList) {
            let cte = cte.cast::<pg_sys::CommonTableExpr>();
            if is((*cte).ctequery, pg_sys::NodeTag::T_Query) {
                walk_query((*cte).ctequery.cast(), stack, uses);
            }
        }
        for rte in list_items(q.rtable) {
            let rte = &*rte.cast::<pg_sys::RangeTblEntry>();
            if rte.rtekind == pg_sys::RTEKind::RTE_SUBQUERY {
                // a subquery in FROM sees the outer query only when LATERAL; its own level is
                // the one below this query either way
                walk_query(rte.subquery, stack, uses);
            }
        }
        walk_expr(q.jointree.cast(), stack, uses);
        walk_expr(q.havingQual, stack, uses);
        for clause in list_items(q.groupClause)
            .into_iter()
            .chain(list_items(q.sortClause))
        {
            let clause = &*clause.cast::<pg_sys::SortGroupClause>();
            for tle in list_items(q.targetList) {
                let tle = &*tle.cast::<pg_sys::TargetEntry>();
                if tle.ressortgroupref == clause.tleSortGroupRef {
                    if let Some(c) = column_of(tle.expr.cast(), stack) {
                        push(&mut uses.ordered, c);
                    }
                }
            }
        }
        stack.pop();
    }
}

unsafe fn is(node: *mut pg_sys::Node, tag: pg_sys::NodeTag) -> bool {
    unsafe { node.as_ref().is_some_and(|n| n.type_ == tag) }
}

/// The table column `node` is, through relabelling casts and join aliases; None for anything
/// else (an expression, a subquery's output).
unsafe fn column_of(node: *mut pg_sys::Node, stack: &[*mut pg_sys::Query]) -> Option<Column> {
    unsafe {
        let mut node = node;
        while is(node, pg_sys::NodeTag::T_RelabelType) {
            node = (*node.cast::<pg_sys::RelabelType>()).arg.cast();
        }
        if !is(node, pg_sys::NodeTag::T_Var) {
            return None;
        }
        let var = &*node.cast::<pg_sys::Var>();
        let level = stack.len().checked_sub(1 + var.varlevelsup as usize)?;
        let query = &*stack[level];
        let rte = *list_items(query.rtable).get((var.varno as usize).checked_sub(1)?)?;
        let rte = &*rte.cast::<pg_sys::RangeTblEntry>();
        match rte.rtekind {
            pg_sys::RTEKind::RTE_RELATION => Some((rte.relid, var.varattno)),
            pg_sys::RTEKind::RTE_JOIN if var.varattno > 0 => {
                let alias = *list_items(rte.joinaliasvars).get(var.varattno as usize - 1)?;
                column_of(alias.cast(), &stack[..=level])
            }
            _ => None,
        }
    }
}

unsafe fn walk_list(list: *mut pg_sys::List, stack: &mut Vec<*mut pg_sys::Query>, uses: &mut Uses) {
    unsafe {
        for item in list_items(list) {
            walk_expr(item.cast(), stack, uses);
        }
    }
}

/// Records the operands of comparisons in `node` and walks on through boolean logic, casts,
/// functions, joins and sublinks.
unsafe fn walk_expr(node: *mut pg_sys::Node, stack: &mut Vec<*mut pg_sys::Query>, uses: &mut Uses) {
    unsafe {
        let Some(n) = node.as_ref() else { return };
        match n.type_ {
            pg_sys::NodeTag::T_List => walk_list(node.cast(), stack, uses),
            pg_sys::NodeTag::T_FromExpr => {
                let from = &*node.cast::<pg_sys::FromExpr>();
                walk_list(from.fromlist, stack, uses);
                walk_expr(from.quals, stack, uses);
            }
            pg_sys::NodeTag::T_JoinExpr => {
                let join = &*node.cast::<pg_sys::JoinExpr>();
                walk_expr(join.larg, stack, uses);
                walk_expr(join.rarg, stack, uses);
                walk_expr(join.quals, stack, uses);
            }
            pg_sys::NodeTag::T_BoolExpr => {
                walk_list((*node.cast::<pg_sys::BoolExpr>()).args, stack, uses)
            }
            pg_sys::NodeTag::T_OpExpr => {
                let op = &*node.cast::<pg_sys::OpExpr>();
                compared(op.args, op.opno, stack, uses);
                walk_list(op.args, stack, uses);
            }
            pg_sys::NodeTag::T_ScalarArrayOpExpr => {
                let op = &*node.cast::<pg_sys::ScalarArrayOpExpr>();
                compared(op.args, op.opno, stack, uses);
                walk_list(op.args, stack, uses);
            }
            pg_sys::NodeTag::T_NullTest => {
                let arg = (*node.cast::<pg_sys::NullTest>()).arg.cast();
                if let Some(c) = column_of(arg, stack) {
                    push(&mut uses.compared, c);
                }
            }
            pg_sys::NodeTag::T_FuncExpr => {
                walk_list((*node.cast::<pg_sys::FuncExpr>()).args, stack, uses)
            }
            pg_sys::NodeTag::T_RelabelType => walk_expr(
                (*node.cast::<pg_sys::RelabelType>()).arg.cast(),
                stack,
                uses,
            ),
            pg_sys::NodeTag::T_CoerceViaIO => walk_expr(
                (*node.cast::<pg_sys::CoerceViaIO>()).arg.cast(),
                stack,
                uses,
            ),
            pg_sys::NodeTag::T_SubLink => {
                let link = &*node.cast::<pg_sys::SubLink>();
                // `x IN (SELECT y ...)`: the test compares x with the subquery's output
                walk_expr(link.testexpr, stack, uses);
                if is(link.subselect, pg_sys::NodeTag::T_Query) {
                    walk_query(link.subselect.cast(), stack, uses);
                }
            }
            _ => {}
        }
    }
}

/// A comparison's column operands are compared; an equality between columns of two different
/// tables is a join on both.
unsafe fn compared(
    args: *mut pg_sys::List,
    opno: Oid,
    stack: &[*mut pg_sys::Query],
    uses: &mut Uses,
) {
    unsafe {
        let args = list_items(args);
        if args.len() != 2 {
            return;
        }
        let left = column_of(args[0].cast(), stack);
        let right = column_of(args[1].cast(), stack);
        for c in [left, right].into_iter().flatten() {
            push(&mut uses.compared, c);
        }
        if let (Some(l), Some(r)) = (left, right) {
            if l.0 != r.0 && is_equality(opno) {
                push(&mut uses.joined, (l, r.0));
                push(&mut uses.joined, (r, l.0));
            }
        }
    }
}

fn is_equality(opno: Oid) -> bool {
    unsafe {
        let name = pg_sys::get_opname(opno);
        !name.is_null() && CStr::from_ptr(name).to_bytes() == b"="
    }
}
