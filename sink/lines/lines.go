// Package lines is the text-file sink (type: lines): one line per event,
// appended to a file and fsynced before the batch is acknowledged. It is
// what Kafka Connect's FileStreamSink connector becomes in sluice (package
// frontdoor/connect maps org.apache.kafka.connect.file.FileStreamSinkConnector
// onto it).
//
// # Lines
//
// An event whose row is one string column — the events of the lines
// source, which FileStreamSource's records become — is written as that
// string, so FileStreamSource → FileStreamSink copies lines as Connect
// does. Any other event is written in the configured format (default row:
// the row as a JSON object), where FileStreamSink would write the Java
// toString() of a Connect Struct, which no tool reads back. A value is
// written as it is, newlines included, as FileStreamSink does.
//
// # Files
//
// The file is opened for appending; its directory must exist, as
// FileStreamSink requires (a missing one fails the pipeline with the
// reason). With root set, path is opened inside that directory only
// (package internal/confine).
//
// Crash safety: every write ends with a newline and is fsynced before it
// is acknowledged, so a crash can leave only a partial last line, of a
// batch that will be delivered again. At open the sink cuts such a line —
// but only in a file it owns: one it created, or found empty or ending in
// a newline, which it records in its state directory (file "owner", holding
// the path). A file that ends without a newline and is not its own (a
// path naming someone else's file) is left alone and the sink stops with
// an error saying so.
package lines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/confine"
	"github.com/sluice-dev/sluice/internal/durable"
)

// Config is the lines sink's configuration.
type Config struct {
	// Path of the file to append to; its directory must exist.
	Path string `yaml:"path"`
	// Root, when set, confines path to this directory: path is relative to
	// it (or an absolute path inside it), and neither ".." nor a symlink
	// may lead out of it.
	Root string `yaml:"root"`
	// Format encodes the events that are not one string column.
	format.Options `yaml:",inline"`
	// Fsync makes every write durable before acknowledging it (default true).
	Fsync bool `yaml:"fsync"`
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, &component.FieldError{Field: "path", Msg: "is required", Hint: "path: out/lines.txt"})
	} else if _, err := confine.Rel(c.Root, c.Path); err != nil {
		errs = append(errs, &component.FieldError{Field: "path", Msg: err.Error(), Hint: "name a file inside root"})
	}
	if _, err := format.New(c.Options); err != nil {
		errs = append(errs, &component.FieldError{Field: "format", Msg: err.Error()})
	}
	return errs
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config {
	o := format.DefaultOptions()
	o.Format = "row"
	return &Config{Options: o, Fsync: true}
}

// Factory is the registry entry for type: lines.
var Factory = component.SinkFactory{
	Doc:    "one line per event appended to a text file, fsynced (Kafka Connect's FileStreamSink)",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Sink, error) {
		return New(*cfg.(*Config), env.StateDir)
	},
}

// Sink appends lines to a file. Write and Close are called from one
// goroutine.
type Sink struct {
	cfg      Config
	stateDir string
	enc      format.Encoder
	f        *os.File
	buf      []byte
}

var _ component.Sink = (*Sink)(nil)

// New returns a sink; stateDir (may be "") keeps its ownership record. The
// file is opened at the first write, so a missing directory fails the
// pipeline when it runs, with the reason, as FileStreamSink's task does.
func New(cfg Config, stateDir string) (*Sink, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, component.Permanent(fmt.Errorf("lines sink: %w", errors.Join(errs...)))
	}
	enc, err := format.New(cfg.Options)
	if err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg, stateDir: stateDir, enc: enc}, nil
}

// ownerFile records which file the sink owns.
const ownerFile = "owner"

func (s *Sink) owns() bool {
	if s.stateDir == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(s.stateDir, ownerFile))
	return err == nil && string(b) == s.cfg.Root+"\x00"+s.cfg.Path
}

func (s *Sink) own() error {
	if s.stateDir == "" || s.owns() {
		return nil
	}
	if err := durable.MkdirAll(s.stateDir); err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(s.stateDir, ownerFile), []byte(s.cfg.Root+"\x00"+s.cfg.Path), 0o600)
}

func (s *Sink) open() error {
	f, err := confine.OpenFile(s.cfg.Root, s.cfg.Path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	created := err == nil
	if errors.Is(err, os.ErrExist) {
		f, err = confine.OpenFile(s.cfg.Root, s.cfg.Path, os.O_RDWR, 0)
	}
	if err != nil {
		return component.Permanent(fmt.Errorf("lines sink: open %s: %w", s.cfg.Path, err))
	}
	fail := func(err error) error { f.Close(); return err }
	if created {
		if err := confine.SyncDir(s.cfg.Root, s.cfg.Path); err != nil {
			return fail(fmt.Errorf("lines sink: %w", err))
		}
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fail(fmt.Errorf("lines sink: %s: %w", s.cfg.Path, err))
	}
	keep, err := afterLastNewline(f, size)
	if err != nil {
		return fail(fmt.Errorf("lines sink: %s: %w", s.cfg.Path, err))
	}
	if keep != size {
		if !s.owns() {
			return fail(component.Permanent(fmt.Errorf("lines sink: %s ends without a newline and is not a file this sink wrote; it leaves it as it is (hint: name another file, or end this one with a newline)", s.cfg.Path)))
		}
		// A partial line of a batch that was never acknowledged.
		if err := f.Truncate(keep); err != nil {
			return fail(fmt.Errorf("lines sink: %s: cut the partial last line: %w", s.cfg.Path, err))
		}
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("lines sink: %s: %w", s.cfg.Path, err))
		}
		if _, err := f.Seek(keep, io.SeekStart); err != nil {
			return fail(fmt.Errorf("lines sink: %s: %w", s.cfg.Path, err))
		}
	}
	if err := s.own(); err != nil {
		return fail(fmt.Errorf("lines sink: record the ownership of %s: %w", s.cfg.Path, err))
	}
	s.f = f
	return nil
}

// afterLastNewline returns the offset after the last '\n' of f (0 when
// none), looking back from size.
func afterLastNewline(f *os.File, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := n - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// Write implements component.Sink.
func (s *Sink) Write(ctx context.Context, events []event.Event) error {
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	s.buf = s.buf[:0]
	var bad component.RecordErrors
	for i := range events {
		e := &events[i]
		if e.After != nil && len(e.Schema.Columns) == 1 && e.After[0].Kind == event.KindString {
			s.buf = append(s.buf, e.After[0].Str...)
			s.buf = append(s.buf, '\n')
			continue
		}
		b, ok, err := s.enc.AppendValue(s.buf, e)
		if err != nil {
			// The others are written; this one goes to the dead letter.
			bad = append(bad, component.RecordError{Index: i, Err: err})
			continue
		}
		if ok {
			s.buf = append(b, '\n')
		} // else the format writes nothing for it (a skipped operation)
	}
	if _, err := s.f.Write(s.buf); err != nil {
		s.reset()
		return fmt.Errorf("lines sink: write %s: %w", s.cfg.Path, err)
	}
	if s.cfg.Fsync {
		if err := s.f.Sync(); err != nil {
			s.reset()
			return fmt.Errorf("lines sink: fsync %s: %w", s.cfg.Path, err)
		}
	}
	if len(bad) > 0 {
		return bad
	}
	return nil
}

// reset closes the file after a failed write; the next Write opens it
// again, cutting what the failed one left.
func (s *Sink) reset() {
	s.f.Close()
	s.f = nil
}

// Close implements component.Sink.
func (s *Sink) Close(context.Context) error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
