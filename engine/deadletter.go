package engine

import (
	"strings"

	"github.com/sluice-dev/sluice/event"
)

// Dead-letter records are events of their own table, so that any sink can
// take them: a file, another database, a Kafka topic. One record per
// rejected event, with these columns:
//
//	sink      the sink that rejected the event
//	error     the sink's reason
//	position  the event's source position (event.Event.Where)
//	stream    the event's stream, e.g. shop.public.product
//	op        the event's operation (r, c, u, d, t)
//	key       the event's key as a JSON object (Debezium's key), or null
//	event     the event as a Debezium change-event envelope (JSON)
//
// The record's source metadata is the rejected event's, so a Debezium-format
// dead-letter file also carries the original LSN and commit time.
var deadLetterColumns = []event.Column{
	{Name: "sink", Type: event.TypeString, TypeName: "text"},
	{Name: "error", Type: event.TypeString, TypeName: "text"},
	{Name: "position", Type: event.TypeString, TypeName: "text"},
	{Name: "stream", Type: event.TypeString, TypeName: "text"},
	{Name: "op", Type: event.TypeString, TypeName: "text"},
	{Name: "key", Type: event.TypeJSON, TypeName: "json", Optional: true},
	{Name: "event", Type: event.TypeJSON, TypeName: "json"},
}

// DeadLetterSchema returns the schema of dead-letter records for events of
// source src: stream "<src>.sluice.dead_letter".
func DeadLetterSchema(src string) *event.Schema {
	return &event.Schema{
		Stream: src + ".sluice.dead_letter", Source: src, Connector: "sluice",
		Namespace: "sluice", Table: "dead_letter", Version: 1, Columns: deadLetterColumns,
	}
}

// deadLetters wraps rejected events as dead-letter records. It belongs to one
// sink runner (encoders and the schema cache are not shared).
type deadLetters struct {
	enc     Encoder
	schemas map[string]*event.Schema // by source name
}

// newDeadLetters uses newEnc (Options.Encoder) for the records' envelopes;
// without one, the record's key and event columns say so.
func newDeadLetters(newEnc func() Encoder) *deadLetters {
	var enc Encoder = noEncoder{}
	if newEnc != nil {
		enc = newEnc()
	}
	return &deadLetters{enc: enc, schemas: map[string]*event.Schema{}}
}

type noEncoder struct{}

func (noEncoder) AppendValue(dst []byte, e *event.Event) ([]byte, bool, error) {
	return append(dst, `{"encoding_error":"no encoder configured"}`...), true, nil
}
func (noEncoder) AppendKey(dst []byte, e *event.Event) []byte { return append(dst, "null"...) }

// wrap returns the dead-letter record for event e, rejected by sink with err.
func (d *deadLetters) wrap(sink string, e *event.Event, err error) event.Event {
	sch := d.schemas[e.Schema.Source]
	if sch == nil {
		sch = DeadLetterSchema(e.Schema.Source)
		d.schemas[e.Schema.Source] = sch
	}
	key := event.Null
	if len(e.Schema.KeyIdx) > 0 && (e.After != nil || e.Before != nil) {
		key = event.String(string(d.enc.AppendKey(nil, e)))
	}
	body := "null"
	env, ok, encErr := d.enc.AppendValue(nil, e)
	switch {
	case encErr != nil:
		// The event cannot be encoded either (that may be why it was
		// rejected): keep what can be said about it.
		body = `{"encoding_error":` + jsonString(encErr.Error()) + `}`
	case ok:
		body = string(env)
	}
	return event.Event{
		Schema: sch,
		Op:     event.OpCreate,
		After: []event.Value{
			event.String(sink), event.String(err.Error()), event.String(e.Where()),
			event.String(e.Schema.Stream), event.String(e.Op.String()), key, event.String(body),
		},
		Source:   e.Source,
		TsMs:     e.TsMs,
		Position: e.Where(),
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
