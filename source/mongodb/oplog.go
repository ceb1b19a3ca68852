package mongodb

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// oplogNearFraction: a position within the oldest fifth of the oplog
// window is warned about at start.
const oplogNearFraction = 5

// positionTime is the cluster time the checkpoint resumes after: the last
// change's (ct), else the one encoded in the resume token (its _data starts
// with 0x82 and the 8-byte timestamp, seconds then increment, big-endian,
// as every MongoDB 4.2+ token does). ok false when neither is known.
func positionTime(cp *checkpoint) (time.Time, bool) {
	if cp.ClusterTime != 0 {
		return time.Unix(int64(cp.ClusterTime>>32), 0).UTC(), true
	}
	tok, err := cp.token()
	if err != nil || tok == nil {
		return time.Time{}, false
	}
	data, ok := tok.Lookup("_data").StringValueOK()
	if !ok {
		return time.Time{}, false
	}
	b, err := hex.DecodeString(data)
	if err != nil || len(b) < 9 || b[0] != 0x82 {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint32(b[1:5])), 0).UTC(), true
}

// oplogWarning is the warning for a resume position pos, given the oplog's
// oldest entry first, at now; "" when the position is comfortably inside
// the window, or already outside it (opening the stream then fails with
// history lost, and on_history_lost applies).
func oplogWarning(pos, first, now time.Time) string {
	window := now.Sub(first)
	headroom := pos.Sub(first)
	if window <= 0 || headroom < 0 || headroom >= window/oplogNearFraction {
		return ""
	}
	return fmt.Sprintf("the checkpoint's position (cluster time %s) is near the start of the oplog window: the oldest oplog entry is from %s, "+
		"so the oplog covers %s and the position falls out of it after about %s more of writes at this rate; then the history is lost and "+
		"on_history_lost applies. Keep sluice running, or make the oplog larger (replSetResizeOplog, or oplogMinRetentionHours)",
		pos.Format(time.RFC3339), first.Format(time.RFC3339), window.Round(time.Second), headroom.Round(time.Second))
}

// checkOplogWindow warns at start when the checkpoint's position is near
// the oplog window's start. It reads local.oplog.rs, which only a replica
// set member has (not mongos, not FerretDB): without it, or without the
// right to read it, nothing is said beyond a debug line.
func (s *Source) checkOplogWindow(ctx context.Context, client *mongo.Client, cp *checkpoint) {
	if client == nil || cp == nil {
		return
	}
	pos, ok := positionTime(cp)
	if !ok {
		return
	}
	var first struct {
		TS bson.Timestamp `bson:"ts"`
	}
	// A look, not a requirement: it never holds the start up for long.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := client.Database("local").Collection("oplog.rs").FindOne(ctx, bson.D{},
		options.FindOne().SetSort(bson.D{{Key: "$natural", Value: 1}}).SetProjection(bson.D{{Key: "ts", Value: 1}})).Decode(&first)
	if err != nil || first.TS.T == 0 {
		s.log.Debug("oplog window not checked (no readable local.oplog.rs)", "err", err)
		return
	}
	if w := oplogWarning(pos, time.Unix(int64(first.TS.T), 0).UTC(), time.Now().UTC()); w != "" {
		s.log.Warn(w)
	}
}
