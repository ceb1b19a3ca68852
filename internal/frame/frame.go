// Package frame is the record framing of sluice's local append-only files —
// the topic log (internal/topiclog) — and the reader that tells a record cut
// short by a crash from a damaged one. It is the framing of the S3 sink's
// spool (format 2, sink/s3/spool.go), taken out of it; the spool still has
// its own copy of the reader, next to the one of its older format 1.
//
// # Format
//
// A record is
//
//	len u32 | meta [M]byte | crc u32 | hcrc u32 | payload
//
// in little endian: len is the payload's length, meta M bytes that each file
// kind defines (positions, offsets, times), crc the CRC-32C of the payload
// and hcrc the CRC-32C of the head bytes before it. The head has a checksum
// of its own so that a length can be trusted before the payload it announces
// is read: a record cut short by the end of the file is then told apart from
// a damaged length.
//
// # Torn tails and damage
//
// The writers append whole records and fsync before they acknowledge them,
// so a crash (a killed process, or a power loss on a file system that makes
// a file's size durable only with the data it covers: ext4 in its default
// data=ordered mode, XFS, btrfs) leaves whole records, then at most one
// record cut short by the end of the file: ErrTorn, a record that was never
// acknowledged. Anything else — a head or a payload whose checksum fails, a
// head that declares more than Format.Max bytes — is a *Damage: bytes that
// were written whole and have changed since. The callers decide what each
// means for their files and phrase the message.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC-32C the format uses.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Format is one file kind's framing.
type Format struct {
	// Meta is the number of meta bytes after the length.
	Meta int
	// Max is the most payload bytes a head may declare; a larger length is
	// damage (and no reader allocates it).
	Max uint32
}

// HeadSize is the size of a record's head: everything before the payload.
func (f Format) HeadSize() int { return 4 + f.Meta + 8 }

// Append appends a record with meta (Meta bytes) and payload to dst.
func (f Format) Append(dst, meta, payload []byte) []byte {
	if len(meta) != f.Meta {
		panic(fmt.Sprintf("frame: %d meta bytes, the format has %d", len(meta), f.Meta))
	}
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, meta...)
	dst = binary.LittleEndian.AppendUint32(dst, Checksum(payload))
	dst = binary.LittleEndian.AppendUint32(dst, Checksum(dst[start:]))
	return append(dst, payload...)
}

// MetaOf returns the meta bytes of a head.
func (f Format) MetaOf(head []byte) []byte { return head[4 : 4+f.Meta] }

// ErrTorn is a record cut short by the end of the data: a crash in the
// middle of an append that was never acknowledged.
var ErrTorn = errors.New("the data ends inside a record")

// DamageKind says what is wrong with a damaged record.
type DamageKind int

const (
	// BadHead: the head's checksum fails.
	BadHead DamageKind = iota + 1
	// TooLarge: the head is whole and checks, yet declares more than
	// Format.Max bytes.
	TooLarge
	// BadPayload: the payload's checksum fails.
	BadPayload
)

// Damage is a record whose bytes are all there but wrong.
type Damage struct {
	Kind DamageKind
	// Off is where the record starts (the data is whole before it); End is
	// where its head (BadHead) or the record (BadPayload) ends, or Off for
	// TooLarge.
	Off, End int64
	// Size is the payload length the head declares (TooLarge, BadPayload).
	Size uint32
}

func (d *Damage) Error() string {
	switch d.Kind {
	case BadHead:
		return fmt.Sprintf("the head of the record at bytes %d..%d fails its checksum", d.Off, d.End)
	case TooLarge:
		return fmt.Sprintf("the record at byte %d declares %d bytes, more than a record holds", d.Off, d.Size)
	}
	return fmt.Sprintf("the record at bytes %d..%d fails its checksum", d.Off, d.End)
}

// Reader reads records one after another: NextHead, then Body with the
// size it returned. Memory is bounded by the input: a length that is not
// there is not allocated.
type Reader struct {
	F Format
	R io.Reader
	// Off is where the next record starts; set it to the reader's start.
	Off int64
	// Fresh makes Body return a new slice for every payload; otherwise the
	// slice is reused by the next call.
	Fresh bool

	head []byte
	buf  []byte
	size uint32
}

// NextHead reads and checks the next record's head and returns it (valid
// until the next call) and the payload size it declares. It returns io.EOF
// when the data ends before the record, ErrTorn when it ends inside the
// head, a *Damage for a head that fails its checksum or declares too much,
// and errors of R as they are.
func (r *Reader) NextHead() (head []byte, size uint32, err error) {
	if r.head == nil {
		r.head = make([]byte, r.F.HeadSize())
	}
	switch _, err := io.ReadFull(r.R, r.head); err {
	case nil:
	case io.EOF:
		return nil, 0, io.EOF
	case io.ErrUnexpectedEOF:
		return nil, 0, ErrTorn
	default:
		return nil, 0, err
	}
	n := len(r.head)
	le := binary.LittleEndian
	if Checksum(r.head[:n-4]) != le.Uint32(r.head[n-4:]) {
		return nil, 0, &Damage{Kind: BadHead, Off: r.Off, End: r.Off + int64(n)}
	}
	r.size = le.Uint32(r.head)
	if r.size > r.F.Max {
		return nil, 0, &Damage{Kind: TooLarge, Off: r.Off, End: r.Off, Size: r.size}
	}
	return r.head, r.size, nil
}

// Body reads the payload of the record whose head NextHead returned and
// checks it. It returns ErrTorn when the data ends inside it (the head
// checks, so the length is the one written), a *Damage when its checksum
// fails, and errors of R as they are. On success Off moves past the record.
func (r *Reader) Body() ([]byte, error) {
	size := int(r.size)
	var b []byte
	if size > 1<<20 {
		// Large: grow with what is actually there.
		var err error
		if b, err = io.ReadAll(io.LimitReader(r.R, int64(size))); err != nil {
			return nil, err
		}
		if len(b) < size {
			return nil, ErrTorn
		}
	} else {
		if r.Fresh || cap(r.buf) < size {
			r.buf = make([]byte, size)
		}
		b = r.buf[:size]
		switch _, err := io.ReadFull(r.R, b); err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return nil, ErrTorn
		default:
			return nil, err
		}
	}
	hs := r.F.HeadSize()
	end := r.Off + int64(hs) + int64(size)
	if Checksum(b) != binary.LittleEndian.Uint32(r.head[hs-8:]) {
		return nil, &Damage{Kind: BadPayload, Off: r.Off, End: end, Size: r.size}
	}
	r.Off = end
	return b, nil
}
