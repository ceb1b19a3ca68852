// Package file is the JSON-lines file sink: one encoded event per line,
// fsynced before the batch is acknowledged, with optional rotation by size
// and by age. It is a component.FlushingSink: the engine encodes and
// writes the next batch while the fsync of the previous ones runs, and
// acknowledges a batch only after an fsync that covers it.
//
// Crash safety: a crash can leave a partly written last line (the batch was
// never acknowledged, so it will be delivered again). When the sink opens an
// existing file it cuts that partial line, so the file only ever holds whole
// lines. It cuts nothing else: the bytes after the last newline must be the
// beginning of one JSON value, after a whole JSON line (or at the start of
// the file, where a whole value without its newline is not taken for a cut
// line). A file that ends otherwise is not one the sink wrote (path names
// someone else's file) or was damaged; the sink stops with a permanent
// *ForeignFileError and leaves it as it is.
//
// Rotation renames the active file to <stem>-<UTC time>-<n><ext> in the same
// directory and starts a new active file; a rotated file is complete and
// fsynced, with its directory entry fsynced too. The limits hold across
// restarts: an existing active file is measured when it is opened, and its
// age for rotate_interval counts from its creation (the file system's birth
// time on Linux, else its last modification), so a full or old file is
// rotated before the first write after a restart.
//
// Page cache (page_cache: drop, the default, with fsync on): once an fsync
// made them clean, the pages of the active file more than dropBehind bytes
// behind its end are dropped from the page cache (POSIX_FADV_DONTNEED,
// every dropBehind bytes), and a rotated file's pages once it is renamed.
// A snapshot of a large table then does not fill the machine's memory with
// output nobody reads back (evicting the database's own cached pages), and
// the kernel reuses the pages it just freed rather than taking fresh ones:
// on a VM whose host reclaims free guest memory (free page reporting), a
// fresh page costs a fault on the host at first touch, which made the
// write syscalls of a 10,000,000-row snapshot about four times as costly per
// byte after the first 2 GB (docs/performance.md, "How cost grows"). A
// reader that follows the file's end within dropBehind still finds its
// pages cached; page_cache: keep leaves every page to the kernel.
package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/durable"
)

// Config is the file sink's configuration.
type Config struct {
	// Path of the active file; directories are created.
	Path           string `yaml:"path"`
	format.Options `yaml:",inline"`
	// RotateBytes rotates once the active file reaches this size (0: never).
	RotateBytes int64 `yaml:"rotate_bytes"`
	// RotateInterval rotates an active file older than this (0: never).
	RotateInterval time.Duration `yaml:"rotate_interval"`
	// Fsync makes every write durable before acknowledging it (default true;
	// turning it off gives up the no-loss guarantee on power failure).
	Fsync bool `yaml:"fsync"`
	// PageCache is drop (default: the file's pages more than 32 MiB behind
	// its end leave the page cache once fsynced, and a rotated file's
	// pages when it is rotated) or keep (the kernel decides).
	PageCache string `yaml:"page_cache"`
}

// dropBehind is how much of the active file's end page_cache: drop leaves
// cached, and how often (in bytes written) it drops what is behind that.
const dropBehind = 32 << 20

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, &component.FieldError{Field: "path", Msg: "is required", Hint: "path: out/events.jsonl"})
	}
	if c.RotateBytes < 0 {
		errs = append(errs, &component.FieldError{Field: "rotate_bytes", Msg: "must not be negative", Hint: "0 disables size rotation"})
	}
	if c.PageCache != "" && c.PageCache != "drop" && c.PageCache != "keep" {
		errs = append(errs, &component.FieldError{Field: "page_cache", Msg: fmt.Sprintf("is %q; it must be drop or keep", c.PageCache), Hint: "page_cache: keep leaves the written pages to the kernel"})
	}
	if c.RotateInterval < 0 {
		errs = append(errs, &component.FieldError{Field: "rotate_interval", Msg: "must not be negative", Hint: "0 disables time rotation"})
	}
	if _, err := format.New(c.Options); err != nil {
		errs = append(errs, &component.FieldError{Field: "format", Msg: err.Error()})
	}
	return errs
}

// Factory is the registry entry for type: file.
var Factory = component.SinkFactory{
	Doc:    "JSON lines in a local file, fsynced before acknowledging; rotation by size or age",
	Config: func() any { return &Config{Options: format.DefaultOptions(), Fsync: true, PageCache: "drop"} },
	New: func(cfg any, env component.Env) (component.Sink, error) {
		return New(*cfg.(*Config))
	},
}

