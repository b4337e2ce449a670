-- $1 table, $2 index name: the oid of the index of that name on the table.
SELECT (SELECT i.indexrelid FROM pg_catalog.pg_index i
 JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = $1 AND c.relname = $2)
