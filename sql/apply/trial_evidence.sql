-- $1 recommendation, $2 what the trial measured: kept in its evidence.
UPDATE optischema.recommendation_store
  SET evidence = evidence || jsonb_build_object('trial', $2::jsonb), updated_at = now()
WHERE id = $1
