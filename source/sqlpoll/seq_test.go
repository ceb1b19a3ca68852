package sqlpoll

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// word is an order word as the source maps it: the sign bit flipped.
func word(i int64) uint64 { return uint64(i) ^ 1<<63 }

// usec is the microseconds of a UTC wall-clock time "YYYY-MM-DD HH:MM:SS[.f]".
func usec(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMicro()
}

func seqText(s event.Seq) string { return fmt.Sprintf("%016x-%016x", s.Hi, s.Lo) }

// TestSeqs checks event.Seq of every mode on every database: the exact
// words, strictly increasing in the order the source emits (a negative id
// and a timestamp before 1970 come first: the sign bit is flipped), the
// same words for rows read again after a restart from an older
// checkpoint, per stream (Schema.SeqPerStream); the zero Seq where the mode
// gives no order (bulk; timestamp without one key column; SQLite's untyped
// text timestamps).
func TestSeqs(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			seedUsers(t, d)
			// Rows 9 and 8 share a timestamp and are stored in that order:
			// timestamp mode must read them in key order all the same.
			d.exec(t, `INSERT INTO users (id, name, updated_at) VALUES (-7, 'neg', '1969-12-31 23:59:59.5')`,
				`INSERT INTO users (id, name, updated_at) VALUES (9, 'ivy', '2024-01-01 10:00:03')`,
				`INSERT INTO users (id, name, updated_at) VALUES (8, 'hal', '2024-01-01 10:00:03')`)
			ids := []int64{-7, 1, 2, 3, 4, 5, 8, 9} // in id order and in timestamp order
			tss := []string{"1969-12-31 23:59:59.5", "2024-01-01 10:00:00", "2024-01-01 10:00:01", "2024-01-01 10:00:01",
				"2024-01-01 10:00:01", "2024-01-01 10:00:02", "2024-01-01 10:00:03", "2024-01-01 10:00:03"}
			typedTS := driver != DriverSQLite
			cases := []struct {
				mode string
				cfg  func(c *Config)
				want func(i int) event.Seq // of the i-th row in emission order
			}{{
				mode: ModeIncrementing,
				cfg:  func(c *Config) { c.IncrementingColumn = "id" },
				want: func(i int) event.Seq { return event.Seq{Hi: 1, Lo: word(ids[i])} },
			}, {
				mode: ModeTimestampIncrementing,
				cfg:  func(c *Config) { c.IncrementingColumn = "id"; c.TimestampColumn = "updated_at" },
				want: func(i int) event.Seq {
					if !typedTS {
						return event.Seq{}
					}
					return event.Seq{Hi: word(usec(t, tss[i])), Lo: word(ids[i])}
				},
			}, {
				mode: ModeTimestamp,
				cfg:  func(c *Config) { c.TimestampColumns = []string{"updated_at"}; c.KeyColumns = []string{"id"} },
				want: func(i int) event.Seq {
					if !typedTS {
						return event.Seq{}
					}
					return event.Seq{Hi: word(usec(t, tss[i])), Lo: word(ids[i])}
				},
			}, {
				mode: ModeTimestamp + " without key",
				cfg:  func(c *Config) { c.Mode = ModeTimestamp; c.TimestampColumns = []string{"updated_at"} },
				want: func(int) event.Seq { return event.Seq{} },
			}, {
				mode: ModeBulk,
				cfg:  func(c *Config) { c.KeyColumns = []string{"id"} },
				want: func(int) event.Seq { return event.Seq{} },
			}}
			for _, tc := range cases {
				t.Run(strings.NewReplacer("+", "_", " ", "_").Replace(tc.mode), func(t *testing.T) {
					cfg := d.config(strings.Fields(tc.mode)[0])
					cfg.BatchMaxRows = 3 // the last page, not full, holds rows 9 and 8
					tc.cfg(&cfg)
					evs, _ := pollOnce(t, started(t, cfg, nil))
					if len(evs) != len(ids) {
						t.Fatalf("%d events, want %d", len(evs), len(ids))
					}
					var got, want []string
					for i := range evs {
						got = append(got, seqText(evs[i].Seq()))
						want = append(want, seqText(tc.want(i)))
						if !evs[i].Schema.SeqPerStream || evs[i].Source.HasLSN {
							t.Fatalf("event %d: SeqPerStream %v, HasLSN %v", i, evs[i].Schema.SeqPerStream, evs[i].Source.HasLSN)
						}
						if _, ok := evs[i].Version(); ok && evs[i].Op != event.OpRead {
							t.Fatalf("event %d has a Version", i)
						}
					}
					if strings.Join(got, " ") != strings.Join(want, " ") {
						t.Fatalf("Seqs\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
					}
					for i := 1; i < len(evs); i++ {
						if a, b := evs[i-1].Seq(), evs[i].Seq(); !b.IsZero() && b.Compare(a) <= 0 {
							t.Fatalf("event %d: Seq %s not after %s", i, seqText(b), seqText(a))
						}
					}
					if cfg.Mode == ModeBulk {
						return
					}
					// A restart from the checkpoint of the first page reads
					// the rest again with the same Seqs.
					c2 := cfg
					c2.BatchMaxRows = 3
					s := started(t, c2, nil)
					col := sourcetest.NewEmitter()
					if err := s.emitFirstPage(t, col); err != nil {
						t.Fatal(err)
					}
					_, cp := col.Take()
					again, _ := pollOnce(t, started(t, cfg, cp))
					if len(again) == 0 {
						t.Fatal("nothing read again after the restart")
					}
					tail := evs[len(evs)-len(again):]
					for i := range again {
						if again[i].Seq() != tail[i].Seq() || again[i].After[0].AsInt() != tail[i].After[0].AsInt() {
							t.Fatalf("after the restart, row %d: id %d Seq %s; first read: id %d Seq %s", i,
								again[i].After[0].AsInt(), seqText(again[i].Seq()), tail[i].After[0].AsInt(), seqText(tail[i].Seq()))
						}
					}
				})
			}
		})
	}
}

