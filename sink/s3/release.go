package s3

import "github.com/sluice-dev/sluice/component"

var _ component.KeepsNoEvents = (*Sink)(nil)

// KeepsNoEvents implements component.KeepsNoEvents: the sink keeps nothing
// of an event once Write returned, so a source may recycle a batch's
// memory after the engine has the sink's acknowledgement. Audit (keep it
// true when changing the write path): every event is encoded into s.buf
// (format.AppendLines, or appendEventRow for Parquet, whose strings are
// appended as bytes) and framed into its spool's buffer (spool.add, a
// copy) before the next one; partition directories are rendered from the
// schema's names and the event time into s.dirBuf and copied to a string;
// the per-stream state holds numbers, the schema's own Stream string and
// *event.Schema pointers (st.lastSchema, s.specs), which a source never
// recycles; uploads and Parquet builds read sealed spool files; errors are
// formatted when they happen. A failed Write keeps nothing of the events
// either: the engine writes the same events again.
func (s *Sink) KeepsNoEvents() bool { return true }
