package s3

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/sinktest"
)

// TestConformance runs the sink suite (internal/sinktest) against the S3
// sink on the server of scripts/s3.sh, in JSON lines of the Debezium
// format: a history destination where a replay is skipped by position
// (exactly once), reached through the spool (the suite closes the sink
// before it reads the bucket).
func TestConformance(t *testing.T) {
	srv := newServer(t)
	sinktest.Run(t, sinktest.Harness{
		Caps: sinktest.Caps{History: true, Spool: true, Secret: true},
		Setup: func(t *testing.T) sinktest.Target {
			var b [4]byte
			_, _ = rand.Read(b[:])
			return &s3Target{srv: srv, prefix: "sinktest-" + hex.EncodeToString(b[:]), dir: t.TempDir()}
		},
	})
}

// s3Target is a prefix of the test's bucket and a state directory.
type s3Target struct {
	srv    *server
	prefix string
	dir    string
}

func (s *s3Target) Addr() string { return strings.TrimPrefix(s.srv.cfg.Endpoint, "http://") }

func (s *s3Target) Sink(t *testing.T, p sinktest.Params) (component.Sink, error) {
	cfg := s.srv.cfg
	cfg.Prefix = s.prefix
	cfg.FlushSize = 3 // objects of a few records: replays straddle them
	cfg.RotateBytes = 0
	if p.Via != "" {
		cfg.Endpoint = "http://" + p.Via
	}
	if p.Secret != "" {
		cfg.SecretAccessKey = p.Secret
	}
	return Factory.New(&cfg, component.Env{Name: p.Name, StateDir: s.dir, Logger: p.Logger})
}

// Read returns the records of the prefix's objects in stream order: the
// objects of snapshot rows (named by the sink's ordinals, "s…") first,
// then those of changes, by their first position; records in object order.
func (s *s3Target) Read(t *testing.T) []sinktest.Record {
	var keys []string
	for _, k := range s.srv.keys(t) {
		if strings.HasPrefix(k, s.prefix+"/") {
			keys = append(keys, k)
		}
	}
	first := func(k string) string { // "<stream>+<first>+<last>.jsonl" → "<first>"
		parts := strings.Split(path.Base(k), "+")
		if len(parts) != 3 {
			t.Fatalf("object %s is not named <stream>+<first>+<last>", k)
		}
		return parts[1]
	}
	slices.SortFunc(keys, func(a, b string) int {
		fa, fb := first(a), first(b)
		if sa, sb := strings.HasPrefix(fa, "s"), strings.HasPrefix(fb, "s"); sa != sb {
			if sa {
				return -1
			}
			return 1
		}
		return strings.Compare(fa, fb)
	})
	var out []sinktest.Record
	for _, k := range keys {
		sc := bufio.NewScanner(bytes.NewReader(s.srv.get(t, k)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			recs, err := sinktest.DecodeDebezium(sc.Bytes())
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			out = append(out, recs...)
		}
	}
	return out
}
