//! Applying a recommendation, and reverting it: what is run, and what undoes it. Index
//! changes run `CONCURRENTLY`, so writes go on meanwhile; they cannot run in the caller's
//! transaction, so `apply()` queues them and the apply worker runs them at top level.

pub mod exec;
pub mod progress;
pub mod realized;
pub mod validate;
pub mod worker;

/// What makes a server-wide setting (ALTER SYSTEM) take effect.
pub const RELOAD: &str = "SELECT pg_catalog.pg_reload_conf()";

/// What undoing runs: the recorded undo, and a reload after a server-wide setting.
pub fn undo_steps(undo: &str) -> Vec<String> {
    let mut steps = vec![undo.to_string()];
    if undo.starts_with("ALTER SYSTEM ") {
        steps.push(RELOAD.into());
    }
    steps
}

/// The name OptiSchema gives the index it builds for recommendation `id`: known in advance, so
/// an index left invalid by a failed build can be found and dropped.
pub fn index_name(recommendation_id: i64) -> String {
    format!("optischema_rec_{recommendation_id}")
}

/// What applying a recommendation runs, in order: the stored statement (an index named), and
/// for extended statistics the ANALYZE that fills them.
pub fn steps_for(kind: &str, sql: &str, recommendation_id: i64) -> Result<Vec<String>, String> {
    match kind {
        "index" => {
            let rest = sql
                .strip_prefix("CREATE INDEX CONCURRENTLY ON ")
                .ok_or_else(|| format!("unexpected index statement: {sql}"))?;
            Ok(vec![format!(
                "CREATE INDEX CONCURRENTLY {} ON {rest}",
                index_name(recommendation_id)
            )])
        }
        "drop_index" if sql.starts_with("DROP INDEX CONCURRENTLY ") => Ok(vec![sql.to_string()]),
        "analyze" if sql.starts_with("ANALYZE ") => Ok(vec![sql.to_string()]),
        "statistics" => {
            let table = sql
                .strip_prefix("CREATE STATISTICS ")
                .and_then(|_| sql.rsplit_once(" FROM "))
                .map(|(_, table)| table.to_string())
                .ok_or_else(|| format!("unexpected statistics statement: {sql}"))?;
            Ok(vec![sql.to_string(), format!("ANALYZE {table}")])
        }
        "config" if sql.starts_with("ALTER ROLE ") || sql.starts_with("ALTER DATABASE ") => {
            Ok(vec![sql.to_string()])
        }
        "config" if sql.starts_with("ALTER SYSTEM SET ") => {
            Ok(vec![sql.to_string(), RELOAD.into()])
        }
        "config" => Err(format!(
            "{sql} applies to one session only: set it where the application connects"
        )),
        other => Err(format!("applying {other} recommendations is not supported")),
    }
}

/// The statistics object a `CREATE STATISTICS name (...) ON ... FROM ...` creates, dropped.
pub fn undo_statistics(sql: &str) -> Option<String> {
    let rest = sql.strip_prefix("CREATE STATISTICS ")?;
    let name = rest.split(" (").next()?.trim();
    (!name.is_empty()).then(|| format!("DROP STATISTICS IF EXISTS {name}"))
}

/// `ALTER ROLE r SET name = value` (or DATABASE, or SYSTEM) split into its target and setting name.
pub fn config_target(sql: &str) -> Option<(String, String)> {
    let (target, setting) = sql.split_once(" SET ")?;
    let name = setting.split('=').next()?.trim().to_string();
    Some((target.to_string(), name))
}

/// What undoes a per-role (or per-database) setting: the value it had, or none.
pub fn undo_config(target: &str, name: &str, previous: Option<&str>) -> String {
    match previous {
        Some(value) => format!("{target} SET {name} = '{}'", value.replace('\'', "''")),
        None => format!("{target} RESET {name}"),
    }
}

/// An index definition as `pg_get_indexdef` prints it, made to build without blocking writes.
pub fn concurrently(definition: &str) -> Option<String> {
    for prefix in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = definition.strip_prefix(prefix) {
            return Some(format!("{prefix}CONCURRENTLY {rest}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_built_under_a_name_known_in_advance() {
        assert_eq!(
            steps_for(
                "index",
                "CREATE INDEX CONCURRENTLY ON public.t (a, b DESC)",
                12
            ),
            Ok(vec![
                "CREATE INDEX CONCURRENTLY optischema_rec_12 ON public.t (a, b DESC)".into()
            ])
        );
        assert!(steps_for("index", "DROP TABLE t", 12).is_err());
        assert!(steps_for("rewrite", "SELECT 1", 3).is_err());
        assert!(steps_for("config", "SET work_mem = '64MB'", 3).is_err());
    }

    #[test]
    fn statistics_are_filled_by_an_analyze_and_undone_by_a_drop() {
        let sql = "CREATE STATISTICS public.os_orders_a_b (dependencies, ndistinct, mcv) ON a, b FROM public.orders";
        assert_eq!(
            steps_for("statistics", sql, 1).unwrap(),
            vec![sql.to_string(), "ANALYZE public.orders".to_string()]
        );
        assert_eq!(
            undo_statistics(sql).as_deref(),
            Some("DROP STATISTICS IF EXISTS public.os_orders_a_b")
        );
    }

    #[test]
    fn a_role_setting_goes_back_to_what_it_was() {
        let (target, name) = config_target("ALTER ROLE app SET work_mem = '64MB'").unwrap();
        assert_eq!(
            (target.as_str(), name.as_str()),
            ("ALTER ROLE app", "work_mem")
        );
        assert_eq!(
            undo_config(&target, &name, None),
            "ALTER ROLE app RESET work_mem"
        );
        assert_eq!(
            undo_config(&target, &name, Some("8MB")),
            "ALTER ROLE app SET work_mem = '8MB'"
        );
    }

    #[test]
    fn a_server_setting_is_reloaded_after_it_is_set_and_after_it_is_undone() {
        assert_eq!(
            steps_for("config", "ALTER SYSTEM SET random_page_cost = '1.1'", 4).unwrap(),
            vec![
                "ALTER SYSTEM SET random_page_cost = '1.1'".to_string(),
                RELOAD.to_string()
            ]
        );
        let (target, name) = config_target("ALTER SYSTEM SET random_page_cost = '1.1'").unwrap();
        assert_eq!(
            (target.as_str(), name.as_str()),
            ("ALTER SYSTEM", "random_page_cost")
        );
        let undo = undo_config(&target, &name, None);
        assert_eq!(undo, "ALTER SYSTEM RESET random_page_cost");
        assert_eq!(undo_steps(&undo), vec![undo.clone(), RELOAD.to_string()]);
        assert_eq!(
            undo_steps("DROP INDEX CONCURRENTLY IF EXISTS public.i"),
            vec!["DROP INDEX CONCURRENTLY IF EXISTS public.i".to_string()]
        );
    }

    #[test]
    fn a_dropped_index_comes_back_exactly_and_concurrently() {
        assert_eq!(
            concurrently("CREATE UNIQUE INDEX t_a ON public.t USING btree (a) WHERE (b > 0)"),
            Some(
                "CREATE UNIQUE INDEX CONCURRENTLY t_a ON public.t USING btree (a) WHERE (b > 0)"
                    .into()
            )
        );
        assert_eq!(concurrently("ALTER TABLE t"), None);
    }
}
