-- Split orders_obt into customers, products and orders (MySQL dialect).
CREATE TABLE customers (
  customer_id INT AUTO_INCREMENT PRIMARY KEY,
  customer_name VARCHAR(60) NOT NULL,
  customer_phone VARCHAR(20) NOT NULL,
  customer_address VARCHAR(120) NOT NULL,
  UNIQUE (customer_name, customer_phone)
) ENGINE=InnoDB;

CREATE TABLE products (
  product_id INT AUTO_INCREMENT PRIMARY KEY,
  product_sku VARCHAR(20) NOT NULL UNIQUE,
  product_brand VARCHAR(40) NOT NULL,
  product_description VARCHAR(120) NOT NULL
) ENGINE=InnoDB;

CREATE TABLE orders (
  order_id INT AUTO_INCREMENT PRIMARY KEY,
  customer_id INT NOT NULL,
  product_id INT NOT NULL,
  order_date_time DATETIME NOT NULL,
  order_amount DECIMAL(8,2) NOT NULL,
  FOREIGN KEY (customer_id) REFERENCES customers (customer_id),
  FOREIGN KEY (product_id) REFERENCES products (product_id)
) ENGINE=InnoDB;

INSERT INTO customers (customer_name, customer_phone, customer_address)
SELECT DISTINCT customer_name, customer_phone, customer_address FROM orders_obt;

INSERT INTO products (product_sku, product_brand, product_description)
SELECT DISTINCT product_sku, product_brand, product_description FROM orders_obt;

INSERT INTO orders (customer_id, product_id, order_date_time, order_amount)
SELECT c.customer_id, p.product_id, o.order_date_time, o.order_amount
FROM orders_obt AS o
JOIN customers AS c ON c.customer_name = o.customer_name AND c.customer_phone = o.customer_phone
JOIN products AS p ON p.product_sku = o.product_sku;
