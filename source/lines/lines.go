// Package lines is the text-file source (type: lines): it reads a file line
// by line into events of one string column, "line", and keeps following it
// as it grows (tail -f). It is what Kafka Connect's FileStreamSource
// connector becomes in sluice (package frontdoor/connect maps
// org.apache.kafka.connect.file.FileStreamSourceConnector onto it).
//
// # Lines and positions
//
// A line ends at "\n", "\r\n" or a lone "\r", as FileStreamSource splits
// them; the terminator is not part of the value. Bytes after the last
// terminator wait for more data (a line being written). The checkpoint is
// the byte offset after the last line of a batch, {"position":N} — the
// offset FileStreamSource stores, except that sluice counts bytes where
// FileStreamSource counts UTF-16 characters (they agree for ASCII). A
// restart seeks there. The position is also each event's Position
// ("byte N", where its line starts).
//
// # Files that change under it
//
// A file that does not exist yet is waited for (logged once at WARN), as
// FileStreamSource does. A file shorter than the checkpoint was truncated
// or replaced: the source stops with an error that says so, rather than
// re-reading or skipping silently; resetting the checkpoint (the
// connector's offsets) reads it from the start. A line longer than
// max_line_bytes stops the source with an error naming the file and the
// offset (memory stays bounded).
//
// # Confinement
//
// With root set, path is opened inside that directory only (package
// internal/confine: no "..", no symlink leads out); `sluice serve` sets it
// for files named in connector configs.
package lines

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/confine"
)

// Config is the lines source's configuration.
type Config struct {
	// Path of the file to read.
	Path string `yaml:"path"`
	// Root, when set, confines path to this directory: path is relative to
	// it (or an absolute path inside it), and neither ".." nor a symlink
	// may lead out of it.
	Root string `yaml:"root"`
	// Stream names the events' stream (default "<source>.lines"); a Kafka
	// Connect topic name is fine (no dots required).
	Stream string `yaml:"stream"`
	// BatchSize caps the lines per emitted batch (FileStreamSource's
	// batch.size).
	BatchSize int `yaml:"batch_size"`
	// PollInterval is how long the source waits at the end of the file
	// before looking for more lines.
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxLineBytes bounds one line; a longer one stops the source.
	MaxLineBytes int `yaml:"max_line_bytes"`
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, &component.FieldError{Field: "path", Msg: "is required", Hint: "path: in/lines.txt"})
	} else if _, err := confine.Rel(c.Root, c.Path); err != nil {
		errs = append(errs, &component.FieldError{Field: "path", Msg: err.Error(), Hint: "name a file inside root"})
	}
	if c.BatchSize < 1 {
		errs = append(errs, &component.FieldError{Field: "batch_size", Msg: "must be at least 1"})
	}
	if c.PollInterval <= 0 {
		errs = append(errs, &component.FieldError{Field: "poll_interval", Msg: "must be positive", Hint: "poll_interval: 1s"})
	}
	if c.MaxLineBytes < 1 {
		errs = append(errs, &component.FieldError{Field: "max_line_bytes", Msg: "must be at least 1"})
	}
	return errs
}

// DefaultConfig returns the defaults (FileStreamSource's: 2000 lines a
// batch, a second's wait at the end of the file).
func DefaultConfig() *Config {
	return &Config{BatchSize: 2000, PollInterval: time.Second, MaxLineBytes: 1 << 20}
}

// Factory is the registry entry for type: lines.
var Factory = component.SourceFactory{
	Doc:    "lines of a text file, followed as it grows (Kafka Connect's FileStreamSource)",
	Config: func() any { return DefaultConfig() },
	// The stream is named by the stream key (a Connect topic), not after
	// the source.
	ForeignStreams: true,
	New: func(cfg any, env component.Env) (component.Source, error) {
		return New(*cfg.(*Config), env)
	},
}

// Source reads a file's lines.
type Source struct {
	cfg    Config
	log    *slog.Logger
	schema *event.Schema
	now    func() time.Time
}

var _ component.Source = (*Source)(nil)

// New returns a source; it opens the file when it runs.
func New(cfg Config, env component.Env) (*Source, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, component.Permanent(fmt.Errorf("lines source: %w", errors.Join(errs...)))
	}
	stream := cfg.Stream
	if stream == "" {
		stream = env.Name + ".lines"
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{
		cfg: cfg,
		log: log,
		schema: &event.Schema{
			Stream: stream, Source: env.Name, Connector: "file", Table: stream, Version: 1,
			Columns: []event.Column{{Name: "line", Type: event.TypeString, TypeName: "string"}},
		},
		now: time.Now,
	}, nil
}

// Checkpoint is the source's checkpoint: the byte offset after the last
// line emitted.
type Checkpoint struct {
	Position int64 `json:"position"`
}

// ParseCheckpoint decodes a checkpoint (nil: the start of the file).
func ParseCheckpoint(cp []byte) (Checkpoint, error) {
	var c Checkpoint
	if cp == nil {
		return c, nil
	}
	if err := json.Unmarshal(cp, &c); err != nil || c.Position < 0 {
		return c, fmt.Errorf("lines source: checkpoint %q is not {\"position\":N} with N ≥ 0", cp)
	}
	return c, nil
}

