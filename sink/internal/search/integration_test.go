package search_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/elasticsearch"
	"github.com/sluice-dev/sluice/sink/internal/search"
	"github.com/sluice-dev/sluice/sink/opensearch"
)

// server is one real cluster the tests run against.
type server struct {
	name string
	svc  svctest.Service
	new  func(cfg search.Config) (component.Sink, error)
}

var servers = []server{
	{"opensearch", svctest.OpenSearch, func(c search.Config) (component.Sink, error) {
		return opensearch.New(opensearch.Config{Config: c}, component.Env{})
	}},
	{"elasticsearch8", svctest.Elasticsearch, func(c search.Config) (component.Sink, error) {
		return elasticsearch.New(elasticsearch.Config{Config: c}, component.Env{})
	}},
	{"elasticsearch7", svctest.Elasticsearch7, func(c search.Config) (component.Sink, error) {
		return elasticsearch.New(elasticsearch.Config{Config: c}, component.Env{})
	}},
}

// forEach runs f against every server, in parallel subtests.
func forEach(t *testing.T, f func(t *testing.T, c *cluster)) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			url := svctest.Need(t, srv.svc)
			f(t, &cluster{t: t, url: url, srv: srv})
		})
	}
}

type cluster struct {
	t   *testing.T
	url string
	srv server
}

// index returns a fresh index name, deleted at cleanup.
func (c *cluster) index() string {
	name := fmt.Sprintf("sluice-test-%s-%d", strings.ToLower(strings.ReplaceAll(c.t.Name(), "/", "-")), rand.Uint32())
	c.t.Cleanup(func() { c.req("DELETE", "/"+name, nil) })
	return name
}

