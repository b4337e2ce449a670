\set oid random(1, 1000000)
SELECT i.product_id, p.name, i.quantity, i.price
  FROM order_items i JOIN products p ON p.id = i.product_id
 WHERE i.order_id = :oid;
