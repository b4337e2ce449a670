//! What the model is told about one statement, read inside the server: the statement's text,
//! its generic plan (trimmed), the tables it reads with their columns, indexes and statistics,
//! and what OptiSchema already found for it. Parameter values only when
//! `optischema.llm_send_values` is on; otherwise no literal at all (see
//! [`prompt::without_values`]); never the key.

use super::prompt;
use crate::acting::Actor;
use crate::analysis;
use crate::plans::explain::{self, PlanOutcome};
use crate::settings;
use pgrx::prelude::*;
use pgrx::spi;
use serde_json::{json, Value};
use std::collections::HashMap;

pub struct Context {
    pub queryid: i64,
    /// The prompt's user message, as JSON.
    pub prompt: Value,
    pub plan_fingerprint: String,
}

/// The statement's text and the role that runs it most, if OptiSchema knows it.
pub(crate) fn statement(queryid: i64) -> spi::Result<Option<(String, Option<String>)>> {
    if let Some(hot) = crate::statements::hot_statements(1, Some(queryid))?.pop() {
        return Ok(Some((hot.query, hot.figures.role)));
    }
    // not in the window: the role that ran it most in the whole history
    let Some(query) = Spi::get_one_with_args::<String>(
        "SELECT (SELECT query FROM optischema.statements WHERE queryid = $1)",
        &[queryid.into()],
    )?
    else {
        return Ok(None);
    };
    Ok(Some((query, crate::statements::statement_role(queryid)?)))
}

/// The generic plan of a known statement and its fingerprint; None when it cannot be planned.
pub fn plan_of(queryid: i64) -> spi::Result<Option<(String, Option<String>, Value, String)>> {
    let Some((query, role)) = statement(queryid)? else {
        return Ok(None);
    };
    let Ok(actor) = Actor::of_statement(role.as_deref()) else {
        return Ok(None);
    };
    match explain::generic_plan(&query, actor) {
        PlanOutcome::Planned { plan, .. } => {
            let top = plan[0]["Plan"].clone();
            let fingerprint = prompt::plan_fingerprint(&top);
            Ok(Some((query, role, top, fingerprint)))
        }
        PlanOutcome::Unexplainable { .. } => Ok(None),
    }
}

fn table_json(info: &crate::rules::TableInfo) -> spi::Result<Value> {
    let stats: HashMap<String, Value> = Spi::connect(|client| {
        client
            .select(
                include_str!("../../sql/llm/column_stats.sql"),
                None,
                &[info.schema.clone().into(), info.name.clone().into()],
            )?
            .map(|row| {
                Ok((
                    row.get::<String>(1)?.unwrap_or_default(),
                    json!({
                        "null_frac": row.get::<f64>(2)?,
                        "n_distinct": row.get::<f64>(3)?,
                        "correlation": row.get::<f64>(4)?,
                    }),
                ))
            })
            .collect::<spi::Result<HashMap<_, _>>>()
    })?;
    Ok(json!({
        "table": info.qualified(),
        "rows": info.reltuples,
        "pages": info.relpages,
        "changed_since_analyze": info.n_mod_since_analyze,
        "columns": info.columns.iter().map(|c| json!({
            "name": c.name, "type": c.type_name, "collation": c.collation,
            "stats": stats.get(&c.name),
        })).collect::<Vec<_>>(),
        "indexes": info.indexes.iter().map(|i| json!({
            "name": i.name, "keys": i.keys, "unique": i.unique, "predicate": i.predicate,
            "scans": i.scans, "size_bytes": i.size_bytes,
        })).collect::<Vec<_>>(),
    }))
}

/// What OptiSchema stored for the statement: rules' findings and the advisor's indexes.
fn findings(queryid: i64) -> spi::Result<Vec<Value>> {
    Spi::connect(|client| {
        client
            .select(
                include_str!("../../sql/llm/findings.sql"),
                None,
                &[queryid.into()],
            )?
            .map(|row| {
                Ok(json!({
                    "kind": row.get::<String>(1)?,
                    "status": row.get::<String>(2)?,
                    "title": row.get::<String>(3)?,
                    "sql": row.get::<String>(4)?,
                    "est_improvement_pct": row.get::<f64>(5)?,
                    "est_ms_saved_per_hour": row.get::<f64>(6)?,
                    "source": row.get::<String>(7)?,
                }))
            })
            .collect()
    })
}

/// Everything the model is told about `queryid`, or None when the statement is unknown or
/// cannot be planned.
pub fn gather(queryid: i64) -> spi::Result<Option<Context>> {
    let Some((query, _role, plan, plan_fingerprint)) = plan_of(queryid)? else {
        return Ok(None);
    };
    let parsed: Option<crate::plans::model::Explained> =
        serde_json::from_value(json!({ "Plan": plan })).ok();
    let mut tables = HashMap::new();
    if let Some(parsed) = &parsed {
        Spi::connect(|client| analysis::add_tables_of(client, parsed, &mut tables))?;
    }
    let mut table_list = Vec::new();
    let mut names: Vec<&String> = tables.keys().collect();
    names.sort();
    for name in names {
        table_list.push(table_json(&tables[name])?);
    }
    let mut prompt = json!({
        "statement": query,
        "plan": prompt::trim_plan(&plan),
        "tables": table_list,
        "findings": findings(queryid)?,
    });
    if !settings::LLM_SEND_VALUES.get() {
        prompt::without_values(&mut prompt);
    } else if let Some(sets) = crate::statements::captured_sets(queryid)? {
        prompt["captured_parameter_values"] = sets
            .into_iter()
            .map(|(values, seen)| json!({ "values": values, "times_seen": seen }))
            .collect();
    }
    Ok(Some(Context {
        queryid,
        prompt,
        plan_fingerprint,
    }))
}
