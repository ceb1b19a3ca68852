-- Every form the parser knows, for the golden AST and the round trip.
/* block
   comment */
CREATE STREAM pageviews (viewtime BIGINT, user_id VARCHAR KEY, page_id STRING, `Mixed Case` INT, hdrs ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, h BYTES HEADER('trace'))
  WITH (kafka_topic='pageviews', value_format='JSON', partitions=4, replicas='1', wrap_single_value=false);
CREATE OR REPLACE TABLE users (id STRING PRIMARY KEY, registertime BIGINT, gender STRING, interests ARRAY<STRING>, contact MAP<STRING, STRING>, address STRUCT<street STRING, zip INT>, balance DECIMAL(10, 2), born DATE, wakes TIME, seen TIMESTAMP, ok BOOLEAN, score DOUBLE, pic BYTES)
  WITH (KAFKA_TOPIC='users', FORMAT='AVRO', KEY_SCHEMA_ID=1, VALUE_SCHEMA_ID=2);
CREATE SOURCE TABLE IF NOT EXISTS t1 (k INT PRIMARY KEY) WITH (kafka_topic='t1', format='json');
CREATE STREAM s1 WITH (kafka_topic = 'x', timestamp = 'ts', timestamp_format = 'yyyy-MM-dd''T''HH:mm:ss');
CREATE STREAM IF NOT EXISTS filtered AS SELECT * FROM pageviews WHERE page_id LIKE 'home%' AND NOT viewtime IS NULL EMIT CHANGES;
CREATE STREAM proj WITH (kafka_topic='proj', value_format='json') AS
  SELECT p.*, user_id AS uid, viewtime * 2 + 1 AS t2, -viewtime, -5, - -5, 1.5, .5, 1.5e3, 2E-3, 'it''s', TRUE, FALSE, NULL,
         CASE WHEN viewtime > 10 THEN 'big' WHEN viewtime BETWEEN 1 AND 10 THEN 'mid' ELSE 'small' END AS size_class,
         CASE page_id WHEN 'a' THEN 1 ELSE 2 END,
         CAST(viewtime AS STRING), CAST(page_id AS DECIMAL(5, 2)), CAST(x AS ARRAY<MAP<STRING, INT>>),
         ARRAY[1, 2, 3][1], MAP('a' := 1, 'b' := 2)['a'], STRUCT(f1 := 1, `f 2` := 'x')->f1, address->zip,
         page_id || '!' || user_id, viewtime % 7 / 2, COUNT(*), COUNT(DISTINCT page_id), UCASE(page_id),
         page_id NOT LIKE '%x\_%' ESCAPE '\', page_id IN ('a', 'b'), page_id NOT IN ('c'), viewtime NOT BETWEEN 1 AND 2,
         page_id IS NOT NULL, a = b, a <> b, a != b, a < b, a <= b, a > b, a >= b, (a OR b) AND c, a OR b AND c
  FROM pageviews p PARTITION BY page_id EMIT CHANGES;
CREATE TABLE agg AS SELECT page_id, COUNT(*) AS n, WINDOWSTART AS ws FROM pageviews
  WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 2 DAYS, GRACE PERIOD 10 MINUTES)
  WHERE viewtime > 0 GROUP BY page_id HAVING COUNT(*) > 1 EMIT FINAL;
CREATE TABLE hop AS SELECT page_id, SUM(viewtime) FROM pageviews WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS) GROUP BY (page_id, user_id) EMIT CHANGES;
CREATE TABLE sess AS SELECT user_id, MAX(viewtime) FROM pageviews WINDOW SESSION (5 MINUTES, GRACE PERIOD 1 MILLISECOND) GROUP BY user_id;
CREATE STREAM j AS SELECT * FROM a JOIN b WITHIN 1 HOUR ON a.id = b.id
  LEFT OUTER JOIN c WITHIN (1 SECOND, 2 MINUTES) GRACE PERIOD 3 HOURS ON a.id = c.id
  RIGHT JOIN d ON d.id = a.id FULL OUTER JOIN e ON e.id = a.id INNER JOIN f AS ff ON ff.id = a.id EMIT CHANGES;
INSERT INTO filtered SELECT * FROM pageviews WHERE viewtime < 0 EMIT CHANGES;
INSERT INTO filtered WITH (query_id='Q1') SELECT * FROM pageviews;
DROP STREAM filtered;
DROP TABLE IF EXISTS agg DELETE TOPIC;
DROP CONNECTOR IF EXISTS c1;
SET 'auto.offset.reset'='earliest';
UNSET 'auto.offset.reset';
SHOW STREAMS; SHOW TABLES EXTENDED; LIST QUERIES; SHOW CONNECTORS; SHOW SINK CONNECTORS; SHOW TOPICS; SHOW PROPERTIES; SHOW FUNCTIONS;
DESCRIBE pageviews; DESCRIBE agg EXTENDED;
TERMINATE CSAS_PROJ_3; TERMINATE ALL;
CREATE SINK CONNECTOR IF NOT EXISTS `sink one` WITH ('topics' = 'x', tasks = 1);
SELECT * FROM users WHERE id = 'a' AND TIMESTAMPADD(MILLISECONDS, 5, seen) > DATEADD(DAY, 1, born);
SELECT page_id, viewtime FROM pageviews EMIT CHANGES LIMIT 10
