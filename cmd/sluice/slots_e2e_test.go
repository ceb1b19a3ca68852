package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

// slotsCLI runs `sluice slots args...` and returns its exit code, stdout
// and stderr.
func slotsCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"slots"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// TestSlotsCommand: `sluice slots list` shows a running pipeline's slot as
// active and used by it; `sluice slots drop` refuses it while the pipeline
// runs, drops it once it is stopped; the next start then fails with the
// lost-slot error (on_slot_lost: fail), and with on_slot_lost: resnapshot
// it reads the table again.
func TestSlotsCommand(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE item (id int PRIMARY KEY); INSERT INTO item VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	slot := "s_" + db.Config().Database
	if len(slot) > 63 {
		slot = slot[:63]
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	body := func(policy string) string {
		return fmt.Sprintf(`name: slots
state_dir: %s/state
sources:
  pg:
    type: postgres
    dsn: ${SLOTS_DSN}
    tables: [public.item]
    slot: %s
    heartbeat_interval: 0s
    on_slot_lost: %s
sinks:
  out:
    type: file
    inputs: [pg]
    path: %s
    format: row
`, dir, slot, policy, out)
	}
	p := writePipeline(t, dir, body("fail"))
	t.Setenv("SLOTS_DSN", dsn)

	if code, _, stderr := slotsCLI(t, "--help"); code != exitUsage || !strings.Contains(stderr, "usage: sluice slots list (--dsn DSN | PIPELINE.yaml...)") {
		t.Fatalf("--help: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := slotsCLI(t, "list"); code != exitUsage || !strings.HasPrefix(stderr, "sluice slots list: give either --dsn or pipeline files\n") {
		t.Fatalf("list without a server: exit %d\n%s", code, stderr)
	}

	run := startJSON(t, dir, p)
	rows := func() int {
		b, _ := os.ReadFile(out)
		return bytes.Count(b, []byte("\n"))
	}
	waitFor(t, 30*time.Second, "the snapshot row", dir, func() bool { return rows() >= 1 })
	var pid int32
	waitFor(t, 30*time.Second, "the slot to be active", dir, func() bool {
		return db.QueryRow(ctx, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1 AND active`, slot).Scan(&pid) == nil
	})

	code, stdout, stderr := slotsCLI(t, "list", p)
	line := regexp.MustCompile(`(?m)^` + slot + `\s+pgoutput\s+` + db.Config().Database + `\s+true\s+[0-9]+\s+reserved\s+pipeline slots, source pg \(state_dir ` + regexp.QuoteMeta(dir) + `/state\)$`)
	if code != 0 || !strings.HasPrefix(stdout, "SLOT ") || !line.MatchString(stdout) {
		t.Fatalf("list: exit %d\n%s%s", code, stdout, stderr)
	}
	st := exec.Command(bin, "status", p)
	var stOut, stErr bytes.Buffer
	st.Stdout, st.Stderr = &stOut, &stErr
	err := st.Run()
	statusLine := regexp.MustCompile(`(?m)^pg\s+` + slot + `\s+true\s+[0-9]+\s+[0-9]+\s+reserved\s+-$`)
	if err != nil || !strings.HasPrefix(stOut.String(), "SOURCE ") || !statusLine.MatchString(stOut.String()) ||
		!strings.HasSuffix(stOut.String(), "no coordination: block; the pipeline runs on one node and its state is in "+dir+"/state\n") {
		t.Fatalf("status: %v\n%s%s", err, stOut.String(), stErr.String())
	}
	code, _, stderr = slotsCLI(t, "drop", p, slot)
	if want := fmt.Sprintf("sluice: replication slot is active: %q is in use by process %d (a running pipeline streams from it); stop that pipeline first\n", slot, pid); code != exitFailed || stderr != want {
		t.Fatalf("drop while running: exit %d\n got %q\nwant %q", code, stderr, want)
	}
	code, _, stderr = slotsCLI(t, "drop", p, "other_slot")
	if want := fmt.Sprintf("sluice: no postgres source of the pipeline uses slot \"other_slot\" (its sources use %s); to drop another slot, give --dsn\n", slot); code != exitUsage || stderr != want {
		t.Fatalf("drop of a slot the pipeline does not use: exit %d\n got %q\nwant %q", code, stderr, want)
	}

	run.Process.Signal(syscall.SIGTERM)
	if code, _ := waitExit(t, run, dir, 30*time.Second); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderrTail(dir))
	}
	waitFor(t, 10*time.Second, "the slot to be inactive", dir, func() bool {
		var active bool
		return db.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&active) == nil && !active
	})
	if code, stdout, stderr := slotsCLI(t, "drop", "--dsn", dsn, slot); code != 0 || stdout != "dropped replication slot "+slot+"\n" {
		t.Fatalf("drop: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := slotsCLI(t, "list", "--dsn", dsn); code != 0 || strings.Contains(stdout, slot) {
		t.Fatalf("list after drop: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := slotsCLI(t, "drop", "--dsn", dsn, slot); code != exitFailed || stderr != fmt.Sprintf("sluice: replication slot %q does not exist\n", slot) {
		t.Fatalf("drop again: exit %d\n%s", code, stderr)
	}

	// The stopped pipeline lost its slot: the start fails and says why.
	if _, err := db.Exec(ctx, `INSERT INTO item VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	code, stderr, failure := runOnce(t, p)
	wantPrefix := fmt.Sprintf(`source pg: postgres source "pg": replication slot %q no longer exists (dropped, or the server failed over to one without it), so the changes after the checkpoint's `, slot)
	if code != 1 || !strings.HasPrefix(failure, wantPrefix) || !strings.HasSuffix(failure, "Either set on_slot_lost: resnapshot on the source to create a new slot and snapshot every table again, "+
		"or stop the pipeline, drop the slot if it still exists (sluice slots drop "+slot+") and remove the pipeline's state (its state_dir) to start over the same way") {
		t.Fatalf("start without the slot: exit %d, failure %q\n%s", code, failure, stderr)
	}

	// on_slot_lost: resnapshot: a new slot and every row again.
	writePipeline(t, dir, body("resnapshot"))
	run = startJSON(t, dir, p)
	waitFor(t, 30*time.Second, "the new snapshot", dir, func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), `"id":2`)
	})
	// The new slot streams.
	if _, err := db.Exec(ctx, `INSERT INTO item VALUES (3)`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the streamed insert", dir, func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), `"id":3`)
	})
	run.Process.Signal(syscall.SIGTERM)
	if code, _ := waitExit(t, run, dir, 30*time.Second); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderrTail(dir))
	}
	// The sink ends equal to the table (no row was deleted meanwhile).
	b, _ := os.ReadFile(out)
	var inSink []string
	for line := range strings.Lines(string(b)) {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if id := fmt.Sprint(row["id"]); !slices.Contains(inSink, id) {
			inSink = append(inSink, id)
		}
	}
	var inTable []string
	trows, err := db.Query(ctx, `SELECT id::text FROM item ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for trows.Next() {
		var id string
		trows.Scan(&id)
		inTable = append(inTable, id)
	}
	trows.Close()
	slices.Sort(inSink)
	if !slices.Equal(inSink, inTable) || len(inTable) != 3 {
		t.Fatalf("sink has ids %v, the table %v", inSink, inTable)
	}
}

// TestServeStatusSlots: GET /pipelines/{name}/status of `sluice serve`
// carries the slot guardian's last look at the pipeline's slot.
func TestServeStatusSlots(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	if _, err := db.Exec(context.Background(), `CREATE TABLE item (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	slot := "s_" + db.Config().Database
	if len(slot) > 63 {
		slot = slot[:63]
	}
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipes")
	if err := os.MkdirAll(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pipes, "p.yaml"), []byte(fmt.Sprintf(`name: slotted
sources:
  pg:
    type: postgres
    dsn: ${SLOTS_DSN}
    tables: [public.item]
    slot: %s
    slot_check_interval: 100ms
sinks:
  out: {type: file, inputs: [pg], path: %s/out.jsonl, format: row}
`, slot, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, dir, []string{"SLOTS_DSN=" + dsn}, "--state-dir", filepath.Join(dir, "state"), pipes)
	type slotStatus struct {
		Source, Slot, WALStatus string
		Active                  bool
		Retained                *int64    `json:"retained_wal_bytes"`
		MeasuredAt              time.Time `json:"measured_at"`
	}
	var st struct {
		State string
		Slots []slotStatus
	}
	waitFor(t, 60*time.Second, "the slot in the status", dir, func() bool {
		code, b := s.call(t, "GET", "/pipelines/slotted/status", "")
		st.Slots = nil
		return code == 200 && json.Unmarshal(b, &st) == nil && len(st.Slots) == 1 && st.Slots[0].Active
	})
	got := st.Slots[0]
	if st.State != "RUNNING" || got.Source != "pg" || got.Slot != slot || got.Retained == nil || got.MeasuredAt.IsZero() {
		t.Fatalf("status: %+v", st)
	}
	_, b := s.call(t, "GET", "/pipelines/slotted/status", "")
	if !strings.Contains(string(b), `"wal_status":"reserved"`) {
		t.Fatalf("status: %s", b)
	}
}
