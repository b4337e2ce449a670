-- The Star Schema Benchmark's five tables (O'Neil, O'Neil and Chen, SSB revision 3) at scale
-- factor :scale, generated in SQL with its value domains: lineorder (6,000,000 rows per scale
-- factor, in order key order as dbgen writes it) around the date, customer, supplier and part
-- dimensions. Values come from hashes of the row numbers, so every run loads the same data.
-- No primary or foreign keys: every index is the advisor's choice. The date table is named
-- dwdate, as in most ports (DATE is a type name).
CREATE TABLE dwdate (
    d_datekey int NOT NULL, d_date date NOT NULL, d_dayofweek varchar(9) NOT NULL,
    d_month varchar(9) NOT NULL, d_year int NOT NULL, d_yearmonthnum int NOT NULL,
    d_yearmonth char(7) NOT NULL, d_daynuminweek int NOT NULL, d_daynuminmonth int NOT NULL,
    d_daynuminyear int NOT NULL, d_monthnuminyear int NOT NULL, d_weeknuminyear int NOT NULL,
    d_sellingseason varchar(12) NOT NULL, d_lastdayinweekfl boolean NOT NULL,
    d_lastdayinmonthfl boolean NOT NULL, d_holidayfl boolean NOT NULL, d_weekdayfl boolean NOT NULL);
CREATE TABLE customer (
    c_custkey int NOT NULL, c_name varchar(25) NOT NULL, c_address varchar(25) NOT NULL,
    c_city char(10) NOT NULL, c_nation char(15) NOT NULL, c_region char(12) NOT NULL,
    c_phone char(15) NOT NULL, c_mktsegment char(10) NOT NULL);
CREATE TABLE supplier (
    s_suppkey int NOT NULL, s_name char(25) NOT NULL, s_address varchar(25) NOT NULL,
    s_city char(10) NOT NULL, s_nation char(15) NOT NULL, s_region char(12) NOT NULL,
    s_phone char(15) NOT NULL);
CREATE TABLE part (
    p_partkey int NOT NULL, p_name varchar(22) NOT NULL, p_mfgr char(6) NOT NULL,
    p_category char(7) NOT NULL, p_brand1 char(9) NOT NULL, p_color varchar(11) NOT NULL,
    p_type varchar(25) NOT NULL, p_size int NOT NULL, p_container char(10) NOT NULL);
CREATE TABLE lineorder (
    lo_orderkey int NOT NULL, lo_linenumber int NOT NULL, lo_custkey int NOT NULL,
    lo_partkey int NOT NULL, lo_suppkey int NOT NULL, lo_orderdate int NOT NULL,
    lo_orderpriority char(15) NOT NULL, lo_shippriority char(1) NOT NULL, lo_quantity int NOT NULL,
    lo_extendedprice int NOT NULL, lo_ordtotalprice int NOT NULL, lo_discount int NOT NULL,
    lo_revenue int NOT NULL, lo_supplycost int NOT NULL, lo_tax int NOT NULL,
    lo_commitdate int NOT NULL, lo_shipmode char(10) NOT NULL);

-- the 25 nations of TPC-H with their regions; a city is a nation's first 9 letters and a digit
CREATE TEMP TABLE ssb_nation (n int, name text, region text);
INSERT INTO ssb_nation VALUES
    (0, 'ALGERIA', 'AFRICA'), (1, 'ARGENTINA', 'AMERICA'), (2, 'BRAZIL', 'AMERICA'),
    (3, 'CANADA', 'AMERICA'), (4, 'EGYPT', 'MIDDLE EAST'), (5, 'ETHIOPIA', 'AFRICA'),
    (6, 'FRANCE', 'EUROPE'), (7, 'GERMANY', 'EUROPE'), (8, 'INDIA', 'ASIA'),
    (9, 'INDONESIA', 'ASIA'), (10, 'IRAN', 'MIDDLE EAST'), (11, 'IRAQ', 'MIDDLE EAST'),
    (12, 'JAPAN', 'ASIA'), (13, 'JORDAN', 'MIDDLE EAST'), (14, 'KENYA', 'AFRICA'),
    (15, 'MOROCCO', 'AFRICA'), (16, 'MOZAMBIQUE', 'AFRICA'), (17, 'PERU', 'AMERICA'),
    (18, 'CHINA', 'ASIA'), (19, 'ROMANIA', 'EUROPE'), (20, 'SAUDI ARABIA', 'MIDDLE EAST'),
    (21, 'VIETNAM', 'ASIA'), (22, 'RUSSIA', 'EUROPE'), (23, 'UNITED KINGDOM', 'EUROPE'),
    (24, 'UNITED STATES', 'AMERICA');
