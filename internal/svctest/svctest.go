// Package svctest finds the services that the project's scripts start for
// integration tests (MariaDB, OpenSearch, Elasticsearch, Kafka, S3, FerretDB
// for MongoDB's wire protocol), and gives tests a TCP proxy that can cut a
// service off to simulate an outage.
//
// Servers configured differently from the shared ones are started by the
// same scripts with a private SLUICE_TMP (StartPrivate): MariaDB and Kafka
// with TLS (MariaDBTLS, StartKafkaSASL, their certificates from
// internal/testpki); AuthProxy puts HTTPS and credentials in front of a
// search cluster that has no security plugin.
//
// Without the service's environment variable a test is skipped with a how-to
// message, except in CI ($CI set), where it fails: integration tests never
// pass silently when the service is missing. PostgreSQL has its own package,
// internal/pgtest.
package svctest

import (
	"os"
	"testing"
)

// Service names a service: its environment variable and the script that
// starts it.
type Service struct {
	Env    string // e.g. SLUICE_MYSQL_DSN
	Script string // e.g. "scripts/mariadb.sh start"
}

// Services the project's scripts start.
var (
	MariaDB        = Service{"SLUICE_MYSQL_DSN", "scripts/mariadb.sh start"}
	OpenSearch     = Service{"SLUICE_OPENSEARCH_URL", "scripts/opensearch.sh start"}
	Elasticsearch  = Service{"SLUICE_ELASTICSEARCH_URL", "scripts/elasticsearch.sh start"}
	Elasticsearch7 = Service{"SLUICE_ELASTICSEARCH7_URL", "scripts/elasticsearch.sh start 7"}
	Kafka          = Service{"SLUICE_KAFKA_BROKERS", "scripts/kafka.sh start"}
	S3             = Service{"SLUICE_S3_ENDPOINT", "scripts/s3.sh start"}
	FerretDB       = Service{"SLUICE_MONGODB_URI", "scripts/ferretdb.sh start"}
	// Connect is a real Kafka Connect worker (Apache Kafka's, from Maven
	// Central) for the REST API's differential test; it needs Kafka.
	Connect = Service{"SLUICE_CONNECT_URL", "scripts/connect.sh start"}
	// Debezium is not a service but Debezium 2.7.3's embedded engine
	// (jars and a compiled runner) for the differential tests.
	Debezium = Service{"SLUICE_DEBEZIUM", "scripts/debezium.sh start"}
	// KStreams is Kafka Streams 3.9.2's TopologyTestDriver (jars and the
	// compiled scripts/kstreams/Oracle.java) for the streaming SQL's
	// differential test.
	KStreams = Service{"SLUICE_KSTREAMS", "scripts/kstreams.sh start"}
)

// Need returns the service's address from its environment variable. When it
// is unset the test is skipped, or failed when $CI is set.
func Need(t testing.TB, s Service) string {
	t.Helper()
	v := os.Getenv(s.Env)
	if v == "" {
		msg := s.Env + " is not set; run `eval \"$(" + s.Script + ")\"` from the repository root (or scripts/test.sh, which starts every service)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return v
}
