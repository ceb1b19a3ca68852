package types

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
)

func TestFromColumn(t *testing.T) {
	for _, tc := range []struct {
		c    event.Column
		want string
	}{
		{event.Column{Type: event.TypeBool}, "BOOLEAN"},
		{event.Column{Type: event.TypeInt16}, "INTEGER"},
		{event.Column{Type: event.TypeInt32}, "INTEGER"},
		{event.Column{Type: event.TypeInt64}, "BIGINT"},
		{event.Column{Type: event.TypeFloat32}, "DOUBLE"},
		{event.Column{Type: event.TypeDecimal, Precision: 10, Scale: 2}, "DECIMAL(10, 2)"},
		{event.Column{Type: event.TypeDecimal, Precision: 5, Scale: -2}, "DECIMAL(7, 0)"},
		{event.Column{Type: event.TypeDecimal, Scale: -1}, "STRING"},
		{event.Column{Type: event.TypeMoney}, "DECIMAL(19, 2)"},
		{event.Column{Type: event.TypeUUID}, "STRING"},
		{event.Column{Type: event.TypeJSON}, "STRING"},
		{event.Column{Type: event.TypeBytes}, "BYTES"},
		{event.Column{Type: event.TypeDate}, "DATE"},
		{event.Column{Type: event.TypeTime}, "TIME"},
		{event.Column{Type: event.TypeTimestampTZ}, "TIMESTAMP"},
		{event.Column{Type: event.TypeInterval}, "BIGINT"},
		{event.Column{Type: event.TypeArray, Elem: &event.Column{Type: event.TypeInt32}}, "ARRAY<INTEGER>"},
		{event.Column{Type: event.TypeArray}, "ARRAY<STRING>"},
	} {
		got, ok := FromColumn(&tc.c)
		if !ok || got.String() != tc.want {
			t.Errorf("%s: %s %v, want %s", tc.c.Type, got, ok, tc.want)
		}
	}
	if _, ok := FromColumn(&event.Column{Type: event.Type(200)}); ok {
		t.Error("an unknown type has a SQL type")
	}
}

func TestFromValue(t *testing.T) {
	dec := &event.Column{Type: event.TypeDecimal, Scale: -1}
	if got := FromValue(dec, event.Decimal("1.50")); !got.Equal(event.String("1.50")) {
		t.Errorf("unconstrained decimal: %v", got)
	}
	iv := &event.Column{Type: event.TypeInterval}
	if got := FromValue(iv, event.Interval(90, "PT0.00009S")); !got.Equal(event.Int(90)) {
		t.Errorf("interval: %v", got)
	}
	arr := &event.Column{Type: event.TypeArray, Elem: iv}
	got := FromValue(arr, event.Array([]event.Value{event.Interval(1, "x"), {}}))
	if want := event.Array([]event.Value{event.Int(1), {}}); !got.Equal(want) {
		t.Errorf("array: %v", got)
	}
	fixed := &event.Column{Type: event.TypeDecimal, Precision: 4, Scale: 2}
	if got := FromValue(fixed, event.Decimal("1.50")); !got.Equal(event.Decimal("1.50")) {
		t.Errorf("decimal: %v", got)
	}
	if got := FromValue(dec, event.Unchanged); got.Kind != event.KindUnchanged {
		t.Errorf("unchanged: %v", got)
	}
}

func TestToColumn(t *testing.T) {
	for _, tc := range []struct {
		t    Type
		want event.Type
	}{
		{TInteger, event.TypeInt32}, {TBigint, event.TypeInt64}, {DecimalOf(4, 2), event.TypeDecimal},
		{TTimestamp, event.TypeTimestamp}, {ArrayOf(TString), event.TypeArray}, {MapOf(TString, TInteger), event.TypeJSON},
	} {
		c := ToColumn(Field{Name: "X", Type: tc.t})
		if c.Type != tc.want || c.Name != "X" || !c.Optional {
			t.Errorf("%s: %+v", tc.t, c)
		}
	}
	c := ToColumn(Field{Name: "P", Type: DecimalOf(4, 2)})
	if c.Precision != 4 || c.Scale != 2 {
		t.Errorf("decimal column %+v", c)
	}
	back, _ := FromColumn(&c)
	if !back.Equal(DecimalOf(4, 2)) {
		t.Errorf("round trip %s", back)
	}
}
