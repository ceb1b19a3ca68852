package search

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fakeClient records bulk bodies and answers from a script.
type fakeClient struct {
	mu      sync.Mutex // lanes call Bulk concurrently
	bodies  []string
	answers []Response // popped per Bulk call; the last repeats
	err     error
	mget    Response
	created []string
	deleted []string
}

func (f *fakeClient) Bulk(_ context.Context, body []byte, fp string) (Response, error) {
	if fp != bulkFilterPath {
		return Response{}, fmt.Errorf("filter_path %q", fp)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies = append(f.bodies, string(body))
	if f.err != nil {
		return Response{}, f.err
	}
	if len(f.answers) == 0 {
		return Response{Status: 200, Body: []byte(`{"errors":false}`)}, nil
	}
	a := f.answers[0]
	if len(f.answers) > 1 {
		f.answers = f.answers[1:]
	}
	return a, nil
}

func (f *fakeClient) MGet(_ context.Context, body []byte) (Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies = append(f.bodies, "MGET "+string(body))
	return f.mget, nil
}

func (f *fakeClient) CreateIndex(_ context.Context, index string, body []byte) (Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, index+" "+string(body))
	return Response{Status: 200}, nil
}

func (f *fakeClient) DeleteIndex(_ context.Context, index string) (Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, index)
	return Response{Status: 200}, nil
}

func (f *fakeClient) Close() error { return nil }

var tbl = &event.Schema{
	Stream: "pg.shop.item", Namespace: "shop", Table: "Item",
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt64, Key: true},
		{Name: "name", Type: event.TypeString},
		{Name: "price", Type: event.TypeDecimal, Scale: 2},
		{Name: "big", Type: event.TypeString},
	},
	KeyIdx: []int{0},
}

func ev(op event.Op, lsn uint64, before, after []event.Value) event.Event {
	e := event.Event{Op: op, Schema: tbl, Before: before, After: after}
	if lsn == 0 {
		e.Source.Snapshot = event.SnapshotTrue
	} else {
		e.Source.LSN, e.Source.HasLSN = lsn, true
	}
	return e
}

func r(id int64, name string, big event.Value) []event.Value {
	return []event.Value{event.Int(id), event.String(name), event.Decimal("1.50"), big}
}

func newTest(t *testing.T, fc Client, mut func(*Config)) *Sink {
	t.Helper()
	cfg := Defaults()
	cfg.Hosts = []string{"http://x:9200"}
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg, fc, Options{Product: "test", RetryBase: time.Millisecond, ItemAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBulkBodyGolden pins the exact NDJSON of every operation kind.
func TestBulkBodyGolden(t *testing.T) {
	var out bytes.Buffer
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		evs  []event.Event
		mget string
	}{
		{"snapshot, insert, update, delete (external)", nil, []event.Event{
			ev(event.OpRead, 0, nil, r(1, "a", event.String("b"))),
			ev(event.OpCreate, 100, nil, r(2, "quote\"\n", event.Null)),
			ev(event.OpUpdate, 110, nil, r(1, "a2", event.String("b"))),
			ev(event.OpDelete, 120, r(2, "", event.Null), nil),
		}, ""},
		{"key change deletes the old document", nil, []event.Event{
			ev(event.OpUpdate, 130, r(1, "", event.Null), r(7, "moved", event.Null)),
		}, ""},
		{"routing, custom id and index, external_gte", func(c *Config) {
			c.Index, c.DocumentID, c.Routing, c.DocumentVersionType = "${schema}-${table}", "item-${/id}", "${/name}", VersionExternalGTE
		}, []event.Event{ev(event.OpCreate, 100, nil, r(3, "r", event.Null))}, ""},
		{"unchanged TOAST, versions off: partial update", func(c *Config) { c.DocumentVersionType = VersionNone }, []event.Event{
			ev(event.OpUpdate, 140, nil, r(1, "a3", event.Unchanged)),
		}, ""},
		{"unchanged TOAST, external: merged from the same write and from the index", nil, []event.Event{
			ev(event.OpUpdate, 150, nil, r(1, "a4", event.String("fresh"))),
			ev(event.OpUpdate, 160, nil, r(1, "a5", event.Unchanged)),
			ev(event.OpUpdate, 170, nil, r(5, "e", event.Unchanged)),
			ev(event.OpUpdate, 180, nil, r(6, "f", event.Unchanged)),
		}, `{"docs":[{"found":true,"_source":{"id":5,"big":"stored \"five\""}},{"found":false}]}`},
		{"key change with unchanged TOAST, external: merged from the old key's document, twice", nil, []event.Event{
			ev(event.OpUpdate, 190, r(1, "", event.Null), r(8, "m", event.Unchanged)),
			ev(event.OpUpdate, 200, r(8, "", event.Null), r(9, "n", event.Unchanged)),
		}, `{"docs":[{"found":true,"_source":{"id":1,"big":"stored one"}},{"found":false}]}`},
		{"key change with unchanged TOAST, versions off: merged and indexed whole", func(c *Config) { c.DocumentVersionType = VersionNone }, []event.Event{
			ev(event.OpUpdate, 140, nil, r(1, "a3", event.Unchanged)),
			ev(event.OpUpdate, 190, r(1, "", event.Null), r(8, "m", event.Unchanged)),
		}, `{"docs":[{"found":true,"_source":{"id":1,"big":"stored one","price":9}}]}`},
	} {
		fc := &fakeClient{mget: Response{Status: 200, Body: []byte(tc.mget)}}
		s := newTest(t, fc, tc.mut)
		if err := s.Write(context.Background(), tc.evs); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		fmt.Fprintf(&out, "# %s\n", tc.name)
		for _, b := range fc.bodies {
			out.WriteString(b)
			if !strings.HasSuffix(b, "\n") {
				out.WriteByte('\n')
			}
		}
	}
	path := filepath.Join("testdata", "bulk.golden")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestBulkBodyGolden -update)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("bulk bodies differ from %s:\n%s", path, out.Bytes())
	}
}

