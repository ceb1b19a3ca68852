-- Benchmark (c): stream-stream join WITHIN 1 HOUR (issue 11, "Benchmark").
-- Kafka Streams twin: scripts/kstreams/Bench.java topology c, whose grace
-- is 24 hours by default: ksqlDB's (and sluice's) when WITHIN has no GRACE
-- PERIOD. Input shape and stream names: bench/sql/README.md. Each order has
-- one shipment, 1 minute later, so there is one output per order.
CREATE STREAM orders (id BIGINT, customer_id STRING, price DOUBLE, currency STRING, ts BIGINT)
  WITH (kafka_topic = 'bench.public.orders', value_format = 'json', timestamp = 'ts');

CREATE STREAM shipments (id STRING, order_id BIGINT, origin STRING, ts BIGINT)
  WITH (kafka_topic = 'bench.public.shipments', value_format = 'json', timestamp = 'ts');

CREATE STREAM shipped_orders WITH (kafka_topic = 'bench_out') AS
  SELECT o.id AS order_id,
         s.id AS shipment_id,
         o.customer_id,
         o.price,
         s.origin
  FROM orders AS o
  JOIN shipments AS s WITHIN 1 HOUR ON o.id = s.order_id
  EMIT CHANGES;
