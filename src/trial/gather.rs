//! What a trial needs from this server, read in one short transaction before anything goes to
//! the sandbox: the statements the recommendation affects with their captured values, the
//! planner's projection, and (for a sandbox) copies of the tables involved.

use super::{create_table_sql, sample_percent, Column, StatementTrial};
use crate::acting::Actor;
use crate::errors;
use crate::plans::explain;
use crate::rules::Kind;
use crate::whatif::{hypo, planner};
use pgrx::pg_sys::Oid;
use pgrx::prelude::*;
use pgrx::spi;

/// One statement the recommendation affects.
#[derive(Debug, Clone)]
pub struct Subject {
    pub queryid: i64,
    pub query: String,
    pub role: Option<String>,
    /// The texts to run: (captured value set number, the statement with those values); one
    /// text without a number for a statement without parameters.
    pub texts: Vec<(Option<usize>, String)>,
    /// The same for the rewrite, when the recommendation is one.
    pub rewritten: Vec<String>,
    pub read_only: bool,
    pub relations: Vec<Oid>,
    /// The planner's cost before and after the change, per text, for index changes.
    pub projection: Vec<Option<(f64, f64)>>,
    /// Why it cannot be run at all.
    pub problem: Option<Problem>,
}

#[derive(Debug, Clone)]
pub enum Problem {
    /// It has parameters and no value set was captured: nothing to run it with (no fault).
    NoValues,
    CannotPlan(String),
}

impl Subject {
    /// The trial of a statement that cannot be run, when it cannot.
    pub fn not_run(&self) -> Option<StatementTrial> {
        let mut t = StatementTrial {
            queryid: self.queryid,
            ..Default::default()
        };
        match self.problem.as_ref()? {
            Problem::NoValues => {
                t.note = Some("not run: no captured parameter values to run it with".into())
            }
            Problem::CannotPlan(e) => t.error = Some(format!("not run: it cannot be planned: {e}")),
        }
        Some(t)
    }

    /// What runs after the change in place of text `i`: the rewrite, for a rewrite.
    pub fn after_text(&self, i: usize, kind: Kind) -> &str {
        if kind == Kind::Rewrite {
            &self.rewritten[i]
        } else {
            &self.texts[i].1
        }
    }

    /// The trial of text `i`, not run yet, with the planner's projection.
    pub fn entry(&self, i: usize) -> StatementTrial {
        let mut t = StatementTrial {
            queryid: self.queryid,
            value_set: self.texts[i].0,
            ..Default::default()
        };
        if let Some(Some((before, after))) = self.projection.get(i) {
            t.projected_cost_before = Some(*before);
            t.projected_cost_after = Some(*after);
        }
        t
    }
}

/// A recommendation to try.
#[derive(Debug, Clone)]
pub struct Plan {
    pub action_id: i64,
    pub recommendation_id: i64,
    pub kind: Kind,
    pub sql: String,
    pub steps: Vec<String>,
    pub subjects: Vec<Subject>,
}

/// The statements `recommendation_id` affects: its own and those in evidence.statements_helped.
fn affected(recommendation_id: i64) -> spi::Result<(String, Vec<i64>)> {
    let sql = Spi::get_one_with_args::<String>(
        "SELECT (SELECT sql FROM optischema.recommendation_store WHERE id = $1)",
        &[recommendation_id.into()],
    )?
    .unwrap_or_default();
    let ids = Spi::get_one_with_args::<Vec<i64>>(
        include_str!("../../sql/trial/affected.sql"),
        &[recommendation_id.into()],
    )?
    .unwrap_or_default();
    Ok((sql, ids))
}

/// What the change does to the planner's view, for the projection.
enum Change {
    Add(String),
    Drop(Oid),
    None,
}

fn change_of(kind: Kind, sql: &str) -> spi::Result<Change> {
    Ok(match kind {
        Kind::Index => Change::Add(sql.to_string()),
        Kind::DropIndex => {
            let name = sql.trim_start_matches("DROP INDEX CONCURRENTLY ").trim();
            match Spi::get_one_with_args::<Oid>(
                "SELECT (SELECT to_regclass($1)::oid)",
                &[name.into()],
            )? {
                Some(oid) => Change::Drop(oid),
                None => Change::None,
            }
        }
        _ => Change::None,
    })
}