func (c *cluster) sink(mut func(*search.Config)) component.Sink {
	c.t.Helper()
	cfg := search.Defaults()
	cfg.Hosts = []string{c.url}
	if mut != nil {
		mut(&cfg)
	}
	s, err := c.srv.new(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func (c *cluster) req(method, path string, body []byte) (int, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// docs returns every document of index as id → canonical JSON of _source.
func (c *cluster) docs(index string) map[string]string {
	c.t.Helper()
	c.req("POST", "/"+index+"/_refresh", nil)
	st, b := c.req("GET", "/"+index+"/_search?size=10000&version=true", nil)
	if st != 200 {
		c.t.Fatalf("search %s: %d %s", index, st, b)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		c.t.Fatal(err)
	}
	out := map[string]string{}
	for _, h := range r.Hits.Hits {
		out[h.ID] = canon(c.t, h.Source)
	}
	return out
}

// doc fetches one document: its source (canonical) and version; found false
// when it does not exist.
func (c *cluster) doc(index, id, routing string) (src string, version int64, found bool) {
	c.t.Helper()
	p := "/" + index + "/_doc/" + url.PathEscape(id)
	if routing != "" {
		p += "?routing=" + url.QueryEscape(routing)
	}
	st, b := c.req("GET", p, nil)
	if st == 404 {
		return "", 0, false
	}
	var r struct {
		Version int64           `json:"_version"`
		Found   bool            `json:"found"`
		Source  json.RawMessage `json:"_source"`
	}
	if st != 200 || json.Unmarshal(b, &r) != nil {
		c.t.Fatalf("get %s: %d %s", p, st, b)
	}
	return canon(c.t, r.Source), r.Version, r.Found
}

// canonNumbers is canon with numbers compared by value: partial updates
// make the server re-serialise the source (2.00 becomes 2.0).
func canonNumbers(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("bad JSON %s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func canon(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("bad JSON %s: %v", b, err)
	}
	out, _ := json.Marshal(v) // sorted keys
	return string(out)
}

// product is the seed 000/002-shaped table the tests write.
var product = &event.Schema{
	Stream: "pg.public.product", Source: "pg", Connector: "postgresql", Namespace: "public", Table: "product", Version: 1,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt32, Key: true},
		{Name: "name", Type: event.TypeString},
		{Name: "price", Type: event.TypeDecimal, Precision: 10, Scale: 2, Optional: true},
		{Name: "tags", Type: event.TypeArray, Optional: true, Elem: &event.Column{Type: event.TypeString}},
		{Name: "big", Type: event.TypeString, Optional: true},
	},
	KeyIdx: []int{0},
}

func row(id int, name, price string, big event.Value) []event.Value {
	p := event.Null
	if price != "" {
		p = event.Decimal(price)
	}
	return []event.Value{event.Int(int64(id)), event.String(name), p,
		event.Array([]event.Value{event.String("t" + name)}), big}
}

func rowJSON(id int, name, price, big string) string {
	p := "null"
	if price != "" {
		p = price
	}
	b := "null"
	if big != "" {
		b = `"` + big + `"`
	}
	return fmt.Sprintf(`{"big":%s,"id":%d,"name":%q,"price":%s,"tags":["t%s"]}`, b, id, name, p, name)
}

func snap(after []event.Value) event.Event {
	return event.Event{Op: event.OpRead, Schema: product, After: after, Source: event.Source{Snapshot: event.SnapshotTrue}}
}

func change(op event.Op, lsn uint64, before, after []event.Value) event.Event {
	return event.Event{Op: op, Schema: product, Before: before, After: after, Source: event.Source{LSN: lsn, HasLSN: true}}
}

func write(t *testing.T, s component.Sink, evs ...event.Event) {
	t.Helper()
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func wantDocs(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	wantDocsBy(t, canon, got, want)
}

// wantDocsBy compares documents after normalising both with norm.
func wantDocsBy(t *testing.T, norm func(*testing.T, []byte) string, got map[string]string, want map[string]string) {
	t.Helper()
	for id, w := range want {
		if g, ok := got[id]; !ok {
			t.Errorf("document %s missing; want %s", id, w)
		} else if norm(t, []byte(w)) != norm(t, []byte(g)) {
			t.Errorf("document %s:\n got %.300s\nwant %.300s", id, g, norm(t, []byte(w)))
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected document %s: %s", id, g)
		}
	}
}

// TestInsertUpdateDelete: a snapshot, then changes; the index equals the
// table.
func TestInsertUpdateDelete(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		idx := c.index()
		s := c.sink(func(cfg *search.Config) { cfg.Index = idx })
		write(t, s,
			snap(row(1, "pants", "9.99", event.String("b1"))),
			snap(row(2, "shirt", "", event.Null)),
			snap(row(3, "hat", "1.50", event.Null)),
		)
		write(t, s,
			change(event.OpCreate, 100, nil, row(4, "sock", "0.10", event.Null)),
			change(event.OpUpdate, 110, nil, row(1, "jeans", "19.99", event.String("b2"))),
			change(event.OpDelete, 120, row(2, "", "", event.Null), nil),
			change(event.OpUpdate, 130, nil, row(4, "socks", "0.20", event.Null)),
		)
		wantDocs(t, c.docs(idx), map[string]string{
			"1": rowJSON(1, "jeans", "19.99", "b2"),
			"3": rowJSON(3, "hat", "1.50", ""),
			"4": rowJSON(4, "socks", "0.20", ""),
		})
		if _, v, _ := c.doc(idx, "4", ""); v != 130 {
			t.Errorf("document 4 has version %d, want the LSN 130", v)
		}
	})
}

// TestLargeWriteInLanes: a Write in four lanes of bulk requests at once
// (4,199 events at the first Write's estimate of 256 bytes each, one lane
// per 256 KiB here), with four changes of every document and deletes
// after them: every document ends as its last event left it, with
// versions and without (where only the order of the requests decides).
func TestLargeWriteInLanes(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		for _, vt := range []string{search.VersionExternal, search.VersionNone} {
			idx := c.index() + "-" + vt
			cfg := search.Defaults()
			cfg.Hosts, cfg.Index, cfg.DocumentVersionType = []string{c.url}, idx, vt
			s, err := search.New(cfg, &rawClient{url: c.url}, search.Options{Product: "test", Lanes: 4, LaneBytes: 256 << 10})
			if err != nil {
				t.Fatal(err)
			}
			var evs []event.Event
			lsn := uint64(1000)
			for round := range 4 {
				for id := range 1024 {
					lsn++
					evs = append(evs, change(event.OpUpdate, lsn, nil, row(id, fmt.Sprint("r", round), "1.00", event.Null)))
				}
			}
			want := map[string]string{}
			for id := range 1024 {
				if id%10 == 0 {
					lsn++
					evs = append(evs, change(event.OpDelete, lsn, row(id, "", "", event.Null), nil))
				} else {
					want[fmt.Sprint(id)] = rowJSON(id, "r3", "1.00", "")
				}
			}
			write(t, s, evs...)
			wantDocs(t, c.docs(idx), want)
			if _, v, _ := c.doc(idx, "1023", ""); vt == search.VersionExternal && v != 1000+3*1024+1024 {
				t.Errorf("%s: document 1023 has version %d, want its last LSN %d", vt, v, 1000+3*1024+1024)
			}
		}
	})
}

