-- Benchmark (b): stream-table LEFT JOIN against a 1,000,000-row table
-- (issue 11, "Benchmark"). Kafka Streams twin: scripts/kstreams/Bench.java
-- topology b. Input shape and stream names: bench/sql/README.md. Load the
-- customers table before the orders arrive; every order finds its customer.
CREATE STREAM orders (id BIGINT, customer_id STRING, price DOUBLE, currency STRING, ts BIGINT)
  WITH (kafka_topic = 'bench.public.orders', value_format = 'json', timestamp = 'ts');

CREATE TABLE customers (id STRING PRIMARY KEY, name STRING, age INT)
  WITH (kafka_topic = 'bench.public.customers', value_format = 'json');

CREATE STREAM enriched_orders WITH (kafka_topic = 'bench_out') AS
  SELECT o.id AS order_id,
         o.price,
         o.currency,
         o.customer_id AS customer_id,
         c.name AS customer_name,
         c.age AS customer_age
  FROM orders AS o
  LEFT JOIN customers c ON o.customer_id = c.id
  EMIT CHANGES;
