#!/usr/bin/env bash
# Runs once, when the database volume is created (the postgres image's initdb hook): the
# extension, a read-only role for the dashboard, an admin role for its actions, and the sandbox.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v dashboard_password="$DASHBOARD_PASSWORD" -v admin_password="$DASHBOARD_ADMIN_PASSWORD" \
     -v db="$POSTGRES_DB" -v sandbox="host=sandbox user=postgres password=$SANDBOX_PASSWORD dbname=postgres" <<'SQL'
CREATE EXTENSION optischema CASCADE;
CREATE ROLE optischema_dashboard LOGIN PASSWORD :'dashboard_password';
-- pg_read_all_stats shows the dashboard every statement's text, as pg_stat_statements would;
-- statements are planned as the roles that ran them, so it reads no data
GRANT optischema_reader, pg_read_all_stats TO optischema_dashboard;
CREATE ROLE optischema_dashboard_admin LOGIN PASSWORD :'admin_password';
GRANT optischema_admin, pg_read_all_stats TO optischema_dashboard_admin;
ALTER SYSTEM SET optischema.database = :'db';
ALTER SYSTEM SET optischema.sandbox_conninfo = :'sandbox';
SQL
