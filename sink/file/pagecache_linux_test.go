package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sluice-dev/sluice/event"
)

// resident returns the fraction of f's pages in [off, end) that are in
// the page cache (mincore of a mapping that faults nothing in).
func resident(t *testing.T, path string, off, end int64) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := int64(os.Getpagesize())
	vec := make([]byte, (st.Size()+page-1)/page)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	in, all := 0, 0
	for p := (off + page - 1) / page; p < end/page; p++ {
		all++
		in += int(vec[p] & 1)
	}
	if all == 0 {
		t.Fatalf("no whole page in [%d, %d)", off, end)
	}
	return float64(in) / float64(all)
}

// dropsHere reports whether posix_fadvise(DONTNEED) drops a file's clean
// pages in dir (it does not on tmpfs, for one).
func dropsHere(t *testing.T, dir string) bool {
	path := filepath.Join(dir, "probe")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	defer f.Close()
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	fadviseDontNeed(f, 0, 0)
	return resident(t, path, 0, 1<<20) < 0.5
}

// TestPageCacheDropBehind: with page_cache: drop the active file's pages
// more than dropBehind behind its end leave the page cache once fsynced
// (by Flush, and by Write's own fsync), and a rotated file's all of them;
// with keep they stay.
func TestPageCacheDropBehind(t *testing.T) {
	if !dropsHere(t, t.TempDir()) {
		t.Skip("posix_fadvise(POSIX_FADV_DONTNEED) drops no page on this file system (tmpfs?): nothing to test here")
	}
	const behind = 256 << 10
	name := strings.Repeat("x", 1000)
	write := func(t *testing.T, s *Sink, flushing bool) {
		ctx := context.Background()
		for w := range 40 {
			evs := make([]event.Event, 64)
			for i := range evs {
				evs[i] = ev(event.OpCreate, int64(w*64+i), name)
			}
			if !flushing {
				if err := s.Write(ctx, evs); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := s.WriteBuffered(ctx, evs); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name      string
		pageCache string
		flushing  bool
		want      func(float64) bool
	}{
		{"drop/Flush", "drop", true, func(r float64) bool { return r < 0.1 }},
		{"drop/Write", "", false, func(r float64) bool { return r < 0.1 }},
		{"keep", "keep", true, func(r float64) bool { return r > 0.9 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			cfg := rowConfig(path)
			cfg.PageCache = tc.pageCache
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.behind = behind
			write(t, s, tc.flushing)
			size := s.size.Load()
			if size < 2<<20 {
				t.Fatalf("wrote %d bytes; the test needs more", size)
			}
			// Below the last drop point (at most 2 × behind before the
			// end): dropped, or kept.
			if r := resident(t, path, 0, size-2*behind); !tc.want(r) {
				t.Errorf("%.0f %% of the pages more than %d bytes behind the end are cached", 100*r, 2*behind)
			}
			// The last behind bytes stay cached either way.
			if r := resident(t, path, size-behind, size); r < 0.9 {
				t.Errorf("%.0f %% of the last %d bytes' pages are cached, want them all", 100*r, behind)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("rotated", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "out.jsonl")
		cfg := rowConfig(path)
		cfg.RotateBytes = 1 << 20
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		write(t, s, true)
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		rotated, err := filepath.Glob(filepath.Join(dir, "out-*.jsonl"))
		if err != nil || len(rotated) == 0 {
			t.Fatalf("no rotated file (%v)", err)
		}
		for _, p := range rotated {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if r := resident(t, p, 0, st.Size()); r > 0.1 {
				t.Errorf("%s: %.0f %% of its pages are cached after its rotation", filepath.Base(p), 100*r)
			}
		}
	})
}
