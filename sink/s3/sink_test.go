package s3

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/durable"
)

func TestPartitionRender(t *testing.T) {
	e := change(1, event.OpCreate)
	e.Source.TsUs = (time.Date(2024, 3, 7, 5, 9, 59, 999e6, time.UTC).UnixMilli()) * 1000
	for _, tc := range []struct{ tmpl, want string }{
		{DefaultPartition, "pg.public.users/dt=2024-03-07/hour=05"},
		{"table=${table}/dt=${date}/hour=${hour}", "table=users/dt=2024-03-07/hour=05"},
		{"${source}/${database}/${schema}/${table}/${year}/${month}/${day}/${hour}/${minute}", "pg/shop/public/users/2024/03/07/05/09"},
		{"cost$$/${ table }", "cost$/users"},
		{"flat", "flat"},
	} {
		p, err := parsePartition(tc.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		if got := string(p.render(nil, &e)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.tmpl, got, tc.want)
		}
	}
	// Without a source commit time, sluice's processing time places it.
	e.Source.TsUs = 0
	e.TsMs = time.Date(2023, 12, 31, 23, 0, 0, 0, time.UTC).UnixMilli()
	p, _ := parsePartition(DefaultPartition)
	if got := string(p.render(nil, &e)); got != "pg.public.users/dt=2023-12-31/hour=23" {
		t.Errorf("processing time: got %q", got)
	}
	// A '/' inside a name never adds a level.
	odd := *usersSchema
	odd.Table, odd.Stream = "a/b", "pg.public.a/b"
	e.Schema = &odd
	p, _ = parsePartition("${table}")
	if got := string(p.render(nil, &e)); got != "a_b" {
		t.Errorf("slash in a name: got %q", got)
	}
}

func TestParsePartitionErrors(t *testing.T) {
	for _, tmpl := range []string{"${nope}", "${stream", "/abs/${stream}", "../${stream}"} {
		if _, err := parsePartition(tmpl); err == nil {
			t.Errorf("%q: no error", tmpl)
		}
	}
}

func TestObjectKey(t *testing.T) {
	for _, tc := range []struct {
		prefix, dir string
		first, last pos
		ext, want   string
	}{
		{"cdc", "pg.public.users/dt=2024-01-01/hour=10", pos{hi: 0x1000, lo: 0xff8}, pos{hi: 0x3000, lo: 0x2ff8}, "jsonl",
			"cdc/pg.public.users/dt=2024-01-01/hour=10/pg.public.users+0000000000001000-0000000000000ff8+0000000000003000-0000000000002ff8.jsonl"},
		{"/lake/", "", pos{snap: true, lo: 1}, pos{snap: true, lo: 250}, "parquet",
			"lake/pg.public.users+s000000000001+s000000000250.parquet"},
		{"", "x", pos{snap: true, lo: 7}, pos{hi: 1, lo: 2}, "jsonl",
			"x/pg.public.users+s000000000007+0000000000000001-0000000000000002.jsonl"},
	} {
		if got := objectKey(tc.prefix, tc.dir, "pg.public.users", tc.first, tc.last, tc.ext); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// key is the object name of users changes from..to under cdc/ in hour 10.
func key(from, to int) string {
	return fmt.Sprintf("cdc/pg.public.users/dt=2024-01-01/hour=10/pg.public.users+%016x-%016x+%016x-%016x.jsonl",
		0x1000*from, 0x1000*from-8, 0x1000*to, 0x1000*to-8)
}

// rows is the row-format JSON lines of users changes from..to.
func rows(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "{\"id\":%d,\"name\":\"user %d\",\"__op\":\"c\",\"__lsn\":%d}\n", i, i, 0x1000*i-8)
	}
	return b.String()
}

