//! Typed actions. What the apply worker runs is rebuilt from these fields when it runs, never
//! read from stored text: a table or an index by its oid (its current name looked up then), a
//! role or a database by its oid, a setting by a name from [`ALLOWED_SETTINGS`] with one
//! literal value, statistics by their name, column names and kinds. A recommendation's `sql`
//! (for people to read) is parsed by the server's parser once, when `apply()` queues it; the
//! rebuilt statement is then checked again by [`super::validate`] before it runs.

use super::validate::{one_statement, text, ALLOWED_SETTINGS};
use super::Mode;
use crate::plans::ident::quote_ident;
use crate::rules::is_protected_schema;
use crate::rules::Kind;
use crate::whatif::hypo::list_items;
use pgrx::pg_sys::{self, NodeTag};
use pgrx::prelude::*;
use serde::{Deserialize, Serialize};

/// One step of an action, as stored in `optischema.action_log.plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// CREATE INDEX CONCURRENTLY under OptiSchema's name for the recommendation; `body` is
    /// what follows the table (`USING ... (columns) INCLUDE (...) WHERE ...`).
    BuildIndex {
        table: u32,
        body: String,
    },
    /// A dropped index built again as it was, concurrently.
    RestoreIndex {
        table: u32,
        name: String,
        unique: bool,
        body: String,
    },
    /// DROP INDEX CONCURRENTLY; with `if_exists`, nothing when the index is gone.
    DropIndex {
        index: u32,
        if_exists: bool,
    },
    /// Extended statistics in the table's schema.
    CreateStatistics {
        table: u32,
        name: String,
        kinds: Vec<String>,
        columns: Vec<String>,
    },
    DropStatistics {
        schema: String,
        name: String,
    },
    Analyze {
        table: u32,
    },
    /// SET (or, without a value, RESET) of an allowed setting.
    Set {
        scope: Scope,
        name: String,
        value: Option<String>,
    },
    /// pg_reload_conf(), after a server-wide setting.
    Reload,
    /// A verified rewrite, only ever tried (read-only, as its statement's role, rolled back).
    TryRewrite {
        sql: String,
    },
}

/// Where a setting applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "of", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    Role {
        role: u32,
    },
    Database {
        database: u32,
    },
    System,
    /// Only in a trial, in the trial's own transaction.
    Session,
}

impl Scope {
    /// Whether `user` could make a change of this scope itself: ALTER SYSTEM is for
    /// superusers; a role's settings for superusers, the role itself, or CREATEROLE over a
    /// non-superuser; a database's for superusers and its owner's members.
    pub fn may_be_set_by(&self, user: pg_sys::Oid) -> bool {
        unsafe {
            if pg_sys::superuser_arg(user) {
                return true;
            }
            match *self {
                Scope::System => false,
                Scope::Session => true,
                Scope::Role { role } => {
                    let role = pg_sys::Oid::from(role);
                    role == user
                        || (pg_sys::has_createrole_privilege(user) && !pg_sys::superuser_arg(role))
                }
                Scope::Database { database } => {
                    pg_sys::pg_database_ownercheck(pg_sys::Oid::from(database), user)
                }
            }
        }
    }
}

/// The statistics kinds CREATE STATISTICS knows.
const STATISTICS_KINDS: &[&str] = &["ndistinct", "dependencies", "mcv"];

