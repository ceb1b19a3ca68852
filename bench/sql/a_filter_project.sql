-- Benchmark (a): filter + projection over a stream (issue 11, "Benchmark").
-- Kafka Streams twin: scripts/kstreams/Bench.java topology a. Input shape
-- and stream names: bench/sql/README.md. About half of the orders pass.
CREATE STREAM orders (id BIGINT, customer_id STRING, price DOUBLE, currency STRING, ts BIGINT)
  WITH (kafka_topic = 'bench.public.orders', value_format = 'json', timestamp = 'ts');

CREATE STREAM expensive_orders WITH (kafka_topic = 'bench_out') AS
  SELECT id, customer_id, price, currency
  FROM orders
  WHERE price >= 50
  EMIT CHANGES;
