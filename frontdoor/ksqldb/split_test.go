package ksqldb

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Statement
	}{
		{"SHOW STREAMS;SHOW TABLES;", []Statement{{"SHOW STREAMS;", 1}, {"SHOW TABLES;", 1}}},
		{"-- a comment; not a statement\nSET 'a' = 'x;y';\n\n/* ; */ SHOW\n  QUERIES;", []Statement{{"SET 'a' = 'x;y';", 2}, {"SHOW\n  QUERIES;", 4}}},
		{"CREATE STREAM `a;b` WITH (kafka_topic = 'it''s;');", []Statement{{"CREATE STREAM `a;b` WITH (kafka_topic = 'it''s;');", 1}}},
		{"SELECT \"x;\" FROM t -- trailing; comment\n;", []Statement{{"SELECT \"x;\" FROM t -- trailing; comment\n;", 1}}},
		{"SHOW STREAMS", []Statement{{"SHOW STREAMS", 1}}},
		{"  \n -- only a comment\n", nil},
		{"'unterminated; quote", []Statement{{"'unterminated; quote", 1}}},
	} {
		if got := Split(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Split(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestMasked(t *testing.T) {
	in := "CREATE SOURCE CONNECTOR c WITH ('database.password' = 'p''w', 'database.user' = 'u', 'mongodb.password'='x', \"name\" = 'y');"
	want := "CREATE SOURCE CONNECTOR c WITH ('database.password' = '[hidden]', 'database.user' = 'u', 'mongodb.password'='[hidden]', \"name\" = 'y');"
	if got := masked(in); got != want {
		t.Fatalf("masked:\n%s\nwant\n%s", got, want)
	}
	in = "CREATE SINK CONNECTOR s WITH ('connection.url' = 'jdbc:postgresql://h/db?user=u&password=pw', 'mongodb.connection.string' = 'mongodb://u:pw@h/');"
	want = "CREATE SINK CONNECTOR s WITH ('connection.url' = 'jdbc:postgresql://h/db?user=u&password=[hidden]', 'mongodb.connection.string' = 'mongodb://u:[hidden]@h/');"
	if got := masked(in); got != want {
		t.Fatalf("masked:\n%s\nwant\n%s", got, want)
	}
}
