-- The search_path statements of other roles are planned with: the database's own (ALTER
-- DATABASE ... SET search_path), else the default. Every name qualified: it runs before the
-- path is set.
SELECT coalesce(
         (SELECT pg_catalog.substr(c, 13)
            FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) c
           WHERE s.setrole OPERATOR(pg_catalog.=) 0
             AND s.setdatabase OPERATOR(pg_catalog.=)
                 (SELECT oid FROM pg_catalog.pg_database
                   WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
             AND c OPERATOR(pg_catalog.~~) 'search_path=%'
           LIMIT 1),
         '"$user", public')
