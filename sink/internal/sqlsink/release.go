package sqlsink

import "github.com/sluice-dev/sluice/component"

var (
	_ component.KeepsNoEvents = (*Writer)(nil)
	_ component.KeepsNoEvents = (*Pipelined)(nil)
)

// KeepsNoEvents implements component.KeepsNoEvents: the writer keeps
// nothing of an event once Write returned, so a source may recycle a
// batch's memory after the engine has the sink's acknowledgement. Audit
// (keep it true when changing the write path):
//   - Rows and arguments alias the events only within the call: the
//     planner's rows and key map (its keys are string copies of the key
//     bytes it builds) are locals of planAll and its steps of writeIn; the
//     statement arguments (PGText, MySQLArg return a value's own string)
//     live in apply's slab and the local batch; the COPY encoder goroutine
//     (copystream.go) is joined by apply's finish before apply returns.
//   - The drivers copy what they send before the call returns: pgx encodes
//     every argument into its own buffer (extended protocol, batches) and
//     reads CopyFrom's input only from the encoded bytes; go-sql-driver
//     copies arguments into its packet buffer, and a LOAD DATA LOCAL
//     reader (sink/mysql, load.go) is read to its end inside Exec and
//     deregistered before load returns.
//   - What lives on between calls holds no event memory: the table cache
//     (names rendered into strings of their own by the table template,
//     server column names, schema pointers), the key index cache (per
//     *event.Schema, never recycled), copyBuf (encoded bytes), the
//     dialects' statement and type caches (quoted identifiers and SQL
//     text, never a value), and errors formatted when they happened
//     (fmt, keyText's concatenation: copies).
func (w *Writer) KeepsNoEvents() bool { return true }

// KeepsNoEvents implements component.KeepsNoEvents: besides the Writer's
// (above), the transaction WriteBuffered leaves open for Flush holds the
// positions it set per source or stream name (schema strings, which a
// source never recycles, and Seq numbers) and a formatted error; the
// batches a failed Flush loses are the engine's to write again, from its
// own unacknowledged events.
func (p *Pipelined) KeepsNoEvents() bool { return true }