/// What applying (or, with `mode` trial, trying) a recommendation of `kind` whose statement is
/// `sql` does, read by the server's parser: exactly one statement of the shape the kind makes.
pub fn from_recommendation(kind: Kind, mode: Mode, sql: &str) -> Result<Vec<Step>, String> {
    let node = one_statement(sql)?;
    let tag = unsafe { (*node).type_ };
    let unexpected = || format!("unexpected {kind} statement: {}", shortened(sql));
    match (kind, tag) {
        (Kind::Index, NodeTag::T_IndexStmt) => {
            let stmt = unsafe { &*(node as *mut pg_sys::IndexStmt) };
            if stmt.unique || !stmt.idxname.is_null() {
                return Err(unexpected());
            }
            let table = table_oid(stmt.relation)?;
            let body = after_relation(sql, stmt.relation).ok_or_else(unexpected)?;
            Ok(vec![Step::BuildIndex { table, body }])
        }
        (Kind::DropIndex, NodeTag::T_DropStmt) => {
            let stmt = unsafe { &*(node as *mut pg_sys::DropStmt) };
            if stmt.removeType != pg_sys::ObjectType::OBJECT_INDEX {
                return Err(unexpected());
            }
            let names = dropped_names(stmt);
            let [name] = names.as_slice() else {
                return Err(unexpected());
            };
            let [schema, index] = name.as_slice() else {
                return Err("a statement must name its index's schema".into());
            };
            protected(schema)?;
            let index = relation_oid(schema, index, "iI")?
                .ok_or_else(|| format!("index {schema}.{index} does not exist"))?;
            Ok(vec![Step::DropIndex {
                index,
                if_exists: false,
            }])
        }
        (Kind::Statistics, NodeTag::T_CreateStatsStmt) => {
            let stmt = unsafe { &*(node as *mut pg_sys::CreateStatsStmt) };
            let relations = list_items(stmt.relations);
            let [relation] = relations.as_slice() else {
                return Err(unexpected());
            };
            let relation = *relation as *mut pg_sys::Node;
            if unsafe { (*relation).type_ } != NodeTag::T_RangeVar {
                return Err(unexpected());
            }
            let table = table_oid(relation as *mut pg_sys::RangeVar)?;
            let name = strings(stmt.defnames)
                .pop()
                .ok_or_else(unexpected)?;
            let kinds = strings(stmt.stat_types);
            let columns = list_items(stmt.exprs)
                .into_iter()
                .map(|e| unsafe { text((*(e as *mut pg_sys::StatsElem)).name) })
                .collect::<Option<Vec<_>>>()
                .ok_or("OptiSchema's statistics name plain columns only")?;
            Ok(vec![
                Step::CreateStatistics {
                    table,
                    name,
                    kinds,
                    columns,
                },
                Step::Analyze { table },
            ])
        }
        (Kind::Analyze, NodeTag::T_VacuumStmt) => {
            let stmt = unsafe { &*(node as *mut pg_sys::VacuumStmt) };
            let rels = list_items(stmt.rels);
            let [rel] = rels.as_slice() else {
                return Err(unexpected());
            };
            if stmt.is_vacuumcmd || !list_items(stmt.options).is_empty() {
                return Err(unexpected());
            }
            let rel = unsafe { &*(*rel as *mut pg_sys::VacuumRelation) };
            Ok(vec![Step::Analyze {
                table: table_oid(rel.relation)?,
            }])
        }
        (Kind::Config, _) => setting(node, mode, sql),
        (Kind::Rewrite, NodeTag::T_SelectStmt) if mode == Mode::Trial => {
            Ok(vec![Step::TryRewrite {
                sql: sql.to_string(),
            }])
        }
        (Kind::Rewrite, _) if mode != Mode::Trial => Err(
            "applying rewrite recommendations is not supported: the application's SQL is the application's to change (a rewrite can be tried)".into(),
        ),
        _ => Err(unexpected()),
    }
}

