package search

import "github.com/sluice-dev/sluice/component"

var _ component.KeepsNoEvents = (*Sink)(nil)

// KeepsNoEvents implements component.KeepsNoEvents, for the OpenSearch and
// Elasticsearch sinks alike: the sink keeps nothing of an event once Write
// returned, so a source may recycle a batch's memory after the engine has
// the sink's acknowledgement. Audit (keep it true when changing the write
// path): every item's action and document lines are encoded into its
// lane's buffer (bytes of the sink's own), and the bulk bodies are slices
// of those buffers or gathered copies; document ids are rendered into a
// scratch buffer and copied to a string (target), routings are rendered
// strings (tmpl.Template.RenderString copies), index names are interned
// copies (s.names, s.known); s.items keeps the last Write's items, whose
// strings are those copies, and is only read within a Write; a merge's
// stored documents come from the cluster's response; the lanes' goroutines
// end before Write returns; record errors and log lines are formatted when
// they happen. A failed Write keeps nothing of the events either: the
// engine writes the same events again.
func (s *Sink) KeepsNoEvents() bool { return true }