// Run implements component.Source.
func (s *Source) Run(ctx context.Context, checkpoint []byte, out component.Emitter) error {
	cp, err := ParseCheckpoint(checkpoint)
	if err != nil {
		return component.Permanent(err)
	}
	f, err := s.open(ctx)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("lines source: %s: %w", s.cfg.Path, err)
	}
	if st.Size() < cp.Position {
		return component.Permanent(fmt.Errorf("lines source: %s has %d bytes, fewer than the checkpoint's position %d: it was truncated or replaced (hint: reset the checkpoint — the connector's offsets — to read it from the start)", s.cfg.Path, st.Size(), cp.Position))
	}
	if _, err := f.Seek(cp.Position, io.SeekStart); err != nil {
		return fmt.Errorf("lines source: %s: seek to %d: %w", s.cfg.Path, cp.Position, err)
	}
	r := &reader{f: f, pos: cp.Position, max: s.cfg.MaxLineBytes, buf: make([]byte, 0, 64<<10)}
	for {
		evs, err := s.batch(r)
		if len(evs) > 0 {
			next, _ := json.Marshal(Checkpoint{Position: r.pos})
			if err := out.Emit(ctx, evs, next); err != nil {
				if ctx.Err() != nil || errors.Is(err, component.ErrStopped) {
					return nil
				}
				return err
			}
			if len(evs) == s.cfg.BatchSize {
				continue // more may be there already
			}
		}
		if err != nil {
			return component.Permanent(err) // after the lines before the bad one
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.PollInterval):
		}
	}
}

// open opens the file, waiting for it to exist. It returns nil, nil when
// ctx ends first.
func (s *Source) open(ctx context.Context) (*os.File, error) {
	warned := false
	for {
		f, err := confine.OpenFile(s.cfg.Root, s.cfg.Path, os.O_RDONLY, 0)
		if err == nil {
			if warned {
				s.log.Info("file exists now; reading it", "path", s.cfg.Path)
			}
			return f, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, component.Permanent(fmt.Errorf("lines source: open %s: %w", s.cfg.Path, err))
		}
		if !warned {
			s.log.Warn("file does not exist yet; waiting for it", "path", s.cfg.Path)
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(s.cfg.PollInterval):
		}
	}
}

// batch reads up to BatchSize whole lines that are there now.
func (s *Source) batch(r *reader) ([]event.Event, error) {
	var evs []event.Event
	now := s.now()
	for len(evs) < s.cfg.BatchSize {
		line, start, ok, err := r.next()
		if err != nil {
			return evs, fmt.Errorf("lines source: %s: %w", s.cfg.Path, err)
		}
		if !ok {
			break
		}
		evs = append(evs, event.Event{
			Schema:   s.schema,
			After:    []event.Value{event.String(line)},
			Op:       event.OpCreate,
			TsMs:     now.UnixMilli(),
			Source:   event.Source{TsUs: now.UnixMicro()},
			Position: "byte " + strconv.FormatInt(start, 10),
		})
	}
	return evs, nil
}

// reader splits a file into lines. pos is the offset after the last line
// returned; buf holds the bytes read after it.
type reader struct {
	f   *os.File
	pos int64
	max int
	buf []byte
}

// next returns the next whole line and its offset, or ok false when no
// whole line is there yet.
func (r *reader) next() (line string, start int64, ok bool, err error) {
	for {
		end, next, found := splitLine(r.buf)
		if (found && end > r.max) || (!found && len(r.buf) > r.max) {
			return "", 0, false, fmt.Errorf("the line at byte %d is longer than max_line_bytes (%d)", r.pos, r.max)
		}
		if found {
			line, start = string(r.buf[:end]), r.pos
			r.pos += int64(next)
			r.buf = r.buf[:copy(r.buf, r.buf[next:])]
			return line, start, true, nil
		}
		if len(r.buf) == cap(r.buf) {
			r.buf = append(r.buf, make([]byte, cap(r.buf))...)[:len(r.buf)]
		}
		n, err := r.f.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return "", 0, false, nil // the end, for now
			}
			return "", 0, false, err
		}
	}
}

// splitLine finds the first line of b: it ends at end and the next one
// starts at next. found is false when b holds no whole line; a "\r" last
// may be the first half of "\r\n", so it waits for the next byte, as
// FileStreamSource does.
func splitLine(b []byte) (end, next int, found bool) {
	i := bytes.IndexAny(b, "\r\n")
	switch {
	case i < 0:
		return 0, 0, false
	case b[i] == '\n':
		return i, i + 1, true
	case i+1 == len(b):
		return 0, 0, false
	case b[i+1] == '\n':
		return i, i + 2, true
	}
	return i, i + 1, true
}

// Committed implements component.Source; nothing upstream to release.
func (s *Source) Committed(context.Context, []byte) error { return nil }

// Close implements component.Source.
func (s *Source) Close() error { return nil }