// Sink writes to a file.
//
// It is a component.FlushingSink: the engine's Flush (the fsync) runs on
// another goroutine while the next events are encoded and written. fileMu
// orders the two: Flush holds it across the fsync, and every change of f
// (open, rotation, closing after a failure) takes it, so a rotation waits
// for the fsync in flight and never closes the file under it. Writing
// does not take it: a WriteBuffered that waited for the fsync in flight
// would make the encoding and the fsync take turns. A failed fsync only
// sets failed (the writing goroutine may be using f); the next Write or
// WriteBuffered closes and reopens the file, which cuts a partial last
// line, before the engine writes the events again.
type Sink struct {
	cfg    Config
	lines  *format.LineEncoder
	f      *os.File // changed only under fileMu, by the writing goroutine
	opened time.Time
	seq    int
	now    func() time.Time
	behind int64 // dropBehind (tests make it smaller)

	// size is the bytes of the active file written so far: changed by the
	// writing goroutine, read by Flush too (which runs beside it).
	size atomic.Int64

	fileMu sync.Mutex
	failed atomic.Bool // a Flush's fsync failed
	// dropped: page_cache: drop has dropped the active file's pages below
	// this offset (under fileMu).
	dropped int64
	// lost: the file was closed after a failure, without an fsync, so
	// lines written since the last one may be lost (under fileMu). Only a
	// Write that fsynced clears it: the engine writes everything not yet
	// acknowledged again with Write after a failure.
	lost bool
}

var (
	_ component.Sink         = (*Sink)(nil)
	_ component.FlushingSink = (*Sink)(nil)
)

// New opens (or creates) the active file.
func New(cfg Config) (*Sink, error) { return newSink(cfg, time.Now) }

func newSink(cfg Config, now func() time.Time) (*Sink, error) {
	lines, err := format.NewLineEncoder(cfg.Options, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, lines: lines, now: now, behind: dropBehind}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sink) open() error {
	dir := filepath.Dir(s.cfg.Path)
	if err := durable.MkdirAll(dir); err != nil {
		return fmt.Errorf("file sink: create directory %s: %w", dir, err)
	}
	_, statErr := os.Stat(s.cfg.Path)
	f, err := os.OpenFile(s.cfg.Path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("file sink: open %s: %w", s.cfg.Path, err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// A new file's name must survive a power loss too, or the lines
		// fsynced into it could vanish with it.
		if err := syncDir(dir); err != nil {
			f.Close()
			return err
		}
	}
	size, err := cutPartialLine(f, s.cfg.Path)
	if err != nil {
		f.Close()
		var ff *ForeignFileError
		if errors.As(err, &ff) {
			return component.Permanent(err)
		}
		return fmt.Errorf("file sink: repair %s: %w", s.cfg.Path, err)
	}
	s.setFile(f, size)
	s.opened = s.now()
	if size > 0 {
		// A file left by an earlier run (or before a failed write) is as
		// old as it is, not as old as this open: otherwise every restart
		// would start rotate_interval afresh.
		fi, err := f.Stat()
		if err != nil {
			s.closeFile(false)
			return fmt.Errorf("file sink: stat %s: %w", s.cfg.Path, err)
		}
		if c := created(s.cfg.Path, fi); c.Before(s.opened) {
			s.opened = c
		}
	}
	return nil
}

// cutPartialLine cuts the incomplete last line a crash can leave and
// positions at the end. It cuts only what sluice can have left: the
// beginning of one JSON value after the last newline, which follows a whole
// JSON line (or nothing). Anything else means the file is not one the sink
// wrote — path names someone else's file, or the file was damaged — and
// cutting would destroy data that is not sluice's: a *ForeignFileError.
func cutPartialLine(f *os.File, path string) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	nl, err := lastNewline(f, size)
	if err != nil {
		return 0, err
	}
	end := nl + 1
	if end != size {
		foreign := func(format string, args ...any) error {
			return &ForeignFileError{Path: path, Size: size, Keep: end, Detail: fmt.Sprintf(format, args...)}
		}
		complete, err := jsonStart(io.NewSectionReader(f, end, size-end))
		switch {
		case err != nil && nl < 0:
			return 0, foreign("it holds no newline, and its bytes are not the beginning of a JSON line: %v", err)
		case err != nil:
			return 0, foreign("the %d bytes after its last newline are not the beginning of a JSON line: %v", size-end, err)
		case complete && nl < 0:
			return 0, foreign("it holds one JSON value and no newline, which a crash leaves only when it cuts sluice's first line just before its newline")
		}
		if nl >= 0 {
			start, err := lastNewline(f, nl)
			if err != nil {
				return 0, err
			}
			if complete, err := jsonStart(io.NewSectionReader(f, start+1, nl-start-1)); err != nil || !complete {
				if err == nil {
					err = errors.New("it ends before its value does")
				}
				return 0, foreign("its last whole line (bytes %d..%d) is not a JSON line: %v", start+1, nl+1, err)
			}
		}
		if err := f.Truncate(end); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	_, err = f.Seek(end, io.SeekStart)
	return end, err
}

// lastNewline returns the offset of the last '\n' before offset before in
// f, or -1.
func lastNewline(f *os.File, before int64) (int64, error) {
	const block = 64 << 10
	buf := make([]byte, block)
	end := before
	for end > 0 {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i), nil
		}
		end = start
	}
	return -1, nil
}

