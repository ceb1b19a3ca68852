package sinktest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSuiteCatchesBrokenSinks runs cases of the suite against the
// reference sink with one property broken at a time (in a child process,
// as the suite reports through its own *testing.T) and checks that the
// suite fails, naming the problem. A suite that cannot fail proves nothing.
// The child runs only TestMemSink, so it never re-enters this test.
func TestSuiteCatchesBrokenSinks(t *testing.T) {
	for _, tc := range []struct {
		mutation, run, want string
	}{
		{"deletelast", "state/order", "deleted and inserted again, and inserted and deleted: the destination is not the last state of every key"},
		{"reorder", "history/order", "which is not the records the sink was given"},
		{"reorder", "once/order", "want every change exactly once, in order"},
		{"dupreplay", "once/replay", "want every change exactly once, in order"},
		{"dupreorder", "history/replay", "which is not the records the sink was given"},
		{"regress", "state/replay_older", "after A was written again after C: the destination is not the last state"},
		{"indexrange", "state/record_errors", "index 10 is out of range: the Write had 10 events"},
		{"indexorder", "state/record_errors", "are not strictly ascending"},
		{"dropneighbour", "state/record_errors", "key 3 holds"},
		{"loseonerror", "state/outage", "a Write returned before its events were durable there"},
		{"hangclose", "state/close", "Close while the destination is cut off did not return"},
		{"logsecret", "state/secrets", "a log record holds the secret"},
		{"errsecret", "state/secrets", "Write's error holds the secret"},
	} {
		t.Run(tc.mutation+"/"+strings.ReplaceAll(tc.run, "/", "_"), func(t *testing.T) {
			t.Parallel()
			run := "^TestMemSink$"
			for _, p := range strings.Split(tc.run, "/") {
				run += "/^" + p + "$"
			}
			cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "SINKTEST_MEMSINK_MUTATION="+tc.mutation, "SINKTEST_WAIT=10s")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a sink with mutation %q:\n%s", tc.mutation, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("the suite failed the sink with mutation %q, but not with %q:\n%s", tc.mutation, tc.want, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestMemSink/"+tc.run) {
				t.Fatalf("the suite did not fail case %s with mutation %q:\n%s", tc.run, tc.mutation, out)
			}
		})
	}
}
