WITH history AS (DELETE FROM optischema.history RETURNING 1),
     history_open AS (DELETE FROM optischema.history_open RETURNING 1),
     statements AS (DELETE FROM optischema.statements RETURNING 1),
     snapshot AS (DELETE FROM optischema.snapshot RETURNING 1),
     captured AS (DELETE FROM optischema.captured_params RETURNING 1),
     unexplainable AS (DELETE FROM optischema.unexplainable RETURNING 1)
SELECT (SELECT count(*) FROM history)
     + (SELECT count(*) FROM history_open)
     + (SELECT count(*) FROM statements)
     + (SELECT count(*) FROM snapshot)
     + (SELECT count(*) FROM captured)
     + (SELECT count(*) FROM unexplainable)