// TestItemOutcomes: rejected items become RecordErrors with their event
// index, conflicts are ignored, pushed-back items are sent again.
func TestItemOutcomes(t *testing.T) {
	fc := &fakeClient{answers: []Response{
		{Status: 200, Body: []byte(`{"errors":true,"items":[` +
			`{"index":{"status":201}},` +
			`{"index":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"v"}}},` +
			`{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [price] of type [float] in document with id '3'. Preview of field's value: 'secret'"}}},` +
			`{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},` +
			`{"delete":{"status":404}}]}`)},
		{Status: 200, Body: []byte(`{"errors":false,"items":[{"index":{"status":201}}]}`)},
	}}
	s := newTest(t, fc, nil)
	err := s.Write(context.Background(), []event.Event{
		ev(event.OpRead, 0, nil, r(1, "a", event.Null)),
		ev(event.OpRead, 0, nil, r(2, "b", event.Null)),
		ev(event.OpRead, 0, nil, r(3, "c", event.Null)),
		ev(event.OpRead, 0, nil, r(4, "d", event.Null)),
		ev(event.OpDelete, 100, r(5, "", event.Null), nil),
	})
	var rec component.RecordErrors
	if !errors.As(err, &rec) || len(rec) != 1 || rec[0].Index != 2 {
		t.Fatalf("want one record error for event 2, got %v", err)
	}
	want := `index "item", document "3": mapper_parsing_exception: failed to parse field [price] of type [float] in document with id '3'`
	if rec[0].Err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", rec[0].Err, want)
	}
	if len(fc.bodies) != 2 || !strings.Contains(fc.bodies[1], `"_id":"4"`) || strings.Count(fc.bodies[1], "\n") != 2 {
		t.Fatalf("retry body: %q", fc.bodies)
	}
}

// TestPushBackGivesUp: items that stay pushed back fail the Write with a
// plain (retryable) error after ItemAttempts.
func TestPushBackGivesUp(t *testing.T) {
	fc := &fakeClient{answers: []Response{{Status: 200, Body: []byte(`{"errors":true,"items":[{"index":{"status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}}]}`)}}}
	s := newTest(t, fc, nil)
	err := s.Write(context.Background(), []event.Event{ev(event.OpRead, 0, nil, r(1, "a", event.Null))})
	var rec component.RecordErrors
	if err == nil || component.IsPermanent(err) || errors.As(err, &rec) {
		t.Fatalf("want a plain error, got %v", err)
	}
	if len(fc.bodies) != 3 {
		t.Fatalf("%d attempts, want 3", len(fc.bodies))
	}
}

