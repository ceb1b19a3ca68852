package sourcetest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSuiteCatchesBrokenSources runs subtests of the suite against the
// in-memory source with one property broken at a time (in a child process,
// as the suite reports through its own *testing.T) and checks that the
// suite fails, naming the problem. A suite that cannot fail proves nothing.
// The child runs only TestMemDB, so it never re-enters this test.
func TestSuiteCatchesBrokenSources(t *testing.T) {
	for _, tc := range []struct {
		mutation, subtest, want string
	}{
		{"reorder", "snapshot_then_stream", "changes leave commit order"},
		{"ops", "snapshot_then_stream", "the change that made this state is u"},
		{"before", "snapshot_then_stream", "before image v="},
		{"nolast", "snapshot_then_stream", `has source.snapshot "true"; want "last"`},
		{"cpback", "snapshot_then_stream", "goes back"},
		{"bigbatch", "snapshot_then_stream", "the batch size is 5"},
		{"newschema", "snapshot_then_stream", "carry different schemas"},
		{"dupsnap", "crash/mid_snapshot", "read 2 times by the snapshot"},
		{"lose", "crash/mid_stream", "want every change exactly once, in order"},
		{"replay", "crash/mid_stream", "changes are repeated or out of order"},
		{"cpearly", "crash/mid_transaction", "not caught up"},
		{"seq", "crash/mid_transaction", "as a sink that skips replays holds it"},
		{"reconnect", "reconnect", "want every change exactly once, in order"},
		{"nosplit", "reconnect", "want every change exactly once, in order"},
		{"greedy", "backpressure", "it reads ahead without bound"},
		{"greedysnap", "backpressure", "it reads ahead without bound"},
		{"typename", "types", `type name "int"`},
		{"float32", "types", "is not a float32 value"},
	} {
		t.Run(tc.mutation, func(t *testing.T) {
			t.Parallel()
			parts := strings.Split(tc.subtest, "/")
			run := "^TestMemDB$"
			for _, p := range parts {
				run += "/^" + p + "$"
			}
			cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1")
			cmd.Env = append(os.Environ(), "SOURCETEST_MEMDB_MUTATION="+tc.mutation, "SOURCETEST_WAIT=5s")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a source with mutation %q:\n%s", tc.mutation, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("the suite failed the source with mutation %q, but not with %q:\n%s", tc.mutation, tc.want, out)
			}
		})
	}
}
