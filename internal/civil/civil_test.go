package civil

import (
	"testing"
	"time"
)

// TestAgainstTime checks Date, Days, IsLeap and MonthDays against Go's
// time package over every day from year -4000 to 4000 (time's own range
// of correct proleptic arithmetic), and the round trip far beyond it.
func TestAgainstTime(t *testing.T) {
	epoch := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	for days := int64(-2_180_000); days <= 750_000; days++ {
		tm := epoch.AddDate(0, 0, int(days))
		y, m, d := Date(days)
		if y != int64(tm.Year()) || m != int(tm.Month()) || d != tm.Day() {
			t.Fatalf("Date(%d) = %d-%d-%d, want %v", days, y, m, d, tm)
		}
		if got := Days(y, m, d); got != days {
			t.Fatalf("Days(%d, %d, %d) = %d, want %d", y, m, d, got, days)
		}
		if d == 1 {
			last := time.Date(int(y), time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
			if got := MonthDays(y, m); got != last {
				t.Fatalf("MonthDays(%d, %d) = %d, want %d", y, m, got, last)
			}
		}
	}
	for _, days := range []int64{-1 << 50, 1 << 50, -106751991167300, 106751991167300} {
		y, m, d := Date(days)
		if got := Days(y, m, d); got != days {
			t.Errorf("round trip of %d: %d-%d-%d gives %d", days, y, m, d, got)
		}
	}
	for y, want := range map[int64]bool{1900: false, 2000: true, 2024: true, 2023: false, -4: true, -100: false} {
		if IsLeap(y) != want {
			t.Errorf("IsLeap(%d) = %v", y, !want)
		}
	}
}

func TestFloorDiv(t *testing.T) {
	for _, c := range [][3]int64{{7, 2, 3}, {-7, 2, -4}, {7, -2, -4}, {-7, -2, 3}, {-8, 2, -4}, {0, 5, 0}} {
		if got := FloorDiv(c[0], c[1]); got != c[2] {
			t.Errorf("FloorDiv(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}