/// A per-role, per-database or server-wide setting; a session's only in a trial.
fn setting(node: *mut pg_sys::Node, mode: Mode, sql: &str) -> Result<Vec<Step>, String> {
    let (scope, set) = unsafe {
        match (*node).type_ {
            NodeTag::T_AlterRoleSetStmt => {
                let stmt = &*(node as *mut pg_sys::AlterRoleSetStmt);
                // one named role, in every database: not ALL, not IN DATABASE
                if stmt.role.is_null()
                    || !stmt.database.is_null()
                    || (*stmt.role).roletype != pg_sys::RoleSpecType::ROLESPEC_CSTRING
                {
                    return Err(format!("unexpected role setting: {}", shortened(sql)));
                }
                let name = text((*stmt.role).rolename).unwrap_or_default();
                let role = oid_of(
                    "SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1",
                    &name,
                )?
                .ok_or_else(|| format!("role {name} does not exist"))?;
                (Scope::Role { role }, stmt.setstmt)
            }
            NodeTag::T_AlterDatabaseSetStmt => {
                let stmt = &*(node as *mut pg_sys::AlterDatabaseSetStmt);
                let name = text(stmt.dbname).unwrap_or_default();
                let database = oid_of(
                    "SELECT oid FROM pg_catalog.pg_database WHERE datname = $1",
                    &name,
                )?
                .ok_or_else(|| format!("database {name} does not exist"))?;
                (Scope::Database { database }, stmt.setstmt)
            }
            NodeTag::T_AlterSystemStmt => (
                Scope::System,
                (*(node as *mut pg_sys::AlterSystemStmt)).setstmt,
            ),
            NodeTag::T_VariableSetStmt if mode == Mode::Trial => {
                (Scope::Session, node as *mut pg_sys::VariableSetStmt)
            }
            NodeTag::T_VariableSetStmt => {
                return Err(format!(
                    "{} applies to one session only: set it where the application connects",
                    shortened(sql)
                ))
            }
            _ => return Err(format!("unexpected config statement: {}", shortened(sql))),
        }
    };
    if set.is_null() {
        return Err(format!("unexpected config statement: {}", shortened(sql)));
    }
    let set = unsafe { &mut *set };
    let name = text(set.name).unwrap_or_default().to_ascii_lowercase();
    let value = match set.kind {
        pg_sys::VariableSetKind::VAR_SET_VALUE => {
            Some(unsafe { text(pg_sys::ExtractSetVariableArgs(set)) }.unwrap_or_default())
        }
        pg_sys::VariableSetKind::VAR_RESET => None,
        _ => return Err(format!("unexpected config statement: {}", shortened(sql))),
    };
    let system = scope == Scope::System;
    let mut steps = vec![Step::Set { scope, name, value }];
    if system {
        steps.push(Step::Reload);
    }
    // the name and the value are checked as the statement is rebuilt
    steps.iter().try_for_each(check_setting)?;
    Ok(steps)
}

impl Step {
    /// The statement this step runs, rebuilt now from its fields for recommendation
    /// `recommendation_id`; None when there is nothing to do (an index to drop if it exists,
    /// gone).
    pub fn statement(&self, recommendation_id: i64) -> Result<Option<String>, String> {
        Ok(Some(match self {
            Step::BuildIndex { table, body } => format!(
                "CREATE INDEX CONCURRENTLY {} ON {} {body}",
                super::index_name(recommendation_id),
                table_name(*table)?.0
            ),
            Step::RestoreIndex {
                table,
                name,
                unique,
                body,
            } => format!(
                "CREATE {}INDEX CONCURRENTLY {} ON {} {body}",
                if *unique { "UNIQUE " } else { "" },
                quote_ident(name),
                table_name(*table)?.0
            ),
            Step::DropIndex { index, if_exists } => {
                let Some((name, _)) = relation_name(*index, "iI")? else {
                    if *if_exists {
                        return Ok(None);
                    }
                    return Err(format!("the index to drop (oid {index}) no longer exists"));
                };
                let exists = if *if_exists { "IF EXISTS " } else { "" };
                format!("DROP INDEX CONCURRENTLY {exists}{name}")
            }
            Step::CreateStatistics {
                table,
                name,
                kinds,
                columns,
            } => {
                if kinds.is_empty()
                    || !kinds.iter().all(|k| STATISTICS_KINDS.contains(&k.as_str()))
                    || columns.is_empty()
                {
                    return Err("statistics need known kinds and columns".into());
                }
                let (table, schema) = table_name(*table)?;
                let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
                format!(
                    "CREATE STATISTICS {}.{} ({}) ON {} FROM {table}",
                    quote_ident(&schema),
                    quote_ident(name),
                    kinds.join(", "),
                    columns.join(", ")
                )
            }
            Step::DropStatistics { schema, name } => {
                protected(schema)?;
                format!(
                    "DROP STATISTICS IF EXISTS {}.{}",
                    quote_ident(schema),
                    quote_ident(name)
                )
            }
            Step::Analyze { table } => format!("ANALYZE {}", table_name(*table)?.0),
            Step::Set { scope, name, value } => {
                check_setting(self)?;
                let change = match value {
                    Some(v) => format!("SET {name} = {}", literal(v)?),
                    None => format!("RESET {name}"),
                };
                match scope {
                    Scope::Role { role } => format!(
                        "ALTER ROLE {} {change}",
                        quote_ident(&name_of("pg_roles", "rolname", *role)?)
                    ),
                    Scope::Database { database } => format!(
                        "ALTER DATABASE {} {change}",
                        quote_ident(&name_of("pg_database", "datname", *database)?)
                    ),
                    Scope::System => format!("ALTER SYSTEM {change}"),
                    Scope::Session => change,
                }
            }
            Step::Reload => super::RELOAD.to_string(),
            Step::TryRewrite { sql } => sql.clone(),
        }))
    }

