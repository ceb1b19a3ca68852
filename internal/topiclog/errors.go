package topiclog

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrUnknownTopic is returned for a topic that does not exist.
var ErrUnknownTopic = errors.New("unknown topic")

// ErrClosed is returned by a Log (and its topics and readers) after its
// last Close.
var ErrClosed = errors.New("topic log is closed")

// OutOfRangeError is a read at an offset the topic does not hold: before
// its start (retention deleted the records, as Kafka's
// OFFSET_OUT_OF_RANGE), or after its end (the log was replaced or cut
// short behind the reader's back). The reader decides where to go on, as
// Kafka's auto.offset.reset.
type OutOfRangeError struct {
	Topic      string
	Offset     int64 // the offset asked for
	Start, End int64 // the topic holds offsets Start..End-1
}

func (e *OutOfRangeError) Error() string {
	if e.Offset < e.Start {
		return fmt.Sprintf("topic log: offset %d of topic %s is no longer in the log: retention deleted the records before offset %d", e.Offset, e.Topic, e.Start)
	}
	return fmt.Sprintf("topic log: offset %d of topic %s is beyond its end, offset %d: the log was replaced or cut short", e.Offset, e.Topic, e.End)
}

// DamagedError is a segment file (or a topic's set of them) that cannot be
// read whole: records that were acknowledged to their writer are damaged
// or missing. A torn tail — the last record cut short by a crash, never
// acknowledged — is not damage: it is cut when the topic opens. The
// message names the file, what is wrong, and what each way out loses.
type DamagedError struct {
	Topic  string
	Path   string // the segment file
	Detail string // what is wrong
	// At is where the file's whole records end (the damage starts), Lost
	// the offset of the first record lost by cutting the file there.
	At, Lost int64
	// Older and Newer are the topic's other segment files.
	Older, Newer []string
	// Next is the offset after the file's records, when known (-1 if not).
	Next int64
}

func (e *DamagedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "topic log: segment file %s of topic %s is damaged: %s. "+
		"It holds records that were acknowledged to their writer, so sluice stops rather than skip them. "+
		"To recover, stop sluice, then restore the file from a backup taken while sluice was stopped", e.Path, e.Topic, e.Detail)
	fmt.Fprintf(&b, "; or give up the records from offset %d on: truncate -s %d %s", e.Lost, e.At, e.Path)
	if len(e.Newer) > 0 {
		fmt.Fprintf(&b, " and remove the newer segment files of the topic (%s, with their .index files)", files(e.Newer))
	}
	if len(e.Newer) > 0 {
		before := "the records of this file"
		if e.Next >= 0 {
			before = fmt.Sprintf("the records before offset %d", e.Next)
		}
		rm := append(append([]string(nil), e.Older...), e.Path)
		fmt.Fprintf(&b, "; or give up %s: remove this file and the older ones (%s, with their .index files), "+
			"as retention would have", before, files(rm))
	} else {
		fmt.Fprintf(&b, "; or give up the whole topic: rm -r %s", filepath.Dir(e.Path))
	}
	b.WriteString(". Readers whose offset is gone then resume as their start_offset says, with a warning naming the records they lost.")
	return b.String()
}

// files names a list of files: all of them when few.
func files(paths []string) string {
	if len(paths) <= 3 {
		return "rm " + strings.Join(paths, " ")
	}
	return fmt.Sprintf("the %d files %s … %s", len(paths), paths[0], filepath.Base(paths[len(paths)-1]))
}
