// Package file is the JSON-lines file sink: one encoded event per line,
// fsynced before the batch is acknowledged, with optional rotation by size
// and by age.
//
// Crash safety: a crash can leave a partly written last line (the batch was
// never acknowledged, so it will be delivered again). When the sink opens an
// existing file it cuts any trailing partial line, so the file only ever
// holds whole lines.
//
// Rotation renames the active file to <stem>-<UTC time>-<n><ext> in the same
// directory and starts a new active file; a rotated file is complete and
// fsynced, with its directory entry fsynced too. The limits hold across
// restarts: an existing active file is measured when it is opened, and its
// age for rotate_interval counts from its creation (the file system's birth
// time on Linux, else its last modification), so a full or old file is
// rotated before the first write after a restart.
package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
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
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, &component.FieldError{Field: "path", Msg: "is required", Hint: "path: out/events.jsonl"})
	}
	if c.RotateBytes < 0 {
		errs = append(errs, &component.FieldError{Field: "rotate_bytes", Msg: "must not be negative", Hint: "0 disables size rotation"})
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
	Config: func() any { return &Config{Options: format.DefaultOptions(), Fsync: true} },
	New: func(cfg any, env component.Env) (component.Sink, error) {
		return New(*cfg.(*Config))
	},
}

// Sink writes to a file.
type Sink struct {
	cfg    Config
	lines  *format.LineEncoder
	f      *os.File
	size   int64
	opened time.Time
	seq    int
	now    func() time.Time
}

var _ component.Sink = (*Sink)(nil)

// New opens (or creates) the active file.
func New(cfg Config) (*Sink, error) { return newSink(cfg, time.Now) }

func newSink(cfg Config, now func() time.Time) (*Sink, error) {
	lines, err := format.NewLineEncoder(cfg.Options, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, lines: lines, now: now}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sink) open() error {
	if dir := filepath.Dir(s.cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("file sink: create directory %s: %w", dir, err)
		}
	}
	f, err := os.OpenFile(s.cfg.Path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("file sink: open %s: %w", s.cfg.Path, err)
	}
	size, err := cutPartialLine(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("file sink: repair %s: %w", s.cfg.Path, err)
	}
	s.f, s.size, s.opened = f, size, s.now()
	if size > 0 {
		// A file left by an earlier run (or before a failed write) is as
		// old as it is, not as old as this open: otherwise every restart
		// would start rotate_interval afresh.
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			s.f = nil
			return fmt.Errorf("file sink: stat %s: %w", s.cfg.Path, err)
		}
		if c := created(s.cfg.Path, fi); c.Before(s.opened) {
			s.opened = c
		}
	}
	return nil
}

// cutPartialLine truncates f after its last newline and positions at the end.
func cutPartialLine(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	// Scan back in blocks for the last '\n'.
	const block = 64 << 10
	buf := make([]byte, block)
	end := size
	for end > 0 {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if end != size {
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

// Write implements component.Sink.
func (s *Sink) Write(ctx context.Context, events []event.Event) error {
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
	if s.cfg.Fsync {
		if err := s.f.Sync(); err != nil {
			s.f.Close()
			s.f = nil
			return fmt.Errorf("file sink: fsync %s: %w", s.cfg.Path, err)
		}
	}
	if s.due() {
		// Rotate now so a full file is handed over promptly. The events
		// are already durable: a failed rotation is retried (and reported)
		// by the next Write instead of failing this one.
		_ = s.rotate()
	}
	return nil
}

// writeOut writes b to the active file.
func (s *Sink) writeOut(b []byte) error {
	if _, err := s.f.Write(b); err != nil {
		// Unknown how much reached the file: reopen (which cuts a partial
		// line) before the engine retries the same events.
		s.f.Close()
		s.f = nil
		return fmt.Errorf("file sink: write %s: %w", s.cfg.Path, err)
	}
	s.size += int64(len(b))
	return nil
}

func (s *Sink) due() bool {
	if s.size == 0 {
		return false
	}
	if s.cfg.RotateBytes > 0 && s.size >= s.cfg.RotateBytes {
		return true
	}
	return s.cfg.RotateInterval > 0 && s.now().Sub(s.opened) >= s.cfg.RotateInterval
}

// rotate closes the active file and renames it aside.
func (s *Sink) rotate() error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("file sink: fsync %s: %w", s.cfg.Path, err)
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("file sink: close %s: %w", s.cfg.Path, err)
	}
	s.f = nil
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
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("file sink: open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("file sink: fsync directory %s: %w", dir, err)
	}
	return nil
}

// Close implements component.Sink.
func (s *Sink) Close(context.Context) error {
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}
