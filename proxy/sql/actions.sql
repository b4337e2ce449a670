-- The latest actions (optischema_admin only).
SELECT coalesce(json_agg(a ORDER BY a.id DESC), '[]')::text
  FROM (SELECT * FROM optischema.actions ORDER BY id DESC LIMIT 200) a