func TestRotateByCount(t *testing.T) {
	store := newMemStore()
	s := newTestSink(t, rowConfig(), t.TempDir(), store)
	write(t, s, changes(1, 7))
	settle(s)
	if got, want := store.keys(), []string{key(1, 3), key(4, 6)}; !slices.Equal(got, want) {
		t.Fatalf("after Write: objects\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	write(t, s, changes(8, 8))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{key(1, 3): rows(1, 3), key(4, 6): rows(4, 6), key(7, 8): rows(7, 8)}
	checkObjects(t, store, want)
}

func checkObjects(t *testing.T, store *memStore, want map[string]string) {
	t.Helper()
	got := store.keys()
	wantKeys := make([]string, 0, len(want))
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	slices.Sort(wantKeys)
	if !slices.Equal(got, wantKeys) {
		t.Fatalf("objects\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantKeys, "\n"))
	}
	for k, w := range want {
		if g := string(store.get(k)); g != w {
			t.Errorf("%s:\n%s\nwant\n%s", k, g, w)
		}
	}
}

func TestRotateByBytes(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 0
	cfg.RotateBytes = int64(len(rows(1, 2))) // two records
	store := newMemStore()
	s := newTestSink(t, cfg, t.TempDir(), store)
	write(t, s, changes(1, 5))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, map[string]string{key(1, 2): rows(1, 2), key(3, 4): rows(3, 4), key(5, 5): rows(5, 5)})
}

func TestRotateByEventTime(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 0
	cfg.RotateInterval = 2500 * time.Millisecond // changes commit 1 s apart
	store := newMemStore()
	s := newTestSink(t, cfg, t.TempDir(), store)
	// One event at a time: event time, not batch boundaries, cuts objects.
	for i := 1; i <= 7; i++ {
		write(t, s, changes(i, i))
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3), key(4, 6): rows(4, 6), key(7, 7): rows(7, 7)})
}

func TestRotateBySchedule(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 0
	cfg.RotateScheduleInterval = time.Hour // the ticker never fires in this test
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	store := newMemStore()
	s := newTestSink(t, cfg, t.TempDir(), store)
	s.now = clk.now
	write(t, s, changes(1, 2))
	clk.add(59 * time.Minute)
	write(t, s, changes(3, 3))
	if got := store.keys(); len(got) != 0 {
		t.Fatalf("objects before the interval: %v", got)
	}
	clk.add(time.Minute)
	write(t, s, changes(4, 4)) // seals 1..3 before taking 4
	settle(s)
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3)})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3), key(4, 4): rows(4, 4)})
}

// TestRotateByScheduleAcrossRestart: an object's age counts from when it
// was opened, not from when a restarted sink reopened its spool, so
// restarts (a crash loop) cannot keep an object open forever.
func TestRotateByScheduleAcrossRestart(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 0
	cfg.RotateScheduleInterval = time.Hour // the ticker never fires in this test
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	store := newMemStore()
	s := newTestSink(t, cfg, dir, store)
	s.now = clk.now
	write(t, s, changes(1, 2))
	crash(s)
	clk.add(time.Hour)
	s = newTestSink(t, cfg, dir, store)
	s.now = clk.now
	write(t, s, changes(3, 3)) // seals 1..2, an hour old, before taking 3
	settle(s)
	checkObjects(t, store, map[string]string{key(1, 2): rows(1, 2)})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, map[string]string{key(1, 2): rows(1, 2), key(3, 3): rows(3, 3)})
}

