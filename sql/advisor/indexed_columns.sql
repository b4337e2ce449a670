-- $1 table oid: how many indexes it has, and the columns they use (keys, INCLUDE, and the
-- words of expressions and predicates that name a column).
SELECT (SELECT count(*) FROM pg_catalog.pg_index WHERE indrelid = $1::oid)::int8,
       ARRAY(SELECT a.attname::text
               FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
                AND EXISTS (
                    SELECT FROM pg_catalog.pg_index i
                     WHERE i.indrelid = $1::oid
                       AND (a.attnum = ANY (i.indkey)
                            OR strpos(' ' || regexp_replace(coalesce(pg_get_expr(i.indexprs, i.indrelid), '')
                                                            || ' ' || coalesce(pg_get_expr(i.indpred, i.indrelid), ''),
                                                            '[^[:alnum:]_]+', ' ', 'g') || ' ',
                                      ' ' || a.attname || ' ') > 0))
              ORDER BY a.attnum)
