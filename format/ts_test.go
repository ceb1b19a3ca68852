package format

import (
	"math"
	"strconv"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// TestSourceTimes: source.ts_ms, ts_us and ts_ns come from Source.TsUs as
// Java computes them (ts_ms = Math.floorDiv(us, 1000), ts_ns = us * 1000
// with long wrap-around), however the text shortcut in tsText/appendTs
// takes its path.
func TestSourceTimes(t *testing.T) {
	for _, us := range []int64{0, 1, 999, 1000, 1001, 1796521959607470, 1796521959607000, -1, -999, -1000, -1001,
		-1796521959607470, math.MaxInt64 / 1000, math.MaxInt64/1000 + 1, math.MaxInt64, math.MinInt64, -(math.MaxInt64 / 1000)} {
		var buf [48]byte
		msb, usb := tsText(&buf, us)
		got := string(appendTs([]byte(`"ts_ms":`+string(msb)), us, usb))
		ms := us / 1000
		if us%1000 < 0 {
			ms--
		}
		want := `"ts_ms":` + strconv.FormatInt(ms, 10) + `,"ts_us":` + strconv.FormatInt(us, 10) + `,"ts_ns":` + strconv.FormatInt(us*1000, 10)
		if got != want {
			t.Errorf("%d µs: got %s, want %s", us, got, want)
		}
		s := event.Source{TsUs: us}
		if s.TsMs() != ms {
			t.Errorf("%d µs: Source.TsMs() = %d, want %d", us, s.TsMs(), ms)
		}
	}
}
