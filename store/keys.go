package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Key layout: the first byte of every Pebble key names its space. Names of
// processors and lease namespaces are written with their length first
// (uvarint), which makes the prefixes of two different names disjoint: no
// processor's keys can fall inside another's range, whatever the names.
const (
	tagCheckpoint = 'c' // c source                              → checkpoint bytes
	tagEpoch      = 'e' // e processor                           → committed epoch, 8 bytes big-endian
	tagLeaseKind  = 'k' // k |ns| ns |kind| kind key             → empty: partitions that are not done
	tagLease      = 'l' // l |ns| ns key                         → lease row (encodeLease)
	tagMeta       = 'm' // m name                                → store metadata
	tagState      = 's' // s |processor| processor key           → the processor's value
	tagUndo       = 'u' // u |processor| processor epoch seq     → undo record (encodeUndo), epoch and seq 8 bytes big-endian
)

// metaFormat holds the layout version; a store written by a future layout
// is refused rather than misread.
var metaFormat = []byte{tagMeta, 'f', 'o', 'r', 'm', 'a', 't'}

const layoutVersion = 1

// appendName appends a length-prefixed name.
func appendName(b []byte, name string) []byte {
	b = binary.AppendUvarint(b, uint64(len(name)))
	return append(b, name...)
}

// spacePrefix is tag, then the length-prefixed name.
func spacePrefix(tag byte, name string) []byte {
	return appendName([]byte{tag}, name)
}

// prefixEnd returns the smallest key greater than every key starting with
// p, or nil when there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func checkpointKey(source string) []byte {
	return append([]byte{tagCheckpoint}, source...)
}

func epochKey(processor string) []byte {
	return append([]byte{tagEpoch}, processor...)
}

func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// decodeEpoch reads a committed epoch value.
func decodeEpoch(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("committed epoch has %d bytes, want 8", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// parseUndoKey splits an undo key into its processor, epoch and sequence.
func parseUndoKey(k []byte) (processor string, epoch, seq uint64, err error) {
	if len(k) == 0 || k[0] != tagUndo {
		return "", 0, 0, errors.New("undo key without its tag")
	}
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || n > uint64(len(k)) {
		return "", 0, 0, errors.New("undo key with a bad processor length")
	}
	rest := k[1+w:]
	if uint64(len(rest)) != n+16 {
		return "", 0, 0, fmt.Errorf("undo key of %d bytes, want %d", len(k), 1+w+int(n)+16)
	}
	return string(rest[:n]), binary.BigEndian.Uint64(rest[n:]), binary.BigEndian.Uint64(rest[n+8:]), nil
}

// Undo records: one byte saying whether the key existed before the epoch,
// the key (uvarint length, bytes), then the value it had (the rest).
const (
	undoAbsent  = 1
	undoPresent = 2
)

func appendUndo(b []byte, key, old []byte, present bool) []byte {
	if present {
		b = append(b, undoPresent)
	} else {
		b = append(b, undoAbsent)
	}
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	if present {
		b = append(b, old...)
	}
	return b
}

// decodeUndo reads an undo record; the slices alias rec.
func decodeUndo(rec []byte) (key, old []byte, present bool, err error) {
	if len(rec) == 0 {
		return nil, nil, false, errors.New("empty undo record")
	}
	kind := rec[0]
	if kind != undoAbsent && kind != undoPresent {
		return nil, nil, false, fmt.Errorf("undo record of unknown kind %d", kind)
	}
	n, w := binary.Uvarint(rec[1:])
	if w <= 0 || n > uint64(len(rec)-1-w) {
		return nil, nil, false, errors.New("undo record with a bad key length")
	}
	key = rec[1+w : 1+w+int(n)]
	old = rec[1+w+int(n):]
	if kind == undoAbsent {
		if len(old) != 0 {
			return nil, nil, false, errors.New("undo record of an absent key carries a value")
		}
		return key, nil, false, nil
	}
	return key, old, true, nil
}

// Lease rows: a version byte, then kind, owner, status and progress
// (uvarint length, bytes), epoch and version (uvarint), expiry (varint Unix
// nanoseconds, 0 for none).
const leaseRowVersion = 1

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeLease(l Lease) []byte {
	b := make([]byte, 0, 32+len(l.Kind)+len(l.Owner)+len(l.Progress))
	b = append(b, leaseRowVersion)
	b = appendBytes(b, []byte(l.Kind))
	b = appendBytes(b, []byte(l.Owner))
	b = appendBytes(b, []byte(l.Status))
	b = appendBytes(b, l.Progress)
	b = binary.AppendUvarint(b, l.Epoch)
	b = binary.AppendUvarint(b, l.Version)
	var exp int64
	if !l.Expires.IsZero() {
		exp = l.Expires.UnixNano()
	}
	return binary.AppendVarint(b, exp)
}

// decodeLease reads a lease row (without its key); the result does not
// alias row.
func decodeLease(row []byte) (Lease, error) {
	var l Lease
	if len(row) == 0 || row[0] != leaseRowVersion {
		return l, errors.New("lease row of an unknown version")
	}
	p := row[1:]
	field := func(what string) ([]byte, error) {
		n, w := binary.Uvarint(p)
		if w <= 0 || n > uint64(len(p)-w) {
			return nil, fmt.Errorf("lease row with a bad %s length", what)
		}
		f := p[w : w+int(n)]
		p = p[w+int(n):]
		return f, nil
	}
	kind, err := field("kind")
	if err != nil {
		return l, err
	}
	owner, err := field("owner")
	if err != nil {
		return l, err
	}
	status, err := field("status")
	if err != nil {
		return l, err
	}
	progress, err := field("progress")
	if err != nil {
		return l, err
	}
	l.Kind, l.Owner, l.Status = string(kind), string(owner), string(status)
	switch l.Status {
	case StatusOpen, StatusOwned, StatusDone, StatusFailed:
	default:
		return l, fmt.Errorf("lease row with unknown status %q", l.Status)
	}
	if len(progress) > 0 {
		l.Progress = append([]byte(nil), progress...)
	}
	var w int
	if l.Epoch, w = binary.Uvarint(p); w <= 0 {
		return l, errors.New("lease row with a bad epoch")
	}
	p = p[w:]
	if l.Version, w = binary.Uvarint(p); w <= 0 {
		return l, errors.New("lease row with a bad version")
	}
	p = p[w:]
	exp, w := binary.Varint(p)
	if w <= 0 || w != len(p) {
		return l, errors.New("lease row with a bad expiry")
	}
	if exp != 0 {
		l.Expires = time.Unix(0, exp)
	}
	return l, nil
}
