package topiclog_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/internal/topiclog"
	sink "github.com/sluice-dev/sluice/sink/topiclog"
)

// TestConformance runs the sink suite (internal/sinktest) against the
// topic-log sink: a history destination that appends a replay again (at
// least once), in order; a record over max_record_bytes is rejected alone.
func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Caps: sinktest.Caps{History: true, Duplicates: true, RecordErrors: true},
		Setup: func(t *testing.T) sinktest.Target {
			return &logTarget{dir: filepath.Join(t.TempDir(), "topics"), topic: "sinktest.items"}
		},
		// Larger than the harness's max_record_bytes (4096).
		Poison: func(e *event.Event) { e.After[1] = event.String(strings.Repeat("x", 8192)) },
	})
}

type logTarget struct {
	dir, topic string
}

func (l *logTarget) Addr() string { return "" }

func (l *logTarget) Sink(t *testing.T, p sinktest.Params) (component.Sink, error) {
	cfg := sink.DefaultConfig()
	cfg.Dir = l.dir
	cfg.Topic = l.topic
	cfg.MaxRecordBytes = 4096
	cfg.SegmentBytes = 16 << 10 // many segments
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("config: %v", errs)
	}
	return sink.Factory.New(cfg, component.Env{Name: p.Name, Logger: p.Logger})
}

// Read reads the topic from its start to its end; tombstones are not
// records. The log is opened by this process (the sink's Log, shared, when
// one is open).
func (l *logTarget) Read(t *testing.T) []sinktest.Record {
	lg, err := topiclog.Open(l.dir, topiclog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	tp, err := lg.Topic(l.topic)
	if err != nil {
		if strings.Contains(err.Error(), "unknown topic") {
			return nil
		}
		t.Fatal(err)
	}
	start, end, err := tp.Offsets()
	if err != nil {
		t.Fatal(err)
	}
	r := tp.NewReader(start)
	defer r.Close()
	var out []sinktest.Record
	var recs []topiclog.Record
	for r.Offset() < end {
		if recs, err = r.Read(recs[:0], 100, 1<<20); err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if rec.Value == nil {
				continue
			}
			got, err := sinktest.DecodeDebezium(rec.Value)
			if err != nil {
				t.Fatalf("%s@%d: %v", l.topic, rec.Offset, err)
			}
			out = append(out, got...)
		}
	}
	return out
}