// TestReplayNeverRegresses: replaying older events after newer ones
// leaves the newer documents; deleted documents stay deleted when a batch
// is replayed in order.
func TestReplayNeverRegresses(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		idx := c.index()
		s := c.sink(func(cfg *search.Config) { cfg.Index = idx })
		old := []event.Event{
			snap(row(1, "a", "1.00", event.Null)),
			snap(row(2, "b", "2.00", event.Null)),
			change(event.OpUpdate, 200, nil, row(1, "a2", "1.10", event.Null)),
		}
		newer := []event.Event{
			change(event.OpUpdate, 300, nil, row(1, "a3", "1.20", event.Null)),
			change(event.OpCreate, 310, nil, row(5, "e", "5.00", event.Null)),
			change(event.OpDelete, 320, row(5, "", "", event.Null), nil),
			change(event.OpDelete, 330, row(2, "", "", event.Null), nil),
		}
		write(t, s, old...)
		write(t, s, newer...)
		want := map[string]string{"1": rowJSON(1, "a3", "1.20", "")}
		wantDocs(t, c.docs(idx), want)
		// A crash replays from an older checkpoint: both batches again.
		write(t, s, old...)
		write(t, s, newer...)
		wantDocs(t, c.docs(idx), want)
		// A stale event alone.
		write(t, s, change(event.OpUpdate, 250, nil, row(1, "stale", "0", event.Null)))
		wantDocs(t, c.docs(idx), want)
	})
}

// TestMappingAndRecordErrors: the index is created with the configured
// mapping; documents the mapping rejects come back as RecordErrors naming
// index, id and field while the rest of the batch lands.
func TestMappingAndRecordErrors(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		idx := c.index()
		s := c.sink(func(cfg *search.Config) {
			cfg.Index = idx
			cfg.Mapping = map[string]any{"dynamic": "strict", "properties": map[string]any{
				"id": map[string]any{"type": "integer"}, "name": map[string]any{"type": "keyword"},
				"price": map[string]any{"type": "double"},
				"tags":  map[string]any{"type": "keyword"}, "big": map[string]any{"type": "text"},
			}}
			cfg.IndexSettings = map[string]any{"number_of_shards": 1, "number_of_replicas": 0}
		})
		other := &event.Schema{Stream: "pg.public.product", Table: "product", Columns: append(append([]event.Column{}, product.Columns...),
			event.Column{Name: "extra", Type: event.TypeString}), KeyIdx: []int{0}}
		evs := []event.Event{
			snap(row(1, "ok", "1.00", event.Null)),
			snap(row(2, "bad price", "", event.Null)),
			{Op: event.OpRead, Schema: other, After: append(row(3, "strict", "3.00", event.Null), event.String("x")), Source: event.Source{Snapshot: event.SnapshotTrue}},
			snap(row(4, "ok too", "4.00", event.Null)),
		}
		evs[1].After[2] = event.Decimal("not a number") // a decimal the source could not give; the mapping rejects it
		err := s.Write(context.Background(), evs)
		var rec component.RecordErrors
		if !errors.As(err, &rec) {
			t.Fatalf("want RecordErrors, got %v", err)
		}
		if len(rec) != 2 || rec[0].Index != 1 || rec[1].Index != 2 {
			t.Fatalf("record errors %v", rec)
		}
		for i, want := range []string{`document "2": `, `document "3": strict_dynamic_mapping_exception`} {
			msg := rec[i].Err.Error()
			if !strings.Contains(msg, want) || !strings.Contains(msg, idx) {
				t.Errorf("error %d: %q does not contain %q and the index", i, msg, want)
			}
			if i == 0 && !strings.Contains(msg, "failed to parse field [price]") {
				t.Errorf("error 0 does not name the field: %s", msg)
			}
			if strings.Contains(msg, "not a number") {
				t.Errorf("error %d leaks the value: %s", i, msg)
			}
		}
		wantDocs(t, c.docs(idx), map[string]string{"1": rowJSON(1, "ok", "1.00", ""), "4": rowJSON(4, "ok too", "4.00", "")})
		st, b := c.req("GET", "/"+idx+"/_mapping", nil)
		if st != 200 || !strings.Contains(string(b), `"double"`) || !strings.Contains(string(b), `"strict"`) {
			t.Errorf("mapping not applied: %d %s", st, b)
		}
	})
}

