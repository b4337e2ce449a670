\set m random(1, 9999)
SELECT id, name FROM products WHERE name LIKE 'lamp model ' || :m || '%' LIMIT 20;
