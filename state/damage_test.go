package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sample writes a store with two sources' checkpoints (pg written twice)
// and returns its state directory and file.
func sample(t testing.TB) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"pg", `{"lsn":"0/16B3748"}`}, {"gen", `{"seq":41}`}, {"pg", `{"lsn":"0/16B3750"}`}} {
		if err := s.SetCheckpoint(kv[0], []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, FileName)
}

// metaOf returns the meta bbolt uses (the valid one with the higher txid)
// and the page size.
func metaOf(t *testing.T, b []byte) (meta, int) {
	t.Helper()
	m0, err0 := parseMeta(b)
	if err0 != nil {
		t.Fatalf("meta 0: %v", err0)
	}
	ps := int(m0.pageSize)
	m1, err1 := parseMeta(b[ps:])
	if err1 == nil && m1.txid > m0.txid {
		return m1, ps
	}
	return m0, ps
}

// rootPage returns the offset of the root bucket's page.
func rootPage(t *testing.T, b []byte) int {
	m, ps := metaOf(t, b)
	return int(m.root) * ps
}

func modify(t *testing.T, path string, f func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// valueAt returns the offset of the record of a source's checkpoint
// payload in the root page (the checkpoints bucket is inline there).
func valueAt(t *testing.T, b []byte, payload string) int {
	t.Helper()
	root := rootPage(t, b)
	_, ps := metaOf(t, b)
	i := bytes.Index(b[root:root+ps], []byte(payload))
	if i < 0 {
		t.Fatalf("payload %s not in the root page", payload)
	}
	return root + i
}

// TestDamagedFiles damages a real state file in each way a disk or a copy
// can, and checks that Open reports it, naming the file, what is wrong and
// the recovery: never a panic, never a fresh store.
func TestDamagedFiles(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, b []byte) []byte
		detail string
	}{
		{"empty", func(t *testing.T, b []byte) []byte { return nil },
			"the file is empty (0 bytes): sluice never leaves an empty state file, so it was truncated"},
		{"truncated to one page", func(t *testing.T, b []byte) []byte { return b[:4096] },
			"the file is 4096 bytes, shorter than its two meta pages (8192 bytes): it was truncated"},
		{"truncated mid-way", func(t *testing.T, b []byte) []byte {
			m, ps := metaOf(t, b)
			return b[:(int(m.pgid)-1)*ps]
		}, "the file is {size} bytes but its pages reach byte {reach}: it was truncated"},
		{"wrong magic", func(t *testing.T, b []byte) []byte {
			_, ps := metaOf(t, b)
			copy(b[16:], "XXXX")
			copy(b[ps+16:], "XXXX")
			return b
		}, "both meta pages are invalid (page 0: bad magic number (not a bbolt file, or overwritten); page 1: none valid at any page size)"},
		{"not a bbolt file", func(t *testing.T, b []byte) []byte { return []byte(strings.Repeat("sluice state? no.\n", 1000)) },
			"both meta pages are invalid (page 0: bad magic number (not a bbolt file, or overwritten); page 1: none valid at any page size)"},
		{"both meta pages", func(t *testing.T, b []byte) []byte {
			_, ps := metaOf(t, b)
			b[16+40] ^= 0xFF // the high water mark
			b[ps+16+40] ^= 0xFF
			return b
		}, "both meta pages are invalid (page 0: checksum mismatch; page 1: none valid at any page size)"},
		{"page header type", func(t *testing.T, b []byte) []byte {
			b[rootPage(t, b)+8] = 0x7F
			return b
		}, "page {root}: unexpected page type (flags 0x7f)"},
		{"page header id", func(t *testing.T, b []byte) []byte {
			b[rootPage(t, b)] ^= 0x40
			return b
		}, "page {root}: its header says it is page {id}"},
		{"page header count", func(t *testing.T, b []byte) []byte {
			binary.NativeEndian.PutUint16(b[rootPage(t, b)+10:], 0xFFF0)
			return b
		}, "page {root}: 65520 elements do not fit in the page"},
		{"page header overflow", func(t *testing.T, b []byte) []byte {
			binary.NativeEndian.PutUint32(b[rootPage(t, b)+12:], 1000)
			return b
		}, "page {root}: its 1000 overflow pages run past the file's last page {last}"},
		{"element bounds", func(t *testing.T, b []byte) []byte {
			// the first element's key position (leaf: flags, pos, ...)
			binary.NativeEndian.PutUint32(b[rootPage(t, b)+16+4:], 1<<20)
			return b
		}, "page {root}: element 0's key or value lies outside the page"},
		{"checkpoint value", func(t *testing.T, b []byte) []byte {
			i := valueAt(t, b, `"0/16B3750"`)
			b[i+3] = '7' // still valid JSON: without a checksum, a wrong position
			return b
		}, `the checkpoint of source "pg" does not match its checksum`},
		{"checkpoint checksum", func(t *testing.T, b []byte) []byte {
			i := valueAt(t, b, `{"seq":41}`)
			b[i-2] ^= 0x01
			return b
		}, `the checkpoint of source "gen" does not match its checksum`},
		{"checkpoint key", func(t *testing.T, b []byte) []byte {
			i := valueAt(t, b, `{"seq":41}`)
			copy(b[i-4-3:], "gem") // the key precedes the record
			return b
		}, `it holds a checkpoint for source "gem" that its list of sources does not name`},
		{"lost checkpoint", func(t *testing.T, b []byte) []byte {
			// The inline checkpoints bucket's page: one element fewer.
			root := rootPage(t, b)
			k := root + bytes.Index(b[root:], []byte("checkpoints"))
			count := k + len("checkpoints") + bucketHeaderSize + 10
			binary.NativeEndian.PutUint16(b[count:], binary.NativeEndian.Uint16(b[count:])-1)
			return b
		}, `the checkpoint of source "pg" is missing`},
		{"lost buckets", func(t *testing.T, b []byte) []byte {
			binary.NativeEndian.PutUint16(b[rootPage(t, b)+10:], 0)
			return b
		}, "it holds none of sluice's buckets"},
		{"unknown bucket", func(t *testing.T, b []byte) []byte {
			root := rootPage(t, b)
			k := root + bytes.Index(b[root:], []byte("checkpoints"))
			copy(b[k:], "checkpoint!")
			return b
		}, `it holds an unknown bucket "checkpoint!"`},
		{"list of sources", func(t *testing.T, b []byte) []byte {
			i := valueAt(t, b, `["gen","pg"]`)
			b[i+2] = 'x'
			return b
		}, "the list of sources does not match its checksum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, path := sample(t)
			orig, _ := os.ReadFile(path)
			m, ps := metaOf(t, orig)
			root := int(m.root)
			modify(t, path, func(b []byte) []byte { return tc.damage(t, b) })
			damaged, _ := os.ReadFile(path)
			s, err := Open(dir, time.Second)
			if err == nil {
				cps, _ := s.Checkpoints()
				s.Close()
				t.Fatalf("Open succeeded on a damaged file; checkpoints %q", cps)
			}
			var d *DamagedError
			if !errors.As(err, &d) {
				t.Fatalf("Open: %T %v; want a *DamagedError", err, err)
			}
			var gotID uint64
			if len(damaged) > root*ps+8 {
				gotID = binary.NativeEndian.Uint64(damaged[root*ps:])
			}
			want := strings.NewReplacer("{size}", fmt.Sprint(len(damaged)), "{reach}", fmt.Sprint(int(m.pgid)*ps),
				"{root}", fmt.Sprint(root), "{id}", fmt.Sprint(gotID), "{last}", fmt.Sprint(m.pgid-1)).Replace(tc.detail)
			if d.Path != path || d.Detail != want {
				t.Fatalf("Open: path %q detail %q\nwant path %q detail %q", d.Path, d.Detail, path, want)
			}
			msg := err.Error()
			for _, s := range []string{"state file " + path + " is damaged: " + want + ". ", "restore " + path + " from a backup", "rm " + path + ";", "replication slot"} {
				if !strings.Contains(msg, s) {
					t.Errorf("message lacks %q:\n%s", s, msg)
				}
			}
			// The file is left as it was: nothing is written over the evidence.
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, damaged) {
				t.Errorf("Open changed the damaged file")
			}
		})
	}
}

