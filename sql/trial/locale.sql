-- This database's encoding and locale as CREATE DATABASE options.
SELECT format('ENCODING %L LC_COLLATE %L LC_CTYPE %L', pg_catalog.pg_encoding_to_char(encoding),
              datcollate, datctype)
       || CASE WHEN datlocprovider = 'i'
               THEN format(' LOCALE_PROVIDER icu ICU_LOCALE %L', daticulocale) ELSE '' END
  FROM pg_catalog.pg_database
 WHERE datname = pg_catalog.current_database()