-- a value in [0, n) drawn from the hash of (row, column)
CREATE FUNCTION pg_temp.pick(g int8, col int, n int) RETURNS int LANGUAGE sql IMMUTABLE
    AS 'SELECT (abs(hashint8(g * 131 + col)) % n)::int';

INSERT INTO dwdate
SELECT to_char(d, 'YYYYMMDD')::int, d, trim(to_char(d, 'Day')), trim(to_char(d, 'Month')),
       extract(year FROM d)::int, to_char(d, 'YYYYMM')::int, to_char(d, 'MonYYYY'),
       extract(isodow FROM d)::int, extract(day FROM d)::int, extract(doy FROM d)::int,
       extract(month FROM d)::int, extract(week FROM d)::int,
       CASE WHEN extract(month FROM d) IN (12, 1) THEN 'Christmas'
            WHEN extract(month FROM d) IN (6, 7, 8) THEN 'Summer'
            WHEN extract(month FROM d) IN (3, 4, 5) THEN 'Spring'
            ELSE 'Fall' END,
       extract(isodow FROM d) = 7, d = (date_trunc('month', d) + interval '1 month - 1 day')::date,
       to_char(d, 'MMDD') IN ('0101', '0704', '1225'), extract(isodow FROM d) < 6
  FROM generate_series(date '1992-01-01', date '1998-12-31', interval '1 day') AS s(t),
       LATERAL (SELECT t::date AS d) x;

