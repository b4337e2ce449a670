SELECT count(*), sum(total) FROM orders WHERE status = 'pending' AND created_at > now() - interval '30 days';