// jsonStart reads r, which must hold one JSON value or the beginning of
// one, with nothing before it, as a line the sink writes does. It reports
// whether the value is complete, or why r does not hold that.
func jsonStart(r io.Reader) (complete bool, err error) {
	br := bufio.NewReader(r)
	switch b, err := br.Peek(1); {
	case err != nil:
		return false, errors.New("it is empty")
	case b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n':
		return false, errors.New("it starts with white space")
	}
	d := json.NewDecoder(br)
	depth, values := 0, 0
	for {
		tok, err := d.Token()
		switch {
		case err == io.EOF:
			return depth == 0 && values == 1, nil
		case err == io.ErrUnexpectedEOF:
			return false, nil // cut inside a string, number or literal
		case err != nil:
			return false, err
		}
		if depth == 0 {
			if values++; values > 1 {
				return false, errors.New("it holds more than one JSON value")
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// ForeignFileError reports an active file that does not end as one the
// sink wrote, which the sink will not cut.
type ForeignFileError struct {
	Path   string
	Size   int64  // the file's size
	Keep   int64  // the bytes up to its last newline
	Detail string // what does not look like the sink's
}

func (e *ForeignFileError) Error() string {
	return fmt.Sprintf("file sink: %s does not look like a file sluice wrote: %s. "+
		"sluice only cuts the incomplete last line a crash leaves after whole JSON lines, so it leaves this file (%d bytes) as it is. "+
		"Check that the sink's path names its own file; if it does, cut the incomplete end yourself (truncate -s %d %s keeps the whole lines) and start again",
		e.Path, e.Detail, e.Size, e.Keep, e.Path)
}

// Write implements component.Sink: WriteBuffered, then the fsync.
func (s *Sink) Write(ctx context.Context, events []event.Event) error {
	if err := s.WriteBuffered(ctx, events); err != nil {
		return err
	}
	if s.cfg.Fsync {
		if err := s.f.Sync(); err != nil {
			s.closeFile(true)
			return fmt.Errorf("file sink: fsync %s: %w", s.cfg.Path, err)
		}
	}
	s.fileMu.Lock()
	s.lost = false
	if s.cfg.Fsync {
		s.dropClean(s.size.Load())
	}
	s.fileMu.Unlock()
	if s.due() {
		// Rotate now so a full file is handed over promptly. The events
		// are already durable: a failed rotation is retried (and reported)
		// by the next Write instead of failing this one.
		_ = s.rotate()
	}
	return nil
}

// WriteBuffered implements component.FlushingSink: the events are encoded
// and written to the file, not yet fsynced.
func (s *Sink) WriteBuffered(ctx context.Context, events []event.Event) error {
	if s.failed.Swap(false) && s.f != nil {
		// A Flush's fsync failed: what the page cache held may be lost.
		// Reopen (cutting a partial line) before writing again.
		s.closeFile(true)
	}
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	if s.due() {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	if err := s.lines.Encode(events, s.writeOut); err != nil {
		if s.f == nil {
			return err // a failed write: retry
		}
		return component.Permanent(err)
	}
	return nil
}

// Flush implements component.FlushingSink: it fsyncs the active file,
// which holds every line a WriteBuffered before it wrote (a rotation
// fsyncs the file it renames).
func (s *Sink) Flush(context.Context) error {
	if !s.cfg.Fsync {
		return nil
	}
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if s.f == nil {
		if s.lost {
			// Closed after a failed write: the engine writes again.
			return fmt.Errorf("file sink: %s was closed after a failed write, before an fsync", s.cfg.Path)
		}
		return nil // between a rotation, which fsynced, and the next open
	}
	end := s.size.Load() // written before the fsync starts: clean after it
	if err := s.f.Sync(); err != nil {
		s.failed.Store(true)
		return fmt.Errorf("file sink: fsync %s: %w", s.cfg.Path, err)
	}
	s.dropClean(end)
	return nil
}

// dropClean drops, with page_cache: drop, the active file's pages between
// what it dropped before and dropBehind (s.behind) before end, once that
// is at least dropBehind bytes: every byte below end must be fsynced. The call needs
// fileMu. It is advice: the kernel keeps any page still dirty, and an
// error changes nothing the sink relies on, so none is returned.
func (s *Sink) dropClean(end int64) {
	if s.cfg.PageCache == "keep" || s.f == nil {
		return
	}
	// The kernel drops only whole pages in the range: a cut point that
	// is not on a page boundary would leave its page cached for good.
	page := int64(os.Getpagesize())
	if to := (end - s.behind) &^ (page - 1); to-s.dropped >= s.behind {
		fadviseDontNeed(s.f, s.dropped, to-s.dropped)
		s.dropped = to
	}
}

// setFile makes f, of size bytes, the active file.
func (s *Sink) setFile(f *os.File, size int64) {
	s.fileMu.Lock()
	// Only what this open writes is dropped: pages of what the file held
	// (after a failed fsync, perhaps never written back) stay as they are.
	s.f, s.dropped = f, size
	s.size.Store(size)
	s.fileMu.Unlock()
}

// closeFile closes the active file, once no Flush uses it; lost says that
// it was not fsynced after its last write.
func (s *Sink) closeFile(lost bool) error {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	s.lost = s.lost || lost
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// writeOut writes b to the active file.
func (s *Sink) writeOut(b []byte) error {
	if _, err := s.f.Write(b); err != nil {
		// Unknown how much reached the file: reopen (which cuts a partial
		// line) before the engine retries the same events.
		s.closeFile(true)
		return fmt.Errorf("file sink: write %s: %w", s.cfg.Path, err)
	}
	s.size.Add(int64(len(b)))
	return nil
}

func (s *Sink) due() bool {
	size := s.size.Load()
	if size == 0 {
		return false
	}
	if s.cfg.RotateBytes > 0 && size >= s.cfg.RotateBytes {
		return true
	}
	return s.cfg.RotateInterval > 0 && s.now().Sub(s.opened) >= s.cfg.RotateInterval
}

// rotate closes the active file and renames it aside. It waits for a
// Flush in flight, and fsyncs what the file holds first, so the lines a
// later Flush is to cover are durable in the renamed file.
func (s *Sink) rotate() error {
	s.fileMu.Lock()
	if s.failed.Load() {
		// A Flush's fsync failed since this write began: a second fsync
		// of the file would return nil (Linux reports the error once)
		// without making its lines durable. The engine writes them again
		// (Write reopens the file) before the rotation.
		s.fileMu.Unlock()
		return fmt.Errorf("file sink: an fsync of %s failed; not rotating it before its lines are written again", s.cfg.Path)
	}
	if err := s.f.Sync(); err != nil {
		s.fileMu.Unlock()
		return fmt.Errorf("file sink: fsync %s: %w", s.cfg.Path, err)
	}
	if s.cfg.PageCache != "keep" {
		fadviseDontNeed(s.f, 0, 0) // 0 bytes: to the end of the file
	}
	err := s.f.Close()
	s.f = nil
	s.fileMu.Unlock()
	if err != nil {
		return fmt.Errorf("file sink: close %s: %w", s.cfg.Path, err)
	}
	ext := filepath.Ext(s.cfg.Path)
	stem := strings.TrimSuffix(s.cfg.Path, ext)
	var dst string
	for {
		s.seq++
		dst = fmt.Sprintf("%s-%s-%d%s", stem, s.now().UTC().Format("20060102T150405Z"), s.seq, ext)
		if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err := os.Rename(s.cfg.Path, dst); err != nil {
		return fmt.Errorf("file sink: rotate %s: %w", s.cfg.Path, err)
	}
	if err := syncDir(filepath.Dir(s.cfg.Path)); err != nil {
		return err
	}
	return s.open()
}

func syncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	return nil
}

// Close implements component.Sink.
func (s *Sink) Close(context.Context) error {
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.closeFile(err != nil); err == nil {
		err = cerr
	}
	return err
}