// TestWholeRequestStatuses: 429/5xx retried then plain, 401 permanent,
// transport errors plain.
func TestWholeRequestStatuses(t *testing.T) {
	one := []event.Event{ev(event.OpRead, 0, nil, r(1, "a", event.Null))}
	for _, tc := range []struct {
		resp      Response
		err       error
		permanent bool
		calls     int
	}{
		{Response{Status: 429, Body: []byte(`{"error":{"type":"es_rejected_execution_exception","reason":"x"}}`)}, nil, false, 3},
		{Response{Status: 502}, nil, false, 3},
		{Response{Status: 401, Body: []byte(`{"error":{"type":"security_exception","reason":"missing authentication"}}`)}, nil, true, 1},
		{Response{}, errors.New("connection refused"), false, 1},
	} {
		fc := &fakeClient{answers: []Response{tc.resp}, err: tc.err}
		err := newTest(t, fc, nil).Write(context.Background(), one)
		if err == nil || component.IsPermanent(err) != tc.permanent || len(fc.bodies) != tc.calls {
			t.Errorf("status %d / %v: err %v (permanent %v), %d calls", tc.resp.Status, tc.err, err, component.IsPermanent(err), len(fc.bodies))
		}
	}
}

// TestSplitsAtMaxRequestBytes: bodies stay under the limit, in order.
func TestSplitsAtMaxRequestBytes(t *testing.T) {
	fc := &fakeClient{}
	s := newTest(t, fc, func(c *Config) { c.MaxRequestBytes = 1024 })
	var evs []event.Event
	for i := range 40 {
		evs = append(evs, ev(event.OpCreate, uint64(100+i), nil, r(int64(i), strings.Repeat("x", 50), event.Null)))
	}
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if len(fc.bodies) < 4 {
		t.Fatalf("%d requests", len(fc.bodies))
	}
	all := strings.Join(fc.bodies, "")
	for i, b := range fc.bodies {
		if len(b) > 1024 {
			t.Errorf("request %d is %d bytes", i, len(b))
		}
	}
	last := -1
	for i := range 40 {
		p := strings.Index(all, fmt.Sprintf(`"_id":"%d"`, i))
		if p < last {
			t.Fatalf("order broken at %d", i)
		}
		last = p
	}
}

// TestPlanErrors: events the sink cannot address are RecordErrors; the
// others are written.
func TestPlanErrors(t *testing.T) {
	fc := &fakeClient{}
	s := newTest(t, fc, func(c *Config) { c.Index = "${/name}" })
	err := s.Write(context.Background(), []event.Event{
		ev(event.OpCreate, 100, nil, r(1, "ok", event.Null)),
		ev(event.OpCreate, 110, nil, r(2, "Bad/Name", event.Null)),
		{Op: event.OpCreate, Schema: tbl, After: r(3, "nov", event.Null)}, // no version
		ev(event.OpCreate, 120, nil, []event.Value{event.Int(4), event.Null, event.Null, event.Null}),
	})
	var rec component.RecordErrors
	if !errors.As(err, &rec) || len(rec) != 3 || rec[0].Index != 1 || rec[1].Index != 2 || rec[2].Index != 3 {
		t.Fatalf("got %v", err)
	}
	for i, want := range []string{`index name "bad/name" contains`, "has no version", `column "name" of pg.shop.item is NULL`} {
		if !strings.Contains(rec[i].Err.Error(), want) {
			t.Errorf("error %d: %v; want %q", i, rec[i].Err, want)
		}
	}
	if len(fc.bodies) != 1 || strings.Count(fc.bodies[0], "\n") != 2 {
		t.Fatalf("bodies %q", fc.bodies)
	}
}

