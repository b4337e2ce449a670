-- A small online shop: ~300 MB with its indexes. Some of its queries lack an index on purpose.
CREATE TABLE customers (
    id         bigint PRIMARY KEY,
    email      text NOT NULL,
    name       text NOT NULL,
    country    text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE products (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    category    int NOT NULL,
    price       numeric(10,2) NOT NULL,
    description text NOT NULL
);
CREATE TABLE orders (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL,            -- no index: orders of a customer scan the table
    status      text NOT NULL,              -- skewed: 'delivered' for most, 'pending' for few
    created_at  timestamptz NOT NULL,
    total       numeric(10,2) NOT NULL
);
CREATE TABLE order_items (
    order_id   bigint NOT NULL,
    product_id bigint NOT NULL,
    quantity   int NOT NULL,
    price      numeric(10,2) NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

INSERT INTO customers
SELECT g, 'User' || g || '@Example.com', 'Customer ' || g,
       (ARRAY['DE','FR','US','GB','JP','BR'])[1 + g % 6],
       now() - (g % 1000) * interval '1 day'
  FROM generate_series(1, 200000) g;

INSERT INTO products
SELECT g, (ARRAY['chair','table','lamp','desk','sofa','shelf','bed','rug'])[1 + g % 8] || ' model ' || g,
       g % 50, (g % 500) + 9.99, repeat('A fine piece of furniture. ', 4)
  FROM generate_series(1, 20000) g;

INSERT INTO orders
SELECT g, 1 + (hashint8(g) & 2147483647) % 200000,
       CASE WHEN g % 1000 = 0 THEN 'pending' WHEN g % 100 = 0 THEN 'shipped' ELSE 'delivered' END,
       now() - (g % 730) * interval '1 day' - (g % 86400) * interval '1 second',
       (g % 900) + 5.5
  FROM generate_series(1, 1000000) g;

INSERT INTO order_items
SELECT o, 1 + (hashint8(o * 4 + i) & 2147483647) % 20000, 1 + i, 19.99
  FROM generate_series(1, 1000000) o, generate_series(0, 1) i
ON CONFLICT DO NOTHING;

CREATE SEQUENCE demo_order_ids START 1000001;

VACUUM ANALYZE;
