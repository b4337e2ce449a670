//! Analysing hot statements: plan each one without running it, read the statistics of the
//! tables it reads, run the rule catalogue and keep what it finds in the recommendations store.
//! Runs in the caller's transaction (the worker's, or `analyze_now()`'s).

use crate::acting::Actor;
use crate::advisor;
use crate::notify;
use crate::plans::explain::{self, PlanOutcome};
use crate::plans::model::Explained;
use crate::plans::CustomPlan;
use crate::rules::{self, unused_index, ColumnInfo, Finding, IndexInfo, Kind, Subject, TableInfo};
use crate::statements::{captured_sets, hot_statements, HotStatement, WINDOW_MINUTES};
use crate::store;
use pgrx::prelude::*;
use pgrx::spi::{self, SpiClient};
use std::collections::HashMap;

/// The statistics, columns and indexes of a table; None when it does not exist or is one
/// OptiSchema never changes (see [`rules::is_protected_schema`]): no rule sees it then.
pub fn table_info(
    client: &SpiClient<'_>,
    schema: &str,
    name: &str,
) -> spi::Result<Option<TableInfo>> {
    if rules::is_protected_schema(schema) {
        return Ok(None);
    }
    let table = client.select(
        include_str!("../sql/analysis/table_info.sql"),
        Some(1),
        &[schema.into(), name.into()],
    )?;
    if table.is_empty() {
        return Ok(None);
    }
    let row = table.first();
    let oid = row.get::<i64>(1)?.unwrap_or_default();
    let mut info = TableInfo {
        schema: schema.to_string(),
        name: name.to_string(),
        reltuples: row.get::<f64>(2)?.unwrap_or_default(),
        relpages: row.get::<f64>(3)?.unwrap_or_default(),
        n_mod_since_analyze: row.get::<i64>(4)?.unwrap_or_default(),
        columns: Vec::new(),
        indexes: Vec::new(),
    };
    for row in client.select(
        include_str!("../sql/analysis/table_columns.sql"),
        None,
        &[oid.into()],
    )? {
        info.columns.push(ColumnInfo {
            name: row.get::<String>(1)?.unwrap_or_default(),
            type_name: row.get::<String>(2)?.unwrap_or_default(),
            collation: row.get::<String>(3)?,
        });
    }
    for row in client.select(
        include_str!("../sql/analysis/table_indexes.sql"),
        None,
        &[oid.into()],
    )? {
        info.indexes.push(IndexInfo {
            name: row.get::<String>(1)?.unwrap_or_default(),
            keys: row.get::<Vec<String>>(2)?.unwrap_or_default(),
            unique: row.get::<bool>(3)?.unwrap_or(false),
            predicate: row.get::<String>(4)?,
            scans: row.get::<i64>(5)?.unwrap_or_default(),
            size_bytes: row.get::<i64>(6)?.unwrap_or_default(),
            backs_constraint: row.get::<bool>(7)?.unwrap_or(false),
        });
    }
    Ok(Some(info))
}

/// Adds to `tables` the statistics of every table `plan` reads that it does not hold yet,
/// keyed `schema.table`.
pub fn add_tables_of(
    client: &SpiClient<'_>,
    plan: &Explained,
    tables: &mut HashMap<String, TableInfo>,
) -> spi::Result<()> {
    for node in plan.plan.walk() {
        let (Some(schema), Some(name)) = (node.schema.as_deref(), node.relation.as_deref()) else {
            continue;
        };
        let key = format!("{schema}.{name}");
        if tables.contains_key(&key) {
            continue;
        }
        if let Some(info) = table_info(client, schema, name)? {
            tables.insert(key, info);
        }
    }
    Ok(())
}

/// Evidence keys that may hold a captured value: kept out of findings from custom plans, which
/// readers see while the values themselves are for admins only.
const VALUE_KEYS: &[&str] = &["filter", "join_filter", "prefix"];

fn parse_plan(raw: &serde_json::Value) -> Option<Explained> {
    match serde_json::from_value::<Vec<Explained>>(raw.clone()) {
        Ok(mut all) if all.len() == 1 => Some(all.remove(0)),
        _ => None,
    }
}

/// What one statement's analysis concluded.
pub enum Verdict {
    Findings {
        plan: Explained,
        /// EXPLAIN's output as the server gave it, every field included.
        raw: serde_json::Value,
        /// The text planned, when typed literals had to be repaired.
        planned_sql: Option<String>,
        findings: Vec<Finding>,
        tables: HashMap<String, TableInfo>,
        /// Custom plans for the most frequent captured value sets, when the caller may read
        /// them: (values, times seen, EXPLAIN output).
        custom: Option<Vec<CustomPlan>>,
    },
    Unexplainable {
        reason: String,
        lasting: bool,
    },
}

