package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// lake is a fresh bucket on the S3 server of scripts/s3.sh.
type lake struct {
	bucket string
	api    *s3.Client
	env    []string // for the sluice process
}

func newLake(t *testing.T) *lake {
	t.Helper()
	endpoint := svctest.Need(t, svctest.S3)
	region := cmpOr(os.Getenv("SLUICE_S3_REGION"), "us-east-1")
	api := s3.New(s3.Options{
		Region: region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("SLUICE_S3_ACCESS_KEY"), os.Getenv("SLUICE_S3_SECRET_KEY"), ""),
	})
	b := make([]byte, 4)
	rand.Read(b)
	l := &lake{bucket: "e2e-" + strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")) + "-" + hex.EncodeToString(b), api: api}
	if _, err := api.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &l.bucket}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	l.env = []string{"S3_ENDPOINT=" + endpoint, "S3_REGION=" + region, "S3_BUCKET=" + l.bucket,
		"S3_KEY=" + os.Getenv("SLUICE_S3_ACCESS_KEY"), "S3_SECRET=" + os.Getenv("SLUICE_S3_SECRET_KEY")}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, k := range l.keys(t) {
			api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &l.bucket, Key: aws.String(k)})
		}
		api.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &l.bucket})
	})
	return l
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (l *lake) keys(t *testing.T) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(l.api, &s3.ListObjectsV2Input{Bucket: &l.bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			keys = append(keys, *o.Key)
		}
	}
	sort.Strings(keys)
	return keys
}

func (l *lake) get(t *testing.T, key string) []byte {
	t.Helper()
	out, err := l.api.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &l.bucket, Key: &key})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitObjects polls until the bucket holds n objects; a timeout fails