fn subject(queryid: i64, kind: Kind, sql: &str, change: &Change) -> spi::Result<Option<Subject>> {
    let Some((query, role)) = crate::llm::context::statement(queryid)? else {
        return Ok(None);
    };
    let has_params = query.contains('$');
    let sets: Vec<Vec<Option<String>>> = crate::statements::captured_sets(queryid)?
        .unwrap_or_default()
        .into_iter()
        .map(|(values, _)| values)
        .collect();
    let runs: Vec<(Option<usize>, Option<Vec<Option<String>>>)> = if has_params {
        sets.into_iter()
            .enumerate()
            .map(|(i, v)| (Some(i + 1), Some(v)))
            .collect()
    } else {
        vec![(None, None)]
    };
    let mut s = Subject {
        queryid,
        query: query.clone(),
        role: role.clone(),
        texts: Vec::new(),
        rewritten: Vec::new(),
        read_only: false,
        relations: Vec::new(),
        projection: Vec::new(),
        problem: None,
    };
    if runs.is_empty() {
        s.problem = Some(Problem::NoValues);
        return Ok(Some(s));
    }
    for (number, values) in runs {
        let actor = Actor::of_statement(role.as_deref());
        let planned = actor.and_then(|actor| {
            planner::with_statement(&query, values.as_deref(), actor, |st| {
                let before = st.plan(&[]);
                let after = match change {
                    Change::Add(def) => Some(st.plan(&[hypo::define(def, 0)]).total_cost),
                    Change::Drop(oid) => {
                        Some(hypo::without_indexes(vec![*oid], || st.plan(&[])).total_cost)
                    }
                    Change::None => None,
                };
                let relations: Vec<Oid> =
                    st.columns_read().into_iter().map(|(oid, _)| oid).collect();
                let rewritten = (kind == Kind::Rewrite).then(|| match &values {
                    Some(v) => planner::with_values(&explain::planning_text(sql), v),
                    None => sql.to_string(),
                });
                (
                    st.is_read_only_select(),
                    before,
                    after,
                    relations,
                    st.text(),
                    rewritten,
                )
            })
        });
        match planned {
            Ok((read_only, before, after, relations, text, rewritten)) => {
                s.read_only = read_only;
                for r in relations {
                    if !s.relations.contains(&r) {
                        s.relations.push(r);
                    }
                }
                s.rewritten.extend(rewritten);
                s.texts.push((number, text));
                s.projection.push(after.map(|a| (before.total_cost, a)));
            }
            Err(e) if s.texts.is_empty() => s.problem = Some(Problem::CannotPlan(e)),
            // captured values may no longer fit a changed table: the other sets still count
            Err(_) => {}
        }
    }
    if !s.texts.is_empty() {
        s.problem = None;
    }
    Ok(Some(s))
}

/// Reads what trying action `action_id` on recommendation `recommendation_id` needs.
pub fn plan(
    action_id: i64,
    recommendation_id: i64,
    kind: Kind,
    steps: &[String],
) -> spi::Result<Plan> {
    // statement texts name tables as the application sees them
    crate::acting::use_planning_path();
    let (sql, queryids) = affected(recommendation_id)?;
    let change = change_of(kind, &sql)?;
    let mut subjects = Vec::new();
    for q in queryids {
        if let Some(s) = subject(q, kind, &sql, &change)? {
            subjects.push(s);
        }
    }
    Ok(Plan {
        action_id,
        recommendation_id,
        kind,
        sql,
        steps: steps.to_vec(),
        subjects,
    })
}

/// A table as the sandbox gets it.
#[derive(Debug, Clone)]
pub struct TableCopy {
    pub qualified: String,
    pub create: String,
    /// Rows as row literals, in column order.
    pub rows: Vec<String>,
    pub sampled: bool,
    /// Its indexes and extended statistics, created after the rows.
    pub after_rows: Vec<String>,
}

/// Everything the sandbox gets, in the order it is created.
#[derive(Debug, Clone, Default)]
pub struct Copy {
    pub system_identifier: String,
    pub schemas: Vec<String>,
    pub types: Vec<String>,
    pub tables: Vec<TableCopy>,
    pub views: Vec<String>,
    /// Planner settings of this database, set in the sandbox's session.
    pub settings: Vec<(String, String)>,
    pub search_path: String,
    /// This database's encoding and locale, as CREATE DATABASE options: text sorts and
    /// compares (and so plans) as here.
    pub locale: String,
}

const PLANNER_SETTINGS: &[&str] = &[
    "work_mem",
    "random_page_cost",
    "seq_page_cost",
    "effective_cache_size",
    "effective_io_concurrency",
    "cpu_tuple_cost",
    "cpu_index_tuple_cost",
    "cpu_operator_cost",
    "default_statistics_target",
    "max_parallel_workers_per_gather",
    "jit",
];

/// Raises `message` as an ERROR (0A000: what a sandbox trial cannot do): the worker's
/// transaction ends and the trial fails with it.
fn fail(message: String) -> ! {
    errors::unsupported(message, "Try it without a sandbox (optischema.sandbox_conninfo unset): it then runs here, rolled back.")
}