// TestScheduleFlushesIdle: the background ticker uploads an idle object.
func TestScheduleFlushesIdle(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 0
	cfg.RotateScheduleInterval = 50 * time.Millisecond
	store := newMemStore()
	s := newTestSink(t, cfg, t.TempDir(), store)
	defer s.Close(context.Background())
	write(t, s, changes(1, 2))
	deadline := time.Now().Add(10 * time.Second)
	for len(store.keys()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle object not uploaded by the schedule")
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkObjects(t, store, map[string]string{key(1, 2): rows(1, 2)})
}

func TestPartitionsByCommitHour(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 100
	store := newMemStore()
	s := newTestSink(t, cfg, t.TempDir(), store)
	evs := changes(1, 3)
	evs[2].Source.TsUs = (baseMs + time.Hour.Milliseconds()) * 1000 // next hour
	write(t, s, evs)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(key(3, 3), "hour=10", "hour=11", 1)
	checkObjects(t, store, map[string]string{key(1, 2): rows(1, 2), next: rows(3, 3)})
}

func TestSnapshotOrdinals(t *testing.T) {
	store := newMemStore()
	s := newTestSink(t, rowConfig(), t.TempDir(), store)
	evs := []event.Event{snapshotRow(1), snapshotRow(2), snapshotRow(3), snapshotRow(4)}
	evs = append(evs, changes(5, 5)...)
	write(t, s, evs)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := "cdc/pg.public.users/dt=2024-01-01/hour=10/"
	want := []string{
		dir + "pg.public.users+s000000000001+s000000000003.jsonl",
		dir + fmt.Sprintf("pg.public.users+s000000000004+%016x-%016x.jsonl", 0x5000, 0x5000-8),
	}
	if got := store.keys(); !slices.Equal(got, want) {
		t.Fatalf("objects\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := string(store.get(want[0])); got != "{\"id\":1,\"name\":\"user 1\",\"__op\":\"r\",\"__lsn\":1280}\n{\"id\":2,\"name\":\"user 2\",\"__op\":\"r\",\"__lsn\":1280}\n{\"id\":3,\"name\":\"user 3\",\"__op\":\"r\",\"__lsn\":1280}\n" {
		t.Errorf("snapshot object:\n%s", got)
	}
}

// TestReplayAfterCrash: a crash at any Write, followed by the engine's
// replay of everything after an older checkpoint, gives exactly the objects
// of an uninterrupted run.
func TestReplayAfterCrash(t *testing.T) {
	ref := newMemStore()
	s := newTestSink(t, rowConfig(), t.TempDir(), ref)
	for i := 1; i <= 20; i += 2 {
		write(t, s, changes(i, i+1))
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for crashAt := 1; crashAt <= 19; crashAt += 4 {
		for _, replayFrom := range slices.Compact([]int{1, max(1, crashAt-4), crashAt}) {
			t.Run(fmt.Sprintf("crash%d_replay%d", crashAt, replayFrom), func(t *testing.T) {
				dir := t.TempDir()
				store := newMemStore()
				s := newTestSink(t, rowConfig(), dir, store)
				for i := 1; i <= crashAt; i += 2 {
					write(t, s, changes(i, i+1))
				}
				crash(s)
				s = newTestSink(t, rowConfig(), dir, store)
				for i := replayFrom; i <= 20; i += 2 {
					write(t, s, changes(i, i+1))
				}
				if err := s.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				want := map[string]string{}
				for _, k := range ref.keys() {
					want[k] = string(ref.get(k))
				}
				checkObjects(t, store, want)
			})
		}
	}
}

// TestCrashAtEverySealStep crashes the sink at each step of completing an
// object — records fsynced but the spool not renamed (the worst moment: the
// spool is full yet still open), renamed but the directory not fsynced,
// uploaded but the state not saved, saved but the spool not removed — at
// each object in turn. A restart and the engine's replay from the start
// then give exactly the objects of an uninterrupted run: none holds more
// than flush_size records, none holds a record twice.
func TestCrashAtEverySealStep(t *testing.T) {
	ref := newMemStore()
	s := newTestSink(t, rowConfig(), t.TempDir(), ref)
	for i := 1; i <= 20; i += 2 {
		write(t, s, changes(i, i+1))
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, k := range ref.keys() {
		want[k] = string(ref.get(k))
	}
	errCrash := errors.New("crash")
	for _, step := range []string{stepSynced, stepRenamed, stepPut, stepSaved} {
		for nth := 1; nth <= 6; nth++ { // 20 events, flush_size 3: 6 objects by count
			t.Run(fmt.Sprintf("%s_object%d", step, nth), func(t *testing.T) {
				dir := t.TempDir()
				store := newMemStore()
				s := newTestSink(t, rowConfig(), dir, store)
				var mu sync.Mutex
				seen, crashed := 0, false
				s.hook = func(st string) error {
					mu.Lock()
					defer mu.Unlock()
					if st == step && !crashed {
						if seen++; seen == nth {
							crashed = true
							return errCrash
						}
					}
					return nil
				}
				isCrashed := func() bool { mu.Lock(); defer mu.Unlock(); return crashed }
				for i := 1; i <= 20 && !isCrashed(); i += 2 {
					err := s.Write(context.Background(), changes(i, i+1))
					settle(s)
					if err != nil && !isCrashed() {
						t.Fatal(err)
					}
				}
				if !isCrashed() {
					t.Fatalf("step %s of object %d never reached", step, nth)
				}
				crash(s)
				s = newTestSink(t, rowConfig(), dir, store)
				for i := 1; i <= 20; i += 2 {
					write(t, s, changes(i, i+1))
				}
				if err := s.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				for _, k := range store.keys() {
					if n := strings.Count(string(store.get(k)), "\n"); n > rowConfig().FlushSize {
						t.Errorf("%s holds %d records, flush_size is %d", k, n, rowConfig().FlushSize)
					}
				}
				checkObjects(t, store, want)
			})
		}
	}
}

// TestCrashBetweenUploadAndCleanup: an object uploaded whose spool file was
// not yet removed (and whose state was not saved) is uploaded again under
// the same name, with the same bytes, and its events are not written twice.
func TestCrashBetweenUploadAndCleanup(t *testing.T) {
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	backup := t.TempDir()
	store := newMemStore()
	store.beforePut = func(obj string) {
		// Keep the sealed spool as the crash would leave it.
		sealed := obj // a JSON-lines object is read from its sealed spool
		b, err := os.ReadFile(sealed)
		if err != nil {
			t.Error(err)
		}
		os.WriteFile(filepath.Join(backup, filepath.Base(sealed)), b, 0o644)
	}
	s := newTestSink(t, rowConfig(), dir, store)
	write(t, s, changes(1, 3))
	crash(s)
	store.beforePut = nil
	// The crash window: the spool file is back, the state file never written.
	entries, _ := os.ReadDir(backup)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(backup, e.Name()))
		if err := os.WriteFile(filepath.Join(spoolDir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(dir, "s3-state.json"))
	s = newTestSink(t, rowConfig(), dir, store)
	write(t, s, changes(1, 4)) // the replay
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3), key(4, 4): rows(4, 4)})
	if n := strings.Count(strings.Join(store.puts, "\n"), key(1, 3)); n != 2 {
		t.Errorf("object 1..3 put %d times, want 2 (once, then again from the leftover spool)", n)
	}
}

// TestUploadFailureKeepsSpool: events are acknowledged into the spool while
// S3 fails; the next Write fails until the sealed object is uploaded, and
// nothing is lost or duplicated.
func TestUploadFailureKeepsSpool(t *testing.T) {
	store := newMemStore()
	s := newTestSink(t, rowConfig(), t.TempDir(), store)
	store.mu.Lock()
	store.fail = errors.New("connection refused")
	// The store stays locked while both Writes run: the upload of 1..3 is
	// in flight (its put waits for the lock) and cannot have failed before
	// the second Write, which would then see the failure at its start.
	write(t, s, changes(1, 4)) // durable in the spool; 1..3 sealed, its upload fails
	write(t, s, changes(5, 5)) // durable too
	store.mu.Unlock()
	settle(s) // the sink sees the failed upload (a Write sees it once it has ended)
	if err := s.Write(context.Background(), changes(6, 6)); err == nil {
		t.Fatal("Write succeeded with a sealed object not uploadable")
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	write(t, s, changes(6, 6)) // the engine's retry
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3), key(4, 6): rows(4, 6)})
}

// TestRestartUploadsLeftoverSpool: sealed spools from a crashed run go up
// before anything else, open ones keep filling.
func TestRestartUploadsLeftoverSpool(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	s := newTestSink(t, rowConfig(), dir, store)
	store.mu.Lock()
	store.fail = errors.New("unreachable")
	store.mu.Unlock()
	write(t, s, changes(1, 5))
	crash(s)
	store.fail = nil
	s = newTestSink(t, rowConfig(), dir, store)
	write(t, s, nil) // uploads the leftover before returning
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3)})
	write(t, s, changes(6, 6))
	settle(s)
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3), key(4, 6): rows(4, 6)})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestOldSpoolPlaceIsMoved: a spool left where sluice before 0.2 kept it
// (<state dir>/sink/<name>) is moved into the state dir and uploaded.
func TestOldSpoolPlaceIsMoved(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	s := newTestSink(t, rowConfig(), dir, store)
	store.mu.Lock()
	store.fail = errors.New("unreachable")
	store.mu.Unlock()
	write(t, s, changes(1, 5))
	crash(s)
	old := filepath.Join(dir, "sink", "lake")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, item := range []string{"spool", "s3-state.json"} {
		if err := os.Rename(filepath.Join(dir, item), filepath.Join(old, item)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	store.fail = nil
	s = newTestSink(t, rowConfig(), dir, store)
	write(t, s, nil)
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3)})
	if _, err := os.Stat(filepath.Join(dir, "sink")); !os.IsNotExist(err) {
		t.Fatalf("the old place is still there: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestTornSpoolTail: a record cut by a crash mid-write is dropped on open;
// it was never acknowledged, so the replay brings it back.
func TestTornSpoolTail(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	s := newTestSink(t, rowConfig(), dir, store)
	write(t, s, changes(1, 2))
	crash(s)
	f := filepath.Join(dir, "spool", "0000000001.open")
	st, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f, st.Size()-3); err != nil {
		t.Fatal(err)
	}
	s = newTestSink(t, rowConfig(), dir, store)
	write(t, s, changes(1, 3))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3)})
}