// TestUnchangedToastKeepsStoredValue: an update without the TOASTed column
// keeps the stored value, whether the earlier image is in the same Write,
// in the index, or (without versions) updated partially.
func TestUnchangedToastKeepsStoredValue(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		for _, vt := range []string{search.VersionExternal, search.VersionNone} {
			idx := c.index()
			s := c.sink(func(cfg *search.Config) { cfg.Index = idx; cfg.DocumentVersionType = vt })
			big := strings.Repeat("toast ", 2000)
			write(t, s, snap(row(1, "a", "1.00", event.String(big))), snap(row(2, "b", "2.00", event.String(big+"2"))))
			// From the index.
			write(t, s, change(event.OpUpdate, 100, nil, row(1, "a2", "1.00", event.Unchanged)))
			// From the same Write, twice, and for a document never written (left out).
			write(t, s,
				change(event.OpUpdate, 110, nil, row(2, "b2", "2.00", event.String("new big"))),
				change(event.OpUpdate, 120, nil, row(2, "b3", "2.00", event.Unchanged)),
				change(event.OpUpdate, 130, nil, row(2, "b4", "2.00", event.Unchanged)),
				change(event.OpUpdate, 140, nil, row(9, "z", "9.00", event.Unchanged)),
			)
			got := c.docs(idx)
			z := `{"id":9,"name":"z","price":9.00,"tags":["tz"]}`
			norm := canon
			if vt == search.VersionNone {
				norm = canonNumbers
			}
			wantDocsBy(t, norm, got, map[string]string{
				"1": rowJSON(1, "a2", "1.00", big),
				"2": rowJSON(2, "b4", "2.00", "new big"),
				"9": z,
			})
		}
	})
}

// TestKeyChangeKeepsUnchangedToast: an update that changes the key and
// leaves a TOASTed column unchanged (PostgreSQL sends no value for it)
// gives the new document the old document's value: stored in the index
// (issue 9's reproduction: three rows with a 9,600-character text column,
// UPDATE doc SET id = 100 WHERE id = 1), or written earlier in the same
// Write, or moved twice in one Write (2 → 200 → 201), or partially updated
// just before (without versions).
func TestKeyChangeKeepsUnchangedToast(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		for _, vt := range []string{search.VersionExternal, search.VersionNone} {
			idx := c.index()
			s := c.sink(func(cfg *search.Config) { cfg.Index = idx; cfg.DocumentVersionType = vt })
			big := func(n int) string { return strings.Repeat(string(rune('a'+n)), 9600) }
			write(t, s, snap(row(1, "a", "1.00", event.String(big(1)))), snap(row(2, "b", "2.00", event.String(big(2)))),
				snap(row(3, "c", "3.00", event.String(big(3)))))
			// The row's before image holds the old key only.
			old := func(id int) []event.Value {
				return []event.Value{event.Int(int64(id)), event.Null, event.Null, event.Null, event.Null}
			}
			write(t, s, change(event.OpUpdate, 100, old(1), row(100, "a", "1.00", event.Unchanged)))
			wantDocs(t, c.docs(idx), map[string]string{
				"2":   rowJSON(2, "b", "2.00", big(2)),
				"3":   rowJSON(3, "c", "3.00", big(3)),
				"100": rowJSON(100, "a", "1.00", big(1)),
			})
			write(t, s,
				change(event.OpUpdate, 110, old(2), row(200, "b", "2.00", event.Unchanged)),
				change(event.OpUpdate, 120, old(200), row(201, "b2", "2.00", event.Unchanged)),
				change(event.OpCreate, 130, nil, row(4, "d", "4.00", event.String(big(4)))),
				change(event.OpUpdate, 140, old(4), row(400, "d", "4.00", event.Unchanged)),
				change(event.OpUpdate, 150, nil, row(3, "c2", "3.00", event.Unchanged)),
				change(event.OpUpdate, 160, old(3), row(300, "c3", "3.00", event.Unchanged)),
			)
			// Moved documents are indexed whole, versions or not: the
			// numbers keep their text (no server-side re-serialisation).
			wantDocs(t, c.docs(idx), map[string]string{
				"100": rowJSON(100, "a", "1.00", big(1)),
				"201": rowJSON(201, "b2", "2.00", big(2)),
				"400": rowJSON(400, "d", "4.00", big(4)),
				"300": rowJSON(300, "c3", "3.00", big(3)),
			})
		}
	})
}

