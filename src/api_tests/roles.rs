//! Who may call what (`optischema_reader`, `optischema_admin`, anyone else), and statements
//! planned with the privileges of the role that ran them.

#[pgrx::pg_schema]
mod tests {
    use crate::api_tests::fixtures::explain;
    use crate::test_support::outcome_of;
    use pgrx::prelude::*;

    #[pg_test]
    fn roles_separate_readers_admins_and_everyone_else() {
        Spi::run(
            "CREATE ROLE os_test_reader IN ROLE optischema_reader;
             CREATE ROLE os_test_admin IN ROLE optischema_admin;
             CREATE ROLE os_test_nobody;",
        )
        .unwrap();
        let as_role = |role: &str, sql: &str| {
            outcome_of(&format!("SET LOCAL ROLE {role}; {sql}; RESET ROLE")).0
        };
        assert_eq!(
            as_role("os_test_reader", "SELECT * FROM optischema.hot_queries()"),
            "00000"
        );
        assert_eq!(
            as_role("os_test_reader", "SELECT * FROM optischema.status()"),
            "00000"
        );
        assert_eq!(
            as_role("os_test_reader", "SELECT optischema.reset()"),
            "42501"
        );
        assert_eq!(
            as_role("os_test_admin", "SELECT optischema.reset()"),
            "00000"
        );
        assert_eq!(
            as_role("os_test_nobody", "SELECT * FROM optischema.hot_queries()"),
            "42501"
        );
        assert_eq!(
            as_role("os_test_nobody", "SELECT query FROM optischema.statements"),
            "42501"
        );
    }

    #[pg_test]
    fn statements_are_planned_with_the_privileges_of_the_role_that_ran_them() {
        // planning folds immutable functions: here one that says who runs it
        Spi::run(
            "CREATE ROLE os_app NOLOGIN;
             CREATE FUNCTION whoami() RETURNS text IMMUTABLE LANGUAGE sql AS 'SELECT current_user::text';
             CREATE TABLE secret (id int);
             INSERT INTO optischema.statements VALUES (201, 'SELECT whoami()', now(), now()),
                                                     (202, 'SELECT id FROM secret WHERE id = $1', now(), now());
             INSERT INTO optischema.history
             SELECT date_trunc('minute', now()), q, (SELECT oid FROM pg_roles WHERE rolname = 'os_app'),
                    (SELECT oid FROM pg_database WHERE datname = current_database()), true, 5, 5.0, 5, 0, 0, 0
               FROM unnest(ARRAY[201, 202]) q;",
        )
        .unwrap();
        let out = explain(201);
        assert!(
            out["generic_plan"][0]["Plan"]["Output"][0]
                .as_str()
                .unwrap()
                .contains("os_app"),
            "{out}"
        );
        // os_app may not read the table: no plan, and no lasting verdict either
        let out = explain(202);
        assert!(
            out["unexplainable"]
                .as_str()
                .unwrap()
                .contains("permission denied"),
            "{out}"
        );
        Spi::run("SELECT optischema.analyze_now()").unwrap();
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM optischema.unexplainable").unwrap(),
            Some(0)
        );
    }
}