func TestRetriedWriteSkipsSpooledSnapshotRows(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	s := newTestSink(t, rowConfig(), dir, store)
	evs := []event.Event{snapshotRow(1), snapshotRow(2)}
	write(t, s, evs)
	// Make the Write fail after spooling: the engine retries it.
	s.fail(errors.New("disk full"), map[string]int64{usersSchema.Stream: 0})
	write(t, s, evs)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := store.keys()
	if len(got) != 1 || !strings.HasSuffix(got[0], "pg.public.users+s000000000001+s000000000002.jsonl") {
		t.Fatalf("objects %v", got)
	}
}

func TestValidate(t *testing.T) {
	cfg := DefaultConfig()
	errs := cfg.Validate()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "bucket") {
		t.Errorf("defaults: %v", errs)
	}
	cfg = DefaultConfig()
	cfg.Bucket, cfg.Format, cfg.Compression, cfg.Partition, cfg.PartSize = "b", Parquet, "lz9", "${x}", 1
	cfg.AccessKeyID = "k"
	var fields []string
	for _, err := range cfg.Validate() {
		fields = append(fields, strings.SplitN(err.Error(), ":", 2)[0])
	}
	if want := []string{"access_key_id", "compression", "partition", "part_size"}; !slices.Equal(fields, want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	if _, err := New(*cfg, component.Env{Name: "x", StateDir: t.TempDir()}); err == nil {
		t.Error("New accepted an invalid config")
	}
}

