package sqlpoll

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// failingEmitter accepts failAt-1 batches, then fails every Emit with err.
// delivered holds what it accepted; cp is the last checkpoint it accepted,
// and afterCP the events accepted after it, which a restart re-reads.
type failingEmitter struct {
	failAt    int
	err       error
	n         int
	delivered []event.Event
	afterCP   int
	cp        []byte
}

func (f *failingEmitter) Emit(_ context.Context, evs []event.Event, cp []byte) error {
	f.n++
	if f.n >= f.failAt {
		return f.err
	}
	f.delivered = append(f.delivered, evs...)
	f.afterCP += len(evs)
	if cp != nil {
		f.cp, f.afterCP = cp, 0
	}
	return nil
}

// crashRows: twelve rows; ids 3 to 8 share one timestamp, more than a
// page of batch_max_rows 2 holds, so timestamp mode reads them as a group.
func crashRows(t *testing.T, d *testDB) {
	d.usersTable(t)
	var vals []string
	for id := 1; id <= 12; id++ {
		sec := id
		if id >= 3 && id <= 8 {
			sec = 3
		}
		vals = append(vals, fmt.Sprintf("(%d, 'u%d', '2024-01-01 10:00:%02d')", id, id, sec))
	}
	d.exec(t, "INSERT INTO users (id, name, updated_at) VALUES "+strings.Join(vals, ", "))
}

func ids(evs []event.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.After[0].AsInt()
	}
	return out
}

// TestCrashAnywhere stops the source at every Emit in turn, once as a crash
// (the pipeline stops; a new source resumes from the last checkpoint) and
// once as a failed poll that the same source retries. Either way every row
// arrives exactly once after the last checkpoint: every batch carries one,
// except inside a group of rows sharing a timestamp in timestamp mode
// without key_columns, whose rows emitted before the crash are re-read
// (the documented duplicates).
func TestCrashAnywhere(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			crashRows(t, d)
			all := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
			type variant struct {
				mode  string
				keyed bool
			}
			for _, v := range []variant{{ModeIncrementing, true}, {ModeTimestamp, true}, {ModeTimestamp, false}, {ModeTimestampIncrementing, true}} {
				mode := v.mode
				cfg := d.config(mode)
				if mode != ModeTimestamp {
					cfg.IncrementingColumn = "id"
				}
				if mode != ModeIncrementing {
					cfg.TimestampColumn = "updated_at"
				}
				if v.keyed {
					cfg.KeyColumns = []string{"id"}
				} else {
					mode += " without key_columns"
				}
				// Without key_columns the rows of a group come in no
				// particular order: compare sorted.
				same := func(a, b []int64) bool {
					if !v.keyed {
						a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
					}
					return slices.Equal(a, b)
				}
				replays := 0
				for failAt := 1; ; failAt++ {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					// A crash: Emit reports the pipeline stopping; the next
					// run starts from the last delivered checkpoint.
					f := &failingEmitter{failAt: failAt, err: component.ErrStopped}
					s := started(t, cfg, nil)
					err := s.poll(ctx, f)
					if err == nil {
						cancel()
						if got := ids(f.delivered); !same(got, all) {
							t.Fatalf("%s: no crash: %v", mode, got)
						}
						if (replays > 0) != !v.keyed {
							t.Fatalf("%s: %d crashes re-read rows", mode, replays)
						}
						break
					}
					if !errors.Is(err, component.ErrStopped) {
						t.Fatalf("%s: poll: %v", mode, err)
					}
					if v.keyed && f.afterCP != 0 {
						t.Fatalf("%s: %d events emitted without a checkpoint", mode, f.afterCP)
					}
					if f.afterCP > 0 {
						replays++
					}
					kept := f.delivered[:len(f.delivered)-f.afterCP]
					rest := sourcetest.NewEmitter()
					if err := started(t, cfg, f.cp).poll(ctx, rest); err != nil {
						t.Fatal(err)
					}
					again, _ := rest.Take()
					if got := append(ids(kept), ids(again)...); !same(got, all) {
						t.Fatalf("%s: crash at emit %d: delivered %v then %v", mode, failAt, ids(f.delivered), ids(again))
					}
					// A failed poll: the same source retries from its last
					// checkpointed watermark.
					f = &failingEmitter{failAt: failAt, err: errors.New("sink trouble")}
					s = started(t, cfg, nil)
					if err := s.poll(ctx, f); err == nil || err.Error() != "sink trouble" {
						t.Fatalf("%s: poll: %v", mode, err)
					}
					kept = f.delivered[:len(f.delivered)-f.afterCP]
					if err := s.poll(ctx, rest); err != nil {
						t.Fatal(err)
					}
					again, _ = rest.Take()
					if got := append(ids(kept), ids(again)...); !same(got, all) {
						t.Fatalf("%s: failed poll at emit %d: delivered %v then %v", mode, failAt, ids(f.delivered), ids(again))
					}
					cancel()
				}
			}
		})
	}
}

