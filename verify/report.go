package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"
)

// Report is the outcome of a run.
type Report struct {
	Pipeline string         `json:"pipeline"`
	Source   string         `json:"source"`
	Sink     string         `json:"sink"`
	SinkType string         `json:"sink_type"`
	Tables   []*TableReport `json:"tables"`
}

// Equal reports whether every table verified clean.
func (r *Report) Equal() bool {
	for _, t := range r.Tables {
		if t.Missing+t.Extra+t.Different > 0 {
			return false
		}
	}
	return true
}

// TableReport is one source table's comparison.
type TableReport struct {
	Table  string   `json:"table"`  // schema.table in the source
	Target string   `json:"target"` // the sink's table, index or file
	Key    []string `json:"key"`    // the key columns
	Rows   int64    `json:"rows"`   // source rows compared
	// Ranges is the number of key ranges compared, RangesRead those whose
	// server checksums differed so that their rows were read (0 where the
	// sink has no server checksum: every range is read).
	Ranges     int `json:"ranges"`
	RangesRead int `json:"ranges_read"`
	// Missing keys are in the source, not in the sink; Extra keys in the
	// sink, not in the source; Different keys in both with other values.
	Missing     int          `json:"missing"`
	Extra       int          `json:"extra"`
	Different   int          `json:"different"`
	MissingKeys []string     `json:"missing_keys"`
	ExtraKeys   []string     `json:"extra_keys"`
	Differences []Difference `json:"differences"`
	// Notes say what could not be compared.
	Notes []string `json:"notes,omitempty"`
	// Repair says what --repair did.
	Repair *Repair `json:"repair,omitempty"`

	repairKeys [][]string // source keys of missing and different rows
	repairCut  bool       // more than maxRepairKeys
	extraIDs   []string
	st         srcTable
	tt         tableTarget
}

// Difference is one key whose values differ.
type Difference struct {
	Key     string             `json:"key"`
	Columns []ColumnDifference `json:"columns"`
}

// ColumnDifference is one column's two values, as canonical JSON.
type ColumnDifference struct {
	Column string          `json:"column"`
	Source json.RawMessage `json:"source"`
	Sink   json.RawMessage `json:"sink"`
}

// Repair is what --repair did for a table.
type Repair struct {
	// Signals are the ids of the execute-snapshot rows inserted into the
	// signal table.
	Signals []string `json:"signals"`
	Keys    int      `json:"keys"` // keys they re-snapshot
	// Remove says how to remove the extra keys, which an incremental
	// snapshot cannot (it reads rows that exist).
	Remove []string `json:"remove,omitempty"`
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	for _, t := range r.Tables { // [] rather than null
		if t.MissingKeys == nil {
			t.MissingKeys = []string{}
		}
		if t.ExtraKeys == nil {
			t.ExtraKeys = []string{}
		}
		if t.Differences == nil {
			t.Differences = []Difference{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "verify %s: source %s → sink %s (%s)\n", r.Pipeline, r.Source, r.Sink, r.SinkType)
	for _, t := range r.Tables {
		state := "equal"
		if t.Missing+t.Extra+t.Different > 0 {
			state = "DIFFERENT"
		}
		fmt.Fprintf(w, "%s → %s: %s: %d rows, %d missing, %d extra, %d different", t.Table, t.Target, state, t.Rows, t.Missing, t.Extra, t.Different)
		if t.RangesRead > 0 || t.Ranges > 0 {
			fmt.Fprintf(w, " (%d key ranges", t.Ranges)
			if t.RangesRead > 0 {
				fmt.Fprintf(w, ", %d read after their checksums differed", t.RangesRead)
			}
			fmt.Fprint(w, ")")
		}
		fmt.Fprintln(w)
		keys := strings.Join(t.Key, ", ")
		sample := func(what string, n int, ids []string) {
			if n == 0 {
				return
			}
			more := ""
			if n > len(ids) {
				more = fmt.Sprintf(" (first %d of %d)", len(ids), n)
			}
			fmt.Fprintf(w, "  %s (%s)%s: %s\n", what, keys, more, strings.Join(ids, ", "))
		}
		sample("missing in the sink", t.Missing, t.MissingKeys)
		sample("extra in the sink", t.Extra, t.ExtraKeys)
		if t.Different > 0 {
			more := ""
			if t.Different > len(t.Differences) {
				more = fmt.Sprintf(" (first %d of %d)", len(t.Differences), t.Different)
			}
			fmt.Fprintf(w, "  different%s:\n", more)
			for _, d := range t.Differences {
				fmt.Fprintf(w, "    %s:", d.Key)
				for _, c := range d.Columns {
					fmt.Fprintf(w, " %s source %s sink %s;", c.Column, c.Source, c.Sink)
				}
				fmt.Fprintln(w)
			}
		}
		for _, n := range t.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		if t.Repair != nil {
			if len(t.Repair.Signals) > 0 {
				fmt.Fprintf(w, "  repair: %d keys re-snapshot by signal(s) %s\n", t.Repair.Keys, strings.Join(t.Repair.Signals, ", "))
			}
			for _, s := range t.Repair.Remove {
				fmt.Fprintf(w, "  repair: %s\n", s)
			}
		}
	}
}

// canonJSON is the canonical form values are compared in: JSON with
// object members sorted by name, no insignificant space, and numbers
// written as exact fractions (so 2.50, 2.5 and 25e-1 are one value, while
// a number and a string never are).
func canonJSON(raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	var b strings.Builder
	writeCanon(&b, v)
	return b.String(), nil
}

func writeCanon(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(x)); ok {
			if r.IsInt() {
				b.WriteString(r.Num().String())
			} else {
				// An exact decimal when there is one, else the fraction
				// (the JSON stays valid: a string marks it).
				if s, exact := r.FloatPrec(); exact {
					b.WriteString(r.FloatString(s))
				} else {
					b.WriteString(`"` + r.RatString() + `"`)
				}
			}
		} else {
			b.WriteString(string(x))
		}
	case string:
		enc, _ := json.Marshal(x)
		b.Write(enc)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanon(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			enc, _ := json.Marshal(k)
			b.Write(enc)
			b.WriteByte(':')
			writeCanon(b, x[k])
		}
		b.WriteByte('}')
	}
}

// canonMembers splits a JSON object into canonical member values.
func canonMembers(raw []byte) (map[string]string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		c, err := canonJSON(v)
		if err != nil {
			return nil, err
		}
		out[k] = c
	}
	return out, nil
}
