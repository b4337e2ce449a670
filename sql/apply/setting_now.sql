-- $1 'ALTER ROLE r', 'ALTER DATABASE d' or 'ALTER SYSTEM', $2 a setting name: the value that
-- role or database has for it now (pg_db_role_setting), or the server has in
-- postgresql.auto.conf (pg_file_settings); NULL when none is set there.
SELECT CASE WHEN $1 = 'ALTER SYSTEM' THEN
         (SELECT f.setting FROM pg_catalog.pg_file_settings f
           WHERE f.name = $2 AND f.sourcefile LIKE '%/postgresql.auto.conf'
           ORDER BY f.seqno DESC LIMIT 1)
       ELSE
         (SELECT substr(s, length($2) + 2)
            FROM pg_catalog.pg_db_role_setting d, unnest(d.setconfig) s
           WHERE s LIKE $2 || '=%'
             AND CASE WHEN $1 LIKE 'ALTER ROLE %'
                      THEN d.setdatabase = 0
                           AND d.setrole = substr($1, length('ALTER ROLE ') + 1)::regrole::oid
                      ELSE d.setrole = 0
                           AND d.setdatabase = (SELECT oid FROM pg_catalog.pg_database
                                                 WHERE quote_ident(datname) = substr($1, length('ALTER DATABASE ') + 1)
                                                    OR datname = substr($1, length('ALTER DATABASE ') + 1))
                 END
           LIMIT 1)
       END
