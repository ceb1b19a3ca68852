package tsconvert

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

func TestLayout(t *testing.T) {
	for p, want := range map[string]string{
		"yyyy-MM-dd'T'HH:mm:ss.SSS":    "2006-01-02T15:04:05.000",
		"yyyy-MM-dd'T'HH:mm:ss.SSSXXX": "2006-01-02T15:04:05.000Z07:00",
		"dd/MM/yy hh:mm a":             "02/01/06 03:04 PM",
		"EEE, d MMM yyyy HH:mm:ss Z":   "Mon, 2 Jan 2006 15:04:05 -0700",
		"yyyyMMdd''HHmm":               "20060102'1504",
	} {
		if got, err := Layout(p); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", p, got, err, want)
		}
	}
	for p, want := range map[string]string{
		"yyyy G":         `pattern "yyyy G": G is not supported`,
		"HH:mm:ssSSS":    `pattern "HH:mm:ssSSS": SSS must follow a . or a ,`,
		"yyyy'2'":        `pattern "yyyy'2'": the quoted text "2" cannot be written in a Go layout`,
		"yyyy-MM-dd 'at": `pattern "yyyy-MM-dd 'at": unterminated quote`,
	} {
		if _, err := Layout(p); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", p, err, want)
		}
	}
}

// TestDateColumnRefused: Connect's TimestampConverter cannot read
// Debezium's Date (an INT32): each such event is a record error naming
// the column; the other events pass.
func TestDateColumnRefused(t *testing.T) {
	s := &event.Schema{Stream: "p.public.t", Connector: "postgresql", Columns: []event.Column{{Name: "id", Type: event.TypeInt32, Key: true}, {Name: "d", Type: event.TypeDate, Optional: true}}, KeyIdx: []int{0}}
	other := &event.Schema{Stream: "p.public.o", Connector: "postgresql", Columns: []event.Column{{Name: "id", Type: event.TypeInt32, Key: true}}, KeyIdx: []int{0}}
	c, err := New(&Config{Field: "d", TargetType: "Timestamp", UnixPrecision: "milliseconds"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Process(context.Background(), []event.Event{
		{Schema: s, Op: event.OpCreate, After: []event.Value{event.Int(1), event.Int(19000)}},
		{Schema: other, Op: event.OpCreate, After: []event.Value{event.Int(2)}},
	}, nil)
	re, ok := err.(component.RecordErrors)
	if !ok || len(re) != 1 || re[0].Index != 0 || re[0].Err.Error() != "column d (date) is not a known timestamp type for TimestampConverter (Connect sees Debezium's date as an INT32 or a string it cannot read)" {
		t.Fatalf("errors: %v", err)
	}
	if len(out) != 1 || out[0].Schema != other {
		t.Errorf("out: %v", out)
	}
}
