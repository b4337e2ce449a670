-- $1 'role', 'database' or 'system', $2 the role's or database's oid, $3 a setting name: the
-- value that role or database has for it now (pg_db_role_setting), or the server has in
-- postgresql.auto.conf (pg_file_settings); NULL when none is set there.
SELECT CASE WHEN $1 = 'system' THEN
         (SELECT f.setting FROM pg_catalog.pg_file_settings f
           WHERE f.name = $3 AND f.sourcefile LIKE '%/postgresql.auto.conf'
           ORDER BY f.seqno DESC LIMIT 1)
       ELSE
         (SELECT substr(s, length($3) + 2)
            FROM pg_catalog.pg_db_role_setting d, unnest(d.setconfig) s
           WHERE split_part(s, '=', 1) = $3
             AND CASE WHEN $1 = 'role' THEN d.setdatabase = 0 AND d.setrole = $2
                      ELSE d.setrole = 0 AND d.setdatabase = $2
                 END
           LIMIT 1)
       END
