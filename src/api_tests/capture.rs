//! Parameter capture: bound values and constants in `$n` order, the sample rate, excluded roles.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// The queue of captured sets is one for the server, and tests run side by side: a test
    /// that drains it holds this lock until its transaction ends, so it takes no other test's
    /// sets; sets other tests' statements add meanwhile are told apart by queryid.
    fn own_the_capture_queue() {
        Spi::run("SELECT pg_advisory_xact_lock(hashtext('optischema capture queue'))").unwrap();
    }

    #[pg_test]
    fn captures_bound_parameters_and_constants_in_dollar_order() {
        own_the_capture_queue();
        Spi::run(
            "CREATE TABLE cap (a int, b text);
             SET optischema.param_sample_rate = 1;
             PREPARE cap_probe AS SELECT * FROM cap WHERE a = $1 AND b = $2;",
        )
        .unwrap();
        crate::plans::capture::drain();
        Spi::run("EXECUTE cap_probe(42, 'it''s')").unwrap();
        Spi::run("SELECT * FROM cap WHERE b = 'x' AND a = -7").unwrap();
        Spi::run("SET optischema.param_sample_rate = 0; SET optischema.param_capture_first = 0")
            .unwrap();
        Spi::run("SELECT * FROM cap WHERE b = 'not captured'").unwrap();
        Spi::run("RESET optischema.param_capture_first").unwrap();
        let sets: Vec<String> = crate::plans::capture::drain()
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert!(
            sets.contains(&r#"["'42'","'it''s'"]"#.to_string()),
            "{sets:?}"
        );
        assert!(sets.contains(&r#"["'x'","-7"]"#.to_string()), "{sets:?}");
        assert!(!sets.iter().any(|s| s.contains("not captured")), "{sets:?}");
        // excluded roles are never captured
        Spi::run(
            "SELECT set_config('optischema.param_exclude_roles', 'nobody, ' || current_user, false);
             SET optischema.param_sample_rate = 1;
             SELECT * FROM cap WHERE b = 'excluded';
             RESET optischema.param_exclude_roles;
             SELECT * FROM cap WHERE b = 'included';",
        )
        .unwrap();
        let sets: Vec<String> = crate::plans::capture::drain()
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert!(!sets.iter().any(|v| v.contains("excluded")), "{sets:?}");
        assert!(sets.iter().any(|v| v.contains("included")), "{sets:?}");
    }

    #[pg_test]
    fn captured_constants_are_planned_with_the_types_they_had() {
        use crate::acting::Actor;
        use crate::plans::explain::{custom_plan, PlanOutcome};
        // pg_stat_statements shows `substring(x FROM 1 FOR 2)` as `substring(x FROM $1 FOR $2)`:
        // typed by their use, both parameters would be text, the SIMILAR form of substring
        let sql = "SELECT substring(relname::text FROM $1 FOR $2) FROM pg_catalog.pg_class WHERE relname = 'pg_class'";
        let values = [Some("1".to_string()), Some("3".to_string())];
        let literal = crate::whatif::planner::with_values(sql, &values);
        assert_eq!(
            Spi::get_one::<String>(&literal).unwrap().as_deref(),
            Some("pg_"),
            "{literal}"
        );
        // a quoted value is still typed by its use
        let quoted =
            crate::whatif::planner::with_values("SELECT $1 || 'x'", &[Some("'1'".to_string())]);
        assert_eq!(
            Spi::get_one::<String>(&quoted).unwrap().as_deref(),
            Some("1x")
        );
        let PlanOutcome::Planned { plan, .. } = custom_plan(sql, &values, Actor::Caller) else {
            panic!("not planned");
        };
        let output = plan[0]["Plan"]["Output"].to_string();
        assert!(output.contains("FROM 1 FOR 3)"), "{output}");
        assert!(!output.to_lowercase().contains("similar"), "{output}");
    }

    #[pg_test]
    fn a_value_for_a_char_column_is_kept_whole() {
        // a parameter compared with char(n) is bpchar without a length: written as
        // "::character" it would be char(1), and 'BUILDING' would become 'B'
        Spi::run(
            "CREATE TABLE seg (id int, segment char(10));
             INSERT INTO seg SELECT g, CASE WHEN g % 5 = 0 THEN 'BUILDING' ELSE 'MACHINERY' END
               FROM generate_series(1, 100) g;
             ANALYZE seg;",
        )
        .unwrap();
        let sql = "SELECT count(*) FROM seg WHERE segment = $1";
        let literal = crate::whatif::planner::with_values(sql, &[Some("'BUILDING'".to_string())]);
        assert_eq!(
            Spi::get_one::<i64>(&literal).unwrap(),
            Some(20),
            "{literal}"
        );
        // and the planner estimates the value's rows, not those of a value no row has
        let plan = Spi::get_one::<pgrx::Json>(&format!("EXPLAIN (FORMAT JSON) {literal}"))
            .unwrap()
            .unwrap();
        let scan_rows = plan.0[0]["Plan"]["Plans"][0]["Plan Rows"].as_f64().unwrap();
        assert!((15.0..=25.0).contains(&scan_rows), "{scan_rows}");
    }

    #[pg_test]
    fn the_first_executions_of_a_statement_are_captured_at_rate_zero_and_again_when_rearmed() {
        use crate::plans::capture;
        own_the_capture_queue();
        Spi::run(
            "CREATE TABLE cap_first (a int);
             SET optischema.param_sample_rate = 0;
             SET optischema.param_capture_first = 3;",
        )
        .unwrap();
        capture::drain();
        for i in 1..=6 {
            Spi::run(&format!("SELECT * FROM cap_first WHERE a = {i}")).unwrap();
        }
        // this statement's sets are those of the queryid whose values are 1, 2 and 3
        let sets = capture::drain();
        let values_of = |sets: &[(i64, String)], queryid: i64| -> Vec<String> {
            sets.iter()
                .filter(|(q, _)| *q == queryid)
                .map(|(_, v)| v.clone())
                .collect()
        };
        let first = ["[\"1\"]", "[\"2\"]", "[\"3\"]"];
        let queryids: Vec<i64> = sets
            .iter()
            .map(|(q, _)| *q)
            .filter(|q| values_of(&sets, *q) == first)
            .collect();
        let queryid = *queryids
            .first()
            .expect("the first three executions are captured");
        // statements without values (utility, none to capture) spend nothing
        Spi::run("SELECT count(*) FROM cap_first").unwrap();
        // the worker found none of its sets stored: its next executions are captured again
        capture::rearm(&[queryid]);
        for i in 7..=9 {
            Spi::run(&format!("SELECT * FROM cap_first WHERE a = {i}")).unwrap();
        }
        Spi::run("SET optischema.param_capture_first = 4").unwrap();
        Spi::run("SELECT * FROM cap_first WHERE a = 10").unwrap();
        Spi::run("SELECT * FROM cap_first WHERE a = 11").unwrap();
        assert_eq!(
            values_of(&capture::drain(), queryid),
            ["[\"7\"]", "[\"8\"]", "[\"9\"]", "[\"10\"]"]
        );
        Spi::run("RESET optischema.param_sample_rate; RESET optischema.param_capture_first")
            .unwrap();
    }
}
