package mongodb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Phases of a checkpoint.
const (
	phaseExport = "export" // exporting; the stream starts at Token afterwards
	phaseStream = "stream" // streaming from Token
	phaseDone   = "done"   // exported, nothing is streamed
)

// checkpoint is the source's position, persisted by the engine as JSON.
// Mid-export:
//
//	{"v":1,"phase":"export","token":{"_data":"8266..."},
//	 "export":{"demo.orders":{"bounds":[{"$oid":"65a0..."},{"$oid":"65b1..."}],
//	   "done_ranges":"0","last":{"2":{"$oid":"65b7..."}}},
//	  "demo.users":{"done":true}}}
//
// and while streaming:
//
//	{"v":1,"phase":"stream","token":{"_data":"8266..."},"ct":7345812011111399425,"ord":1}
//
// token is the change stream's resume token (the token document as
// canonical Extended JSON): the stream's start point during the export,
// then the token after the last emitted change. ct and ord are the cluster
// time and the ordinal of the last emitted change, so that ordinals within
// a transaction continue across a restart. Each exported collection has its
// range boundaries, fixed once planned (canonical Extended JSON _ids; range
// i is [bounds[i-1], bounds[i]), the first and the last open-ended), the
// finished ranges, and for each unfinished range the last emitted _id. A
// collection whose _ids mix BSON types is one range ("mixed": true).
type checkpoint struct {
	Version     int                      `json:"v"`
	Phase       string                   `json:"phase"`
	Token       json.RawMessage          `json:"token,omitempty"`
	ClusterTime uint64                   `json:"ct,omitempty"`
	Ord         int32                    `json:"ord,omitempty"`
	Export      map[string]*collProgress `json:"export,omitempty"`
}

// collProgress is one collection's export progress.
type collProgress struct {
	Done       bool                       `json:"done,omitempty"`
	Mixed      bool                       `json:"mixed,omitempty"`
	Bounds     json.RawMessage            `json:"bounds,omitempty"`
	DoneRanges string                     `json:"done_ranges,omitempty"`
	Last       map[string]json.RawMessage `json:"last,omitempty"`
}

func parseCheckpoint(b []byte) (*checkpoint, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("checkpoint is not this source's JSON: %w", err)
	}
	if cp.Version != 1 {
		return nil, fmt.Errorf("checkpoint version %d is not supported", cp.Version)
	}
	switch cp.Phase {
	case phaseExport, phaseStream, phaseDone:
	default:
		return nil, fmt.Errorf("checkpoint phase %q is unknown", cp.Phase)
	}
	if cp.Phase == phaseStream && len(cp.Token) == 0 {
		return nil, fmt.Errorf("checkpoint: stream phase without a resume token")
	}
	if len(cp.Token) > 0 {
		if _, err := cp.token(); err != nil {
			return nil, err
		}
	}
	for name, p := range cp.Export {
		if p == nil {
			return nil, fmt.Errorf("checkpoint: export of %s is null", name)
		}
		if p.Done {
			continue
		}
		bounds, err := p.bounds()
		if err != nil {
			return nil, fmt.Errorf("checkpoint: export of %s: %w", name, err)
		}
		n := len(bounds) + 1
		if _, err := parseRanges(p.DoneRanges, n); err != nil {
			return nil, fmt.Errorf("checkpoint: export of %s: %w", name, err)
		}
		for k, v := range p.Last {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= n {
				return nil, fmt.Errorf("checkpoint: export of %s: range %q does not exist", name, k)
			}
			if _, err := parseExtValue(v); err != nil {
				return nil, fmt.Errorf("checkpoint: export of %s: range %s: %w", name, k, err)
			}
		}
	}
	return &cp, nil
}

func (c *checkpoint) marshal() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain structs and validated raw JSON always marshal
	}
	return b
}

// token returns the resume token document.
func (c *checkpoint) token() (bson.Raw, error) {
	if len(c.Token) == 0 {
		return nil, nil
	}
	var raw bson.Raw
	if err := bson.UnmarshalExtJSON(c.Token, true, &raw); err != nil {
		return nil, fmt.Errorf("checkpoint: resume token is not canonical Extended JSON: %w", err)
	}
	return raw, nil
}

// tokenJSON renders a resume token for the checkpoint.
func tokenJSON(tok bson.Raw) (json.RawMessage, error) {
	if len(tok) == 0 {
		return nil, nil
	}
	b, err := bson.MarshalExtJSON(tok, true, false)
	if err != nil {
		return nil, fmt.Errorf("resume token: %w", err)
	}
	return b, nil
}

// bounds parses the range boundaries.
func (p *collProgress) bounds() ([]bson.RawValue, error) {
	if len(p.Bounds) == 0 {
		return nil, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(p.Bounds, &raws); err != nil {
		return nil, fmt.Errorf("bounds: %w", err)
	}
	out := make([]bson.RawValue, len(raws))
	for i, r := range raws {
		v, err := parseExtValue(r)
		if err != nil {
			return nil, fmt.Errorf("bounds[%d]: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// parseExtValue parses one canonical Extended JSON value (an _id).
func parseExtValue(b []byte) (bson.RawValue, error) {
	doc := make([]byte, 0, len(b)+6)
	doc = append(doc, `{"v":`...)
	doc = append(doc, b...)
	doc = append(doc, '}')
	var raw bson.Raw
	if err := bson.UnmarshalExtJSON(doc, true, &raw); err != nil {
		return bson.RawValue{}, fmt.Errorf("_id %.60s is not canonical Extended JSON: %w", b, err)
	}
	v, err := raw.LookupErr("v")
	if err != nil {
		return bson.RawValue{}, fmt.Errorf("_id %.60s: %w", b, err)
	}
	return v, nil
}

// parseRanges parses "0-3,5" into n flags.
func parseRanges(s string, n int) ([]bool, error) {
	done := make([]bool, n)
	if s == "" {
		return done, nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		lo, err1 := strconv.Atoi(a)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || lo < 0 || hi < lo || hi >= n {
			return nil, fmt.Errorf("done_ranges %q is not a list of ranges below %d", s, n)
		}
		for i := lo; i <= hi; i++ {
			done[i] = true
		}
	}
	return done, nil
}

// formatRanges writes flags as "0-3,5".
func formatRanges(done []bool) string {
	var b bytes.Buffer
	for i := 0; i < len(done); i++ {
		if !done[i] {
			continue
		}
		j := i
		for j+1 < len(done) && done[j+1] {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(i))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(j))
		}
		i = j
	}
	return b.String()
}