    /// What undoes this step, read from what exists now (before it runs): the definition of an
    /// index about to be dropped, a setting's current value, the statistics about to be made.
    /// An index OptiSchema builds is undone by [`built_index`] once it exists.
    pub fn undo_before(&self) -> Result<Vec<Step>, String> {
        match self {
            Step::DropIndex { index, .. } => Ok(vec![restore(*index)?]),
            Step::Set { scope, name, .. } if *scope != Scope::Session => {
                let previous = current_setting(scope, name)?;
                let mut undo = vec![Step::Set {
                    scope: scope.clone(),
                    name: name.clone(),
                    value: previous,
                }];
                if *scope == Scope::System {
                    undo.push(Step::Reload);
                }
                Ok(undo)
            }
            Step::CreateStatistics { table, name, .. } => Ok(vec![Step::DropStatistics {
                schema: table_name(*table)?.1,
                name: name.clone(),
            }]),
            _ => Ok(Vec::new()),
        }
    }
}

/// Every step's statement, in order, skipping those with nothing to do.
pub fn statements(steps: &[Step], recommendation_id: i64) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for step in steps {
        out.extend(step.statement(recommendation_id)?);
    }
    Ok(out)
}

/// What undoes the last done apply of `recommendation_id`: its typed steps, None without them.
pub fn last_undo(recommendation_id: i64) -> pgrx::spi::Result<Option<Vec<Step>>> {
    let undo = Spi::get_one_with_args::<pgrx::JsonB>(
        include_str!("../../sql/apply/last_undo.sql"),
        &[recommendation_id.into()],
    )?;
    Ok(undo
        .and_then(|u| serde_json::from_value::<Vec<Step>>(u.0).ok())
        .filter(|steps| !steps.is_empty()))
}

/// What undoes the index OptiSchema built for `recommendation_id` on `table`.
pub fn built_index(table: u32, recommendation_id: i64) -> Result<Option<Step>, String> {
    let index = Spi::get_one_with_args::<pg_sys::Oid>(
        include_str!("../../sql/apply/built_index.sql"),
        &[
            pg_sys::Oid::from(table).into(),
            super::index_name(recommendation_id).into(),
        ],
    )
    .map_err(|e| e.to_string())?;
    Ok(index.map(|i| Step::DropIndex {
        index: i.to_u32(),
        if_exists: true,
    }))
}

/// The index `index` as it is defined now, to build it again after it is dropped.
fn restore(index: u32) -> Result<Step, String> {
    let row = Spi::get_two_with_args::<String, pg_sys::Oid>(
        include_str!("../../sql/apply/index_definition.sql"),
        &[pg_sys::Oid::from(index).into()],
    )
    .map_err(|e| e.to_string())?;
    let (Some(definition), Some(table)) = row else {
        return Err(format!("the index to drop (oid {index}) no longer exists"));
    };
    let node = one_statement(&definition)?;
    if unsafe { (*node).type_ } != NodeTag::T_IndexStmt {
        return Err(format!("unexpected index definition: {definition}"));
    }
    let stmt = unsafe { &*(node as *mut pg_sys::IndexStmt) };
    let body = after_relation(&definition, stmt.relation)
        .ok_or_else(|| format!("unexpected index definition: {definition}"))?;
    Ok(Step::RestoreIndex {
        table: table.to_u32(),
        name: text(stmt.idxname).unwrap_or_default(),
        unique: stmt.unique,
        body,
    })
}