// emitFirstPage polls until the first batch that carries a checkpoint has
// been emitted, then stops the poll.
func (s *Source) emitFirstPage(t *testing.T, c *sourcetest.Emitter) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := s.poll(ctx, emitterFunc(func(ctx context.Context, evs []event.Event, cp []byte) error {
		if err := c.Emit(ctx, evs, cp); err != nil {
			return err
		}
		if cp != nil {
			cancel()
			return context.Canceled
		}
		return nil
	}))
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

type emitterFunc func(ctx context.Context, evs []event.Event, cp []byte) error

func (f emitterFunc) Emit(ctx context.Context, evs []event.Event, cp []byte) error {
	return f(ctx, evs, cp)
}

// TestOrderWord: integers, and decimals that hold integers, keep their
// order as uint64s; fractions, text and values past int64 have no word.
func TestOrderWord(t *testing.T) {
	in := []event.Value{event.Int(-1 << 63), event.Int(-7), event.Decimal("-1"), event.Int(0), event.Decimal("1.000"),
		event.Int(2), event.Decimal("9223372036854775807")}
	var prev uint64
	for i, v := range in {
		w, ok := orderWord(v)
		if !ok || (i > 0 && w <= prev) {
			t.Fatalf("%s: word %x ok %v, previous %x", v.Text(), w, ok, prev)
		}
		prev = w
	}
	for _, v := range []event.Value{event.Decimal("1.5"), event.Decimal("9223372036854775808"), event.Decimal("1e3"),
		event.Decimal("NaN"), event.String("7"), event.Float(1), event.Null} {
		if w, ok := orderWord(v); ok {
			t.Errorf("%s (kind %d): word %x", v.Text(), v.Kind, w)
		}
	}
}

// TestSeqGuard: a row whose Seq would not be after the previous one (the
// database ordered its values otherwise than sluice maps them) is emitted
// with the zero Seq, never with one a sink would skip.
func TestSeqGuard(t *testing.T) {
	s := newSource(Config{Mode: ModeIncrementing}, component.Env{Name: "src", Logger: slog.New(slog.DiscardHandler)})
	sch := &event.Schema{Stream: "src.main.t", Source: "src", Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}}, KeyIdx: []int{0}, SeqPerStream: true}
	tb := &table{schema: sch, incIdx: 0, wm: &watermark{}}
	rows := []row{{vals: []event.Value{event.Int(5)}}, {vals: []event.Value{event.Int(3)}}, {vals: []event.Value{event.Int(6)}}}
	c := sourcetest.NewEmitter()
	if err := s.emit(context.Background(), c, tb, rows, []string{"id 5", "id 3", "id 6"}, event.OpCreate, false); err != nil {
		t.Fatal(err)
	}
	if err := s.settle(); err != nil { // the Emit runs on its own goroutine
		t.Fatal(err)
	}
	evs, _ := c.Take()
	got := []string{seqText(evs[0].Seq()), seqText(evs[1].Seq()), seqText(evs[2].Seq())}
	want := []string{seqText(event.Seq{Hi: 1, Lo: word(5)}), seqText(event.Seq{}), seqText(event.Seq{Hi: 1, Lo: word(6)})}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Seqs %v, want %v", got, want)
	}
}
