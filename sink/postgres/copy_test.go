package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// TestCopyRejectsUnencodableRows: in a COPY-sized group, rows whose values
// PostgreSQL cannot hold (a NUL byte in text) are rejected while the group
// is encoded, with the same message as on the VALUES path, and every other
// row is written through COPY.
func TestCopyRejectsUnencodableRows(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	s := db.Sink(t, cfg)
	sc := sqltest.Schema("enc", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "name", Type: event.TypeString, Optional: true})
	var evs []event.Event
	var want []string
	for i := 1; i <= 300; i++ {
		name := fmt.Sprintf("n\t%d\\", i)
		if i == 10 || i == 250 {
			name = "bad\x00"
		} else {
			want = append(want, fmt.Sprintf("%d|%s", i, name))
		}
		evs = append(evs, sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(int64(i)), sqltest.S(name)), 0))
	}
	err := s.Write(context.Background(), evs)
	var re component.RecordErrors
	if !errors.As(err, &re) || len(re) != 2 {
		t.Fatalf("Write = %v, want two record errors", err)
	}
	for n, i := range []int{9, 249} {
		msg := fmt.Sprintf(`table enc key (id=%d) (upsert): column "name": text contains a NUL byte, which PostgreSQL text cannot hold`, i+1)
		if re[n].Index != i || re[n].Err.Error() != msg {
			t.Errorf("record error %d: %d %q, want %d %q", n, re[n].Index, re[n].Err, i, msg)
		}
	}
	sqltest.Want(t, db.Rows(t, "enc", "id", "name"), want...)
}

// TestCopySoftDelete: with delete_mode soft, rows written through COPY
// carry the soft-delete column: false for rows written, true for a row
// created then deleted in the same batch.
func TestCopySoftDelete(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	cfg.DeleteMode = sqlsink.DeleteSoft
	s := db.Sink(t, cfg)
	sc := sqltest.Schema("soft", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "name", Type: event.TypeString, Optional: true})
	var evs []event.Event
	var want []string
	for i := 1; i <= 250; i++ {
		row := sqltest.Row(sqltest.I(int64(i)), sqltest.S(fmt.Sprint("n", i)))
		evs = append(evs, sqltest.Ev('c', sc, nil, row, uint64(i)))
		deleted := "false"
		if i == 5 {
			evs = append(evs, sqltest.Ev('d', sc, row, nil, 1000))
			deleted = "true"
		}
		want = append(want, fmt.Sprintf("%d|n%d|%s", i, i, deleted))
	}
	sqltest.Write(t, s, evs...)
	sqltest.Want(t, db.Rows(t, "soft", "id", "name", "__deleted"), want...)
}
