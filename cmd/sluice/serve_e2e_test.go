package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/internal/topiclog"
)

// serveRun is a `sluice serve` child process.
type serveRun struct {
	cmd *exec.Cmd
	url string // http://HOST:PORT
	dir string // the test's directory, with stderr.log
}

var servingAddr = regexp.MustCompile(`msg="serving the Kafka Connect REST API" addr=(\S+)`)

// startServe starts `sluice serve --http 127.0.0.1:0 args...` with env
// added to its environment and its stderr appended to dir/stderr.log and waits until it serves, reading the
// address it bound from its log. A server still running when the test ends
// is killed.
func startServe(t *testing.T, dir string, env []string, args ...string) *serveRun {
	t.Helper()
	logPath := filepath.Join(dir, "stderr.log")
	before := fileSize(logPath)
	cmd := exec.Command(bin, append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(cmd) })
	r := &serveRun{cmd: cmd, dir: dir}
	waitFor(t, 60*time.Second, "sluice serve to listen", dir, func() bool {
		b, _ := os.ReadFile(logPath)
		if int64(len(b)) < before {
			return false
		}
		if m := servingAddr.FindSubmatch(b[before:]); m != nil {
			r.url = "http://" + string(m[1])
			return true
		}
		return false
	})
	return r
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// call sends a request as the seeds' curl commands do (a JSON body) and
// returns the status code and the body.
func (r *serveRun) call(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v; sluice stderr (tail):\n%s", method, path, err, stderrTail(r.dir))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (r *serveRun) expect(t *testing.T, method, path, body string, code int) []byte {
	t.Helper()
	got, b := r.call(t, method, path, body)
	if got != code {
		t.Fatalf("%s %s: %d %s, want %d; sluice stderr (tail):\n%s", method, path, got, b, code, stderrTail(r.dir))
	}
	return b
}

// waitRunning waits until the connector and its task are RUNNING and
// returns the status body.
func (r *serveRun) waitRunning(t *testing.T, name string) []byte {
	t.Helper()
	var last []byte
	waitFor(t, 60*time.Second, name+" RUNNING", r.dir, func() bool {
		code, b := r.call(t, "GET", "/connectors/"+name+"/status", "")
		last = b
		var st struct {
			Connector struct{ State string }
			Tasks     []struct{ State string }
		}
		return code == 200 && json.Unmarshal(b, &st) == nil && st.Connector.State == "RUNNING" &&
			len(st.Tasks) == 1 && st.Tasks[0].State == "RUNNING"
	})
	return last
}

func (r *serveRun) stop(t *testing.T) {
	t.Helper()
	stopRun(t, r.cmd, r.dir)
}

// seed001Connector is seed 001's request body, verbatim: curl --request PUT
// 'http://localhost:8083/connectors/connector-debezium-product-001/config'.
const seed001Connector = `{
    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
    "database.hostname": "product_db",
    "database.port": "5432",
    "database.user": "postgres",
    "database.password": "secret",
    "database.dbname" : "product_db",
    "database.server.name": "fulfillment"
  }`

// atTestPostgres points a Debezium PostgreSQL connector body at the test
// server: only the values of database.hostname, database.port and
// database.dbname change (the seed's host is its compose service; the test
// server trusts local connections, so the seed's user and password stay).
func atTestPostgres(t *testing.T, body, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if u.User.Username() != "postgres" {
		t.Fatalf("the seed connects as postgres; the test server's DSN names %q", u.User.Username())
	}
	out := strings.NewReplacer(
		`"database.hostname": "product_db"`, `"database.hostname": "`+u.Hostname()+`"`,
		`"database.port": "5432"`, `"database.port": "`+u.Port()+`"`,
		`"database.dbname" : "product_db"`, `"database.dbname" : "`+strings.TrimPrefix(u.Path, "/")+`"`,
	).Replace(body)
	if strings.Count(out, "product_db") != 0 {
		t.Fatalf("the seed body changed: %s", body)
	}
	return out
}

