package file_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/sink/file"
)

// TestConformance runs the sink suite (internal/sinktest) against the file
// sink: a history destination that writes a replay again (at least once).
func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Caps: sinktest.Caps{History: true, Duplicates: true},
		Setup: func(t *testing.T) sinktest.Target {
			return fileTarget(filepath.Join(t.TempDir(), "out", "events.jsonl"))
		},
	})
}

// fileTarget is one file, in the Debezium format.
type fileTarget string

func (f fileTarget) Addr() string { return "" }

func (f fileTarget) Sink(t *testing.T, p sinktest.Params) (component.Sink, error) {
	cfg := file.Factory.Config().(*file.Config)
	cfg.Path = string(f)
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("config: %v", errs)
	}
	return file.Factory.New(cfg, component.Env{Name: p.Name, Logger: p.Logger})
}

func (f fileTarget) Read(t *testing.T) []sinktest.Record {
	b, err := os.ReadFile(string(f))
	if err != nil {
		t.Fatalf("read %s: %v", f, err)
	}
	var out []sinktest.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		recs, err := sinktest.DecodeDebezium(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, recs...)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a whole line", f)
	}
	return out
}
