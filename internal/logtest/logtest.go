// Package logtest captures what a component logs, for tests that assert on
// it: the conformance suites (internal/sourcetest, internal/sinktest) check
// that a lost connection is logged and that no record holds a secret.
//
// A Recorder keeps the text of every record — level, message and every
// attribute, those added with Logger.With included — so a secret cannot
// hide in an attribute the test did not think of.
package logtest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// Line is one captured record.
type Line struct {
	Level slog.Level
	Text  string // "LEVEL message key=value ..."
}

// Recorder is a slog.Handler's store; it is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	lines []Line
}

// New returns an empty Recorder.
func New() *Recorder { return &Recorder{} }

// Logger returns a logger that records into r at every level.
func (r *Recorder) Logger() *slog.Logger { return slog.New(&handler{r: r}) }

// Lines returns the records so far.
func (r *Recorder) Lines() []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Line(nil), r.lines...)
}

// Len is the number of records so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lines)
}

// Since returns the number of records at level or above from index from on.
func (r *Recorder) Since(from int, level slog.Level) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ln := range r.lines[min(from, len(r.lines)):] {
		if ln.Level >= level {
			n++
		}
	}
	return n
}

// Holding returns the records that contain one of secrets (empty strings
// are ignored), each secret replaced by <secret> so that the caller can
// print them without leaking it further.
func (r *Recorder) Holding(secrets ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ln := range r.lines {
		text, hit := ln.Text, false
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				text, hit = strings.ReplaceAll(text, s, "<secret>"), true
			}
		}
		if hit {
			out = append(out, text)
		}
	}
	return out
}

type handler struct {
	r     *Recorder
	attrs []slog.Attr
	group string
}

func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.r.mu.Lock()
	h.r.lines = append(h.r.lines, Line{Level: rec.Level, Text: b.String()})
	h.r.mu.Unlock()
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{r: h.r, attrs: append(append([]slog.Attr(nil), h.attrs...), as...), group: h.group}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{r: h.r, attrs: h.attrs, group: name}
}