// TestOneMetaPageTorn: one meta page failing its checksum is what a torn
// write leaves; the other describes the previous transaction, which is
// used.
func TestOneMetaPageTorn(t *testing.T) {
	dir, path := sample(t)
	modify(t, path, func(b []byte) []byte {
		m0, _ := parseMeta(b)
		m1, _ := parseMeta(b[4096:])
		off := 0
		if m1.txid > m0.txid {
			off = 4096
		}
		b[off+16+48] ^= 0xFF // the newest meta's txid
		return b
	})
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cp, err := s.Checkpoint("pg")
	if err != nil || string(cp) != `{"lsn":"0/16B3748"}` {
		t.Fatalf("pg after a torn meta page: %q, %v; want the previous checkpoint", cp, err)
	}
}

// TestFormat1 opens a file of earlier versions (bare values, no manifest):
// its checkpoints are kept and sealed.
func TestFormat1(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketCheckpoints)
		if err != nil {
			return err
		}
		return errors.Join(b.Put([]byte("pg"), []byte(`{"lsn":"0/1"}`)), b.Put([]byte("my"), []byte(`{"file":"b.000001"}`)))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for range 2 {
		s, err := Open(dir, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		all, err := s.Checkpoints()
		if err != nil || len(all) != 2 || string(all["pg"]) != `{"lsn":"0/1"}` || string(all["my"]) != `{"file":"b.000001"}` {
			t.Fatalf("checkpoints of a format 1 file: %q, %v", all, err)
		}
		s.Close()
	}
	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCheckpoints).Get([]byte("pg")); string(v[4:]) != `{"lsn":"0/1"}` || len(v) != 4+len(`{"lsn":"0/1"}`) {
			t.Errorf("not sealed: %q", v)
		}
		return nil
	})
}

