package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
)

// uploadedOneToThree uploads changes 1..3 (one object, flush_size 3), so
// the state file holds their mark, and crashes; it returns the state file.
func uploadedOneToThree(t *testing.T, dir string, store *memStore) string {
	t.Helper()
	s := newTestSink(t, rowConfig(), dir, store)
	write(t, s, changes(1, 3))
	settle(s)
	checkObjects(t, store, map[string]string{key(1, 3): rows(1, 3)})
	crash(s)
	return s.state
}

// TestStateFileFormat: the state file carries a checksum of its marks.
func TestStateFileFormat(t *testing.T) {
	path := uploadedOneToThree(t, t.TempDir(), newMemStore())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format":2,"streams":{"pg.public.users":{"hi":12288,"lo":12280,"snap":0}},"crc32c":"da51d591"}` + "\n"
	if string(b) != want {
		t.Errorf("state file\n%s\nwant\n%s", b, want)
	}
}

// TestStateFileDamage: a flipped digit in the state file — which would
// make the sink skip the replay of events it never uploaded, or upload
// some twice — stops the sink with an error naming the file and the ways
// out. (Before, the file was trusted: here change 4 would not have been
// uploaded.)
func TestStateFileDamage(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	path := uploadedOneToThree(t, dir, store)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Replace(b, []byte(`"hi":12288`), []byte(`"hi":92288`), 1)
	if bytes.Equal(damaged, b) {
		t.Fatalf("state file %s has no mark at 12288", b)
	}
	if err := os.WriteFile(path, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	env := spoolEnv
	env.StateDir = dir
	s, err := New(rowConfig(), env)
	if err == nil {
		s.store = store
		write(t, s, changes(4, 6))
		s.Close(context.Background())
		t.Fatalf("New succeeded with a damaged state file; the replay of 4..6 then uploaded %v", store.keys())
	}
	want := fmt.Sprintf("s3 sink: state file %[1]s is damaged: its checksum (crc32c) does not match its content. "+
		"It holds, per stream, the position up to which events are in S3, so that events the source replays after a restart are not uploaded twice; sluice will not guess it. "+
		"To recover, stop sluice, then restore the file from a backup taken while sluice was stopped, "+
		"or remove it: rm %[1]s (the sink then knows only the positions in its spool files: replayed events that are in S3 already are uploaded again, "+
		"replacing the objects of the same name when the same events make them up, else as duplicates; "+
		"and snapshot rows are numbered again from the highest ordinal in the spool, so a new snapshot's objects may replace earlier ones of the same name)", path)
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if !component.IsPermanent(err) {
		t.Error("the error is not permanent")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, damaged) {
		t.Error("the damaged file was changed")
	}
}

// TestStateFileDamages: what readState reports for each kind of damage.
func TestStateFileDamages(t *testing.T) {
	good := `{"format":2,"streams":{"pg.public.users":{"hi":12288,"lo":12280,"snap":0}},"crc32c":"da51d591"}` + "\n"
	for _, tc := range []struct{ name, file, want string }{
		{"empty", "", "the file is empty (0 bytes): sluice never leaves an empty state file, so it was truncated"},
		{"cut", good[:40], "it is not a JSON object: unexpected end of JSON input"},
		{"not JSON", "\x00\x00\x00", "it is not a JSON object: invalid character '\\x00' looking for beginning of value"},
		{"digit", strings.Replace(good, "12280", "12281", 1), "its checksum (crc32c) does not match its content"},
		{"checksum", strings.Replace(good, "da51d591", "da51d592", 1), "its checksum (crc32c) does not match its content"},
		{"key", strings.Replace(good, `"crc32c"`, `"crc32d"`, 1), "it does not hold the fields sluice writes (format, streams, crc32c) but crc32d, format, streams"},
		{"format", strings.Replace(good, `"format":2`, `"format":3`, 1), "its format is 3, which this version of sluice does not know (it writes format 2)"},
		{"streams", `{"format":2,"streams":[1],"crc32c":"` + stateSum([]byte("[1]")) + `"}`, "its streams are not the JSON sluice writes: json: cannot unmarshal array into Go value of type map[string]s3.persistedStream"},
		{"format 1 with more", `{"streams":{},"x":1}`, "it does not hold the fields sluice writes (format, streams, crc32c) but streams, x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir() + "/s3-state.json"
			if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := readState(path)
			var d *stateDamagedError
			if !errors.As(err, &d) {
				t.Fatalf("err %v, want a damaged state error", err)
			}
			if d.detail != tc.want {
				t.Errorf("damage %q\nwant   %q", d.detail, tc.want)
			}
		})
	}
}

// TestStateFileFormat1: a state file of an earlier version (no checksum)
// is read, its marks are kept, and the next save adds the checksum.
func TestStateFileFormat1(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	s := newTestSink(t, rowConfig(), dir, store)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	old := `{"streams":{"pg.public.users":{"hi":12288,"lo":12280,"snap":0}}}`
	if err := os.WriteFile(s.state, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	s = newTestSink(t, rowConfig(), dir, store)
	write(t, s, changes(1, 6)) // 1..3 are uploaded already
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, map[string]string{key(4, 6): rows(4, 6)})
	b, _ := os.ReadFile(s.state)
	want := `{"format":2,"streams":{"pg.public.users":{"hi":24576,"lo":24568,"snap":0}},"crc32c":"` +
		stateSum([]byte(`{"pg.public.users":{"hi":24576,"lo":24568,"snap":0}}`)) + `"}` + "\n"
	if string(b) != want {
		t.Errorf("state file\n%s\nwant\n%s", b, want)
	}
}
