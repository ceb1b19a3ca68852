package file

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// TestRefuseForeignFile: a file that does not end as one the sink wrote —
// path names someone else's file — is left as it is, with an error saying
// why and what to do. (Before, its last line was cut, or all of it when it
// held no newline.)
func TestRefuseForeignFile(t *testing.T) {
	for _, tc := range []struct{ name, file, detail string }{
		{"text without newline", "hello world",
			"it holds no newline, and its bytes are not the beginning of a JSON line: invalid character 'h' looking for beginning of value"},
		{"JSON without newline", `{"user":"ada","admin":true}`,
			"it holds one JSON value and no newline, which a crash leaves only when it cuts sluice's first line just before its newline"},
		{"text lines", "line one\nline two",
			"the 8 bytes after its last newline are not the beginning of a JSON line: invalid character 'l' looking for beginning of value"},
		{"text before a JSON start", "some text\n{\"id\":2",
			"its last whole line (bytes 0..10) is not a JSON line: invalid character 's' looking for beginning of value"},
		{"binary", "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
			"the 8 bytes after its last newline are not the beginning of a JSON line: invalid character '\\x00' looking for beginning of value"},
		{"two values", "{\"a\":1}\n{\"a\":1} {\"b",
			"the 11 bytes after its last newline are not the beginning of a JSON line: it holds more than one JSON value"},
		{"white space", "{\"a\":1}\n  {\"a\"",
			"the 6 bytes after its last newline are not the beginning of a JSON line: it starts with white space"},
		{"cut line before", "{\"a\":1}\n{\"a\":\n{\"a\"",
			"its last whole line (bytes 8..14) is not a JSON line: it ends before its value does"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := New(rowConfig(path))
			if err == nil {
				s.Close(context.Background())
				got, _ := os.ReadFile(path)
				t.Fatalf("New succeeded; the file is now %q, was %q", got, tc.file)
			}
			want := fmt.Sprintf("file sink: %[1]s does not look like a file sluice wrote: %[2]s. "+
				"sluice only cuts the incomplete last line a crash leaves after whole JSON lines, so it leaves this file (%[3]d bytes) as it is. "+
				"Check that the sink's path names its own file; if it does, cut the incomplete end yourself (truncate -s %[4]d %[1]s keeps the whole lines) and start again",
				path, tc.detail, len(tc.file), lastLineEnd(tc.file))
			if err.Error() != want {
				t.Errorf("error\n%s\nwant\n%s", err, want)
			}
			if !component.IsPermanent(err) {
				t.Error("the error is not permanent")
			}
			if got, _ := os.ReadFile(path); string(got) != tc.file {
				t.Errorf("the file was changed to %q", got)
			}
		})
	}
}

// lastLineEnd is the length of s up to and with its last newline.
func lastLineEnd(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return i + 1
		}
	}
	return 0
}

// TestCutTornLines: what a crash can leave is cut, and writing goes on
// after the whole lines.
func TestCutTornLines(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"first line cut", `{"id":1,"na`, ""},
		{"cut in a string", "{\"id\":1}\n{\"id\":2,\"name\":\"ab", "{\"id\":1}\n"},
		{"cut in a literal", "{\"id\":1}\nnu", "{\"id\":1}\n"},
		{"cut before the newline", "{\"id\":1}\n{\"id\":2}", "{\"id\":1}\n"},
		{"tombstone before", "null\n{\"id\":", "null\n"},
		{"whole lines", "{\"id\":1}\n", "{\"id\":1}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := New(rowConfig(path))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Write(context.Background(), []event.Event{ev(event.OpCreate, 3, "x")}); err != nil {
				t.Fatal(err)
			}
			s.Close(context.Background())
			got, _ := os.ReadFile(path)
			if want := tc.want + "{\"id\":3,\"name\":\"x\"}\n"; string(got) != want {
				t.Errorf("file %q, want %q", got, want)
			}
		})
	}
}

// FuzzCutPartialLine: an active file of any content is repaired or left as
// it is, without panicking; a repair cuts only bytes after the last
// newline, and only where a whole JSON line (or nothing) precedes them.
func FuzzCutPartialLine(f *testing.F) {
	f.Add([]byte("{\"id\":1}\n{\"id\":2,\"na"))
	f.Add([]byte("hello world"))
	f.Add([]byte("line one\nline two"))
	f.Add([]byte(`{"a":[1,{"b":"c\u00e9`))
	f.Add([]byte("null\nnul"))
	f.Fuzz(checkCutPartialLine)
}

func checkCutPartialLine(t *testing.T, b []byte) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	end, err := cutPartialLine(fh, path)
	got, _ := os.ReadFile(path)
	if err != nil {
		if string(got) != string(b) {
			t.Fatalf("refused (%v) but changed the file", err)
		}
		return
	}
	if int64(len(got)) != end || string(got) != string(b[:end]) {
		t.Fatalf("kept %q (end %d) of %q", got, end, b)
	}
	if end > 0 && got[end-1] != '\n' {
		t.Fatalf("kept %q, which does not end with a newline", got)
	}
	if bytes.IndexByte(b[end:], '\n') >= 0 {
		t.Fatalf("cut %q, which holds a newline", b[end:])
	}
}
