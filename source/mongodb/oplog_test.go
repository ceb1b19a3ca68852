package mongodb

import (
	"testing"
	"time"
)

// TestOplogWindow is the oplog-window decision on recorded values: the
// checkpoints and tokens of testdata/changestream (a MongoDB 7 replica
// set), against oplog starts around them. FerretDB has no oplog, so the
// query side is not tested here.
func TestOplogWindow(t *testing.T) {
	stream, err := parseCheckpoint([]byte(`{"v":1,"phase":"stream","token":{"_data":"826553F600000000062B022C0100296E5A1004F1B2C3D4E5F6478899AABBCCDDEEFF0046645F69640064655500000000000000000000030004"},"ct":7301449900758138886}`))
	if err != nil {
		t.Fatal(err)
	}
	export, err := parseCheckpoint([]byte(`{"v":1,"phase":"export","token":{"_data":"8265000000000000012B0229296E04"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cp   *checkpoint
		want time.Time
	}{
		{stream, time.Date(2023, 11, 14, 22, 34, 40, 0, time.UTC)}, // ct 0x6553F600_00000006
		{export, time.Date(2023, 9, 12, 6, 6, 56, 0, time.UTC)},    // the token's 0x65000000
	} {
		got, ok := positionTime(tc.cp)
		if !ok || !got.Equal(tc.want) {
			t.Errorf("positionTime(%s) = %v %v, want %v", tc.cp.Phase, got, ok, tc.want)
		}
	}
	if _, ok := positionTime(&checkpoint{Phase: phaseExport}); ok {
		t.Error("a checkpoint without token or cluster time has a position time")
	}

	pos := time.Date(2023, 11, 14, 22, 43, 12, 0, time.UTC)
	for _, tc := range []struct {
		first, now time.Time
		want       string
	}{
		// A 24 h window with the position 2 h after its start: warned.
		{pos.Add(-2 * time.Hour), pos.Add(22 * time.Hour), "the checkpoint's position (cluster time 2023-11-14T22:43:12Z) is near the start of the oplog window: " +
			"the oldest oplog entry is from 2023-11-14T20:43:12Z, so the oplog covers 24h0m0s and the position falls out of it after about 2h0m0s more of " +
			"writes at this rate; then the history is lost and on_history_lost applies. Keep sluice running, or make the oplog larger (replSetResizeOplog, or oplogMinRetentionHours)"},
		// 6 h after the start of a 24 h window: a quarter in, not warned.
		{pos.Add(-6 * time.Hour), pos.Add(18 * time.Hour), ""},
		// Outside the window: history lost, which opening the stream says.
		{pos.Add(time.Hour), pos.Add(24 * time.Hour), ""},
		// An empty window (clock skew): nothing.
		{pos, pos, ""},
	} {
		if got := oplogWarning(pos, tc.first, tc.now); got != tc.want {
			t.Errorf("first %v now %v:\n got %q\nwant %q", tc.first, tc.now, got, tc.want)
		}
	}
}
