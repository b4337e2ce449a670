#!/usr/bin/env bash
# Runs once, when the database volume is created (the postgres image's initdb hook): the
# extension, a read-only role for the dashboard, an admin role for its actions, and the sandbox.
# The passwords reach psql through its environment (\getenv), never its command line, where ps
# would show them.
set -euo pipefail
export OPTISCHEMA_SANDBOX_CONNINFO="host=sandbox user=postgres password=$SANDBOX_PASSWORD dbname=postgres"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv dashboard_password DASHBOARD_PASSWORD
\getenv admin_password DASHBOARD_ADMIN_PASSWORD
\getenv db POSTGRES_DB
\getenv sandbox OPTISCHEMA_SANDBOX_CONNINFO
CREATE EXTENSION optischema CASCADE;
CREATE ROLE optischema_dashboard LOGIN PASSWORD :'dashboard_password';
-- pg_read_all_stats shows the dashboard every statement's text, as pg_stat_statements would,
-- and which sessions are OptiSchema's workers, so that the proxy forwards their NOTIFY payloads
-- only; statements are planned as the roles that ran them, so it reads no data
GRANT optischema_reader, pg_read_all_stats TO optischema_dashboard;
CREATE ROLE optischema_dashboard_admin LOGIN PASSWORD :'admin_password';
GRANT optischema_admin, pg_read_all_stats TO optischema_dashboard_admin;
ALTER SYSTEM SET optischema.database = :'db';
ALTER SYSTEM SET optischema.sandbox_conninfo = :'sandbox';
SQL
unset OPTISCHEMA_SANDBOX_CONNINFO
