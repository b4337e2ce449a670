-- $1 fingerprint: the rewrite waits, unverified, until its check says it may be offered.
UPDATE optischema.recommendation_store SET status = 'unverified'
 WHERE fingerprint = $1 AND status = 'open'