// TestCompositeKeyRoutingAndKeyChange: ids of composite keys, a routing
// template, and an update that changes the key moves the document.
func TestCompositeKeyRoutingAndKeyChange(t *testing.T) {
	link := &event.Schema{Stream: "pg.public.link", Table: "link", Namespace: "public",
		Columns: []event.Column{{Name: "a", Type: event.TypeInt32, Key: true}, {Name: "b", Type: event.TypeString, Key: true}, {Name: "v", Type: event.TypeString}},
		KeyIdx:  []int{0, 1}}
	ev := func(op event.Op, lsn uint64, before, after []event.Value) event.Event {
		return event.Event{Op: op, Schema: link, Before: before, After: after, Source: event.Source{LSN: lsn, HasLSN: true}}
	}
	r := func(a int, b, v string) []event.Value {
		return []event.Value{event.Int(int64(a)), event.String(b), event.String(v)}
	}
	forEach(t, func(t *testing.T, c *cluster) {
		idx := c.index()
		s := c.sink(func(cfg *search.Config) {
			cfg.Index = idx
			cfg.Routing = "${/a}"
			cfg.IndexSettings = map[string]any{"number_of_shards": 3, "number_of_replicas": 0}
		})
		write(t, s,
			ev(event.OpCreate, 10, nil, r(1, "x|y", "one")),
			ev(event.OpCreate, 20, nil, r(2, "z", "two")),
			ev(event.OpUpdate, 30, r(2, "z", ""), r(3, "z", "moved")),
		)
		if src, _, ok := c.doc(idx, `1|x\|y`, "1"); !ok || src != canon(t, []byte(`{"a":1,"b":"x|y","v":"one"}`)) {
			t.Errorf("composite key document: %v %s", ok, src)
		}
		if _, _, ok := c.doc(idx, "2|z", "2"); ok {
			t.Error("document of the old key is still there")
		}
		if src, _, ok := c.doc(idx, "3|z", "3"); !ok || !strings.Contains(src, "moved") {
			t.Errorf("moved document: %v %s", ok, src)
		}
		if n := len(c.docs(idx)); n != 2 {
			t.Errorf("%d documents, want 2", n)
		}
	})
}

// TestTruncateDeletesIndex: on_truncate delete_index drops the documents;
// the next write creates the index again with its mapping.
func TestTruncateDeletesIndex(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		idx := c.index()
		s := c.sink(func(cfg *search.Config) {
			cfg.Index = idx
			cfg.Mapping = map[string]any{"properties": map[string]any{"name": map[string]any{"type": "keyword"}}}
		})
		write(t, s,
			snap(row(1, "a", "1.00", event.Null)),
			event.Event{Op: event.OpTruncate, Schema: product, Source: event.Source{LSN: 50, HasLSN: true}},
			change(event.OpCreate, 60, nil, row(2, "b", "2.00", event.Null)),
		)
		wantDocs(t, c.docs(idx), map[string]string{"2": rowJSON(2, "b", "2.00", "")})
		if _, b := c.req("GET", "/"+idx+"/_mapping", nil); !strings.Contains(string(b), `"keyword"`) {
			t.Errorf("index re-created without its mapping: %s", b)
		}
	})
}

// TestUnreachable: no server is a plain (retryable) error, quickly.
func TestUnreachable(t *testing.T) {
	cfg := search.Defaults()
	cfg.Hosts = []string{"http://127.0.0.1:1"}
	cfg.RequestTimeout = 5 * time.Second
	s, err := opensearch.New(opensearch.Config{Config: cfg}, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(context.Background(), []event.Event{snap(row(1, "a", "1", event.Null))})
	if err == nil || component.IsPermanent(err) {
		t.Fatalf("want a retryable error, got %v", err)
	}
	var rec component.RecordErrors
	if errors.As(err, &rec) {
		t.Fatalf("unreachable server gave record errors: %v", err)
	}
}
