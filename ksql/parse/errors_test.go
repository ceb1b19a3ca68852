package parse

import "testing"

// TestErrors checks the exact text of syntax errors: position, what was
// expected, and the hint.
func TestErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, age INT);", "line 1:28: unknown type 'TEXT'; types: BOOLEAN, INT, INTEGER, BIGINT, DOUBLE, DECIMAL, STRING, VARCHAR, BYTES, DATE, TIME, TIMESTAMP, ARRAY, MAP, STRUCT"},
		{"CREATE STREAM s (a STRNG) WITH (kafka_topic='t');", "line 1:20: unknown type 'STRNG' (did you mean STRING?)"},
		{"CREATE STREAM s WITH (kafka_topics='t');", "line 1:23: unknown property 'kafka_topics' (did you mean kafka_topic?)"},
		{"CREATE STREAM s WITH (kafka_topic='t', colour='red');", "line 1:40: unknown property 'colour'; known: format, kafka_topic, key_delimiter, key_format, key_schema_full_name, key_schema_id, partitions, replicas, source_connector, timestamp, timestamp_format, value_avro_schema_full_name, value_delimiter, value_format, value_schema_full_name, value_schema_id, window_size, window_type, wrap_single_value"},
		{"CREATE STREAM s WITH (kafka_topic='t', kafka_topic='u');", "line 1:40: property 'kafka_topic' is given twice"},
		{"CREATE STREAM s WITH (kafka_topic=t);", "line 1:35: expected a literal (a 'string', a number, TRUE, FALSE or NULL), found 't'"},
		{"CREATE STREAM s WITH (kafka_topic=1);", "line 1:35: property 'kafka_topic' takes a string in single quotes, got 1"},
		{"CREATE STREAM s WITH (kafka_topic='t', partitions='many');", "line 1:51: property 'partitions' takes an integer, got 'many'"},
		{"CREATE STREAM s WITH (kafka_topic='t', value_format='avor');", "line 1:53: unknown format 'avor' for 'value_format' (did you mean AVRO?); formats: AVRO, DELIMITED, JSON, JSON_SR, KAFKA, NONE, PROTOBUF, PROTOBUF_NOSR"},
		{"CREATE STREAM s WITH (kafka_topic='t', format='json', value_format='json');", "line 1:23: 'format' sets both the key and the value format: give either 'format' or 'key_format'/'value_format'"},
		{"CREATE STREAM s WITH (window_type='x', kafka_topic='t') AS SELECT * FROM a;", "line 1:23: unknown property 'window_type'; known: format, kafka_topic, key_delimiter, key_format, key_schema_full_name, key_schema_id, partitions, replicas, timestamp, timestamp_format, value_avro_schema_full_name, value_delimiter, value_format, value_schema_full_name, value_schema_id, wrap_single_value"},
		{"CREATE STREAM s (id INT PRIMARY KEY) WITH (kafka_topic='t');", "line 1:25: a stream's key column is declared KEY, not PRIMARY KEY (column ID)"},
		{"CREATE TABLE s (id INT KEY) WITH (kafka_topic='t');", "line 1:24: a table's key column is declared PRIMARY KEY, not KEY (column ID)"},
		{"CREATE STREAM s (a INT) AS SELECT * FROM t;", "line 1:17: CREATE STREAM … AS SELECT takes no column list: its columns are the SELECT's"},
		{"CREATE STREAM s SELECT * FROM t;", "line 1:17: expected AS before SELECT (CREATE STREAM S AS SELECT …)"},
		{"CREATE STREEM s;", "line 1:8: expected STREAM, TABLE, SOURCE CONNECTOR or SINK CONNECTOR after CREATE, found 'STREEM' (did you mean STREAM?)"},
		{"SELEC * FROM t;", "line 1:1: expected a statement (CREATE, INSERT, DROP, SET, UNSET, SELECT, SHOW, LIST, DESCRIBE, TERMINATE), found 'SELEC' (did you mean SELECT?)"},
		{"CREATE STREAM x AS SELECT * FROM t EMIT CHANGE;", "line 1:41: expected CHANGES or FINAL after EMIT, found 'CHANGE' (did you mean EMIT CHANGES?)"},
		{"CREATE STREAM x AS SELECT * FROM t c CHANGES;", "line 1:38: unexpected CHANGES (did you mean EMIT CHANGES?)"},
		{"CREATE STREAM x AS SELECT * FROM t EMITS CHANGES;", "line 1:42: unexpected CHANGES (did you mean EMIT CHANGES?)"},
		{"CREATE STREAM x AS SELECT * FROM t WHRE a = 1;", "line 1:41: expected WINDOW, WHERE, GROUP BY, PARTITION BY, HAVING, EMIT, LIMIT or the end of the query (';'), found 'a'"},
		{"SELECT * FROM t GROUP BY a WHERE a = 1;", "line 1:28: WHERE must come before GROUP BY (a query's clauses go in the order WINDOW, WHERE, GROUP BY, PARTITION BY, HAVING, EMIT, LIMIT)"},
		{"SELECT a b c FROM t;", "line 1:12: expected FROM or ',' after the SELECT list, found 'c'"},
		{"SELECT a, FROM t;", "line 1:11: expected an expression, found FROM"},
		{"SELECT * FROM t WHERE a = ;", "line 1:27: expected an expression, found ';'"},
		{"SELECT * FROM t WHERE (a = 1;", "line 1:29: expected ')', found ';'"},
		{"SELECT * FROM t WHERE a = 'abc;", "line 1:27: unterminated string (close it with ')"},
		{"SELECT * FROM size;", "line 1:15: expected a stream or table name, found reserved word SIZE (quote it as `size` to use it as a name)"},
		{"SELECT * FROM a JOIN b a.x = b.x;", "line 1:24: expected ON and the join condition, found 'a'"},
		{"SELECT * FROM a JOIN b WITHIN 7 WEEKS ON a.x = b.x;", "line 1:33: expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS), found 'WEEKS'; write weeks, months and years in DAYS"},
		{"SELECT * FROM a JOIN b WITHIN 7 DAYZ ON a.x = b.x;", "line 1:33: expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS), found 'DAYZ' (did you mean DAY or DAYS?)"},
		{"SELECT * FROM a OUTER JOIN b ON a.x = b.x;", "line 1:17: OUTER JOIN needs its side: LEFT, RIGHT or FULL OUTER JOIN"},
		{"SELECT * FROM t WINDOW SESSION (SIZE 5 MINUTES) GROUP BY a;", "line 1:33: a SESSION window takes its inactivity gap without SIZE: SESSION (5 MINUTES)"},
		{"SELECT * FROM t WINDOW HOPPING (SIZE 5 MINUTES) GROUP BY a;", "line 1:47: a HOPPING window needs ADVANCE BY: HOPPING (SIZE 1 HOUR, ADVANCE BY 10 MINUTES)"},
		{"SELECT * FROM t WINDOW TUMBLING (5 MINUTES) GROUP BY a;", "line 1:34: expected SIZE, found 5"},
		{"SELECT * FROM t WINDOW TUMBLING (SIZE 5 MINUTES, GRACE PERIOD 1 HOUR, RETENTION 2 HOURS) GROUP BY a;", "line 1:71: expected RETENTION or GRACE PERIOD (in that order), found RETENTION"},
		{"SELECT * FROM t WINDOW TUMBLNG (SIZE 5 MINUTES) GROUP BY a;", "line 1:24: expected TUMBLING, HOPPING or SESSION after WINDOW, found 'TUMBLNG' (did you mean TUMBLING?)"},
		{"SELECT CAST(a AS) FROM t;", "line 1:17: expected a type, found ')'"},
		{"SELECT CAST(a STRING) FROM t;", "line 1:15: expected AS and the target type (CAST(x AS type)), found 'STRING'"},
		{"SELECT CAST(a AS DECIMAL(2, 3)) FROM t;", "line 1:29: DECIMAL scale 3 exceeds its precision 2"},
		{"SELECT CASE WHEN a THEN 1 FROM t;", "line 1:27: expected WHEN, ELSE or END, found FROM"},
		{"SELECT a LIKE 'x' ESCAPE 'ab' FROM t;", "line 1:26: ESCAPE takes one character, got 'ab'"},
		{"SELECT MAP('a' = 1) FROM t;", "line 1:19: expected ':=' between the map key and value (MAP('k' := v)), found ')'"},
		{"SELECT a.b.c FROM t;", "line 1:11: unexpected '.' after A.B (read a STRUCT field with ->)"},
		{"SELECT a = b = c FROM t;", "line 1:14: expected FROM or ',' after the SELECT list, found '='"},
		{"SELECT 99999999999999999999 FROM t;", "line 1:8: integer 99999999999999999999 is out of range for BIGINT (write it as a decimal, 99999999999999999999.0, or a double, 99999999999999999999e0)"},
		{"SELECT 12abc FROM t;", "line 1:8: malformed number 12…: quote an identifier that starts with a digit (`12…`)"},
		{"SELECT a # b FROM t;", "line 1:10: unexpected character '#'"},
		{"SELECT ${v} FROM t;", "line 1:8: variable substitution (${v}) is not supported"},
		{"SELECT * FROM t /* open", "line 1:17: unterminated comment /* … (close it with */)"},
		{"SET auto.offset.reset = 'earliest';", "line 1:5: expected a quoted property name after SET (SET 'auto.offset.reset' = 'earliest'), found 'auto'"},
		{"INSERT INTO s VALUES (1);", "line 1:15: INSERT INTO … VALUES is not supported: a sluice stream's rows come from its source"},
		{"INSERT INTO s WITH (kafka_topic='x') SELECT * FROM t;", "line 1:21: unknown property 'kafka_topic'; known: query_id"},
		{"DROP VIEW v;", "line 1:6: expected STREAM, TABLE or CONNECTOR after DROP, found VIEW"},
		{"EXPLAIN SELECT * FROM t;", "line 1:1: EXPLAIN statements are not supported"},
		{"SHOW STRAEMS;", "line 1:6: expected STREAMS, TABLES, QUERIES, CONNECTORS, TOPICS, PROPERTIES or FUNCTIONS, found 'STRAEMS' (did you mean STREAMS?)"},
		{"DESCRIBE s EXTENDED x;", "line 1:21: expected ';' after the statement, found 'x'"},
		{"SELECT * FROM t\n  WHERE a IS NOT 1;", "line 2:18: expected NULL after IS, found 1"},
		{"SELECT TRANSFORM(a, x => x + 1) FROM t;", "line 1:23: lambda functions (x => …) are not supported"},
		{"SELECT * FROM t LIMIT x;", "line 1:23: expected a row count after LIMIT, found 'x'"},
	} {
		_, err := Parse(tc.src)
		if err == nil {
			t.Errorf("%q: no error, want %q", tc.src, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%q:\n got: %s\nwant: %s", tc.src, err, tc.want)
		}
	}
}

// TestErrorsEveryStatement: one run reports the error of each broken
// statement and keeps the good ones.
func TestErrorsEveryStatement(t *testing.T) {
	src := "SET 'a' = 'b';\nSELECT FROM;\nSHOW STREAMS;\nCREATE STREAM s WITH (kafka_topik='t');\nDROP STREAM s"
	stmts, err := Parse(src)
	want := "line 2:8: expected an expression, found FROM\nline 4:23: unknown property 'kafka_topik' (did you mean kafka_topic?)"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
	if len(stmts) != 3 {
		t.Fatalf("%d statements kept, want 3", len(stmts))
	}
	if len(err.(ErrorList)) != 2 {
		t.Fatalf("ErrorList has %d errors", len(err.(ErrorList)))
	}
}
