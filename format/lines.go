package format

import (
	"fmt"
	"sync"

	"github.com/sluice-dev/sluice/event"
)

// LineEncoder encodes batches as newline-terminated lines (JSON lines) and
// hands the bytes, in order, to a write function. Large batches are cut
// into contiguous parts encoded on several goroutines (one Encoder each, as
// encoders are not safe for concurrent use); the output order is always the
// events' order. It is used by one goroutine at a time.
type LineEncoder struct {
	encs []Encoder
	bufs [][]byte // per extra worker
	buf  []byte   // the caller's streaming buffer
}

// flushBytes is the streaming buffer's size: large enough that writes are
// few, small enough to stay in cache.
const flushBytes = 256 << 10

// parallelMin is the smallest batch worth cutting into parts.
const parallelMin = 4096

// NewLineEncoder returns a LineEncoder with up to workers goroutines.
func NewLineEncoder(opts Options, workers int) (*LineEncoder, error) {
	workers = max(workers, 1)
	l := &LineEncoder{bufs: make([][]byte, workers)}
	for range workers {
		e, err := New(opts)
		if err != nil {
			return nil, err
		}
		l.encs = append(l.encs, e)
	}
	return l, nil
}

// Encode encodes events and calls write with consecutive pieces of output
// (each ends with a newline). The slice passed to write is reused after
// write returns. An encoding error names the event; events before it may
// already have been written.
func (l *LineEncoder) Encode(events []event.Event, write func([]byte) error) error {
	n := len(l.encs)
	if n == 1 || len(events) < parallelMin {
		return l.stream(l.encs[0], events, write)
	}
	part := (len(events) + n - 1) / n
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := 1; w < n; w++ {
		lo := min(w*part, len(events))
		hi := min(lo+part, len(events))
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.bufs[w], errs[w] = appendLines(l.encs[w], l.bufs[w][:0], events[lo:hi])
		}()
	}
	err := l.stream(l.encs[0], events[:min(part, len(events))], write)
	wg.Wait()
	if err != nil {
		return err
	}
	for w := 1; w < n; w++ {
		if errs[w] != nil {
			return errs[w]
		}
		if len(l.bufs[w]) > 0 {
			if err := write(l.bufs[w]); err != nil {
				return err
			}
		}
		if cap(l.bufs[w]) > 64<<20 {
			l.bufs[w] = nil // an outsized batch: do not keep its memory
		}
	}
	return nil
}

// stream encodes into the bounded streaming buffer, writing as it fills.
func (l *LineEncoder) stream(enc Encoder, events []event.Event, write func([]byte) error) error {
	buf := l.buf[:0]
	for i := range events {
		var err error
		buf, err = appendLine(enc, buf, &events[i])
		if err != nil {
			return err
		}
		if len(buf) >= flushBytes {
			if err := write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	l.buf = buf[:0]
	if len(buf) > 0 {
		return write(buf)
	}
	return nil
}

func appendLines(enc Encoder, buf []byte, events []event.Event) ([]byte, error) {
	for i := range events {
		var err error
		if buf, err = appendLine(enc, buf, &events[i]); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func appendLine(enc Encoder, buf []byte, e *event.Event) ([]byte, error) {
	return AppendLines(enc, buf, e)
}

// AppendLines appends the lines (JSON, each ending in a newline) that e is
// written as in a file: one per event that Split makes of it, none where
// the encoder writes nothing. On an error, buf is returned as it was.
func AppendLines(enc Encoder, buf []byte, e *event.Event) ([]byte, error) {
	if KeyChanged(e) {
		var parts [2]event.Event
		mark := len(buf)
		for _, p := range Split(e, &parts) {
			var err error
			if buf, err = appendLine1(enc, buf, &p); err != nil {
				return buf[:mark], err
			}
		}
		return buf, nil
	}
	return appendLine1(enc, buf, e)
}

func appendLine1(enc Encoder, buf []byte, e *event.Event) ([]byte, error) {
	mark := len(buf)
	buf, ok, err := enc.AppendValue(buf, e)
	if err != nil {
		return buf[:mark], fmt.Errorf("encode %s: %w", e.String(), err)
	}
	if !ok {
		return buf[:mark], nil
	}
	return append(buf, '\n'), nil
}