// TestTruncateModes: delete_index deletes after the earlier events are
// written; fail stops; ignore goes on.
func TestTruncateModes(t *testing.T) {
	trunc := event.Event{Op: event.OpTruncate, Schema: tbl, Source: event.Source{LSN: 5, HasLSN: true}}
	evs := []event.Event{ev(event.OpCreate, 2, nil, r(1, "a", event.Null)), trunc, ev(event.OpCreate, 9, nil, r(2, "b", event.Null))}
	fc := &fakeClient{}
	if err := newTest(t, fc, func(c *Config) { c.Mapping = map[string]any{"dynamic": true} }).Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if len(fc.deleted) != 1 || fc.deleted[0] != "item" || len(fc.bodies) != 2 || len(fc.created) != 2 {
		t.Fatalf("delete_index: deleted %v, created %v, %d bulks", fc.deleted, fc.created, len(fc.bodies))
	}
	if fc.created[0] != `item {"mappings":{"dynamic":true}}` {
		t.Errorf("create body %s", fc.created[0])
	}
	fc = &fakeClient{}
	if err := newTest(t, fc, func(c *Config) { c.OnTruncate = TruncateFail }).Write(context.Background(), evs); !component.IsPermanent(err) || len(fc.bodies) != 1 {
		t.Fatalf("fail: %v, %d bulks", err, len(fc.bodies))
	}
	fc = &fakeClient{}
	if err := newTest(t, fc, func(c *Config) { c.OnTruncate = TruncateIgnore }).Write(context.Background(), evs); err != nil || len(fc.deleted) != 0 {
		t.Fatalf("ignore: %v %v", err, fc.deleted)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Defaults()
	c.Hosts = []string{"ftp://x", "http://u:secret@h:9200"}
	c.Index = "_bad"
	c.DocumentID = "${nope}"
	c.DocumentVersionType = "sometimes"
	c.OnTruncate = "shrug"
	c.Mapping = []any{1}
	c.MaxRequestBytes = 10
	var got []string
	for _, e := range c.Validate() {
		got = append(got, e.(*component.FieldError).Field)
		if strings.Contains(e.Error(), "secret") {
			t.Errorf("password in %v", e)
		}
	}
	want := "hosts[0] document_id index document_version_type max_request_bytes on_truncate mapping"
	if strings.Join(got, " ") != want {
		t.Errorf("fields %v, want %s", got, want)
	}
	ok := Defaults()
	ok.Hosts = []string{"https://h:9200"}
	if errs := ok.Validate(); len(errs) != 0 {
		t.Errorf("defaults: %v", errs)
	}
}

// TestMappingFromFile: mapping and index_settings may name a JSON or YAML
// file.
func TestMappingFromFile(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "m.yaml")
	js := filepath.Join(dir, "s.json")
	os.WriteFile(yml, []byte("properties:\n  name: {type: keyword}\n"), 0o644)
	os.WriteFile(js, []byte(`{"number_of_shards": 2}`), 0o644)
	c := Defaults()
	c.Hosts = []string{"http://h:9200"}
	c.Mapping, c.IndexSettings = yml, js
	got, errs := c.compile()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if want := `{"mappings":{"properties":{"name":{"type":"keyword"}}},"settings":{"number_of_shards":2}}`; string(got.createBody) != want {
		t.Errorf("create body %s, want %s", got.createBody, want)
	}
	c.Mapping = filepath.Join(dir, "missing.yaml")
	if errs := c.Validate(); len(errs) != 1 || errs[0].(*component.FieldError).Field != "mapping" {
		t.Errorf("missing file: %v", errs)
	}
}

func TestClassify(t *testing.T) {
	e := func(typ string) *itemError { return &itemError{Type: typ} }
	for _, tc := range []struct {
		act  byte
		it   bulkItem
		want outcome
	}{
		{actIndex, bulkItem{Status: 201}, itemOK},
		{actDelete, bulkItem{Status: 404}, itemOK},
		{actDelete, bulkItem{Status: 404, Error: e("index_not_found_exception")}, itemOK},
		{actIndex, bulkItem{Status: 404, Error: e("index_not_found_exception")}, itemNoIndex},
		{actIndex, bulkItem{Status: 409, Error: e("version_conflict_engine_exception")}, itemConflict},
		{actDelete, bulkItem{Status: 409, Error: e("version_conflict_engine_exception")}, itemConflict},
		{actIndex, bulkItem{Status: 429, Error: e("es_rejected_execution_exception")}, itemRetry},
		{actIndex, bulkItem{Status: 503, Error: e("unavailable_shards_exception")}, itemRetry},
		{actIndex, bulkItem{Status: 403, Error: e("cluster_block_exception")}, itemRetry},
		{actIndex, bulkItem{Status: 400, Error: e("mapper_parsing_exception")}, itemRejected},
		{actIndex, bulkItem{Status: 400, Error: e("document_parsing_exception")}, itemRejected},
		{actIndex, bulkItem{Status: 400, Error: e("illegal_argument_exception")}, itemRejected},
	} {
		if got := classify(tc.act, &tc.it); got != tc.want {
			t.Errorf("%c %d %v: %d, want %d", tc.act, tc.it.Status, tc.it.Error, got, tc.want)
		}
	}
}

// TestTooLarge: a 413 splits the request; a single operation the server
// refuses as too large is a record error.
func TestTooLarge(t *testing.T) {
	fc := &fakeClient{}
	fc.answers = nil
	big := strings.Repeat("x", 3000)
	calls := 0
	s := newTest(t, &sizeLimited{fakeClient: fc, limit: 2500, calls: &calls}, nil)
	err := s.Write(context.Background(), []event.Event{
		ev(event.OpCreate, 100, nil, r(1, "small", event.Null)),
		ev(event.OpCreate, 110, nil, r(2, big, event.Null)),
		ev(event.OpCreate, 120, nil, r(3, "small", event.Null)),
	})
	var rec component.RecordErrors
	if !errors.As(err, &rec) || len(rec) != 1 || rec[0].Index != 1 || !strings.Contains(rec[0].Err.Error(), "larger than the server accepts") {
		t.Fatalf("got %v", err)
	}
	sent := strings.Join(fc.bodies, "")
	if !strings.Contains(sent, `"_id":"1"`) || !strings.Contains(sent, `"_id":"3"`) {
		t.Errorf("small documents not sent: %q", fc.bodies)
	}
}

