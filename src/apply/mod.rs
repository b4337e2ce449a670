//! Applying a recommendation, and reverting it: what is run, and what undoes it. Index
//! changes run `CONCURRENTLY`, so writes go on meanwhile; they cannot run in the caller's
//! transaction, so `apply()` queues them and the apply worker runs them at top level.

pub mod exec;
pub mod worker;

/// The name OptiSchema gives the index it builds for recommendation `id`: known in advance, so
/// an index left invalid by a failed build can be found and dropped.
pub fn index_name(recommendation_id: i64) -> String {
    format!("optischema_rec_{recommendation_id}")
}

/// What applying a recommendation runs: the stored statement, with the index named.
pub fn statement_for(kind: &str, sql: &str, recommendation_id: i64) -> Result<String, String> {
    match kind {
        "index" => {
            let rest = sql
                .strip_prefix("CREATE INDEX CONCURRENTLY ON ")
                .ok_or_else(|| format!("unexpected index statement: {sql}"))?;
            Ok(format!(
                "CREATE INDEX CONCURRENTLY {} ON {rest}",
                index_name(recommendation_id)
            ))
        }
        "drop_index" => {
            if sql.starts_with("DROP INDEX CONCURRENTLY ") {
                Ok(sql.to_string())
            } else {
                Err(format!("unexpected drop statement: {sql}"))
            }
        }
        other => Err(format!(
            "applying {other} recommendations is not supported; run its SQL yourself"
        )),
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
            statement_for(
                "index",
                "CREATE INDEX CONCURRENTLY ON public.t (a, b DESC)",
                12
            ),
            Ok("CREATE INDEX CONCURRENTLY optischema_rec_12 ON public.t (a, b DESC)".into())
        );
        assert!(statement_for("index", "DROP TABLE t", 12).is_err());
        assert!(statement_for("config", "ALTER ROLE app SET work_mem = '64MB'", 3).is_err());
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
