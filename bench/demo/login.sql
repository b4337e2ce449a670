\set n random(1, 200000)
SELECT id, name FROM customers WHERE lower(email) = lower('user' || :n || '@example.com');
