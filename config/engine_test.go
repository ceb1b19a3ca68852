package config_test

import (
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
)

const minimal = "sources:\n  gen: {type: generator}\nsinks:\n  out: {type: stdout, inputs: [gen]}\n"

// TestEngineBlockOfREADME: the README's engine: block loads, with the
// values it shows.
func TestEngineBlockOfREADME(t *testing.T) {
	readme, err := os.ReadFile("../docs/pipeline.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(engine:\n.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("no engine: block in docs/pipeline.md")
	}
	p, err := config.Load("p.yaml", append([]byte(minimal), m[1]...), registry.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := component.StartRetry{Initial: 500 * time.Millisecond, Max: 30 * time.Second}
	if p.Engine.StartRetry != want {
		t.Fatalf("start_retry %+v, want %+v", p.Engine.StartRetry, want)
	}
	p, err = config.Load("p.yaml", []byte(minimal+"engine:\n  start_retry: {fail_fast: true, max_elapsed: 2m}\n"), registry.Default(), nil)
	if err != nil || !p.Engine.StartRetry.FailFast || p.Engine.StartRetry.MaxElapsed != 2*time.Minute {
		t.Fatalf("%+v, %v", p, err)
	}
}

func TestStartRetryErrors(t *testing.T) {
	_, err := config.Load("p.yaml", []byte(minimal+"engine:\n  start_retry:\n    max_elapsed: -1s\n    fail_fast: yes please\n"), registry.Default(), nil)
	want := "p.yaml:8: engine.start_retry.fail_fast: cannot use this value: want true or false"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	_, err = config.Load("p.yaml", []byte(minimal+"engine:\n  start_retry:\n    max_elapsed: -1s\n"), registry.Default(), nil)
	want = "p.yaml:7: engine.start_retry.max_elapsed: must not be negative (hint: 0 retries until connected; fail_fast: true gives up at once)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