// TestServeSeed001 is seed 001 through `sluice serve` without Kafka: its
// curl command (the Debezium PostgreSQL connector, body verbatim but for
// the server's host, port and database) snapshots and streams the product
// table into the topic fulfillment.public.product of the server's topic
// log; GET /connectors and the status answer as in the seed. What
// kafka-console-consumer would print of the topic — the values, Debezium's
// envelope with its schema, as the seed's worker's JsonConverter writes
// them — equals, record for record, what the YAML pipeline of
// TestSeed001Flow writes (its golden file). A FileStreamSink connector on
// the topic stands in for the console consumer while the server runs, and
// the server is restarted in the middle: the connector comes back and
// resumes from its checkpoint, with no record lost or repeated.
func TestServeSeed001(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	ctx := context.Background()
	exec1 := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := db.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	exec1(`CREATE TABLE product (id serial PRIMARY KEY, name varchar(500) NOT NULL, price double precision NOT NULL DEFAULT 0,
			color varchar(50), category varchar(50) NOT NULL, quantity int NOT NULL DEFAULT 0, description varchar(1000),
			"internalId" varchar(50) NOT NULL)`,
		`INSERT INTO product (name, price, color, category, quantity, description, "internalId")
			VALUES ('Incredible Iron Pants', 0.61987811851418, 'violet', 'Tools', 41, '?', 'B0009PC1XA')`,
		`CREATE TABLE marker (id int PRIMARY KEY)`)
	dir := t.TempDir()
	state, files := filepath.Join(dir, "state"), filepath.Join(dir, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, dir, nil, "--state-dir", state, "--files", files)

	const name = "connector-debezium-product-001"
	s.expect(t, "PUT", "/connectors/"+name+"/config", atTestPostgres(t, seed001Connector, dsn), 201)
	if b := s.expect(t, "GET", "/connectors", "", 200); string(b) != `["`+name+`"]`+"\n" {
		t.Errorf("GET /connectors: %s", b)
	}
	worker := strings.TrimPrefix(s.url, "http://")
	st := s.waitRunning(t, name)
	if want := `{"name":"` + name + `","connector":{"state":"RUNNING","worker_id":"` + worker + `"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"` + worker + `"}],"type":"source"}` + "\n"; string(st) != want {
		t.Errorf("status:\n got %s\nwant %s", st, want)
	}
	s.expect(t, "PUT", "/connectors/console/config",
		`{"connector.class":"FileStreamSink","file":"console.txt","topics.regex":"fulfillment\\.public\\..*"}`, 201)
	console := filepath.Join(files, "console.txt")
	waitLines(t, console, 1, 60*time.Second)

	exec1(`INSERT INTO product (name, price, color, category, quantity, description, "internalId")
			VALUES ('Small Rubber Hat', 12.5, NULL, 'Garden', 3, NULL, 'B07XYZ1234')`)
	waitLines(t, console, 2, 60*time.Second)
	// The server goes down and comes back: both connectors resume from
	// their checkpoints.
	s.stop(t)
	s = startServe(t, dir, nil, "--state-dir", state, "--files", files)
	s.waitRunning(t, name)
	// A row in another table after the delete: once the consumer has it,
	// the delete's records (the envelope, then a tombstone) are in the
	// topic too, or in a write the server's drain completes.
	exec1(`UPDATE product SET quantity = quantity - 1 WHERE id = 1`,
		`DELETE FROM product WHERE id = 2`,
		`INSERT INTO marker VALUES (1)`)
	waitLines(t, console, 4, 60*time.Second)
	s.stop(t)

	// The consumer's file: one row per create and update (the lines sink
	// writes rows; a delete is no row), topics interleaved in any order.
	got, _ := os.ReadFile(console)
	lines := strings.SplitAfter(string(got), "\n")
	sort.Strings(lines)
	want := `{"id":1,"name":"Incredible Iron Pants","price":0.61987811851418,"color":"violet","category":"Tools","quantity":40,"description":"?","internalId":"B0009PC1XA"}
{"id":1,"name":"Incredible Iron Pants","price":0.61987811851418,"color":"violet","category":"Tools","quantity":41,"description":"?","internalId":"B0009PC1XA"}
{"id":1}
{"id":2,"name":"Small Rubber Hat","price":12.5,"color":null,"category":"Garden","quantity":3,"description":null,"internalId":"B07XYZ1234"}
`
	if strings.Join(lines, "") != want {
		t.Errorf("console.txt, sorted:\n%s\nwant\n%s", strings.Join(lines, ""), want)
	}

	// The topic, read from the start as kafka-console-consumer
	// --from-beginning would.
	values, keys := readTopicLog(t, filepath.Join(state, "topics"), "fulfillment.public.product")
	golden, err := os.ReadFile(filepath.Join("testdata", "seed001-debezium-schema.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var gotValues bytes.Buffer
	for _, v := range values {
		if v == nil {
			continue // the delete's tombstone: the file sink writes none
		}
		gotValues.Write(v)
		gotValues.WriteByte('\n')
	}
	if n := normalize(gotValues.Bytes()); !bytes.Equal(n, golden) {
		t.Errorf("topic values differ from the YAML pipeline's (testdata/seed001-debezium-schema.jsonl):\n%s\nwant\n%s", n, golden)
	}
	if len(values) != 5 || values[4] != nil {
		t.Errorf("topic: %d records, want the 4 changes and a tombstone last", len(values))
	}
	wantKeys := []string{`{"id":1}`, `{"id":2}`, `{"id":1}`, `{"id":2}`, `{"id":2}`}
	for i, k := range keys {
		if i >= len(wantKeys) || !strings.HasSuffix(string(k), `"payload":`+wantKeys[i]+`}`) {
			t.Errorf("key %d: %s, want the payload %s", i, k, wantKeys[min(i, len(wantKeys)-1)])
		}
	}
}

// readTopicLog reads a topic of a topic log (one the server has let go of)
// from its first offset: the values (nil for a tombstone) and the keys.
func readTopicLog(t *testing.T, dir, topic string) (values, keys [][]byte) {
	t.Helper()
	l, err := topiclog.Open(dir, topiclog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tp, err := l.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	r := tp.NewReader(0)
	defer r.Close()
	recs, err := r.Read(nil, 1000, 1<<26)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		values = append(values, rec.Value)
		keys = append(keys, rec.Key)
	}
	return values, keys
}

// Seed 003's request bodies, verbatim: curl -i -X PUT
// http://localhost:8083/connectors/{SOURCE_POSTGRES,SINK_MYSQL,SINK_S3}/config.
const (
	seed003Source = `{
            "connector.class":"io.confluent.connect.jdbc.JdbcSourceConnector",
            "connection.url":"jdbc:postgresql://postgres:5432/TEST",
            "connection.user":"TEST",
            "connection.password":"password",
            "poll.interval.ms":"1000",
            "mode":"incrementing",
            "incrementing.column.name":"index",
            "topic.prefix":"P_",
            "table.whitelist":"USERS",
            "validate.non.null":"false"
        }`
	seed003MySQL = `{
               "connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector",
               "tasks.max":1,
               "topics":"P_USERS",
           "insert.mode":"insert",
               "connection.url":"jdbc:mysql://mysql:3306/TEST",
               "connection.user":"TEST",
               "connection.password":"password",
               "auto.create":true
         }`
	seed003S3 = `
{
    "connector.class": "io.confluent.connect.s3.S3SinkConnector",
    "s3.region": "ap-southeast-1",
    "s3.bucket.name": "bucket-name",
    "topics": "P_USERS",
    "flush.size": "5",
    "timezone": "UTC",
    "tasks.max": "1",
    "value.converter.value.subject.name.strategy": "io.confluent.kafka.serializers.subject.RecordNameStrategy",
    "locale": "US",
    "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
    "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
    "internal.value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "storage.class": "io.confluent.connect.s3.storage.S3Storage",
    "rotate.schedule.interval.ms": "6000"
}`
)

// replaceAll applies pairs of replacements to body and fails the test
// unless each old text occurs exactly once, so a change to the seed body
// cannot go unnoticed.
func replaceAll(t *testing.T, body string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if n := strings.Count(body, pairs[i]); n != 1 {
			t.Fatalf("%q occurs %d times in the seed body", pairs[i], n)
		}
		body = strings.Replace(body, pairs[i], pairs[i+1], 1)
	}
	return body
}

// TestServeSeed003 is seed 003 through `sluice serve` without Kafka: its
// three curl commands, in its order, with the bodies verbatim but for the
// connection values (JDBC URLs, users and passwords of the test servers),
// the bucket and its region, and store.url (the S3 connector's key for a
// server other than AWS; the seed's AWS credentials come from the
// worker's environment, as here). The JDBC source polls USERS into the
// topic P_USERS of the topic log; the JDBC sink creates P_USERS in MySQL
// (auto.create) and inserts every row; the S3 sink writes JSON objects of
// 5 records (flush.size) or what it has after 6 s (rotate.schedule.interval.ms).
func TestServeSeed003(t *testing.T) {
	l := newLake(t)
	target := newMariaDB(t)
	mc, err := mysql.ParseDSN(target.env)
	if err != nil {
		t.Fatal(err)
	}
	dsn, exec1 := seed003Users(t)
	pg, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pgPass, _ := pg.User.Password()
	dir := t.TempDir()
	endpoint := svctest.Need(t, svctest.S3)
	s := startServe(t, dir, []string{"AWS_ACCESS_KEY_ID=" + os.Getenv("SLUICE_S3_ACCESS_KEY"), "AWS_SECRET_ACCESS_KEY=" + os.Getenv("SLUICE_S3_SECRET_KEY")},
		"--state-dir", filepath.Join(dir, "state"))

	s.expect(t, "PUT", "/connectors/SOURCE_POSTGRES/config", replaceAll(t, seed003Source,
		`jdbc:postgresql://postgres:5432/TEST`, "jdbc:postgresql://"+pg.Host+pg.Path,
		`"connection.user":"TEST"`, `"connection.user":"`+pg.User.Username()+`"`,
		`"connection.password":"password"`, `"connection.password":"`+pgPass+`"`), 201)
	s.expect(t, "PUT", "/connectors/SINK_MYSQL/config", replaceAll(t, seed003MySQL,
		`jdbc:mysql://mysql:3306/TEST`, "jdbc:mysql://"+mc.Addr+"/"+mc.DBName,
		`"connection.user":"TEST"`, `"connection.user":"`+mc.User+`"`,
		`"connection.password":"password"`, `"connection.password":"`+mc.Passwd+`"`), 201)
	s.expect(t, "PUT", "/connectors/SINK_S3/config", replaceAll(t, seed003S3,
		`"s3.region": "ap-southeast-1"`, `"s3.region": "`+cmpOr(os.Getenv("SLUICE_S3_REGION"), "us-east-1")+`"`,
		`"s3.bucket.name": "bucket-name"`, `"s3.bucket.name": "`+l.bucket+`", "store.url": "`+endpoint+`"`), 201)
	if b := s.expect(t, "GET", "/connectors", "", 200); string(b) != `["SINK_MYSQL","SINK_S3","SOURCE_POSTGRES"]`+"\n" {
		t.Errorf("GET /connectors: %s", b)
	}
	for _, n := range []string{"SOURCE_POSTGRES", "SINK_MYSQL", "SINK_S3"} {
		s.waitRunning(t, n)
	}

	q := "SELECT CONCAT_WS('|', `index`, name, COALESCE(email, 'NULL'), signed_up, COALESCE(score, 'NULL')) FROM `P_USERS` ORDER BY `index`"
	waitFor(t, time.Minute, "the first rows in MySQL", dir, func() bool { return len(target.rows(t, q)) == 2 })
	// The two rows are flushed by the time rotation; then five rows in one
	// transaction make an object by count.
	l.waitObjects(t, 1, time.Minute, dir)
	exec1(`INSERT INTO "USERS" (name, email, signed_up) SELECT 'user ' || i, 'u' || i || '@example.com', '2024-03-03 00:00:00Z' FROM generate_series(3, 7) i`)
	waitFor(t, time.Minute, "the later rows in MySQL", dir, func() bool { return len(target.rows(t, q)) == 7 })
	l.waitObjects(t, 2, time.Minute, dir)
	s.stop(t)

	want := []string{
		"1|Ada|ada@example.com|2024-03-01 08:30:00.250000|12.50",
		"2|Bob|NULL|2024-03-02 10:00:00.000000|NULL",
		"3|user 3|u3@example.com|2024-03-03 00:00:00.000000|NULL",
		"4|user 4|u4@example.com|2024-03-03 00:00:00.000000|NULL",
		"5|user 5|u5@example.com|2024-03-03 00:00:00.000000|NULL",
		"6|user 6|u6@example.com|2024-03-03 00:00:00.000000|NULL",
		"7|user 7|u7@example.com|2024-03-03 00:00:00.000000|NULL",
	}
	if got := target.rows(t, q); !slices.Equal(got, want) {
		t.Errorf("MySQL rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The objects are named by topic (topics.dir/<topic>/partition=0) as
	// the connector's DefaultPartitioner names them; the file names hold
	// sluice's positions of the first and last rows, where Connect's hold
	// the partition and the first Kafka offset.
	keys := l.keys(t)
	var objects []string
	for _, k := range keys {
		objects = append(objects, k+"\n"+string(l.get(t, k)))
	}
	user := func(i int) string {
		return fmt.Sprintf(`{"index":%d,"name":"user %d","email":"u%d@example.com","signed_up":"2024-03-03T00:00:00.000000Z","score":null}`+"\n", i, i, i)
	}
	wantObjects := []string{
		"topics/P_USERS/partition=0/P_USERS+s000000000001+s000000000002.jsonl\n" + `{"index":1,"name":"Ada","email":"ada@example.com","signed_up":"2024-03-01T08:30:00.250000Z","score":"BOI="}` + "\n" +
			`{"index":2,"name":"Bob","email":null,"signed_up":"2024-03-02T10:00:00.000000Z","score":null}` + "\n",
		"topics/P_USERS/partition=0/P_USERS+s000000000003+s000000000007.jsonl\n" + user(3) + user(4) + user(5) + user(6) + user(7),
	}
	if !slices.Equal(objects, wantObjects) {
		t.Errorf("S3 objects:\n%s\nwant:\n%s", strings.Join(objects, "--\n"), strings.Join(wantObjects, "--\n"))
	}
}
