-- One database at a glance: its status, its top statement over the last hour, its open
-- recommendations.
SELECT json_build_object(
         'status', (SELECT row_to_json(s) FROM optischema.status() s),
         'top', (SELECT row_to_json(h) FROM optischema.hot_queries('1 hour', 1) h),
         'open_recommendations', (SELECT count(*) FROM optischema.recommendations WHERE status = 'open'))::text
