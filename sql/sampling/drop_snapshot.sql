-- $1..$4: queryid, userid, dbid, toplevel (arrays) of entries gone from pg_stat_statements
DELETE FROM optischema.snapshot s
 USING unnest($1::int8[], $2::int8[], $3::int8[], $4::bool[]) AS u(queryid, userid, dbid, toplevel)
 WHERE s.queryid = u.queryid AND s.userid = u.userid::oid
   AND s.dbid = u.dbid::oid AND s.toplevel = u.toplevel
