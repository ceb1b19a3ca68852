package stdout

import (
	"bytes"
	"context"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
)

func TestWritesRows(t *testing.T) {
	sch := &event.Schema{Stream: "g.public.t", Table: "t", Columns: []event.Column{{Name: "id", Type: event.TypeInt32, Key: true}}, KeyIdx: []int{0}}
	var out bytes.Buffer
	s, err := New(Config{Options: format.Options{Format: format.Row, Unwrap: format.UnwrapOptions{DeleteHandling: "drop"}}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	evs := []event.Event{
		{Op: event.OpCreate, Schema: sch, After: []event.Value{event.Int(1)}},
		{Op: event.OpDelete, Schema: sch, Before: []event.Value{event.Int(1)}},
		{Op: event.OpCreate, Schema: sch, After: []event.Value{event.Int(2)}},
	}
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "{\"id\":1}\n{\"id\":2}\n" {
		t.Fatalf("got %q", got)
	}
}
