package suggest

import (
	"reflect"
	"testing"
)

func TestNear(t *testing.T) {
	cands := []string{"kafka_topic", "value_format", "key_format", "timestamp", "timestamp_format", "partitions"}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"kafka_topics", []string{"kafka_topic"}},
		{"KAFKA_TOPIK", []string{"kafka_topic"}},
		{"vlaue_format", []string{"value_format"}},
		{"timestamp_fromat", []string{"timestamp_format"}},
		{"xyz", nil},
		{"", nil},
	} {
		if got := Near(tc.name, cands, 3); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Near(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := Hint("PRISE", []string{"PRICE", "ORDER_ID", "PRIZE"}); got != " (did you mean PRICE or PRIZE?)" {
		t.Errorf("Hint = %q", got)
	}
	if got := Or([]string{"A", "B", "C"}); got != "A, B or C" {
		t.Errorf("Or = %q", got)
	}
}

func TestNearest(t *testing.T) {
	cands := []string{"FORMAT_DATE", "FORMAT_TIMESTAMP", "ABS", "DATEADD", "LEN", "UCASE"}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"DATE_FORMAT", []string{"FORMAT_DATE", "FORMAT_TIMESTAMP", "DATEADD"}},
		{"strlen", []string{"LEN", "FORMAT_TIMESTAMP", "UCASE"}},
		{"", nil},
	} {
		if got := Nearest(tc.name, cands, 3); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Nearest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := And([]string{"O", "S"}); got != "O and S" {
		t.Errorf("And = %q", got)
	}
}
