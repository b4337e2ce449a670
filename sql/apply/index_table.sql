-- $1 index name: the table the index of that name is on.
SELECT (SELECT i.indrelid FROM pg_catalog.pg_index i
          JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
         WHERE c.relname = $1)
