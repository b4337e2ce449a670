//! `explain()`: typed literals repaired, statements planned and never run, what cannot be
//! planned, unknown queryids, the findings; and the server's lexer it relies on.

#[pgrx::pg_schema]
mod tests {
    use crate::api_tests::fixtures::{explain, plant_workload, seed_statements};
    use crate::test_support::rejected;
    use pgrx::prelude::*;

    #[pg_test]
    fn explain_plans_a_typed_literal_statement_without_running_it() {
        seed_statements(&[
            (
                1,
                "SELECT id FROM events WHERE at > now() - interval $1 AND kind = $2",
            ),
            (2, "DELETE FROM events WHERE id > $1"),
        ]);
        let out = explain(1);
        assert_eq!(
            out["planned_sql"],
            "SELECT id FROM events WHERE at > now() - $1::interval AND kind = $2"
        );
        let plan = &out["generic_plan"][0]["Plan"];
        assert_eq!(plan["Node Type"], "Seq Scan");
        assert_eq!(plan["Relation Name"], "events");
        assert!(plan["Filter"].as_str().unwrap().contains("$1"), "{plan}");
        // a DELETE is planned, not run
        let out = explain(2);
        assert_eq!(out["generic_plan"][0]["Plan"]["Operation"], "Delete");
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM events").unwrap(),
            Some(2000)
        );
        // nothing is left behind
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM pg_prepared_statements").unwrap(),
            Some(0)
        );
    }

    #[pg_test]
    fn explain_reports_what_cannot_be_planned() {
        seed_statements(&[
            (3, "VACUUM events"),
            (4, "SELECT id FROM events WHERE kind = 'unterminated"),
            (5, "SELECT nope FROM missing_table"),
        ]);
        for queryid in [3, 4, 5] {
            let out = explain(queryid);
            assert!(out.get("generic_plan").is_none(), "{out}");
            assert!(!out["unexplainable"].as_str().unwrap().is_empty(), "{out}");
        }
        assert!(explain(5)["unexplainable"]
            .as_str()
            .unwrap()
            .contains("missing_table"));
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM pg_prepared_statements").unwrap(),
            Some(0)
        );
        // the transaction is still usable after all those errors
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM events").unwrap(),
            Some(2000)
        );
    }

    #[pg_test]
    fn a_statement_without_a_generic_plan_is_planned_with_its_captured_values() {
        // `id < 10 - 3` as pg_stat_statements keeps it: `$1 - $2` has no type of its own
        seed_statements(&[(3, "SELECT kind FROM events WHERE id < $1 - $2")]);
        let out = explain(3);
        assert!(
            out["unexplainable"]
                .as_str()
                .is_some_and(|r| r.contains("operator is not unique")),
            "{out}"
        );
        Spi::run(
            "INSERT INTO optischema.captured_params (queryid, params, times_seen)
             VALUES (3, '[\"10\", \"3\"]', 4)",
        )
        .unwrap();
        let out = explain(3);
        assert_eq!(out["unexplainable"], serde_json::Value::Null, "{out}");
        assert_eq!(
            out["generic_plan"][0]["Plan"]["Relation Name"], "events",
            "{out}"
        );
        assert_eq!(
            out["custom_plans"].as_array().map(Vec::len),
            Some(1),
            "{out}"
        );
        assert_eq!(
            out["custom_plans"][0]["params"],
            serde_json::json!(["10", "3"])
        );
    }

    #[pg_test]
    fn explain_rejects_unknown_and_null_queryids() {
        rejected("SELECT optischema.explain(987654321)");
        rejected("SELECT optischema.explain(NULL)");
    }

    #[pg_test]
    fn server_lexer_finds_typed_literals() {
        use crate::plans::repair::Token;
        let tokens = crate::plans::lexer::tokens("SELECT date $1, x AT TIME ZONE $2 FROM \"T\"");
        assert_eq!(
            tokens[0],
            Token::Keyword {
                at: 0,
                word: "select".into()
            }
        );
        assert_eq!(
            tokens[1],
            Token::Ident {
                at: 7,
                name: "date".into()
            }
        );
        assert_eq!(tokens[2], Token::Param { at: 12, number: 1 });
        assert_eq!(
            tokens.last().unwrap(),
            &Token::Ident {
                at: 39,
                name: "T".into()
            }
        );
        let sql = "SELECT date $1, x AT TIME ZONE $2 FROM t";
        assert_eq!(
            crate::plans::repair::repair_typed_params(sql, &crate::plans::lexer::tokens(sql))
                .as_deref(),
            Some("SELECT $1::date, x AT TIME ZONE $2 FROM t")
        );
    }

    #[pg_test]
    fn a_normalized_extract_is_planned_generically_and_with_its_values() {
        Spi::run("CREATE TABLE sales (sold_on date NOT NULL, amount numeric NOT NULL)").unwrap();
        // what pg_stat_statements keeps of extract(year FROM sold_on)
        let sql = "SELECT extract($1 FROM sold_on) AS y, sum(amount) FROM sales \
                   WHERE sold_on >= date $2 GROUP BY 1";
        assert_eq!(
            crate::plans::explain::planning_text(sql),
            "SELECT pg_catalog.extract($1::text, sold_on) AS y, sum(amount) FROM sales \
             WHERE sold_on >= $2::date GROUP BY 1"
        );
        let actor = crate::acting::Actor::of_statement(Some("postgres")).unwrap();
        let generic =
            crate::whatif::planner::with_statement(sql, None, actor, |st| st.plan(&[]).total_cost);
        assert!(
            generic.as_ref().is_ok_and(|cost| *cost > 0.0),
            "{generic:?}"
        );
        let values = [Some("'year'".to_string()), Some("'2024-01-01'".to_string())];
        let custom = crate::whatif::planner::with_statement(sql, Some(&values), actor, |st| {
            (st.text(), st.plan(&[]).total_cost)
        });
        let (text, cost) = custom.unwrap();
        assert!(
            text.starts_with("SELECT pg_catalog.extract(('year')::text"),
            "{text}"
        );
        assert!(cost > 0.0);
    }

    #[pg_test]
    fn explain_carries_the_findings() {
        plant_workload();
        let out = explain(103);
        let findings = out["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1, "{out}");
        assert_eq!(findings[0]["rule"], "sort_index");
        assert_eq!(findings[0]["kind"], "index");
        assert_eq!(explain(104)["findings"], serde_json::json!([]));
        assert_eq!(
            explain(107)["planned_sql"],
            "SELECT count(*) FROM shop_orders WHERE created_at > now() - $1::interval"
        );
    }
}
