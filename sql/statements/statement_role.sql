-- $1 queryid: the role that ran it most over the whole history kept.
SELECT (SELECT r.rolname::text
 FROM optischema.history_all h JOIN pg_catalog.pg_roles r ON r.oid = h.userid
WHERE h.queryid = $1
GROUP BY r.rolname ORDER BY sum(h.calls) DESC, r.rolname LIMIT 1)