/// The value a role, a database or the server (postgresql.auto.conf) has for `name` now.
fn current_setting(scope: &Scope, name: &str) -> Result<Option<String>, String> {
    let (of, oid) = match scope {
        Scope::Role { role } => ("role", *role),
        Scope::Database { database } => ("database", *database),
        Scope::System => ("system", 0),
        Scope::Session => return Ok(None),
    };
    Spi::get_one_with_args::<String>(
        include_str!("../../sql/apply/setting_now.sql"),
        &[of.into(), pg_sys::Oid::from(oid).into(), name.into()],
    )
    .map_err(|e| e.to_string())
}

/// A setting step must name an allowed setting and hold at most one plain value.
fn check_setting(step: &Step) -> Result<(), String> {
    let Step::Set { name, value, .. } = step else {
        return Ok(());
    };
    if !ALLOWED_SETTINGS.contains(&name.as_str()) {
        return Err(format!(
            "setting {name} is not one OptiSchema changes (planner and memory settings only)"
        ));
    }
    value.as_deref().map_or(Ok(()), |v| literal(v).map(|_| ()))
}

/// `value` as one quoted literal; values with a backslash or a NUL (no allowed setting takes
/// one) are refused rather than escaped.
fn literal(value: &str) -> Result<String, String> {
    if value.contains(['\\', '\0']) || value.len() > 256 {
        return Err(format!("unexpected setting value: {}", shortened(value)));
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

fn shortened(sql: &str) -> String {
    sql.chars().take(200).collect()
}

fn protected(schema: &str) -> Result<(), String> {
    if is_protected_schema(schema) {
        Err(format!(
            "OptiSchema never changes objects in schema {schema}"
        ))
    } else {
        Ok(())
    }
}

/// The text of a list of String nodes.
fn strings(list: *mut pg_sys::List) -> Vec<String> {
    list_items(list)
        .into_iter()
        .filter_map(|s| unsafe { text((*(s as *mut pg_sys::String)).sval) })
        .collect()
}

/// The qualified names a DROP lists.
pub(super) fn dropped_names(stmt: &pg_sys::DropStmt) -> Vec<Vec<String>> {
    list_items(stmt.objects)
        .into_iter()
        .map(|name| strings(name as *mut pg_sys::List))
        .collect()
}

/// The oid of the table a schema-qualified RangeVar names (a table, partitioned table or
/// materialized view), in a schema OptiSchema may change.
fn table_oid(rv: *mut pg_sys::RangeVar) -> Result<u32, String> {
    if rv.is_null() {
        return Err("a statement must name its table".into());
    }
    let (schema, table) = unsafe { (text((*rv).schemaname), text((*rv).relname)) };
    let (Some(schema), Some(table)) = (schema, table) else {
        return Err("a statement must name its table's schema".into());
    };
    protected(&schema)?;
    relation_oid(&schema, &table, "rpm")?
        .ok_or_else(|| format!("table {schema}.{table} does not exist"))
}

fn relation_oid(schema: &str, name: &str, kinds: &str) -> Result<Option<u32>, String> {
    Spi::get_one_with_args::<pg_sys::Oid>(
        include_str!("../../sql/apply/relation_oid.sql"),
        &[schema.into(), name.into(), kinds.into()],
    )
    .map(|oid| oid.map(|o| o.to_u32()))
    .map_err(|e| e.to_string())
}

/// A relation's qualified, quoted name now, and its schema; None when it is gone. Never one
/// in a protected schema.
fn relation_name(oid: u32, kinds: &str) -> Result<Option<(String, String)>, String> {
    let row = Spi::get_two_with_args::<String, String>(
        include_str!("../../sql/apply/relation_name.sql"),
        &[pg_sys::Oid::from(oid).into(), kinds.into()],
    )
    .map_err(|e| e.to_string())?;
    let (Some(schema), Some(name)) = row else {
        return Ok(None);
    };
    protected(&schema)?;
    Ok(Some((
        format!("{}.{}", quote_ident(&schema), quote_ident(&name)),
        schema,
    )))
}

/// A table's qualified, quoted name now, and its schema.
fn table_name(oid: u32) -> Result<(String, String), String> {
    relation_name(oid, "rpm")?.ok_or_else(|| format!("the table (oid {oid}) no longer exists"))
}

fn oid_of(query: &str, name: &str) -> Result<Option<u32>, String> {
    Spi::get_one_with_args::<pg_sys::Oid>(&format!("SELECT ({query})"), &[name.into()])
        .map(|oid| oid.map(|o| o.to_u32()))
        .map_err(|e| e.to_string())
}

fn name_of(catalog: &str, column: &str, oid: u32) -> Result<String, String> {
    Spi::get_one_with_args::<String>(
        &format!("SELECT (SELECT {column}::text FROM pg_catalog.{catalog} WHERE oid = $1)"),
        &[pg_sys::Oid::from(oid).into()],
    )
    .map_err(|e| e.to_string())?
    .ok_or_else(|| format!("the {column} with oid {oid} no longer exists"))
}

/// What follows the relation a parsed statement names in `sql`: the relation starts at the
/// RangeVar's location and is one or more dot-separated identifiers.
fn after_relation(sql: &str, rv: *mut pg_sys::RangeVar) -> Option<String> {
    if rv.is_null() {
        return None;
    }
    let start = usize::try_from(unsafe { (*rv).location }).ok()?;
    let end = qualified_name_end(sql, start)?;
    let rest = sql[end..].trim();
    (!rest.is_empty()).then(|| rest.to_string())
}

/// Where the qualified name that starts at byte `start` of `sql` ends: identifiers, plain or
/// double-quoted (quotes doubled inside), joined by dots.
fn qualified_name_end(sql: &str, start: usize) -> Option<usize> {
    let bytes = sql.as_bytes();
    let mut i = start;
    loop {
        if *bytes.get(i)? == b'"' {
            i += 1;
            loop {
                match bytes.get(i)? {
                    b'"' if bytes.get(i + 1) == Some(&b'"') => i += 2,
                    b'"' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
        } else {
            let from = i;
            while bytes.get(i).is_some_and(|b| {
                b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$' || *b >= 0x80
            }) {
                i += 1;
            }
            if i == from {
                return None;
            }
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
        } else {
            return Some(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qualified_name_ends_after_its_last_identifier() {
        let sql = "CREATE INDEX CONCURRENTLY ON public.t (a)";
        let start = sql.find("public").unwrap();
        assert_eq!(&sql[qualified_name_end(sql, start).unwrap()..], " (a)");
        let sql = r#"CREATE INDEX ON "my ""odd"" schema"."t.x" USING btree (a)"#;
        let start = sql.find('"').unwrap();
        assert_eq!(
            &sql[qualified_name_end(sql, start).unwrap()..],
            " USING btree (a)"
        );
        assert_eq!(qualified_name_end("ON \"open", 3), None);
        assert_eq!(qualified_name_end("ON (a)", 3), None);
    }

    #[test]
    fn a_setting_value_is_one_literal() {
        assert_eq!(literal("64MB").unwrap(), "'64MB'");
        assert_eq!(literal("it's").unwrap(), "'it''s'");
        assert!(literal("a\\'; DROP TABLE t; --").is_err());
        assert!(check_setting(&Step::Set {
            scope: Scope::System,
            name: "shared_preload_libraries".into(),
            value: Some("evil".into()),
        })
        .is_err());
    }

    #[test]
    fn steps_are_stored_as_tagged_json() {
        let steps = vec![
            Step::Set {
                scope: Scope::Role { role: 10 },
                name: "work_mem".into(),
                value: Some("64MB".into()),
            },
            Step::Reload,
        ];
        let json = serde_json::to_string(&steps).unwrap();
        assert_eq!(
            json,
            r#"[{"op":"set","scope":{"of":"role","role":10},"name":"work_mem","value":"64MB"},{"op":"reload"}]"#
        );
        assert_eq!(serde_json::from_str::<Vec<Step>>(&json).unwrap(), steps);
        // a step of a kind not known is not read as something else
        assert!(serde_json::from_str::<Vec<Step>>(r#"[{"op":"run","sql":"x"}]"#).is_err());
        assert!(
            serde_json::from_str::<Vec<Step>>(r#"[{"op":"analyze","table":1,"sql":"x"}]"#).is_err()
        );
    }
}
