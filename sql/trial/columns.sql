-- $1 table oid. Its columns in order: name, type, a collation other than the type's (quoted,
-- qualified), NOT NULL, and for a type defined in this database: the CREATE TYPE of an enum
-- (NULL for other kinds) and the type's schema.
SELECT a.attname::text,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
            THEN format('%I.%I', cn.nspname, co.collname) END,
       a.attnotnull,
       CASE WHEN b.typtype = 'e' THEN
            format('CREATE TYPE %I.%I AS ENUM (%s)', bn.nspname, b.typname,
                   (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                      FROM pg_catalog.pg_enum e WHERE e.enumtypid = b.oid)) END,
       CASE WHEN b.oid >= 16384 THEN bn.nspname::text END
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  -- an array's element type decides
  JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typelem <> 0 AND t.typcategory = 'A' THEN t.typelem ELSE t.oid END
  JOIN pg_catalog.pg_namespace bn ON bn.oid = b.typnamespace
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum
