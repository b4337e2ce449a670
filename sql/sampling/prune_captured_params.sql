-- $1: retention in minutes. Value sets not seen for that long go (at most 20 per statement).
DELETE FROM optischema.captured_params WHERE last_seen < now() - make_interval(mins => $1)