// sizeLimited answers 413 to bodies over limit, like http.max_content_length.
type sizeLimited struct {
	*fakeClient
	limit int
	calls *int
}

func (c *sizeLimited) Bulk(ctx context.Context, body []byte, fp string) (Response, error) {
	*c.calls++
	if len(body) > c.limit {
		return Response{Status: 413}, nil
	}
	return c.fakeClient.Bulk(ctx, body, fp)
}

// refusingClient answers every call with 401, as a cluster with security
// on answers wrong or missing credentials.
type refusingClient struct{ calls []string }

var refusal = Response{Status: 401, Body: []byte(`{"error":{"root_cause":[],"type":"security_exception","reason":"unable to authenticate user [app] for REST request [/_bulk]"},"status":401}`)}

func (c *refusingClient) Bulk(context.Context, []byte, string) (Response, error) {
	c.calls = append(c.calls, "bulk")
	return refusal, nil
}
func (c *refusingClient) MGet(context.Context, []byte) (Response, error) {
	c.calls = append(c.calls, "mget")
	return refusal, nil
}
func (c *refusingClient) CreateIndex(context.Context, string, []byte) (Response, error) {
	c.calls = append(c.calls, "create")
	return refusal, nil
}
func (c *refusingClient) DeleteIndex(context.Context, string) (Response, error) {
	c.calls = append(c.calls, "delete")
	return refusal, nil
}
func (c *refusingClient) Close() error { return nil }

// TestAuthFailure: a 401 on any request (bulk, the multi-get of a merge,
// index creation, the index deletion of a truncate) stops the pipeline
// with an error naming the user, the cluster and the keys to fix, never
// the password. (The test clusters run without security: the 401 is
// scripted.)
func TestAuthFailure(t *testing.T) {
	reason := "status 401: security_exception: unable to authenticate user [app] for REST request [/_bulk]"
	basic := `test sink: http://x:9200,https://u:xxxxx@h2:9200 refused user "app": ` + reason +
		"; check the user and password in sinks.search.username and sinks.search.password (a ${VAR} there is read from the environment)"
	apiKey := "test sink: http://x:9200,https://u:xxxxx@h2:9200 refused the credentials: " + reason +
		"; check the API key in sinks.search.api_key (a ${VAR} there is read from the environment)"
	for _, tc := range []struct {
		name   string
		mut    func(*Config)
		evs    []event.Event
		apiKey bool
		want   string
		call   string
	}{
		{"bulk", nil, []event.Event{ev(event.OpCreate, 100, nil, r(1, "a", event.Null))}, false, basic, "bulk"},
		{"bulk with an API key", nil, []event.Event{ev(event.OpCreate, 100, nil, r(1, "a", event.Null))}, true, apiKey, "bulk"},
		{"merge", nil, []event.Event{ev(event.OpUpdate, 100, nil, r(1, "a", event.Unchanged))}, false, basic, "mget"},
		{"create index", func(c *Config) { c.Mapping = map[string]any{"dynamic": true} }, []event.Event{ev(event.OpCreate, 100, nil, r(1, "a", event.Null))}, false, basic, "create"},
		{"truncate", nil, []event.Event{{Op: event.OpTruncate, Schema: tbl, Source: event.Source{LSN: 100, HasLSN: true}}}, false, basic, "delete"},
	} {
		cfg := Defaults()
		cfg.Hosts = []string{"http://x:9200", "https://u:canary-Pw-7731@h2:9200"}
		cfg.Username, cfg.Password = "app", "canary-Pw-7731"
		if tc.mut != nil {
			tc.mut(&cfg)
		}
		fc := &refusingClient{}
		s, err := New(cfg, fc, Options{Product: "test", Env: component.Env{Name: "search", Path: "sinks.search"}, APIKey: tc.apiKey})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Write(context.Background(), tc.evs)
		if !component.IsPermanent(err) || err.Error() != tc.want || strings.Contains(err.Error(), "canary") {
			t.Errorf("%s: Write = %v\nwant the permanent error %s", tc.name, err, tc.want)
		}
		if len(fc.calls) != 1 || fc.calls[0] != tc.call {
			t.Errorf("%s: calls %v, want one %s", tc.name, fc.calls, tc.call)
		}
	}
}
