package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/registry"
)

// counter is a stateful processor: it counts its inputs in its operator
// state and emits, for each input, the input's ordinal in the generator's
// sequence (its transaction id) beside the count after it. With state
// applied exactly once per input, every emitted count equals its ordinal —
// through any number of crashes.
type counter struct {
	st     component.State
	schema *event.Schema
}

func (c *counter) Process(_ context.Context, in, out []event.Event) ([]event.Event, error) {
	v, _, err := c.st.Get([]byte("n"))
	if err != nil {
		return out, err
	}
	n, _ := strconv.ParseInt(string(v), 10, 64)
	for i := range in {
		n++
		out = append(out, event.Event{Schema: c.schema, Op: event.OpCreate, Source: in[i].Source,
			After: []event.Value{event.Int(in[i].Source.TxID), event.Int(n)}})
	}
	return out, c.st.Set([]byte("n"), strconv.AppendInt(nil, n, 10))
}
func (c *counter) Close() error { return nil }

func counterRegistry() component.Registry {
	reg := registry.Default()
	reg.Processors["counter"] = component.ProcessorFactory{
		Doc: "test", Stateful: true,
		Config: func() any { return &struct{}{} },
		New: func(_ any, env component.Env) (component.Processor, error) {
			return &counter{st: env.State, schema: &event.Schema{Stream: "counted", Source: "gen", Table: "counted", Version: 1,
				Columns: []event.Column{{Name: "ord", Type: event.TypeInt64, Key: true}, {Name: "count", Type: event.TypeInt64}}, KeyIdx: []int{0}}}, nil
		},
	}
	return reg
}

const counterTotal = 20000

func counterPipeline(dir string) string {
	return fmt.Sprintf(`state_dir: %s/state
sources:
  gen: {type: generator, tables: [product], count: %d, seed: 3, batch_size: 37, rate: 5000}
processors:
  count: {type: counter, inputs: [gen]}
sinks:
  out: {type: file, inputs: [count], path: %s/out.jsonl, format: row}
engine:
  max_inflight: 4
`, dir, counterTotal, dir)
}

// TestStatefulCrashChild is the pipeline the crash test kills; it runs only
// as the test's child.
func TestStatefulCrashChild(t *testing.T) {
	dir := os.Getenv("SLUICE_STATEFUL_CHILD")
	if dir == "" {
		t.Skip("the child of TestStatefulProcessorThroughCrashes")
	}
	// The handler stays until the process exits: a SIGTERM while it ends
	// must not kill it.
	ctx, _ := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	reg := counterRegistry()
	g, err := config.Load("p.yaml", []byte(counterPipeline(dir)), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(ctx, g, reg, slog.New(slog.NewTextHandler(os.Stderr, nil)), nil); err != nil {
		t.Fatal(err)
	}
}

// TestStatefulProcessorThroughCrashes kills a pipeline with a stateful
// processor at random moments (SIGKILL, several times) and then lets it
// finish: every line the sink holds must carry count == ordinal, so no
// input was applied to the state twice or lost, and every ordinal up to
// the total must be there (architecture invariant 8).
func TestStatefulProcessorThroughCrashes(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	logPath := filepath.Join(dir, "child.log")
	start := func() *exec.Cmd {
		log, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestStatefulCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SLUICE_STATEFUL_CHILD="+dir)
		cmd.Stderr = log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		log.Close()
		return cmd
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	kills := 0
	for kills < 6 {
		before := lineCount(out)
		cmd := start()
		// Kill once it has written something new (or after a while): a
		// random moment while it runs.
		deadline := time.Now().Add(20 * time.Second)
		for lineCount(out) <= before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond) // a random moment, not synchronisation
		cmd.Process.Kill()
		cmd.Wait()
		kills++
		if maxOrd(t, out) == counterTotal {
			break
		}
	}
	cmd := start()
	deadline := time.Now().Add(2 * time.Minute)
	for maxOrd(t, out) < counterTotal || !started(logPath) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the last run did not reach ordinal %d (at %d)", counterTotal, maxOrd(t, out))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("last run: %v", err)
	}
	seen := make([]bool, counterTotal+1)
	lines := 0
	forLines(t, out, func(ord, count int64) {
		lines++
		if count != ord {
			t.Fatalf("line %d: ordinal %d has count %d: an input was applied to the state %s", lines, ord, count,
				map[bool]string{true: "twice", false: "never"}[count > ord])
		}
		seen[ord] = true
	})
	for i := 1; i <= counterTotal; i++ {
		if !seen[i] {
			t.Fatalf("ordinal %d never reached the sink", i)
		}
	}
	t.Logf("%d kills, %d lines for %d inputs (%d re-delivered)", kills, lines, counterTotal, lines-counterTotal)
}

// started reports whether the child's pipeline has started (its signal
// handler is in place by then).
func started(logPath string) bool {
	b, _ := os.ReadFile(logPath)
	return strings.Contains(string(b), "pipeline starting")
}

func lineCount(path string) int {
	n := 0
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n
}

// forLines calls fn for every whole line of the sink's file.
func forLines(t *testing.T, path string, fn func(ord, count int64)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return
		}
		t.Fatal(err)
	}
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i == len(b) {
			return // a line being written
		}
		var row struct{ Ord, Count int64 }
		if err := json.Unmarshal(b[:i], &row); err != nil {
			t.Fatalf("line %q: %v", b[:i], err)
		}
		fn(row.Ord, row.Count)
		b = b[i+1:]
	}
}

func maxOrd(t *testing.T, path string) int64 {
	var m int64
	forLines(t, path, func(ord, _ int64) { m = max(m, ord) })
	return m
}