/// Plans one statement and runs the rules on it. Index findings are candidates: the advisor
/// (see [`advise`]) checks them with the planner. Stores nothing.
pub fn examine(statement: &HotStatement) -> spi::Result<Verdict> {
    // user code in the statement runs as its role: never as the worker when that is unknown
    let Ok(actor) = Actor::of_statement(statement.figures.role.as_deref()) else {
        return Ok(Verdict::Unexplainable {
            reason: crate::acting::UNKNOWN_ROLE.into(),
            lasting: false,
        });
    };
    let sets = captured_sets(statement.figures.queryid)?;
    // the first set's custom plan when it stands in for the generic one: not planned again
    let mut first_custom = None;
    let (raw, planned_sql) = match explain::generic_plan(&statement.query, actor) {
        PlanOutcome::Planned { plan, planned_sql } => (plan, planned_sql),
        // normalization can leave a statement only its values make plannable: `$4 - $5` has
        // no type, `sum(CASE ... THEN $1 ELSE $2 END)` sums text. The most frequent captured
        // set stands in for the generic plan; until one is captured the statement waits.
        PlanOutcome::Unexplainable { reason, lasting } => {
            let first = sets.as_ref().and_then(|sets| sets.first());
            match first.map(|(values, _)| explain::custom_plan(&statement.query, values, actor)) {
                Some(PlanOutcome::Planned { plan, planned_sql }) => {
                    first_custom = Some(plan.clone());
                    (plan, planned_sql)
                }
                Some(PlanOutcome::Unexplainable { .. }) => {
                    return Ok(Verdict::Unexplainable { reason, lasting })
                }
                None => {
                    return Ok(Verdict::Unexplainable {
                        reason,
                        lasting: lasting && !statement.query.contains('$'),
                    })
                }
            }
        }
    };
    let Some(plan) = parse_plan(&raw) else {
        return Ok(Verdict::Unexplainable {
            reason: "EXPLAIN output not understood".into(),
            lasting: true,
        });
    };
    let mut tables = HashMap::new();
    Spi::connect(|client| add_tables_of(client, &plan, &mut tables))?;
    let generic_findings = rules::run(&Subject {
        plan: &plan,
        tables: &tables,
        figures: &statement.figures,
    });
    let mut findings = generic_findings;

    // the values the application really sends: a skewed value or a LIKE prefix shows only there
    let mut custom = sets.as_ref().map(|_| Vec::new());
    for (values, times_seen) in sets.unwrap_or_default() {
        let raw_custom = match first_custom.take() {
            Some(raw) => raw,
            None => match explain::custom_plan(&statement.query, &values, actor) {
                PlanOutcome::Planned { plan, .. } => plan,
                PlanOutcome::Unexplainable { .. } => continue,
            },
        };
        let Some(custom_plan) = parse_plan(&raw_custom) else {
            continue;
        };
        // the same tables as the generic plan, mostly: only new ones are read
        Spi::connect(|client| add_tables_of(client, &custom_plan, &mut tables))?;
        let custom_findings = rules::run(&Subject {
            plan: &custom_plan,
            tables: &tables,
            figures: &statement.figures,
        });
        for mut finding in custom_findings {
            if findings
                .iter()
                .any(|f| f.kind == finding.kind && f.target == finding.target)
            {
                continue;
            }
            if let Some(evidence) = finding.evidence.as_object_mut() {
                evidence.retain(|k, _| !VALUE_KEYS.contains(&k.as_str()));
                evidence.insert(
                    "plan".into(),
                    "custom plan for captured parameter values".into(),
                );
            }
            findings.push(finding);
        }
        if let Some(c) = custom.as_mut() {
            c.push(CustomPlan {
                values,
                times_seen,
                raw: raw_custom,
            });
        }
    }
    Ok(Verdict::Findings {
        plan,
        raw,
        planned_sql,
        findings,
        tables,
        custom,
    })
}

/// A statement the analysis could plan, with what the rules found.
pub struct Examined {
    pub statement: HotStatement,
    pub plan: Explained,
    pub findings: Vec<Finding>,
    pub custom: Vec<CustomPlan>,
}

/// Checks the index findings of `examined` with the planner, for the workload they form
/// together, and returns the selected set (see [`crate::advisor`]).
pub fn advise(examined: &[Examined]) -> spi::Result<Vec<advisor::workload::Advice>> {
    advise_with(examined, true).map(|advised| advised.advice)
}

