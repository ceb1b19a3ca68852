package sqlsink

import (
	"bytes"
	"errors"
	"io"
)

// CopyData is the encoded rows of one RowCopier.CopyRows call.
type CopyData interface {
	// Reader returns the rows for one COPY. The first reader of a group
	// may stream them while the last rows are still being encoded;
	// a later one (a second attempt) waits for the end of the encoding
	// and reads every row again.
	Reader() io.Reader
}

// copySpan is CopyData for rows already encoded.
type copySpan []byte

func (s copySpan) Reader() io.Reader { return bytes.NewReader(s) }

// copyChunk is how much encoded data the encoder hands the COPY at a
// time: about one CopyData message of pgconn (64 KiB).
const copyChunk = 64 << 10

var errCopyEnded = errors.New("COPY ended")

// copyStream encodes an insert or upsert group for a RowCopier in its own
// goroutine while the group's first COPY sends what is already encoded, so
// that the server parses and stores the first rows while the last ones
// are encoded. It keeps every row's encoding (Row.enc) for a second
// attempt and for isolating bad rows, which use the whole buffer once the
// encoding has ended.
//
// Rows the encoder rejects are never sent: the stream holds exactly the
// rows that rows ends up with, in order.
type copyStream struct {
	pr   *io.PipeReader
	pw   *io.PipeWriter
	done chan struct{}
	read bool // Reader was called

	// Owned by the encoder until done is closed.
	buf  []byte
	rows []Row
	bad  []rejected
}

type rejected struct {
	row Row
	err error
}

func startCopyStream(rc RowCopier, rows []Row, soft bool, buf []byte) *copyStream {
	s := &copyStream{done: make(chan struct{}), buf: buf[:0], rows: make([]Row, 0, len(rows))}
	s.pr, s.pw = io.Pipe()
	go s.encode(rc, rows, soft)
	return s
}

func (s *copyStream) encode(rc RowCopier, rows []Row, soft bool) {
	defer close(s.done)
	streaming, sent := true, 0
	send := func() {
		if streaming && len(s.buf) > sent {
			// Write returns once the COPY has taken the bytes, or with
			// an error once the stream was closed (the COPY ended or
			// a second attempt wants all rows): then only encode.
			if _, err := s.pw.Write(s.buf[sent:]); err != nil {
				streaming = false
			}
			sent = len(s.buf)
		}
	}
	for _, r := range rows {
		start := len(s.buf)
		b, err := rc.AppendCopyRow(s.buf, r.Schema, r.Vals, soft, r.Deleted)
		if err != nil {
			s.buf = b[:start]
			s.bad = append(s.bad, rejected{r, err})
			continue
		}
		s.buf = b
		r.enc.start, r.enc.end = start, len(b)
		s.rows = append(s.rows, r)
		if len(s.buf)-sent >= copyChunk {
			send()
		}
	}
	send()
	s.pw.Close()
}

// Reader implements CopyData.
func (s *copyStream) Reader() io.Reader {
	if !s.read {
		s.read = true
		return s.pr
	}
	s.wait()
	return bytes.NewReader(s.buf)
}

// wait stops the stream (the encoder keeps encoding into the buffer only)
// and waits for the encoding to end; then buf, rows and bad are final.
func (s *copyStream) wait() {
	s.pr.CloseWithError(errCopyEnded)
	<-s.done
}
