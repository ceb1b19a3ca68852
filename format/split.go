package format

import "github.com/sluice-dev/sluice/event"

// Header names Debezium puts on the two records of a key change.
const (
	// HeaderNewKey is on the delete of the old key; its value is the new key.
	HeaderNewKey = "__debezium.newkey"
	// HeaderOldKey is on the create of the new key; its value is the old key.
	HeaderOldKey = "__debezium.oldkey"
)

// Split returns the events that e is written as, using buf for storage.
// Debezium's relational connectors (PostgreSQL, MySQL) write an update that
// changes the row's key as a delete of the old key followed by a create of
// the new key (RelationalChangeRecordEmitter.emitUpdateAsPrimaryKeyChangeRecord),
// with the same source block; every other event is written as itself. Every
// writer of encoded events goes through Split, so files, stdout, S3 and
// Kafka all hold what Debezium would write (Kafka adds the delete's
// tombstone and the HeaderNewKey/HeaderOldKey headers, which only it has).
//
// A key change is an update with both images whose key columns differ: with
// PostgreSQL's default replica identity the old image exists only when the
// key changed; under REPLICA IDENTITY FULL it always does and the values
// decide. Tables without a key are never split, as in Debezium.
func Split(e *event.Event, buf *[2]event.Event) []event.Event {
	if !KeyChanged(e) {
		buf[0] = *e
		return buf[:1]
	}
	buf[0], buf[1] = *e, *e
	buf[0].Op, buf[0].After = event.OpDelete, nil
	buf[1].Op, buf[1].Before = event.OpCreate, nil
	return buf[:2]
}

// KeyChanged reports whether e is an update that changes its row's key,
// which Split writes as a delete and a create.
func KeyChanged(e *event.Event) bool {
	if e.Op != event.OpUpdate || e.Before == nil || e.After == nil || e.Schema == nil ||
		e.Schema.Connector == "mongodb" || len(e.Before) != len(e.After) {
		return false
	}
	for _, k := range e.Schema.KeyIdx {
		if k < 0 || k >= len(e.After) {
			return false
		}
		if !e.Before[k].Equal(e.After[k]) {
			return true
		}
	}
	return false
}
