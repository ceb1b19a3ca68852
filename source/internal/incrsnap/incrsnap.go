// Package incrsnap is what the PostgreSQL and MySQL sources' incremental
// snapshots share: the progress kept in their checkpoints (a queue of
// tables with their filters and the last key read), Debezium's
// execute-snapshot / stop-snapshot signals read into an Action, the match
// of data-collections against the captured tables, and the key of a row
// in a chunk's window. The watermarks and the chunk reads stay in each
// source: PostgreSQL writes logical decoding messages, MySQL rows of the
// signal table (see their incremental.go).
package incrsnap

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// State is the incremental snapshot progress in a checkpoint: the tables
// still to read, the first one being read.
type State struct {
	Tables []*Table `json:"tables"`
}

// Table is one table of an incremental snapshot.
type Table struct {
	Table  string `json:"table"`
	Filter string `json:"filter,omitempty"`
	// LastKey is the key (as text) of the last row of the last emitted
	// chunk; nil before the first.
	LastKey []string `json:"last_key,omitempty"`
}

// Clone returns a deep copy of s; nil when s is nil or has no table.
func (s *State) Clone() *State {
	if s == nil || len(s.Tables) == 0 {
		return nil
	}
	c := &State{Tables: make([]*Table, len(s.Tables))}
	for i, t := range s.Tables {
		tt := *t
		tt.LastKey = slices.Clone(t.LastKey)
		c.Tables[i] = &tt
	}
	return c
}

// Active reports whether s has tables to read.
func (s *State) Active() bool { return s != nil && len(s.Tables) > 0 }

// Add queues a table unless it is queued with the same filter already.
func (s *State) Add(table, filter string) bool {
	for _, t := range s.Tables {
		if t.Table == table && t.Filter == filter {
			return false
		}
	}
	s.Tables = append(s.Tables, &Table{Table: table, Filter: filter})
	return true
}

// Remove drops the named tables from the queue, or every table when all.
func (s *State) Remove(tables []string, all bool) {
	if s == nil {
		return
	}
	s.Tables = slices.DeleteFunc(s.Tables, func(t *Table) bool { return all || slices.Contains(tables, t.Table) })
}

// SkipTable is a reason a table cannot be snapshotted incrementally (no
// key, not captured, …): the source logs it and goes on with the next table.
type SkipTable struct{ Reason string }

func (e *SkipTable) Error() string { return e.Reason }

// Data is the data of execute-snapshot and stop-snapshot signals as
// Debezium documents them.
type Data struct {
	DataCollections      []string    `json:"data-collections"`
	Type                 string      `json:"type"`
	AdditionalConditions []Condition `json:"additional-conditions,omitempty"`
}

// Condition restricts the rows of one data collection.
type Condition struct {
	DataCollection string `json:"data-collection"`
	Filter         string `json:"filter"`
}

// Action is what a signal asks for.
type Action struct {
	// Stop: stop-snapshot of Tables, or of every table when All.
	Stop, All bool
	// Tables are the captured tables the signal names, in order.
	Tables []string
	// Filters are the additional conditions by table.
	Filters map[string]string
}

// Read reads one signal (the signal table's type and data columns) into
// an Action. Unknown or malformed signals are logged on log and ignored
// (ok false), as Debezium does: a signal row is data another program
// wrote, not the pipeline's configuration; a "log" signal is logged.
// match resolves data-collections against the captured tables (Match).
func Read(log *slog.Logger, typ string, data []byte, match func(patterns []string) ([]string, error)) (a Action, ok bool) {
	switch typ {
	case "execute-snapshot", "stop-snapshot":
	case "log":
		log.Info("signal", "data", string(data))
		return a, false
	default:
		log.Warn("signal type not supported; ignored (supported: execute-snapshot, stop-snapshot, log)")
		return a, false
	}
	var d Data
	if len(data) > 0 {
		if err := json.Unmarshal(data, &d); err != nil {
			log.Warn("signal data is not JSON; ignored", "err", err)
			return a, false
		}
	}
	if d.Type != "" && !strings.EqualFold(d.Type, "incremental") {
		log.Warn("only incremental snapshots are supported; signal ignored", "type", d.Type)
		return a, false
	}
	tables, err := match(d.DataCollections)
	if err != nil {
		log.Warn("signal ignored", "err", err)
		return a, false
	}
	if typ == "stop-snapshot" {
		return Action{Stop: true, All: len(d.DataCollections) == 0, Tables: tables}, true
	}
	if len(tables) == 0 {
		log.Warn("execute-snapshot names no captured table; ignored", "data-collections", d.DataCollections)
		return a, false
	}
	filters := map[string]string{}
	for _, c := range d.AdditionalConditions {
		ts, err := match([]string{c.DataCollection})
		if err != nil || len(ts) == 0 {
			log.Warn("additional-conditions names no captured table; signal ignored", "data-collection", c.DataCollection)
			return a, false
		}
		for _, t := range ts {
			filters[t] = c.Filter
		}
	}
	return Action{Tables: tables, Filters: filters}, true
}

// Match resolves data-collections against the captured tables' names: a
// name as is, or else a regular expression matching whole names (as
// Debezium's data-collections are). unquote takes the quotes of the
// source's dialect off a name; a pattern that matches nothing is logged.
func Match(log *slog.Logger, captured, patterns []string, unquote func(string) string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		p = unquote(p)
		if slices.Contains(captured, p) {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
			continue
		}
		re, err := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			return nil, fmt.Errorf("data collection %q is neither a captured table nor a regular expression: %w", p, err)
		}
		n := len(out)
		for _, name := range captured {
			if re.MatchString(name) && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
		if len(out) == n {
			log.Warn("data collection matches no captured table", "data-collection", p, "captured", captured)
		}
	}
	return out, nil
}

// KeyString renders a row's key values (sch.KeyIdx of img) as a map key.
func KeyString(sch *event.Schema, img []event.Value) string {
	var b strings.Builder
	for _, i := range sch.KeyIdx {
		v := img[i]
		b.WriteByte(byte(v.Kind))
		b.WriteString(strconv.FormatUint(v.Num, 16))
		b.WriteByte(0)
		b.WriteString(v.Text())
		b.WriteByte(0)
	}
	return b.String()
}

// Encode turns a request (REST API, `sluice snapshot`) into Debezium's
// execute-snapshot or stop-snapshot signal: its type and its data.
func Encode(req component.SnapshotRequest) (typ string, data []byte, err error) {
	d := Data{DataCollections: req.Tables, Type: "incremental"}
	if d.DataCollections == nil {
		d.DataCollections = []string{}
	}
	typ = "execute-snapshot"
	if req.Stop {
		typ = "stop-snapshot"
	} else if len(req.Tables) == 0 {
		return "", nil, errors.New("name at least one table to snapshot")
	}
	for _, c := range req.Conditions {
		if !slices.Contains(req.Tables, c.Table) {
			return "", nil, fmt.Errorf("condition for table %s, which is not among the tables to snapshot %v", c.Table, req.Tables)
		}
		d.AdditionalConditions = append(d.AdditionalConditions, Condition{c.Table, c.Filter})
	}
	data, err = json.Marshal(d)
	return typ, data, err
}