// TestFormatChangeBetweenRuns: an object left open under another format is
// completed in that format; new events start a new object.
func TestFormatChangeBetweenRuns(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	s := newTestSink(t, rowConfig(), dir, store)
	write(t, s, changes(1, 2))
	crash(s)
	cfg := rowConfig()
	cfg.Format = "debezium"
	s = newTestSink(t, cfg, dir, store)
	write(t, s, changes(1, 3)) // the replay: 1 and 2 are in the old object
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := store.keys()
	if len(keys) != 2 || keys[0] != key(1, 2) || keys[1] != key(3, 3) {
		t.Fatalf("objects %v", keys)
	}
	if got := string(store.get(key(1, 2))); got != rows(1, 2) {
		t.Errorf("old object:\n%s", got)
	}
	if got := string(store.get(key(3, 3))); !strings.HasPrefix(got, `{"before":null,"after":{"id":3,`) {
		t.Errorf("new object:\n%s", got)
	}
}

// TestLargeRecord: a record over the spool reader's small-record buffer
// (1 MiB) survives a restart and lands whole.
func TestLargeRecord(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	s := newTestSink(t, rowConfig(), dir, store)
	big := strings.Repeat("b", 3<<20)
	evs := changes(1, 2)
	evs[0].After[1] = event.String(big)
	write(t, s, evs)
	crash(s)
	s = newTestSink(t, rowConfig(), dir, store)
	write(t, s, changes(1, 3))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(rows(1, 3), `"user 1"`, `"`+big+`"`, 1)
	if got := string(store.get(key(1, 3))); got != want {
		t.Errorf("object of %d bytes, want %d", len(got), len(want))
	}
}

// TestPartitionedSourceAtLeastOnce: events read back from several Kafka
// partitions arrive out of their original order, so the Kafka source gives
// them no Seq (see source/kafka); none is dropped as a replay.
func TestPartitionedSourceAtLeastOnce(t *testing.T) {
	store := newMemStore()
	s := newTestSink(t, rowConfig(), t.TempDir(), store)
	evs := changes(1, 3)
	evs[0], evs[2] = evs[2], evs[0] // partition 1 delivers 3 before partition 0 delivers 1
	for i := range evs {
		evs[i].Position = fmt.Sprintf("pg.public.users/%d@%d", i%2, i)
		evs[i].Source.CommitLSN = 0 // what the Kafka source does with several partitions
	}
	write(t, s, evs)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	k := "cdc/pg.public.users/dt=2024-01-01/hour=10/pg.public.users+s000000000001+s000000000003.jsonl"
	checkObjects(t, store, map[string]string{k: rows(3, 3) + rows(2, 2) + rows(1, 1)})
}

// TestNewSpoolNameSyncedBeforeAck: a Write that starts an object returns
// only once the spool file's name is durable (the directory fsynced), not
// only its records: a power failure must not take the file away.
func TestNewSpoolNameSyncedBeforeAck(t *testing.T) {
	dir := t.TempDir()
	s := newTestSink(t, rowConfig(), dir, newMemStore())
	var mu sync.Mutex
	var synced []string
	durable.Synced = func(d string) { mu.Lock(); synced = append(synced, d); mu.Unlock() }
	defer func() { durable.Synced = nil }()
	write(t, s, changes(1, 1)) // a new object, not sealed (flush_size 3)
	mu.Lock()
	got := slices.Clone(synced)
	mu.Unlock()
	if want := filepath.Join(dir, "spool"); !slices.Contains(got, want) {
		t.Fatalf("directories fsynced by the Write: %q; the spool directory %s is missing", got, want)
	}
	mu.Lock()
	synced = nil
	mu.Unlock()
	write(t, s, changes(2, 2)) // the same object: no new name
	mu.Lock()
	defer mu.Unlock()
	if len(synced) != 0 {
		t.Fatalf("a Write that started no object fsynced directories %q", synced)
	}
}

// The spool's directories are fsynced into their parents when created: a
// power loss cannot take away a spool whose records were fsynced.
func TestSpoolDirectoriesAreSynced(t *testing.T) {
	base := t.TempDir()
	var synced []string
	durable.Synced = func(dir string) { synced = append(synced, dir) }
	defer func() { durable.Synced = nil }()
	dir := filepath.Join(base, "sinks", "lake")
	newTestSink(t, rowConfig(), dir, newMemStore())
	for _, want := range []string{base, filepath.Join(base, "sinks"), dir} {
		if !slices.Contains(synced, want) {
			t.Fatalf("directories fsynced: %q; %s missing", synced, want)
		}
	}
}

// TestPowerLossBetweenSpoolFsyncs: one Write whose events cross a
// partition boundary (minute 10:00 into 10:01) fills two open objects of
// one stream. The power fails while that Write fsyncs them: one fsync
// fails, and every open spool keeps only what its last successful fsync
// covered. The engine then replays the whole Write. Every change must
// land once: a durable record of the second object must never stand above
// a lost record of the first, or the replay would skip the lost one as
// below the stream's high-water mark. Each of the two fsyncs fails in
// turn, twenty times over (the order of a map's keys must not matter).
func TestPowerLossBetweenSpoolFsyncs(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 10
	cfg.Partition = "${stream}/${hour}${minute}"
	evs := changes(58, 61) // 58, 59 at 10:00:5x; 60, 61 at 10:01:0x
	want := map[string]string{
		strings.Replace(key(58, 59), "dt=2024-01-01/hour=10", "1000", 1): rows(58, 59),
		strings.Replace(key(60, 61), "dt=2024-01-01/hour=10", "1001", 1): rows(60, 61),
	}
	for round := range 20 {
		for _, failing := range []int{1, 2} { // the spool file that fails to fsync
			dir := t.TempDir()
			store := newMemStore()
			s := newTestSink(t, cfg, dir, store)
			failed := false
			fsyncHook = func(path string) error {
				if !failed && strings.HasPrefix(filepath.Base(path), fmt.Sprintf("%010d.", failing)) {
					failed = true
					return errors.New("input/output error")
				}
				return nil
			}
			t.Cleanup(func() { fsyncHook = nil })
			if err := s.Write(context.Background(), evs); err == nil {
				t.Fatalf("round %d, spool %d: the Write succeeded with a failed fsync", round, failing)
			}
			// The power fails: each open spool file keeps what its last
			// fsync covered.
			s.mu.Lock()
			for _, sp := range s.open {
				if err := os.Truncate(sp.path, sp.synced); err != nil {
					t.Fatal(err)
				}
			}
			s.mu.Unlock()
			crash(s)
			s = newTestSink(t, cfg, dir, store)
			write(t, s, evs) // the engine's replay
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkObjects(t, store, want)
		}
	}
}