/// Copies of every relation `plan`'s statements depend on, rows up to `limit_bytes` a table
/// (a block sample above it).
pub fn copy(plan: &Plan, limit_bytes: i64) -> spi::Result<Copy> {
    crate::acting::use_planning_path();
    let search_path =
        Spi::get_one::<String>("SELECT current_setting('search_path')")?.unwrap_or_default();
    // printed definitions qualify every name when nothing else is on the path
    Spi::run("SET LOCAL search_path TO pg_catalog")?;
    let mut relations: Vec<Oid> = Vec::new();
    for s in &plan.subjects {
        for r in &s.relations {
            if !relations.contains(r) {
                relations.push(*r);
            }
        }
    }
    relations.sort_by_key(|o| o.to_u32());
    let mut out = Copy {
        system_identifier: Spi::get_one::<String>(
            "SELECT system_identifier::text FROM pg_catalog.pg_control_system()",
        )?
        .unwrap_or_default(),
        search_path,
        ..Default::default()
    };
    out.locale =
        Spi::get_one::<String>(include_str!("../../sql/trial/locale.sql"))?.unwrap_or_default();
    for name in PLANNER_SETTINGS {
        if let Some(v) =
            Spi::get_one_with_args::<String>("SELECT current_setting($1)", &[(*name).into()])?
        {
            out.settings.push((name.to_string(), v));
        }
    }
    for oid in relations {
        let Some((schema, qualified, relkind, user)) = Spi::connect(|c| {
            let t = c.select(
                include_str!("../../sql/trial/relation.sql"),
                Some(1),
                &[oid.into()],
            )?;
            if t.is_empty() {
                return Ok::<_, spi::Error>(None);
            }
            let r = t.first();
            Ok(Some((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
                r.get::<bool>(4)?.unwrap_or(false),
            )))
        })?
        else {
            continue;
        };
        // the sandbox has its own catalogs
        if !user {
            continue;
        }
        let schema_sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            crate::plans::ident::quote_ident(&schema)
        );
        if !out.schemas.contains(&schema_sql) {
            out.schemas.push(schema_sql);
        }
        match relkind.as_str() {
            "r" | "m" => out.tables.push(table_copy(
                oid,
                &qualified,
                limit_bytes,
                &mut out.types,
                &mut out.schemas,
            )?),
            "v" => {
                let def = Spi::get_one_with_args::<String>(
                    "SELECT pg_catalog.pg_get_viewdef($1)",
                    &[oid.into()],
                )?
                .unwrap_or_default();
                out.views.push(format!("CREATE VIEW {qualified} AS {def}"));
            }
            "p" => fail(format!(
                "{qualified} is partitioned: partitioned tables are not copied to the sandbox"
            )),
            "f" => fail(format!(
                "{qualified} is a foreign table: it cannot be copied to the sandbox"
            )),
            _ => {}
        }
    }
    Ok(out)
}

fn table_copy(
    oid: Oid,
    qualified: &str,
    limit_bytes: i64,
    types: &mut Vec<String>,
    schemas: &mut Vec<String>,
) -> spi::Result<TableCopy> {
    let mut columns = Vec::new();
    Spi::connect(|c| {
        for row in c.select(
            include_str!("../../sql/trial/columns.sql"),
            None,
            &[oid.into()],
        )? {
            let name = row.get::<String>(1)?.unwrap_or_default();
            let type_sql = row.get::<String>(2)?.unwrap_or_default();
            // a type of this database: an enum is created in the sandbox, others cannot be
            match (row.get::<String>(5)?, row.get::<String>(6)?) {
                (Some(enum_sql), Some(type_schema)) => {
                    let s = format!("CREATE SCHEMA IF NOT EXISTS {}", crate::plans::ident::quote_ident(&type_schema));
                    if !schemas.contains(&s) {
                        schemas.push(s);
                    }
                    if !types.contains(&enum_sql) {
                        types.push(enum_sql);
                    }
                }
                (None, Some(_)) => {
                    fail(format!(
                        "column {name} of {qualified} has type {type_sql}, defined in this database: only built-in types and enums are copied to the sandbox"
                    ))
                }
                _ => {}
            }
            columns.push(Column {
                name,
                type_sql,
                collation: row.get::<String>(3)?,
                not_null: row.get::<bool>(4)?.unwrap_or(false),
            });
        }
        Ok::<_, spi::Error>(())
    })?;
    let bytes =
        Spi::get_one_with_args::<i64>("SELECT pg_catalog.pg_relation_size($1)", &[oid.into()])?
            .unwrap_or(0);
    let percent = sample_percent(bytes, limit_bytes);
    let source = match percent {
        Some(p) => format!(
            "SELECT t::text FROM ONLY {qualified} t TABLESAMPLE SYSTEM ({p}) REPEATABLE (0)"
        ),
        None => format!("SELECT t::text FROM ONLY {qualified} t"),
    };
    let mut rows = Vec::new();
    Spi::connect(|c| {
        let mut cursor = c.open_cursor(&source, &[]);
        loop {
            let batch = cursor.fetch(10_000)?;
            if batch.is_empty() {
                break;
            }
            for row in batch {
                rows.push(row.get::<String>(1)?.unwrap_or_default());
            }
        }
        Ok::<_, spi::Error>(())
    })?;
    let mut after_rows = Vec::new();
    Spi::connect(|c| {
        for row in c.select(
            include_str!("../../sql/trial/indexes.sql"),
            None,
            &[oid.into()],
        )? {
            after_rows.extend(row.get::<String>(1)?);
        }
        for row in c.select(
            include_str!("../../sql/trial/statistics.sql"),
            None,
            &[oid.into()],
        )? {
            after_rows.extend(row.get::<String>(1)?);
        }
        Ok::<_, spi::Error>(())
    })?;
    Ok(TableCopy {
        qualified: qualified.to_string(),
        create: create_table_sql(qualified, &columns),
        rows,
        sampled: percent.is_some(),
        after_rows,
    })
}
