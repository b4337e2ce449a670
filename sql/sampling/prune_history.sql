-- $1: retention in minutes. One batch per sample keeps each sample short.
DELETE FROM optischema.history
 WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM optischema.history
         WHERE bucket < now() - make_interval(mins => $1)
         LIMIT 5000))
