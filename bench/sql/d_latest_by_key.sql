-- Benchmark (d): GROUP BY with LATEST_BY_OFFSET over 1,000,000 keys
-- (issue 11, "Benchmark"). Kafka Streams twin: scripts/kstreams/Bench.java
-- topology d (record caching off: every update is emitted, one output per
-- order). Input shape and stream names: bench/sql/README.md.
CREATE STREAM orders (id BIGINT, customer_id STRING, price DOUBLE, currency STRING, ts BIGINT)
  WITH (kafka_topic = 'bench.public.orders', value_format = 'json', timestamp = 'ts');

CREATE TABLE latest_by_customer WITH (kafka_topic = 'bench_out') AS
  SELECT customer_id,
         LATEST_BY_OFFSET(price) AS price,
         LATEST_BY_OFFSET(id) AS last_order_id
  FROM orders
  GROUP BY customer_id
  EMIT CHANGES;
