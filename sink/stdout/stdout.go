// Package stdout is the standard-output sink: encoded events, one per line.
// A write is acknowledged once it reached the process's stdout; stdout is
// not durable, so use it for inspection and piping, not as a system of
// record.
package stdout

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
)

// Config is the stdout sink's configuration.
type Config struct {
	format.Options `yaml:",inline"`
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	if _, err := format.New(c.Options); err != nil {
		return []error{&component.FieldError{Field: "format", Msg: err.Error()}}
	}
	return nil
}

// Factory is the registry entry for type: stdout.
var Factory = component.SinkFactory{
	Doc:    "encoded events on standard output, one per line",
	Config: func() any { return &Config{Options: format.DefaultOptions()} },
	New: func(cfg any, env component.Env) (component.Sink, error) {
		return New(*cfg.(*Config), os.Stdout)
	},
}

// Sink writes lines to an io.Writer.
type Sink struct {
	enc format.Encoder
	w   io.Writer
	buf []byte
}

var _ component.Sink = (*Sink)(nil)

// New returns a sink writing to w.
func New(cfg Config, w io.Writer) (*Sink, error) {
	enc, err := format.New(cfg.Options)
	if err != nil {
		return nil, err
	}
	return &Sink{enc: enc, w: w}, nil
}

// Write implements component.Sink.
func (s *Sink) Write(_ context.Context, events []event.Event) error {
	buf := s.buf[:0]
	for i := range events {
		mark := len(buf)
		var ok bool
		var err error
		buf, ok, err = s.enc.AppendValue(buf, &events[i])
		if err != nil {
			return component.Permanent(fmt.Errorf("encode %s: %w", events[i].String(), err))
		}
		if !ok {
			buf = buf[:mark]
			continue
		}
		buf = append(buf, '\n')
	}
	s.buf = buf
	if _, err := s.w.Write(buf); err != nil {
		return component.Permanent(fmt.Errorf("stdout: %w", err))
	}
	return nil
}

// Close implements component.Sink.
func (s *Sink) Close(context.Context) error { return nil }