// TestNewerFormat: a file of a later format is refused, not damaged.
func TestNewerFormat(t *testing.T) {
	dir, path := sample(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, seal(keyFormat, []byte("3"))) })
	db.Close()
	_, err = Open(dir, time.Second)
	want := `state: ` + path + ` has format "3", which this version of sluice cannot read (it reads format 2): run the version of sluice that wrote it`
	if err == nil || err.Error() != want {
		t.Fatalf("Open: %v\nwant %s", err, want)
	}
}

// TestNoLeftovers: creating a store leaves state.db alone in the directory.
func TestNoLeftovers(t *testing.T) {
	dir, _ := sample(t)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != FileName {
		t.Fatalf("state dir holds %v", ents)
	}
}

// TestCheckAcceptsHealthyFiles drives a store through many writes and
// deletes of values of every size (inline buckets, branch pages, overflow
// pages, a freelist that grows and shrinks) and reopens it often: the
// checks at open must never call a healthy file damaged.
func TestCheckAcceptsHealthyFiles(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string][]byte{}
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	n := 1500
	if testing.Short() {
		n = 600
	}
	for i := range n {
		name := fmt.Sprintf("source-%03d", rng.IntN(120))
		switch {
		case rng.IntN(10) == 0:
			if err := s.DeleteCheckpoint(name); err != nil {
				t.Fatal(err)
			}
			delete(want, name)
		default:
			size := rng.IntN(64)
			if rng.IntN(8) == 0 {
				size = rng.IntN(20000)
			}
			v := make([]byte, size)
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			if err := s.SetCheckpoint(name, v); err != nil {
				t.Fatal(err)
			}
			want[name] = v
		}
		if i%97 == 0 {
			s.Close()
			if s, err = Open(dir, time.Second); err != nil {
				t.Fatalf("after %d operations: %v", i, err)
			}
		}
	}
	defer s.Close()
	got, err := s.Checkpoints()
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d checkpoints, %v; want %d", len(got), err, len(want))
	}
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Fatalf("%s differs", k)
		}
	}
}

// FuzzDamagedFile writes bytes over a healthy state file: Open and every
// read must return (a *DamagedError or data), never panic or fault.
func FuzzDamagedFile(f *testing.F) {
	f.Add(uint32(16), []byte{0xFF})
	f.Add(uint32(4096*3+8), []byte{0x01})
	f.Add(uint32(4096*3+10), []byte{0xFF, 0xFF})
	f.Add(uint32(4096*3+16), []byte{0, 0, 0, 0, 0xFF, 0xFF, 0, 0})
	f.Add(uint32(4096*2+16), []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	_, path := sample(f)
	healthy, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		b := bytes.Clone(healthy)
		if int(off) < len(b) {
			copy(b[off:], patch)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, time.Second)
		if err != nil {
			return
		}
		defer s.Close()
		s.Checkpoints()
		s.Checkpoint("pg")
		s.SetCheckpoint("pg", []byte("x"))
		s.SetCheckpoint("new", []byte("y"))
		s.DeleteCheckpoint("gen")
	})
}