/// [`advise`], with the writes on the tables counted against the benefit or not.
pub fn advise_with(
    examined: &[Examined],
    weigh_writes: bool,
) -> spi::Result<advisor::workload::Advised> {
    let reads: Vec<advisor::workload::Read> = examined
        .iter()
        .map(|e| advisor::workload::Read {
            statement: &e.statement,
            plan: &e.plan,
            findings: &e.findings,
            custom: &e.custom,
        })
        .collect();
    advisor::workload::advise(
        &reads,
        crate::settings::INDEX_BUDGET_MB.get() as f64,
        crate::settings::MIN_IMPROVEMENT_PCT.get(),
        weigh_writes,
    )
}

/// Analyses the `limit` hottest statements of this database when `due` says any of them is
/// due (it is asked about each): selects the indexes worth building for all of them together
/// (a workload is judged whole), stores the findings, marks what no longer holds as stale, and
/// queues the NOTIFY payloads. Returns the number of open recommendations afterwards.
pub fn analyze_hot(limit: i32, due: &mut dyn FnMut(i64) -> bool) -> spi::Result<i64> {
    let hot: Vec<HotStatement> = hot_statements(limit, None)?;
    // every statement is asked: the caller records which were due
    let due_now = hot.iter().filter(|s| due(s.figures.queryid)).count();
    if due_now == 0 {
        return open_count();
    }
    let mut payloads = Vec::new();
    let mut tables_seen: HashMap<String, TableInfo> = HashMap::new();
    let mut examined: Vec<Examined> = Vec::new();
    for statement in hot {
        let queryid = statement.figures.queryid;
        match examine(&statement)? {
            Verdict::Unexplainable {
                reason,
                lasting: true,
            } => {
                Spi::connect_mut(|client| store::record_unexplainable(client, queryid, &reason))?;
            }
            Verdict::Unexplainable { lasting: false, .. } => {}
            Verdict::Findings {
                plan,
                findings,
                tables,
                custom,
                ..
            } => {
                tables_seen.extend(tables);
                examined.push(Examined {
                    statement,
                    plan,
                    findings,
                    custom: custom.unwrap_or_default(),
                });
            }
        }
    }
    let advisor::workload::Advised { advice, complete } = advise_with(&examined, true)?;
    Spi::connect_mut(|client| -> spi::Result<()> {
        let mut found: HashMap<i64, Vec<String>> = HashMap::new();
        for e in &examined {
            let queryid = e.statement.figures.queryid;
            let mine = found.entry(queryid).or_default();
            for finding in e.findings.iter().filter(|f| f.kind != Kind::Index) {
                mine.push(store::lifecycle::fingerprint(
                    finding.kind.as_str(),
                    &finding.target,
                ));
                payloads.extend(store::upsert(
                    client,
                    Some(queryid),
                    finding,
                    Some(&e.statement.figures),
                )?);
            }
        }
        for a in &advice {
            found
                .entry(a.queryid)
                .or_default()
                .push(store::lifecycle::fingerprint(
                    a.finding.kind.as_str(),
                    &a.finding.target,
                ));
            payloads.extend(store::upsert_estimated(
                client,
                Some(a.queryid),
                &a.finding,
                Some(a.improvement_pct),
                Some(a.ms_saved_per_hour.max(0.0)),
            )?);
        }
        // only once everything is stored: an index may have moved to another statement
        for e in &examined {
            let queryid = e.statement.figures.queryid;
            let mine = found.get(&queryid).cloned().unwrap_or_default();
            // a search cut short leaves an index out without finding it worse: it stays open
            payloads.extend(store::stale_unless_found(
                client, queryid, &mine, !complete,
            )?);
        }
        for table in tables_seen.values() {
            let findings = unused_index::check_table(table);
            let mut fingerprints = Vec::new();
            for finding in &findings {
                fingerprints.push(store::lifecycle::fingerprint(
                    finding.kind.as_str(),
                    &finding.target,
                ));
                payloads.extend(store::upsert(client, None, finding, None)?);
            }
            payloads.extend(store::stale_table_findings(
                client,
                &table.qualified(),
                &fingerprints,
            )?);
        }
        payloads.extend(store::stale_when_gone(client, WINDOW_MINUTES)?);
        notify::send(client, &payloads)?;
        Ok(())
    })?;
    open_count()
}

fn open_count() -> spi::Result<i64> {
    Spi::get_one::<i64>(
        "SELECT count(*) FROM optischema.recommendation_store WHERE status = 'open'",
    )
    .map(Option::unwrap_or_default)
}
