-- $1 table oid: its indexes, each key as written (expression, operator class if not the
-- default, DESC), usage and whether a constraint needs it.
SELECT ic.relname::text,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
                    || CASE WHEN opc.opcdefault THEN '' ELSE ' ' || opc.opcname END
                    || CASE WHEN (i.indoption[k - 1] & 1) = 1 THEN ' DESC' ELSE '' END
               FROM generate_series(1, i.indnkeyatts) k
               JOIN pg_catalog.pg_opclass opc ON opc.oid = i.indclass[k - 1]
              ORDER BY k),
       i.indisunique,
       pg_get_expr(i.indpred, i.indrelid, true),
       coalesce(s.idx_scan, 0)::int8,
       pg_relation_size(i.indexrelid)::int8,
       EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid)
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  LEFT JOIN pg_catalog.pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
 WHERE i.indrelid = $1::oid AND i.indisvalid
 ORDER BY ic.relname