INSERT INTO customer
SELECT g, 'Customer#' || lpad(g::text, 9, '0'), md5(g::text)::varchar(25),
       rpad(left(n.name, 9), 9) || pg_temp.pick(g, 2, 10), n.name, n.region,
       (10 + n.n) || '-' || lpad(pg_temp.pick(g, 3, 1000)::text, 3, '0') || '-' || lpad(pg_temp.pick(g, 4, 1000)::text, 3, '0') || '-' || lpad(pg_temp.pick(g, 5, 10000)::text, 4, '0'),
       (ARRAY['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'MACHINERY', 'HOUSEHOLD'])[1 + pg_temp.pick(g, 6, 5)]
  FROM generate_series(1, 30000 * :scale) g JOIN ssb_nation n ON n.n = pg_temp.pick(g, 1, 25);

INSERT INTO supplier
SELECT g, 'Supplier#' || lpad(g::text, 9, '0'), md5(g::text)::varchar(25),
       rpad(left(n.name, 9), 9) || pg_temp.pick(g, 12, 10), n.name, n.region,
       (10 + n.n) || '-' || lpad(pg_temp.pick(g, 13, 1000)::text, 3, '0') || '-' || lpad(pg_temp.pick(g, 14, 1000)::text, 3, '0') || '-' || lpad(pg_temp.pick(g, 15, 10000)::text, 4, '0')
  FROM generate_series(1, 2000 * :scale) g JOIN ssb_nation n ON n.n = pg_temp.pick(g, 11, 25);

-- 200,000 parts at scale factor 1 (SSB: 200,000 * (1 + log2 SF)); 5 makers, 25 categories,
-- 1,000 brands
INSERT INTO part
SELECT g, 'part ' || g, 'MFGR#' || m, 'MFGR#' || m || c, 'MFGR#' || m || c || b,
       (ARRAY['almond', 'antique', 'aquamarine', 'azure', 'beige', 'bisque', 'black', 'blanched',
              'blue', 'blush', 'brown', 'burlywood', 'chartreuse', 'chiffon', 'chocolate',
              'coral', 'cornflower', 'cornsilk', 'cream', 'cyan', 'dark', 'deep', 'dim',
              'dodger', 'drab', 'firebrick', 'floral', 'forest', 'frosted', 'gainsboro',
              'ghost', 'goldenrod', 'green', 'grey', 'honeydew', 'hot', 'indian', 'ivory',
              'khaki', 'lace', 'lavender', 'lawn', 'lemon', 'light', 'lime', 'linen',
              'magenta', 'maroon', 'medium', 'metallic', 'midnight', 'mint', 'misty',
              'moccasin', 'navajo', 'navy', 'olive', 'orange', 'orchid', 'pale', 'papaya',
              'peach', 'peru', 'pink', 'plum', 'powder', 'puff', 'purple', 'red', 'rose',
              'rosy', 'royal', 'saddle', 'salmon', 'sandy', 'seashell', 'sienna', 'sky',
              'slate', 'smoke', 'snow', 'spring', 'steel', 'tan', 'thistle', 'tomato',
              'turquoise', 'violet', 'wheat', 'white', 'yellow'])[1 + pg_temp.pick(g, 24, 91)],
       (ARRAY['STANDARD', 'SMALL', 'MEDIUM', 'LARGE', 'ECONOMY', 'PROMO'])[1 + pg_temp.pick(g, 25, 6)]
         || ' ' || (ARRAY['ANODIZED', 'BURNISHED', 'PLATED', 'POLISHED', 'BRUSHED'])[1 + pg_temp.pick(g, 26, 5)]
         || ' ' || (ARRAY['TIN', 'NICKEL', 'BRASS', 'STEEL', 'COPPER'])[1 + pg_temp.pick(g, 27, 5)],
       1 + pg_temp.pick(g, 28, 50),
       (ARRAY['SM', 'LG', 'MED', 'JUMBO', 'WRAP'])[1 + pg_temp.pick(g, 29, 5)]
         || ' ' || (ARRAY['CASE', 'BOX', 'BAG', 'JAR', 'PKG', 'PACK', 'CAN', 'DRUM'])[1 + pg_temp.pick(g, 30, 8)]
  FROM generate_series(1, 200000 * :scale) g,
       LATERAL (SELECT 1 + pg_temp.pick(g, 21, 5) AS m, 1 + pg_temp.pick(g, 22, 5) AS c,
                       1 + pg_temp.pick(g, 23, 40) AS b) k;

-- 1,500,000 orders per scale factor of 1 to 7 lines, ordered from 1992-01-01 to 1998-08-02
INSERT INTO lineorder
SELECT o, l, 1 + pg_temp.pick(o, 31, 30000 * :scale), 1 + pg_temp.pick(o * 8 + l, 32, 200000 * :scale),
       1 + pg_temp.pick(o * 8 + l, 33, 2000 * :scale), to_char(day, 'YYYYMMDD')::int,
       (ARRAY['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'])[1 + pg_temp.pick(o, 35, 5)],
       '0', q, q * price, total, disc, q * price * (100 - disc) / 100, price * 6 / 10,
       pg_temp.pick(o * 8 + l, 38, 9), to_char(day + 30 + pg_temp.pick(o * 8 + l, 39, 61), 'YYYYMMDD')::int,
       (ARRAY['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'])[1 + pg_temp.pick(o * 8 + l, 40, 7)]
  FROM generate_series(1, 1500000 * :scale) o,
       LATERAL (SELECT date '1992-01-01' + pg_temp.pick(o, 34, 2406) AS day,
                       1 + pg_temp.pick(o, 36, 7) AS lines,
                       100000 + pg_temp.pick(o, 37, 5000000) AS total) ord,
       LATERAL generate_series(1, ord.lines) l,
       LATERAL (SELECT 1 + pg_temp.pick(o * 8 + l, 41, 50) AS q,
                       900 + pg_temp.pick(o * 8 + l, 42, 1100) AS price,
                       pg_temp.pick(o * 8 + l, 43, 11) AS disc) li;
