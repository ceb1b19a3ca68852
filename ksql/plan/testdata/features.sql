SET 'auto.offset.reset' = 'earliest';
CREATE STREAM pageviews WITH (kafka_topic = 'pg.public.pageviews', value_format = 'json', timestamp = 'viewtime');
CREATE TABLE users WITH (kafka_topic = 'pg.public.users', value_format = 'avro');
CREATE TABLE regions (code STRING PRIMARY KEY, name STRING) WITH (kafka_topic = 'pg.public.regions', format = 'json');
CREATE STREAM clicks (user_id STRING KEY, page_id STRING, clicked_at BIGINT) WITH (kafka_topic = 'pg.public.clicks', value_format = 'json');
CREATE STREAM proj AS
  SELECT page_id, UCASE(page_id) AS up, viewtime / 1000 AS secs, viewtime * 1.5 AS weighted,
         CASE WHEN viewtime > 100 THEN 'long' ELSE 'short' END AS kind,
         CAST(viewtime AS STRING) AS vt, COALESCE(user_id, 'anon'), tags[1], TIMESTAMPTOSTRING(ROWTIME, 'yyyy-MM-dd') AS day,
         page_id IN ('a', 'b'), viewtime BETWEEN 1 AND 10.5, ARRAY[1, 2], MAP('k' := viewtime), STRUCT(a := 1, b := page_id)->b
  FROM pageviews WHERE page_id LIKE 'home%' AND user_id IS NOT NULL EMIT CHANGES;
CREATE STREAM pv_users AS SELECT pv.*, u.region, u.balance FROM pageviews pv LEFT JOIN users u ON pv.user_id = u.id;
CREATE STREAM both_ways AS SELECT p.user_id, c.page_id AS clicked, p.page_id AS viewed FROM clicks c JOIN pageviews p WITHIN (1 MINUTE, 5 MINUTES) GRACE PERIOD 10 SECONDS ON c.user_id = p.user_id;
CREATE TABLE user_regions AS SELECT u.id, u.gender, r.name AS region_name FROM users u JOIN regions r ON u.region = r.code;
CREATE TABLE users_again AS SELECT id, gender FROM users WHERE gender <> 'x';
CREATE TABLE user_pairs AS SELECT * FROM users a FULL OUTER JOIN users_again b ON a.id = b.id;
CREATE TABLE user_full AS SELECT ROWKEY AS id, a.gender AS g1, b.gender AS g2 FROM users a FULL OUTER JOIN users_again b ON a.id = b.id;
CREATE TABLE per_page AS SELECT page_id, COUNT(*) AS n, SUM(viewtime) AS total, WINDOWSTART AS ws FROM pageviews
  WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 5 MINUTES) GROUP BY page_id HAVING COUNT(*) > 1 EMIT FINAL;
CREATE TABLE hops AS SELECT page_id, user_id, MAX(viewtime) FROM pageviews WINDOW HOPPING (SIZE 10 MINUTES, ADVANCE BY 1 MINUTE, RETENTION 2 DAYS) GROUP BY page_id, user_id;
CREATE TABLE sessions AS SELECT UCASE(user_id), COLLECT_SET(page_id) AS pages FROM pageviews WINDOW SESSION (30 MINUTES) GROUP BY UCASE(user_id);
CREATE TABLE by_gender AS SELECT gender, COUNT(*) AS n, AVG(balance) AS avg_balance FROM users GROUP BY gender;
CREATE STREAM rekeyed AS SELECT page_id, viewtime FROM pageviews PARTITION BY page_id;
CREATE STREAM rekeyed2 AS SELECT UCASE(page_id) AS k, user_id, viewtime FROM pageviews PARTITION BY UCASE(page_id), user_id;
CREATE STREAM all_views (page_id STRING KEY, viewtime BIGINT) WITH (kafka_topic = 'all_views', partitions = 1, value_format = 'json');
INSERT INTO all_views SELECT page_id, viewtime FROM rekeyed;
CREATE STREAM events WITH (kafka_topic = 'mongo.db.events', value_format = 'avro');
CREATE STREAM event_types AS SELECT type FROM events;
SELECT * FROM users WHERE id = 'u1';
DROP STREAM both_ways;
TERMINATE CTAS_BY_GENDER_14;
