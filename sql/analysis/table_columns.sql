-- $1 table oid: columns with their type and the collation in effect.
SELECT a.attname::text, format_type(a.atttypid, NULL),
       CASE WHEN a.attcollation = 0 THEN NULL
            WHEN co.collname = 'default' THEN (SELECT datcollate::text FROM pg_catalog.pg_database
                                                WHERE datname = current_database())
            ELSE co.collname::text END
  FROM pg_catalog.pg_attribute a
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
 WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum
