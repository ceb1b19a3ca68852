package verify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	pgsource "github.com/sluice-dev/sluice/source/postgres"
)

func TestCanonJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`2.50`, `2.5`},
		{`25e-1`, `2.5`},
		{`2`, `2`},
		{`2.0`, `2`},
		{`-0.000100`, `-0.0001`},
		{`1e3`, `1000`},
		{`0.1`, `0.1`},
		{`"2.5"`, `"2.5"`},
		{`null`, `null`},
		{`{"b": [1, 2.10], "a": "é"}`, `{"a":"é","b":[1,2.1]}`},
		{`123456789012345678901234567890.123456789`, `123456789012345678901234567890.123456789`},
	} {
		got, err := canonJSON([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("canonJSON(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	// A number and the string of it stay different; so do Unicode
	// normalisation forms.
	a, _ := canonJSON([]byte(`1`))
	b, _ := canonJSON([]byte(`"1"`))
	c, _ := canonJSON([]byte(`"é"`))
	d, _ := canonJSON([]byte("\"e\u0301\""))
	if a == b || c == d {
		t.Errorf("canonJSON conflates %s/%s or %s/%s", a, b, c, d)
	}
}

func TestKeyID(t *testing.T) {
	for _, key := range [][]string{{"7"}, {"a|b", `c\d`}, {"", "x"}, {"1", "2", "3"}} {
		id := keyID(key)
		if got := splitKeyID(id, len(key)); !reflect.DeepEqual(got, key) {
			t.Errorf("splitKeyID(keyID(%q) = %q) = %q", key, id, got)
		}
	}
	if got := keyID([]string{"a|b", `c\d`}); got != `a\|b|c\\d` {
		t.Errorf("keyID = %q, want a\\|b|c\\\\d (tmpl.AppendKey's form)", got)
	}
	if got := splitKeyID("a|b|c", 2); got != nil {
		t.Errorf("splitKeyID of 3 parts for a 2-column key = %q, want nil", got)
	}
}

func TestSignals(t *testing.T) {
	sigs, err := Signals("public.item", []string{"id"}, [][]string{{"3"}, {"it's"}}, "p", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Signal{{ID: "p-1", Type: "execute-snapshot", Data: `{"data-collections":["public.item"],"type":"incremental",` +
		`"additional-conditions":[{"data-collection":"public.item","filter":"\"id\" IN ('3', 'it''s')"}]}`}}
	if !reflect.DeepEqual(sigs, want) {
		t.Errorf("one-column key:\n got  %+v\n want %+v", sigs, want)
	}
	sigs, err = Signals("s.link", []string{"a", "B"}, [][]string{{"1", "x"}, {"2", "y"}}, "p", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []Signal{{ID: "p-1", Type: "execute-snapshot", Data: `{"data-collections":["s.link"],"type":"incremental",` +
		`"additional-conditions":[{"data-collection":"s.link","filter":"(\"a\" = '1' AND \"B\" = 'x') OR (\"a\" = '2' AND \"B\" = 'y')"}]}`}}
	if !reflect.DeepEqual(sigs, want) {
		t.Errorf("two-column key:\n got  %+v\n want %+v", sigs, want)
	}
	// Many keys: cut into signals of at most 2048 bytes of data that
	// together name every key once, in order.
	var keys [][]string
	for i := 0; i < 1000; i++ {
		keys = append(keys, []string{strings.Repeat("k", 5) + string(rune('a'+i%26)) + strings.Repeat("0", i%7)})
	}
	sigs, err = Signals("public.item", []string{"id"}, keys, "p", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) < 2 {
		t.Fatalf("1000 keys in %d signal(s), want several", len(sigs))
	}
	var all []string
	for i, s := range sigs {
		if len(s.Data) > maxSignalData {
			t.Errorf("signal %d: %d bytes of data, over %d", i, len(s.Data), maxSignalData)
		}
		if s.ID != "p-"+strconv.Itoa(i+1) {
			t.Errorf("signal %d: id %s", i, s.ID)
		}
		_, list, _ := strings.Cut(s.Data, `IN (`)
		list, _, _ = strings.Cut(list, `)"}]}`)
		for _, k := range strings.Split(list, ", ") {
			all = append(all, strings.Trim(k, "'"))
		}
	}
	if len(all) != len(keys) {
		t.Fatalf("%d keys in the signals, want %d", len(all), len(keys))
	}
	for i := range keys {
		if all[i] != keys[i][0] {
			t.Fatalf("key %d: %q in the signals, want %q", i, all[i], keys[i][0])
		}
	}
	if _, err := Signals("public.item", []string{"id"}, [][]string{{strings.Repeat("x", 3000)}}, "p", nil, nil); err == nil {
		t.Error("a key over 2 KB: no error")
	}
}

func TestSignalKey(t *testing.T) {
	type withSignal struct {
		DSN    string `yaml:"dsn"`
		Signal string `yaml:"signal_data_collection"`
	}
	type without struct {
		DSN string `yaml:"dsn"`
	}
	if k, ok := SignalKey(&withSignal{}); !ok || k != "signal_data_collection" {
		t.Errorf("SignalKey = %q, %v", k, ok)
	}
	if got := SignalTable(&withSignal{Signal: "public.sig"}); got != "public.sig" {
		t.Errorf("SignalTable = %q", got)
	}
	if _, ok := SignalKey(&without{}); ok {
		t.Error("SignalKey of a config without the key: ok")
	}
}

// TestRotatedFiles: a file sink's rotated files come in write order (time,
// then sequence number, 10 after 9), then the active file.
func TestRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	active := filepath.Join(dir, "out.jsonl")
	for _, n := range []string{"out-20240102T000000Z-10.jsonl", "out-20240102T000000Z-9.jsonl", "out-20240101T000000Z-11.jsonl",
		"out.jsonl", "other-20240101T000000Z-1.jsonl", "out-x.jsonl"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := rotatedFiles(active)()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	want := []string{"out-20240101T000000Z-11.jsonl", "out-20240102T000000Z-9.jsonl", "out-20240102T000000Z-10.jsonl", "out.jsonl"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("rotatedFiles = %q, want %q", names, want)
	}
}

// TestFileLastImages: the last image per key wins, a delete removes the
// key, a truncate of the table removes every key, other tables' lines and
// a partial last line (a crash's unfinished write) are ignored.
func TestFileLastImages(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.jsonl")
	lines := `{"before":null,"after":{"id":1,"v":"a"},"source":{"schema":"public","table":"t"},"op":"r"}
{"before":null,"after":{"id":2,"v":"b"},"source":{"schema":"public","table":"t"},"op":"r"}
{"before":null,"after":{"id":3,"v":"c"},"source":{"schema":"public","table":"other"},"op":"r"}
{"before":{"id":1,"v":"a"},"after":{"id":1,"v":"a2"},"source":{"schema":"public","table":"t"},"op":"u"}
{"before":{"id":2,"v":"b"},"after":null,"source":{"schema":"public","table":"t"},"op":"d"}
{"before":null,"after":{"id":4,"v":"d"},"source":{"schema":"public","table":"t"},"op":"c"}
{"before":null,"after":{"id":5,"v":"e"},"source":{"sch`
	if err := os.WriteFile(p, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	ft := &fileTable{t: &fileTarget{opts: format.DefaultOptions()}, st: nil, images: map[string]image{}}
	ft.st = testScanTable(t)
	if err := ft.read(p); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for id, img := range ft.images {
		got[id] = img.cols["v"]
	}
	want := map[string]string{"1": `"a2"`, "4": `"d"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("last images = %v, want %v", got, want)
	}
	if err := ft.apply([]byte(`{"before":null,"after":null,"source":{"schema":"public","table":"t"},"op":"t"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if len(ft.images) != 0 {
		t.Errorf("after a truncate: %d images", len(ft.images))
	}
}

// testScanTable is public.t (id int key, v text).
func testScanTable(t *testing.T) srcTable {
	t.Helper()
	return &pgSrcTable{st: &pgsource.ScanTable{Schema: &event.Schema{Stream: "pg.public.t", Namespace: "public", Table: "t",
		Columns: []event.Column{{Name: "id", Type: event.TypeInt32, Key: true}, {Name: "v", Type: event.TypeString, Optional: true}},
		KeyIdx:  []int{0}}}}
}

// TestPace: --rate holds the source to ROWS/s (a lower bound on the time
// taken; the timer cannot fire early), and a cancelled run stops waiting.
func TestPace(t *testing.T) {
	r := &tableRun{ctx: context.Background(), opts: &Options{Rate: 1000}, tr: &TableReport{}, start: time.Now()}
	t0 := time.Now()
	if err := r.pace(300); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 290*time.Millisecond {
		t.Errorf("300 rows at 1000 rows/s took %v, want at least 300ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = &tableRun{ctx: ctx, opts: &Options{Rate: 1}, tr: &TableReport{}, start: time.Now()}
	if err := r.pace(3600); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled pace = %v, want context.Canceled", err)
	}
}
