-- $1: retention in minutes. Text of statements with no history left is dropped.
DELETE FROM optischema.statements s
 WHERE s.queryid = ANY (ARRAY(
        SELECT st.queryid FROM optischema.statements st
         WHERE st.last_seen < now() - make_interval(mins => $1)
           AND NOT EXISTS (SELECT FROM optischema.history_all h WHERE h.queryid = st.queryid)
         LIMIT 1000))
RETURNING s.queryid
