package sqlpoll

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// checkpoint is the source's position: per table, the watermark of the last
// emitted row. The engine persists it as JSON and hands it back to Run:
//
//	{"v":1,"mode":"timestamp+incrementing","tables":{"public.users":
//	  {"ts":{"time":"2024-05-01T10:00:00.123456Z"},"id":{"int":"42"}}}}
//
// Bulk mode re-reads every table on every poll and keeps no watermark.
type checkpoint struct {
	V      int                   `json:"v"`
	Mode   string                `json:"mode"`
	Tables map[string]*watermark `json:"tables,omitempty"`
}

// watermark is one table's position; a nil field has not been set yet.
type watermark struct {
	TS *wmValue `json:"ts,omitempty"`
	ID *wmValue `json:"id,omitempty"`
	// Group is set in timestamp mode with key_columns while a group of
	// rows sharing one timestamp is read in key order: the rows up to key
	// After are emitted. A watermark is copied by value (table.saved), so
	// Group is replaced, never changed in place.
	Group *groupPos `json:"group,omitempty"`
}

// groupPos is the progress through one timestamp group.
type groupPos struct {
	TS    *wmValue   `json:"ts"`
	After []*wmValue `json:"after"`
}

const checkpointVersion = 1

// wmValue is a watermark value in the Go type the driver returned, so it
// goes back to the database as a parameter of the same type: an exact
// round trip, whatever the database compares (SQLite compares text).
// Exactly one field is set.
type wmValue struct {
	Int  *string `json:"int,omitempty"`  // int64
	Uint *string `json:"uint,omitempty"` // uint64
	Flt  *string `json:"float,omitempty"`
	Text *string `json:"text,omitempty"` // string or []byte
	Time *string `json:"time,omitempty"` // time.Time, RFC 3339 with nanoseconds
}

// newWM records a scanned value; ok is false for types that cannot be a
// watermark (NULL, bool).
func newWM(v any) (*wmValue, bool) {
	s := func(x string) *string { return &x }
	switch x := v.(type) {
	case int64:
		return &wmValue{Int: s(strconv.FormatInt(x, 10))}, true
	case uint64:
		return &wmValue{Uint: s(strconv.FormatUint(x, 10))}, true
	case float64:
		return &wmValue{Flt: s(strconv.FormatFloat(x, 'g', -1, 64))}, true
	case string:
		return &wmValue{Text: s(x)}, true
	case []byte:
		return &wmValue{Text: s(string(x))}, true
	case time.Time:
		return &wmValue{Time: s(x.Format(time.RFC3339Nano))}, true
	}
	return nil, false
}

// arg returns the value as a query parameter.
func (w *wmValue) arg() (any, error) {
	switch {
	case w.Int != nil:
		return strconv.ParseInt(*w.Int, 10, 64)
	case w.Uint != nil:
		return strconv.ParseUint(*w.Uint, 10, 64)
	case w.Flt != nil:
		return strconv.ParseFloat(*w.Flt, 64)
	case w.Text != nil:
		return *w.Text, nil
	case w.Time != nil:
		return time.Parse(time.RFC3339Nano, *w.Time)
	}
	return nil, fmt.Errorf("empty watermark value")
}

// String is the value for positions and logs.
func (w *wmValue) String() string {
	for _, p := range []*string{w.Int, w.Uint, w.Flt, w.Text, w.Time} {
		if p != nil {
			return *p
		}
	}
	return "?"
}

func (w *wmValue) equal(o *wmValue) bool {
	return w != nil && o != nil && w.String() == o.String() && (w.Time != nil) == (o.Time != nil) && (w.Text != nil) == (o.Text != nil)
}

func parseCheckpoint(b []byte, mode string) (*checkpoint, error) {
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("checkpoint is not this source's JSON: %w", err)
	}
	if cp.V != checkpointVersion {
		return nil, fmt.Errorf("checkpoint version %d is not supported", cp.V)
	}
	if cp.Mode != mode {
		return nil, fmt.Errorf("checkpoint was written in mode %s, the source is now in mode %s; a watermark of one mode cannot resume the other (remove the pipeline's state to start over)", cp.Mode, mode)
	}
	for name, wm := range cp.Tables {
		if wm == nil {
			return nil, fmt.Errorf("checkpoint table %s: no watermark", name)
		}
		vals := []*wmValue{wm.TS, wm.ID}
		if g := wm.Group; g != nil {
			if g.TS == nil || len(g.After) == 0 || slices.Contains(g.After, nil) {
				return nil, fmt.Errorf("checkpoint table %s: incomplete group position", name)
			}
			vals = append(append(vals, g.TS), g.After...)
		}
		for _, v := range vals {
			if v == nil {
				continue
			}
			if _, err := v.arg(); err != nil {
				return nil, fmt.Errorf("checkpoint table %s: bad watermark %q: %w", name, v.String(), err)
			}
		}
	}
	return &cp, nil
}

// encode renders the checkpoint after the current watermarks.
func (c *checkpoint) encode() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // only strings and maps of them
	}
	return b
}
