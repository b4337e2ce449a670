\set cid random(1, 200000)
\set pid random(1, 20000)
BEGIN;
INSERT INTO orders (id, customer_id, status, created_at, total)
     VALUES (nextval('demo_order_ids'), :cid, 'pending', now(), 42.00);
INSERT INTO order_items (order_id, product_id, quantity, price)
     VALUES (currval('demo_order_ids'), :pid, 1, 42.00);
COMMIT;
