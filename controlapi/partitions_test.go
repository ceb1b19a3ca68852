package controlapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/store/pgleases"
	"github.com/sluice-dev/sluice/supervisor"
)

// TestPartitions: GET /pipelines/{name}/partitions shows a coordinated
// pipeline's lease table — what `sluice status` prints — and is a 404 for
// a pipeline on one node.
func TestPartitions(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	reg := registry.Default()
	dir := t.TempDir()
	s := supervisor.New(supervisor.Options{Registry: reg})
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	load := func(name, extra string) {
		g, err := config.Load(name+".yaml", []byte("name: "+name+"\nstate_dir: "+filepath.Join(dir, name)+extra+
			"\nsources:\n  gen: {type: generator, tables: [product], rate: 10}\nsinks:\n  out: {type: stdout, inputs: [gen], format: row}\n"), reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddState(g, supervisor.Stopped); err != nil {
			t.Fatal(err)
		}
	}
	load("shop", "\nnode_id: n1\ncoordination: {type: postgres, dsn: '"+dsn+"', namespace: shopns}")
	load("solo", "")
	h := New(Options{Supervisor: s}).Handler()
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, strings.TrimSpace(string(b))
	}

	ctx := context.Background()
	st, err := pgleases.Open(ctx, dsn, pgleases.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ls := st.Leases("shopns")
	if err := ls.Create(ctx, "stream", []string{"stream/shop"}); err != nil {
		t.Fatal(err)
	}
	if err := ls.Create(ctx, "chunk/shop", []string{"chunk/shop/gen/0"}); err != nil {
		t.Fatal(err)
	}
	l, ok, err := ls.Acquire(ctx, "stream", "n1", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := ls.Renew(ctx, l, []byte(`{"gen":{"v":1}}`), time.Minute); err != nil {
		t.Fatal(err)
	}

	code, body := get("/pipelines/shop/partitions")
	var ps app.Partitions
	if err := json.Unmarshal([]byte(body), &ps); code != 200 || err != nil {
		t.Fatalf("%d %s %v", code, body, err)
	}
	if ps.Namespace != "shopns" || len(ps.Partitions) != 2 || time.Since(ps.ServerTime) > time.Minute {
		t.Fatalf("got %s", body)
	}
	byKey := map[string]app.Partition{}
	for _, p := range ps.Partitions {
		byKey[p.Key] = p
	}
	if p := byKey["stream/shop"]; p.Kind != "stream" || p.Owner != "n1" || p.Status != "owned" || p.Epoch != 1 || string(p.Progress) != `{"gen":{"v":1}}` ||
		p.Expires == nil || p.Expires.Sub(ps.ServerTime) < 50*time.Second {
		t.Errorf("stream partition: %+v (server time %v)", p, ps.ServerTime)
	}
	if p := byKey["chunk/shop/gen/0"]; p.Kind != "chunk/shop" || p.Owner != "" || p.Status != "open" || p.Epoch != 0 {
		t.Errorf("chunk partition: %+v", p)
	}
	if code, body := get("/pipelines/solo/partitions"); code != 404 || body != `{"error_code":404,"message":"Pipeline solo runs on one node: it has no partitions (coordination: is not set)"}` {
		t.Errorf("one node: %d %s", code, body)
	}
	if code, body := get("/pipelines/nope/partitions"); code != 404 || body != `{"error_code":404,"message":"Pipeline nope not found"}` {
		t.Errorf("unknown: %d %s", code, body)
	}
}
