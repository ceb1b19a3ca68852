package kafka

import "github.com/sluice-dev/sluice/component"

var _ component.KeepsNoEvents = (*Sink)(nil)

// KeepsNoEvents implements component.KeepsNoEvents: the sink keeps nothing
// of an event once Write returned, so a source may recycle a batch's
// memory after the engine has the sink's acknowledgement. Audit (keep it
// true when changing the write path): the records' keys, values and
// header values are encoded into the round's arena (kafkarec.Arena, bytes
// of the sink's own; headers' stream and source names are copied there
// too), topics are rendered into a scratch buffer and copied to a string
// (kafkarec.Builder.topic), so the records still in flight after a Write
// cut short, s.known's topic names and produceAgain's records hold only
// copies; the encoders (package format) cache per *event.Schema and the
// Debezium encoder's last source block is a copy of event.Source (numbers
// and a *Binlog, which a source never recycles); s.badIdx and the record
// errors returned hold messages formatted when they happened (fmt, a
// copy). A failed Write keeps nothing of the events either: the engine
// writes the same events again.
func (s *Sink) KeepsNoEvents() bool { return true }