// TestTimestampSeesUpdates: in timestamp modes an update that moves the
// timestamp re-emits the row (as op c), and the first non-NULL of several
// timestamp columns is the row's timestamp.
func TestTimestampSeesUpdates(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			d.exec(t, "CREATE TABLE users (id "+d.idType+" PRIMARY KEY, name "+d.textType+" NOT NULL, created_at "+d.tsType+" NOT NULL, updated_at "+d.tsType+")",
				`INSERT INTO users VALUES (1, 'ann', '2024-01-01 10:00:00', NULL), (2, 'bob', '2024-01-01 09:00:00', '2024-01-01 11:00:00')`)
			cfg := d.config(ModeTimestampIncrementing)
			cfg.IncrementingColumn = "id"
			cfg.TimestampColumns = []string{"updated_at", "created_at"}
			s := started(t, cfg, nil)
			evs, _ := pollOnce(t, s)
			if got := names(evs); !slices.Equal(got, []string{"ann", "bob"}) {
				t.Fatalf("first poll %q", got)
			}
			d.exec(t, "UPDATE users SET name = 'ann2', updated_at = '2024-01-01 12:00:00' WHERE id = 1")
			evs, _ = pollOnce(t, s)
			if got := names(evs); !slices.Equal(got, []string{"ann2"}) || evs[0].Op != event.OpCreate {
				t.Fatalf("after update %q", got)
			}
		})
	}
}

// TestSchemaChange: a column added between polls gives the next events a
// new schema version with the column.
func TestSchemaChange(t *testing.T) {
	d := newTestDB(t, DriverSQLite)
	seedUsers(t, d)
	cfg := d.config(ModeIncrementing)
	cfg.IncrementingColumn = "id"
	s := started(t, cfg, nil)
	evs, _ := pollOnce(t, s)
	v1 := evs[0].Schema
	d.exec(t, "ALTER TABLE users ADD COLUMN email TEXT", "INSERT INTO users (id, name, email) VALUES (6, 'fay', 'f@x')")
	evs, _ = pollOnce(t, s)
	v2 := evs[0].Schema
	if v1.Version != 1 || v2.Version != 2 || len(v2.Columns) != 4 || v2.Columns[3].Name != "email" || evs[0].After[3].Text() != "f@x" {
		t.Fatalf("v1 %+v\nv2 %+v", v1, v2)
	}
}

// TestGroupCheckpoint pins the checkpoint written inside a timestamp group.
func TestGroupCheckpoint(t *testing.T) {
	d := newTestDB(t, DriverSQLite)
	crashRows(t, d)
	cfg := d.config(ModeTimestamp)
	cfg.TimestampColumn = "updated_at"
	cfg.KeyColumns = []string{"id"}
	c := sourcetest.NewEmitter()
	if err := started(t, cfg, nil).poll(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range c.Batches() {
		got = append(got, fmt.Sprintf("%v %s", ids(b.Events), b.Checkpoint))
	}
	want := []string{
		`[1] {"v":1,"mode":"timestamp","tables":{"users":{"ts":{"text":"2024-01-01 10:00:01"}}}}`,
		`[2] {"v":1,"mode":"timestamp","tables":{"users":{"ts":{"text":"2024-01-01 10:00:02"}}}}`,
		`[3 4] {"v":1,"mode":"timestamp","tables":{"users":{"ts":{"text":"2024-01-01 10:00:03"},"group":{"ts":{"text":"2024-01-01 10:00:03"},"after":[{"int":"4"}]}}}}`,
		`[5 6] {"v":1,"mode":"timestamp","tables":{"users":{"ts":{"text":"2024-01-01 10:00:03"},"group":{"ts":{"text":"2024-01-01 10:00:03"},"after":[{"int":"6"}]}}}}`,
		`[7 8] {"v":1,"mode":"timestamp","tables":{"users":{"ts":{"text":"2024-01-01 10:00:03"}}}}`,
		`[9] {"v":1,"mode":"timestamp","tables":{"users":{"ts":{"text":"2024-01-01 10:00:09"}}}}`,
		`[10] {"v":1,"mode":"timestamp","tables":{"users":{"ts":{"text":"2024-01-01 10:00:10"}}}}`,
		`[11] {"v":1,"mode":"timestamp","tables":{"users":{"ts":{"text":"2024-01-01 10:00:11"}}}}`,
		`[12] {"v":1,"mode":"timestamp","tables":{"users":{"ts":{"text":"2024-01-01 10:00:12"}}}}`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
