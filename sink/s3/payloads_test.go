package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// sealedSpool writes a sealed spool of records with the given payload
// sizes and returns it with the object it makes (the payloads, in order).
func sealedSpool(t *testing.T, sizes []int) (*spool, []byte) {
	t.Helper()
	sp, err := createSpool(t.TempDir(), 1, spoolHeader{Stream: "s", Format: "row"}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	r := rand.New(rand.NewPCG(1, 2))
	for i, n := range sizes {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte('a' + r.IntN(26))
		}
		if n > 0 {
			p[n-1] = '\n'
		}
		if err := sp.add(pos{hi: 1, lo: uint64(i + 1)}, 0, p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
	}
	if err := sp.seal(func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return sp, want
}

// TestPayloadsReadAt: the JSON-lines object read straight from a sealed
// spool is the concatenation of its payloads, whatever the reads: whole,
// sequential in small pieces (as the SDK hashes and sends), at random
// offsets, and as concurrent parts (as the multipart uploader reads).
// Records range from empty to larger than a read window, and there are
// more than markEvery of them.
func TestPayloadsReadAt(t *testing.T) {
	var sizes []int
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 700 {
		switch {
		case i%97 == 5:
			sizes = append(sizes, windowBytes+r.IntN(3*windowBytes))
		case i%31 == 0:
			sizes = append(sizes, 0)
		default:
			sizes = append(sizes, 1+r.IntN(3000))
		}
	}
	sp, want := sealedSpool(t, sizes)
	p, err := openPayloads(sp, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if p.size != int64(len(want)) {
		t.Fatalf("size %d, want %d", p.size, len(want))
	}
	got, err := io.ReadAll(io.NewSectionReader(p, 0, p.size))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("whole read: %d bytes (err %v), want %d; equal %v", len(got), err, len(want), bytes.Equal(got, want))
	}
	// Small sequential reads, as io.Copy's.
	var buf bytes.Buffer
	if _, err := io.CopyBuffer(&buf, io.NewSectionReader(p, 0, p.size), make([]byte, 4096)); err != nil || !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("4 kB reads: %d bytes (err %v), want %d", buf.Len(), err, len(want))
	}
	for range 2000 {
		off := r.Int64N(int64(len(want)) + 10)
		n := r.IntN(3 * windowBytes)
		b := make([]byte, n)
		m, err := p.ReadAt(b, off)
		end := min(off+int64(n), int64(len(want)))
		if off >= int64(len(want)) {
			end = off
		}
		wantN := int(end - off)
		if m != wantN || !bytes.Equal(b[:m], want[off:end]) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d bytes", n, off, m, err, wantN)
		}
		if (m < n) != (err == io.EOF) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", n, off, m, err)
		}
	}
	const part = 1 << 20
	var wg sync.WaitGroup
	errs := make(chan error, len(want)/part+1)
	for off := int64(0); off < int64(len(want)); off += part {
		wg.Go(func() {
			b, err := io.ReadAll(io.NewSectionReader(p, off, part))
			end := min(off+part, int64(len(want)))
			if err != nil || !bytes.Equal(b, want[off:end]) {
				errs <- fmt.Errorf("part at %d: %d bytes, err %v", off, len(b), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPayloadsDamage: a damaged record fails the upload with the spool's
// damage error (the first reading checks every checksum), and nothing is
// put.
func TestPayloadsDamage(t *testing.T) {
	sp, _ := sealedSpool(t, []int{10, 20, 30})
	b, err := os.ReadFile(sp.path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-5] ^= 1 // inside the last payload
	if err := os.WriteFile(sp.path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sp.count = 3
	_, err = openPayloads(sp, 0)
	if err == nil || !strings.Contains(err.Error(), "record 3 (bytes ") || !strings.Contains(err.Error(), "fails its checksum") {
		t.Fatalf("openPayloads = %v, want the damage of record 3", err)
	}
}

// TestJSONObjectFromSpool: a JSON-lines object is put straight from its
// sealed spool file: no copy of it is written beside the spool.
func TestJSONObjectFromSpool(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	var names []string
	store.beforePut = func(name string) {
		names = append(names, filepath.Base(name))
		entries, _ := os.ReadDir(filepath.Join(dir, "spool"))
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".obj") {
				t.Errorf("%s in the spool while %s is put", e.Name(), name)
			}
		}
	}
	s := newTestSink(t, rowConfig(), dir, store)
	write(t, s, changes(1, 7))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3), key(4, 6): rows(4, 6), key(7, 7): rows(7, 7)})
	if got, want := strings.Join(names, " "), "0000000001.sealed 0000000002.sealed 0000000003.sealed"; got != want {
		t.Errorf("objects read from %s, want %s", got, want)
	}
}

// TestSpoolBufferBounded: a Write of a large batch writes its records to
// the spool file as the buffer fills, instead of growing the buffer to the
// batch's size, and every record is on disk when Write returns.
func TestSpoolBufferBounded(t *testing.T) {
	dir := t.TempDir()
	cfg := rowConfig()
	cfg.FlushSize = 0
	s := newTestSink(t, cfg, dir, newMemStore())
	long := strings.Repeat("x", 1000)
	var evs []event.Event
	for i := 1; i <= 8000; i++ { // about 8.6 MB of records
		e := change(i, event.OpCreate)
		e.After[1] = event.String(long)
		e.Source.TsUs = baseMs * 1000 // one partition
		evs = append(evs, e)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	write(t, s, evs)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 3<<20 && !raceEnabled {
		t.Errorf("Write of 8.6 MB of records allocated %d bytes; want less than 3 MiB (the buffer is written as it fills)", n)
	}
	s.mu.Lock()
	var sp *spool
	for _, o := range s.open {
		sp = o
	}
	s.mu.Unlock()
	if sp == nil || sp.count != 8000 || sp.bytes < 8<<20 {
		t.Fatalf("open spool %+v, want one of 8000 records", sp)
	}
	st, err := os.Stat(sp.path)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(spoolMagic)) + int64(sp.count+1)*frameHead + sp.bytes; st.Size() < want {
		t.Errorf("spool file holds %d bytes after Write, want %d and the header", st.Size(), want)
	}
	crash(s)
	s = newTestSink(t, cfg, dir, newMemStore())
	defer s.Close(context.Background())
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.open {
		if o.count != 8000 {
			t.Errorf("after a crash the spool holds %d records, want 8000", o.count)
		}
	}
}

// TestUploadOverlapsSpooling: while an object is being put, Writes that
// seal nothing return without waiting for it; the Write that seals the
// next object waits for it (one object waits behind the one in flight at
// most), and objects go up in order.
func TestUploadOverlapsSpooling(t *testing.T) {
	store := newMemStore()
	release := make(chan struct{})
	entered := make(chan string, 10)
	store.beforePut = func(name string) {
		entered <- filepath.Base(name)
		<-release
	}
	s := newTestSink(t, rowConfig(), t.TempDir(), store)
	write(t, s, changes(1, 3)) // seals 1..3; its put starts and blocks
	if got := <-entered; got != "0000000001.sealed" {
		t.Fatalf("put of %s, want 0000000001.sealed", got)
	}
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), changes(4, 5)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a Write that sealed nothing waited for the upload in flight")
	}
	go func() { done <- s.Write(context.Background(), changes(6, 6)) }() // seals 4..6
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3), key(4, 6): rows(4, 6)})
	if got := strings.Join(store.puts, " "); got != key(1, 3)+" "+key(4, 6) {
		t.Errorf("puts %s", got)
	}
}

