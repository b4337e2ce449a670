-- The settings, their defaults, units, ranges and who may change them (pg_settings.context:
-- postmaster = restart, sighup = postgresql.conf or ALTER SYSTEM and a reload, superuser = also
-- a superuser's SET). They exist as soon as the library is loaded: no CREATE EXTENSION needed.
\set SHOW_CONTEXT never

SELECT name, current_setting(name) AS value, unit, min_val, max_val, context
  FROM pg_settings
 WHERE name LIKE 'optischema.%'
 ORDER BY name;

-- the API key is left out of SHOW ALL and pg_settings, even for a superuser
SELECT count(*) FROM pg_settings WHERE name = 'optischema.llm_api_key';
SHOW optischema.llm_api_key;

-- a superuser may SET the superuser settings for the session
SET optischema.min_improvement_pct = 50;
SHOW optischema.min_improvement_pct;
RESET optischema.min_improvement_pct;
SET optischema.param_sample_rate = 0;
RESET optischema.param_sample_rate;
-- values outside the range are refused
SET optischema.param_sample_rate = 2;
\echo :LAST_ERROR_SQLSTATE
SET optischema.min_improvement_pct = 101;
-- nobody may SET the others (sighup and postmaster)
SET optischema.hot_top_n = 50;
SET optischema.sample_interval = '5s';
\echo :LAST_ERROR_SQLSTATE
SET optischema.database = 'elsewhere';
\echo :LAST_ERROR_SQLSTATE

-- another role reads the settings but may change none of them, nor read the secret ones
CREATE ROLE regress_os_settings;
SET ROLE regress_os_settings;
SHOW optischema.sample_interval;
SHOW optischema.param_sample_rate;
SET optischema.min_improvement_pct = 50;
\echo :LAST_ERROR_SQLSTATE
SET optischema.param_capture = off;
SHOW optischema.llm_api_key;
\echo :LAST_ERROR_SQLSTATE
SHOW optischema.sandbox_conninfo;
SELECT current_setting('optischema.llm_api_key');
SELECT name FROM pg_settings
 WHERE name IN ('optischema.llm_api_key', 'optischema.llm_api_key_file', 'optischema.sandbox_conninfo');
RESET ROLE;
DROP ROLE regress_os_settings;
