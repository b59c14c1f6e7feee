-- Split orders_obt into customers, products and orders (MySQL dialect).
-- 1. CREATE TABLE customers, products and orders, each with a primary key;
--    orders references customers and products with FOREIGN KEY constraints.
-- 2. Fill them with INSERT ... SELECT from orders_obt (no typed-in rows).
-- Keep the column names of orders_obt for the attributes; name the key columns as you like.