// TestPayloadsPartHashes: the first reading of a spool hashes the object in
// ranges of the part size (the last one shorter), each range's SHA-256
// that of exactly its bytes; knownPayloadHash finds a range's hash for a
// body that is that range of the object (put's section, or the uploader's
// section of it), and for nothing else.
func TestPayloadsPartHashes(t *testing.T) {
	var sizes []int
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 500 {
		sizes = append(sizes, r.IntN(2000))
		if i%50 == 7 {
			sizes = append(sizes, 0, windowBytes+r.IntN(windowBytes))
		}
	}
	sp, want := sealedSpool(t, sizes)
	sp.count = len(sizes)
	const part = 100_003
	p, err := openPayloads(sp, part)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	wantSums := map[byteRange]string{}
	for off := int64(0); off < int64(len(want)); off += part {
		end := min(off+part, int64(len(want)))
		h := sha256.Sum256(want[off:end])
		wantSums[byteRange{off, end - off}] = hex.EncodeToString(h[:])
	}
	if !maps.Equal(p.sums, wantSums) {
		t.Fatalf("%d sums, want %d (object of %d bytes)", len(p.sums), len(wantSums), len(want))
	}
	body := io.NewSectionReader(p, 0, p.size) // as put makes it
	second := byteRange{part, part}
	for _, c := range []struct {
		name string
		body io.Reader
		want string
	}{
		{"the first part, through put's body", io.NewSectionReader(body, 0, part), wantSums[byteRange{0, part}]},
		{"the second part", io.NewSectionReader(body, part, part), wantSums[second]},
		{"the second part, straight from the object", io.NewSectionReader(p, part, part), wantSums[second]},
		{"a part one byte short", io.NewSectionReader(body, part, part-1), ""},
		{"a part one byte off", io.NewSectionReader(body, part+1, part), ""},
		{"the whole object (not one range)", body, ""},
		{"another reader", bytes.NewReader(want[:part]), ""},
		{"no body", nil, ""},
	} {
		if got := knownPayloadHash(c.body); got != c.want {
			t.Errorf("%s: hash %q, want %q", c.name, got, c.want)
		}
	}
	read := io.NewSectionReader(body, part, part)
	read.Read(make([]byte, 10))
	if got := knownPayloadHash(read); got != "" {
		t.Errorf("a body read from already: hash %q, want none (the SDK hashes from where it stands)", got)
	}

	// Without a part size nothing is hashed.
	q, err := openPayloads(sp, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	if len(q.sums) != 0 {
		t.Errorf("%d sums without a part size", len(q.sums))
	}
}

// TestHashPart: the ranges hashed for an upload are those its requests
// send, and only over plain HTTP.
func TestHashPart(t *testing.T) {
	cfg := rowConfig()
	cfg.PartSize, cfg.MultipartThreshold = 16<<20, 8<<20
	for _, c := range []struct {
		endpoint string
		size     int64
		want     int64
	}{
		{"http://127.0.0.1:9000", 1, 1},
		{"http://127.0.0.1:9000", 8<<20 - 1, 8<<20 - 1},       // PutObject
		{"http://127.0.0.1:9000", 12 << 20, 12 << 20},         // the uploader sends one part
		{"http://127.0.0.1:9000", 16 << 20, 16 << 20},         // the same
		{"HTTP://127.0.0.1:9000", 16<<20 + 1, 16 << 20},       // parts
		{"http://127.0.0.1:9000", 10000 * 16 << 20, 0},        // the uploader's own part size
		{"http://127.0.0.1:9000", 10000*16<<20 - 1, 16 << 20}, // 10,000 parts
		{"http://127.0.0.1:9000", 0, 0},
		{"https://s3.example.com", 1 << 20, 0}, // UNSIGNED-PAYLOAD: nothing to hash
		{"", 1 << 20, 0},                       // AWS, over HTTPS
	} {
		cfg.Endpoint = c.endpoint
		cl, err := newClient(cfg, component.Env{})
		if err != nil {
			t.Fatal(err)
		}
		if got := cl.hashPart(c.size); got != c.want {
			t.Errorf("%s, %d bytes: part %d, want %d", c.endpoint, c.size, got, c.want)
		}
		// Over plain HTTP, parts carry no CRC32 of their own, which the
		// SDK would compute in a reading of each part before sending it.
		wantCRC := aws.RequestChecksumCalculationWhenSupported
		if strings.HasPrefix(strings.ToLower(c.endpoint), "http://") {
			wantCRC = aws.RequestChecksumCalculationWhenRequired
		}
		if got := cl.up.RequestChecksumCalculation; got != wantCRC {
			t.Errorf("%s: the uploader's checksums %v, want %v", c.endpoint, got, wantCRC)
		}
	}
}
