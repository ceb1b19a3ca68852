package linger

import (
	"testing"
	"time"
)

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		r          Rule
		max, quiet time.Duration
	}{
		{Rule{}, 5 * time.Millisecond, time.Millisecond},
		{Rule{Max: time.Hour}, time.Hour, time.Millisecond},
		{Rule{Quiet: time.Hour}, 5 * time.Millisecond, time.Hour},
	} {
		if m, q := tc.r.Durations(); m != tc.max || q != tc.quiet {
			t.Errorf("%+v: %v, %v; want %v, %v", tc.r, m, q, tc.max, tc.quiet)
		}
	}
}
