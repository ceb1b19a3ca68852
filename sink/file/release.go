package file

import "github.com/sluice-dev/sluice/component"

var _ component.KeepsNoEvents = (*Sink)(nil)

// KeepsNoEvents implements component.KeepsNoEvents: the sink keeps nothing
// of an event once Write or WriteBuffered returned, so a source may
// recycle a batch's memory after the engine has the sink's
// acknowledgement. Audit (keep it true when changing the write path):
// LineEncoder.Encode returns only once its workers are done (wg.Wait) and
// keeps only encoded bytes (its buffers); the encoders (package format)
// cache per *event.Schema, and the Debezium encoder's cache of the last
// source block holds a copy of event.Source (numbers and a *Binlog, which
// a source never recycles) and bytes; writeOut writes bytes; a failed
// write keeps nothing either (the engine writes the same events again).
func (s *Sink) KeepsNoEvents() bool { return true }