// fsyncLog records, per spool file, the length its last successful fsync
// covered, as the disk would hold it after a power failure.
type fsyncLog struct {
	mu      sync.Mutex
	durable map[string]int64
	fail    func(path string) bool // fails this fsync when it returns true
}

func (l *fsyncLog) hook(path string) error {
	if l.fail != nil && l.fail(path) {
		return errors.New("input/output error")
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.durable[path] = st.Size() // the fsync that follows covers this much
	l.mu.Unlock()
	return nil
}

// powerFail cuts every open spool file in dir to what its fsyncs covered.
func (l *fsyncLog) powerFail(t *testing.T, dir string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	files, _ := filepath.Glob(filepath.Join(dir, "spool", "*.open"))
	for _, f := range files {
		if err := os.Truncate(f, l.durable[f]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRetriedWriteAfterFailedFsyncIsDurable: a Write fails at its spool's
// fsync; the engine retries it, and that retry must make the records
// durable itself. The page cache still shows them after the failure, but
// the disk need not hold them: a retry that took them as spooled (and
// skipped them) without an fsync lost them at the next power failure,
// once a later record of the stream was durable in the next object.
//
// Three ways on from the failed fsync: the engine retries in the same
// process; the same, with the unfsynced tail no longer reading back as
// written (a failed fsync leaves the page cache's copy unreliable: the
// retry must write the records again, not trust them); the process
// crashes first and the next one starts from the spool (the engine
// replays from its checkpoint, before 58).
func TestRetriedWriteAfterFailedFsyncIsDurable(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 10
	cfg.Partition = "${stream}/${hour}${minute}"
	want := map[string]string{
		strings.Replace(key(58, 59), "dt=2024-01-01/hour=10", "1000", 1): rows(58, 59),
		strings.Replace(key(60, 61), "dt=2024-01-01/hour=10", "1001", 1): rows(60, 61),
	}
	for _, way := range []string{"retry", "retry_unreliable_tail", "restart"} {
		t.Run(way, func(t *testing.T) {
			dir := t.TempDir()
			store := newMemStore()
			failed := false
			l := &fsyncLog{durable: map[string]int64{}, fail: func(string) bool {
				if !failed {
					failed = true
					return true
				}
				return false
			}}
			fsyncHook = l.hook
			t.Cleanup(func() { fsyncHook = nil })
			s := newTestSink(t, cfg, dir, store)
			if err := s.Write(context.Background(), changes(58, 59)); err == nil {
				t.Fatal("the Write succeeded with a failed fsync")
			}
			switch way {
			case "retry_unreliable_tail":
				files, _ := filepath.Glob(filepath.Join(dir, "spool", "*.open"))
				for _, f := range files {
					st, _ := os.Stat(f)
					fh, err := os.OpenFile(f, os.O_WRONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					from := l.durable[f]
					fh.WriteAt(make([]byte, st.Size()-from), from)
					fh.Close()
				}
			case "restart":
				crash(s)
				s = newTestSink(t, cfg, dir, store)
			}
			write(t, s, changes(58, 59)) // the engine's retry, or replay
			write(t, s, changes(60, 61)) // the next minute: the next object
			l.powerFail(t, dir)
			crash(s)
			s = newTestSink(t, cfg, dir, store)
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkObjects(t, store, want)
		})
	}
}

// TestNameDurableBeforeStreamMovesOn: a stream that leaves a spool file
// created in the same Write (its event time going back across a partition
// boundary) makes that file's name durable — the directory fsynced — before
// its next record can become durable elsewhere; otherwise a power failure
// could take the file (and its earlier record) while keeping the later one.
func TestNameDurableBeforeStreamMovesOn(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 10
	cfg.Partition = "${stream}/${hour}${minute}"
	dir := t.TempDir()
	s := newTestSink(t, cfg, dir, newMemStore())
	var mu sync.Mutex
	var steps []string
	fsyncHook = func(path string) error {
		mu.Lock()
		steps = append(steps, "fsync "+filepath.Base(path))
		mu.Unlock()
		return nil
	}
	durable.Synced = func(d string) {
		mu.Lock()
		steps = append(steps, "dir "+filepath.Base(d))
		mu.Unlock()
	}
	t.Cleanup(func() { fsyncHook, durable.Synced = nil, nil })
	back := change(61, event.OpCreate) // a later change, committed back in minute 10:00
	back.Source.TsUs = (baseMs + 59*1000) * 1000
	write(t, s, []event.Event{change(58, event.OpCreate), change(60, event.OpCreate), back})
	mu.Lock()
	defer mu.Unlock()
	// 58 to file 1 (10:00), 60 to file 2 (10:01), 61 back to file 1.
	want := []string{
		// Leaving file 1 for file 2, which was just created: file 1's
		// records, then the directory, which makes both names durable.
		"fsync 0000000001.open", "dir spool",
		// Leaving file 2 for file 1: its record; its name already is.
		"fsync 0000000002.open",
		"fsync 0000000001.open", // the end of the Write
	}
	if !slices.Equal(steps, want) {
		t.Fatalf("steps\n%s\nwant\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
}

// TestRetryAfterCutRenumbersSnapshotRows: snapshot rows carry no position;
// the sink numbers them, and a retried Write numbers them as before so
// that those already spooled are skipped. When a failed fsync made the
// retry cut a spool back, rows of the same stream may survive in another
// object (sealed, durable) above a cut one: the retry must then number
// its rows after those on disk rather than skip any (each row at least
// once; the kept ones may land twice).
func TestRetryAfterCutRenumbersSnapshotRows(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 2
	cfg.Partition = "${stream}/${hour}${minute}"
	// Row 1 to 10:00, rows 2 and 3 to 10:01 (sealed at two rows: durable),
	// row 4 back to 10:00; then the fsync of the 10:00 file fails.
	evs := []event.Event{minuteRow(1, 0), minuteRow(2, 1), minuteRow(3, 1), minuteRow(4, 0)}
	dir := t.TempDir()
	store := newMemStore()
	s := newTestSink(t, cfg, dir, store)
	fsyncHook = func(path string) error {
		if strings.HasPrefix(filepath.Base(path), "0000000001.") {
			return errors.New("input/output error")
		}
		return nil
	}
	t.Cleanup(func() { fsyncHook = nil })
	if err := s.Write(context.Background(), evs); err == nil {
		t.Fatal("the Write succeeded with a failed fsync")
	}
	fsyncHook = nil
	retryKeepsEveryRow(t, s, store, evs)
}

// TestRetryAfterBufferedRowsDropped: a failed Write can leave a snapshot
// row in a spool's buffer, never written, while a later row of the stream
// is durable in another object (fsynced by its seal, whose rename then
// failed). The retry must not skip the dropped row as spooled.
func TestRetryAfterBufferedRowsDropped(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 2
	cfg.Partition = "${stream}/${hour}${minute}"
	// Row 1 to 10:00 (stays in the buffer); rows 2 and 3 to 10:01, whose
	// object is full at row 3: fsynced, then its seal fails.
	evs := []event.Event{minuteRow(1, 0), minuteRow(2, 1), minuteRow(3, 1)}
	store := newMemStore()
	s := newTestSink(t, cfg, t.TempDir(), store)
	s.hook = func(step string) error {
		if step == stepSynced {
			return errors.New("rename: input/output error")
		}
		return nil
	}
	if err := s.Write(context.Background(), evs); err == nil {
		t.Fatal("the Write succeeded with a failed seal")
	}
	s.hook = nil
	retryKeepsEveryRow(t, s, store, evs)
}

// minuteRow is snapshot row i read minute minutes after 10:00.
func minuteRow(i, minute int) event.Event {
	e := snapshotRow(i)
	e.Source.TsUs = (baseMs + int64(minute)*60000) * 1000
	return e
}

// retryKeepsEveryRow writes evs again (the engine's retry of a failed
// Write), closes the sink and checks that every row of evs is in some
// object (snapshot rows are written at least once).
func retryKeepsEveryRow(t *testing.T, s *Sink, store *memStore, evs []event.Event) {
	t.Helper()
	write(t, s, evs)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, k := range store.keys() {
		all.Write(store.get(k))
	}
	for _, e := range evs {
		name := e.After[1].Text()
		if !strings.Contains(all.String(), fmt.Sprintf(`"name":%q`, name)) {
			t.Errorf("row %q is in no object; objects:\n%s", name, all.String())
		}
	}
}