// the test with the tail of the runs' stderr.log in dir (the sink's
// retries, a stalled source).
func (l *lake) waitObjects(t *testing.T, n int, d time.Duration, dir string) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		keys := l.keys(t)
		if len(keys) >= n {
			return keys
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d objects (have %d: %v); sluice stderr (tail):\n%s", n, len(keys), keys, stderrTail(dir))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// s3Sink is the pipeline text of an s3 sink on the lake.
const s3Sink = `    type: s3
    bucket: ${S3_BUCKET}
    endpoint: ${S3_ENDPOINT}
    region: ${S3_REGION}
    path_style: true
    access_key_id: ${S3_KEY}
    secret_access_key: ${S3_SECRET}
`

// objectName matches the sink's object names under the default partition.
var objectName = regexp.MustCompile(`^topics/pg\.public\.(\w+)/dt=(\d{4}-\d\d-\d\d)/hour=(\d\d)/pg\.public\.(\w+)\+(s\d{12}|[0-9a-f]{16}-[0-9a-f]{16})\+(s\d{12}|[0-9a-f]{16}-[0-9a-f]{16})\.jsonl$`)

// TestSeed003S3Flow is seed 003's data-lake leg: a users table streamed by
// a PostgreSQL source into S3 as JSON, flush size 5 and a time rotation
// (Kafka Connect's flush.size 5, rotate.schedule.interval.ms), partitioned by
// commit hour. The object list and every object's content are checked.
func TestSeed003S3Flow(t *testing.T) {
	l := newLake(t)
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	ctx := context.Background()
	exec1 := func(q string) {
		t.Helper()
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec1(`CREATE TABLE users (index serial PRIMARY KEY, name text NOT NULL, email text)`)
	exec1(`INSERT INTO users (name, email) VALUES ('Ada', 'ada@example.com'), ('Bob', NULL)`)
	dir := t.TempDir()
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %s/state
sources:
  pg:
    type: postgres
    dsn: ${SEED_DSN}
    tables: [public.users]
sinks:
  lake:
    inputs: [pg]
%s    prefix: topics
    format: row
    unwrap:
      delete_handling: rewrite
      add_fields: [op, source.ts_ms, lsn]
    flush_size: 5
    rotate_schedule_interval: 1s
`, dir, s3Sink))
	cmd := startSluice(t, dir, p, append([]string{"SEED_DSN=" + dsn}, l.env...)...)
	// The snapshot's two rows: flushed by the time rotation.
	l.waitObjects(t, 1, 30*time.Second, dir)
	// Twelve rows in one transaction: two objects by count, the rest by time.
	var values []string
	for i := 3; i <= 14; i++ {
		values = append(values, fmt.Sprintf("('user %d', 'u%d@example.com')", i, i))
	}
	exec1(`INSERT INTO users (name, email) VALUES ` + strings.Join(values, ", "))
	l.waitObjects(t, 4, 30*time.Second, dir)
	exec1(`BEGIN; UPDATE users SET email = 'bob@example.com' WHERE index = 2; DELETE FROM users WHERE index = 3; COMMIT`)
	l.waitObjects(t, 5, 30*time.Second, dir)
	stopRun(t, cmd, dir)

	// Every object's name follows from its content: the partition from the
	// commit time, the positions from the first and last records.
	type object struct {
		first   string
		content string
	}
	volatile := regexp.MustCompile(`"__source_ts_ms":\d+,"__lsn":\d+`)
	var objs []object
	keys := l.keys(t)
	for _, k := range keys {
		m := objectName.FindStringSubmatch(k)
		if m == nil {
			t.Fatalf("object name %s does not match %s", k, objectName)
		}
		body := l.get(t, k)
		lines := strings.SplitAfter(strings.TrimSuffix(string(body), "\n"), "\n")
		var first, last struct {
			TsMs int64  `json:"__source_ts_ms"`
			LSN  uint64 `json:"__lsn"`
			Op   string `json:"__op"`
		}
		json.Unmarshal([]byte(lines[0]), &first)
		json.Unmarshal([]byte(lines[len(lines)-1]), &last)
		at := time.UnixMilli(first.TsMs).UTC()
		if m[2] != at.Format("2006-01-02") || m[3] != at.Format("15") {
			t.Errorf("%s: partition dt=%s/hour=%s, first record committed at %s", k, m[2], m[3], at)
		}
		if first.Op == "r" {
			if want := fmt.Sprintf("s%012d+s%012d", 1, len(lines)); m[5]+"+"+m[6] != want {
				t.Errorf("%s: snapshot positions, want %s", k, want)
			}
		} else if !strings.HasSuffix(m[5], fmt.Sprintf("-%016x", first.LSN)) || !strings.HasSuffix(m[6], fmt.Sprintf("-%016x", last.LSN)) {
			t.Errorf("%s: positions do not name its first and last records (lsn %x, %x)", k, first.LSN, last.LSN)
		}
		objs = append(objs, object{m[5], volatile.ReplaceAllString(string(body), `"__source_ts_ms":<ts>,"__lsn":<lsn>`)})
	}
	// In source order: snapshot first, then by commit and change LSN.
	sort.Slice(objs, func(i, j int) bool {
		a, b := objs[i].first, objs[j].first
		if (a[0] == 's') != (b[0] == 's') {
			return a[0] == 's'
		}
		return a < b
	})
	row := func(i int, name, email, op, deleted string) string {
		e := "null"
		if email != "" {
			e = strconv.Quote(email)
		}
		return fmt.Sprintf(`{"index":%d,"name":%q,"email":%s,"__deleted":%q,"__op":%q,"__source_ts_ms":<ts>,"__lsn":<lsn>}`+"\n", i, name, e, deleted, op)
	}
	inserts := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			b.WriteString(row(i, fmt.Sprintf("user %d", i), fmt.Sprintf("u%d@example.com", i), "c", "false"))
		}
		return b.String()
	}
	want := []string{
		row(1, "Ada", "ada@example.com", "r", "false") + row(2, "Bob", "", "r", "false"),
		inserts(3, 7),
		inserts(8, 12),
		inserts(13, 14),
		// A delete's before image holds the key only (REPLICA IDENTITY DEFAULT).
		row(2, "Bob", "bob@example.com", "u", "false") +
			`{"index":3,"name":null,"email":null,"__deleted":"true","__op":"d","__source_ts_ms":<ts>,"__lsn":<lsn>}` + "\n",
	}
	if len(objs) != len(want) {
		t.Fatalf("%d objects, want %d: %v", len(objs), len(want), keys)
	}
	for i := range want {
		if objs[i].content != want[i] {
			t.Errorf("object %d (%s):\n%s\nwant\n%s", i, objs[i].first, objs[i].content, want[i])
		}
	}
}

// TestS3CrashExactlyOnce streams a workload into S3 while sluice is
// SIGKILLed again and again; afterwards the union of the objects holds
// every change exactly once. Each change is identified by (id, v): v starts
// at 0 and every update increments it, so the table's final state says
// which changes must exist.
func TestS3CrashExactlyOnce(t *testing.T) {
	l := newLake(t)
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE ev (id int PRIMARY KEY, v int NOT NULL, pad text)`,
		`CREATE TABLE marker (id int PRIMARY KEY)`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %s/state
sources:
  pg:
    type: postgres
    dsn: ${CRASH_DSN}
    tables: [public.*]
    batch_size: 64
sinks:
  lake:
    inputs: [pg]
%s    prefix: topics
    format: row
    unwrap:
      add_fields: [op, lsn]
    flush_size: 97
    rotate_interval: 1s
    rotate_schedule_interval: 2s
engine:
  max_inflight: 8
`, dir, s3Sink))
	r := newCrashRun(t, dir, p, append([]string{"CRASH_DSN=" + dsn}, l.env...)...)

	hasMarker := func(id int) bool {
		return slices.ContainsFunc(l.keys(t), func(k string) bool {
			return strings.Contains(k, "pg.public.marker+") && strings.Contains(string(l.get(t, k)), fmt.Sprintf(`{"id":%d,`, id))
		})
	}
	insertMarker := func(id int) {
		t.Helper()
		if _, err := db.Exec(ctx, `INSERT INTO marker VALUES ($1)`, id); err != nil {
			t.Fatal(err)
		}
	}
	// The first run snapshots the empty tables and streams: changes are
	// then all streamed (a snapshot would show only their last state).
	cmd := r.start()
	insertMarker(0)
	waitFor(t, 2*time.Minute, "marker 0", dir, func() bool { return hasMarker(0) })

	var changes atomic.Int64
	kills := 3
	r.killDuringWorkload(cmd, kills, r.randomMoment(700*time.Millisecond, 900*time.Millisecond), func(ctx context.Context) {
		evWorkload(ctx, t, dsn, &changes)
	})
	t.Logf("%d kills; the workload made %d changes", kills, changes.Load())
	cmd = r.start()
	insertMarker(1)
	stopWhen(t, cmd, dir, 2*time.Minute, "the final run to reach marker 1", func() bool { return hasMarker(1) })

	// Every change must be in the objects once.
	seen := map[[2]int]string{}
	lsns := map[uint64]string{}
	bodies := map[string]string{}
	dups := 0
	for _, k := range l.keys(t) {
		if !strings.Contains(k, "pg.public.ev+") {
			continue
		}
		if !objectName.MatchString(k) {
			t.Errorf("object name %s", k)
		}
		body := string(l.get(t, k))
		if other, ok := bodies[body]; ok {
			t.Errorf("objects %s and %s have the same content", k, other)
		}
		bodies[body] = k
		sc := bufio.NewScanner(strings.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r struct {
				ID  int    `json:"id"`
				V   int    `json:"v"`
				LSN uint64 `json:"__lsn"`
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %q: %v", k, sc.Text(), err)
			}
			if other, ok := lsns[r.LSN]; ok {
				if dups++; dups <= 5 {
					t.Errorf("change at lsn %d twice: in %s and %s", r.LSN, other, k)
				}
			}
			lsns[r.LSN] = k
			if other, ok := seen[[2]int{r.ID, r.V}]; ok && dups < 5 {
				t.Errorf("change (id %d, v %d) twice: in %s and %s", r.ID, r.V, other, k)
			}
			seen[[2]int{r.ID, r.V}] = k
		}
	}
	rows, err := db.Query(ctx, `SELECT id, v FROM ev`)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	missing := 0
	for rows.Next() {
		var id, v int
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		for i := 0; i <= v; i++ {
			want++
			if _, ok := seen[[2]int{id, i}]; !ok {
				if missing++; missing <= 5 {
					t.Errorf("change (id %d, v %d) is in no object", id, i)
				}
			}
		}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(seen) != want || len(lsns) != want {
		t.Errorf("objects hold %d changes (%d distinct lsns), the table implies %d", len(seen), len(lsns), want)
	}
	logs, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
	resumed := strings.Count(string(logs), "resuming from the spool")
	t.Logf("%d changes in %d objects, each once; %d restarts resumed a spool", want, len(bodies), resumed)
	if resumed == 0 {
		t.Errorf("no restart found a spool to resume; the kills proved nothing (see %s/stderr.log)", dir)
	}
}

// evWorkload inserts rows and updates them (v = v + 1) in transactions of 1
// to 40 changes until ctx is cancelled or about 8,000 changes are made.
func evWorkload(ctx context.Context, t *testing.T, dsn string, changes *atomic.Int64) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("workload: %v", err)
		return
	}
	defer closeAndAwait(t, conn, dsn)
	rng := mrand.New(mrand.NewPCG(7, uint64(time.Now().UnixNano())))
	next := 1
	for ctx.Err() == nil && changes.Load() < 8000 {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return
		}
		n := 1 + rng.IntN(40)
		ok := true
		for i := 0; i < n && ok; i++ {
			if next == 1 || rng.IntN(3) == 0 {
				_, err = tx.Exec(ctx, `INSERT INTO ev VALUES ($1, 0, $2)`, next, strings.Repeat("p", rng.IntN(200)))
				next++
			} else {
				_, err = tx.Exec(ctx, `UPDATE ev SET v = v + 1 WHERE id = $1`, 1+rng.IntN(next-1))
			}
			ok = err == nil
		}
		if ok && tx.Commit(ctx) == nil {
			changes.Add(int64(n))
		} else {
			tx.Rollback(context.Background())
		}
		time.Sleep(time.Millisecond)
	}
}
