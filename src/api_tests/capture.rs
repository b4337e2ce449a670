//! Parameter capture: bound values and constants in `$n` order, the sample rate, excluded roles.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn captures_bound_parameters_and_constants_in_dollar_order() {
        Spi::run(
            "CREATE TABLE cap (a int, b text);
             SET optischema.param_sample_rate = 1;
             PREPARE cap_probe AS SELECT * FROM cap WHERE a = $1 AND b = $2;",
        )
        .unwrap();
        crate::plans::capture::drain();
        Spi::run("EXECUTE cap_probe(42, 'it''s')").unwrap();
        Spi::run("SELECT * FROM cap WHERE b = 'x' AND a = -7").unwrap();
        Spi::run("SET optischema.param_sample_rate = 0").unwrap();
        Spi::run("SELECT * FROM cap WHERE b = 'not captured'").unwrap();
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
}
