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
	lines *format.LineEncoder
	w     io.Writer
}

var _ component.Sink = (*Sink)(nil)

// New returns a sink writing to w.
func New(cfg Config, w io.Writer) (*Sink, error) {
	lines, err := format.NewLineEncoder(cfg.Options, 1)
	if err != nil {
		return nil, err
	}
	return &Sink{lines: lines, w: w}, nil
}

// Write implements component.Sink.
func (s *Sink) Write(_ context.Context, events []event.Event) error {
	var werr error
	err := s.lines.Encode(events, func(b []byte) error {
		_, werr = s.w.Write(b)
		return werr
	})
	if werr != nil {
		return component.Permanent(fmt.Errorf("stdout: %w", werr))
	}
	if err != nil {
		return component.Permanent(err)
	}
	return nil
}

// Close implements component.Sink.
func (s *Sink) Close(context.Context) error { return nil }
