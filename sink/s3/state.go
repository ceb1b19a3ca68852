package s3

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/component"
)

// The state file, s3-state.json, holds per stream the high-water marks of
// what was uploaded (spooled events are counted from the spool files):
//
//	{"format":2,"streams":{"<stream>":{"hi":…,"lo":…,"snap":…},…},"crc32c":"<8 hex digits>"}
//
// crc32c is the CRC-32C of the streams value's bytes as written, so a
// flipped digit — which would make the sink skip events as replays, or
// upload them twice — is found when the file is read. Format 1 (earlier
// versions) is {"streams":{…}} alone; it is trusted as it is, and the next
// save writes format 2. Anything else — not JSON, other fields, a checksum
// that does not match — is a permanent *stateDamagedError naming the file
// and the ways to recover. The file is replaced atomically (a temporary
// file, fsynced, renamed over it, the directory fsynced), so a crash leaves
// the old file or the new one.
const stateFormat = 2

type persistedStream struct {
	Hi   uint64 `json:"hi"`
	Lo   uint64 `json:"lo"`
	Snap int64  `json:"snap"`
}

// stateDamagedError reports a state file that cannot be trusted.
type stateDamagedError struct {
	path   string
	detail string
}

func (e *stateDamagedError) Error() string {
	return fmt.Sprintf("s3 sink: state file %s is damaged: %s. "+
		"It holds, per stream, the position up to which events are in S3, so that events the source replays after a restart are not uploaded twice; sluice will not guess it. "+
		"To recover, stop sluice, then restore the file from a backup taken while sluice was stopped, "+
		"or remove it: rm %s (the sink then knows only the positions in its spool files: replayed events that are in S3 already are uploaded again, "+
		"replacing the objects of the same name when the same events make them up, else as duplicates; "+
		"and snapshot rows are numbered again from the highest ordinal in the spool, so a new snapshot's objects may replace earlier ones of the same name)",
		e.path, e.detail, e.path)
}

// readState reads the state file at path; a missing file is an empty state.
func readState(path string) (map[string]persistedStream, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("s3 sink: read state file %s: %w", path, err)
	}
	damaged := func(format string, args ...any) error {
		return component.Permanent(&stateDamagedError{path, fmt.Sprintf(format, args...)})
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		if len(b) == 0 {
			return nil, damaged("the file is empty (0 bytes): sluice never leaves an empty state file, so it was truncated")
		}
		return nil, damaged("it is not a JSON object: %v", err)
	}
	streams := top["streams"]
	switch {
	case len(top) == 1 && streams != nil:
		// Format 1, written by an earlier version: no checksum to check.
	case top["format"] != nil && string(top["format"]) != "2":
		return nil, damaged("its format is %s, which this version of sluice does not know (it writes format %d)", top["format"], stateFormat)
	case len(top) == 3 && top["format"] != nil && streams != nil && top["crc32c"] != nil:
		var sum string
		if err := json.Unmarshal(top["crc32c"], &sum); err != nil || sum != stateSum(streams) {
			return nil, damaged("its checksum (crc32c) does not match its content")
		}
	default:
		keys := slices.Sorted(maps.Keys(top))
		return nil, damaged("it does not hold the fields sluice writes (format, streams, crc32c) but %s", strings.Join(keys, ", "))
	}
	var marks map[string]persistedStream
	if err := json.Unmarshal(streams, &marks); err != nil {
		return nil, damaged("its streams are not the JSON sluice writes: %v", err)
	}
	return marks, nil
}

func stateSum(streams []byte) string {
	return fmt.Sprintf("%08x", crc32.Checksum(streams, castagnoli))
}

// saveState writes the high-water marks atomically. Writing the in-memory
// marks is safe: everything they cover is uploaded or in a spool file.
func (s *Sink) saveState() error {
	marks := make(map[string]persistedStream, len(s.streams))
	for name, st := range s.streams {
		marks[name] = persistedStream{Hi: st.hwm.Hi, Lo: st.hwm.Lo, Snap: st.snap}
	}
	streams, err := json.Marshal(marks)
	if err != nil {
		return err
	}
	// Built by hand, so that the streams bytes the checksum covers are
	// the ones in the file.
	b := fmt.Appendf(nil, `{"format":%d,"streams":%s,"crc32c":"%s"}`+"\n", stateFormat, streams, stateSum(streams))
	tmp := s.state + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("s3 sink: write state: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.state)
	}
	if err == nil {
		err = syncDir(filepath.Dir(s.state))
	}
	if err != nil {
		return fmt.Errorf("s3 sink: write state: %w", err)
	}
	return nil
}
