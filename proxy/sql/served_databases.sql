-- The other databases of this server that OptiSchema serves (the home database, where the
-- sampler runs, is listed as "home" and included unless it is this one).
SELECT database
  FROM optischema.databases()
 WHERE database IS NOT NULL
   AND state IN ('served', 'home')
   AND database <> current_database()
 ORDER BY database
