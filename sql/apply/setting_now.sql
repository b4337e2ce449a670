-- $1 'ALTER ROLE r' or 'ALTER DATABASE d', $2 a setting name: the value that role or database
-- has for it now (pg_db_role_setting), or NULL.
SELECT (SELECT substr(s, length($2) + 2)
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
