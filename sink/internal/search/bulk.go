package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/format"
)

// Bulk actions.
const (
	actIndex  = 'i'
	actDelete = 'd'
	actUpdate = 'u'
)

// item is one bulk operation: its action line (and document line) lives in
// Sink.lanes[lane].buf[start:end].
type item struct {
	ev       int  // index of the event in the Write
	act      byte // actIndex, actDelete, actUpdate
	lane     int
	start    int
	docStart int // start of the document line (actIndex, actUpdate)
	end      int
	index    string
	id       string
	routing  string
	version  int64
	// src is, for a merge (start < 0 until encodeMerges), the document
	// whose stored columns fill the unchanged ones: the item's own, or the
	// old key's when the update moved the row.
	src docRef
}

// docRef names one document.
type docRef struct{ index, id, routing string }

func (d docRef) key() string { return d.index + "\x00" + d.routing + "\x00" + d.id }

func (it *item) ref() docRef { return docRef{it.index, it.id, it.routing} }

// laneOf picks one of n lanes for the item's document: every operation on
// one document (index, routing, id) goes to the same lane. FNV-1a, so that
// the partition is the same in every run.
func (it *item) laneOf(n int) int {
	if n == 1 {
		return 0
	}
	h := uint32(2166136261)
	for _, s := range [...]string{it.index, it.routing, it.id} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
		h = (h ^ 0) * 16777619 // separator
	}
	return int(h % uint32(n))
}

// appendAction appends a bulk action line. vtype "" sends no version.
// OpenSearch and Elasticsearch 7 and 8 read the same metadata names
// (version, version_type, routing; no _type).
func appendAction(dst []byte, act byte, index, id, routing string, version int64, vtype string) []byte {
	switch act {
	case actIndex:
		dst = append(dst, `{"index":{"_index":`...)
	case actDelete:
		dst = append(dst, `{"delete":{"_index":`...)
	case actUpdate:
		dst = append(dst, `{"update":{"_index":`...)
	}
	dst = format.AppendJSONString(dst, index)
	dst = append(dst, `,"_id":`...)
	dst = format.AppendJSONString(dst, id)
	if routing != "" {
		dst = append(dst, `,"routing":`...)
		dst = format.AppendJSONString(dst, routing)
	}
	if vtype != "" {
		dst = append(dst, `,"version":`...)
		dst = strconv.AppendInt(dst, version, 10)
		dst = append(dst, `,"version_type":"`...)
		dst = append(dst, vtype...)
		dst = append(dst, '"')
	}
	return append(dst, "}}\n"...)
}

// bulkFilterPath keeps a bulk response to what the sink reads: the errors
// flag and each item's status and error (items stay in request order).
const bulkFilterPath = "errors,items.*.status,items.*.error.type,items.*.error.reason,items.*.error.caused_by.type,items.*.error.caused_by.reason"

type bulkResponse struct {
	Errors bool       `json:"errors"`
	Items  []bulkWrap `json:"items"`
}

// bulkWrap is one response item: an object with the action as its only key.
// Four pointer fields decode without a map per item.
type bulkWrap struct {
	Index  *bulkItem `json:"index"`
	Create *bulkItem `json:"create"`
	Update *bulkItem `json:"update"`
	Delete *bulkItem `json:"delete"`
}

func (w *bulkWrap) item() *bulkItem {
	switch {
	case w.Index != nil:
		return w.Index
	case w.Delete != nil:
		return w.Delete
	case w.Update != nil:
		return w.Update
	}
	return w.Create
}

type bulkItem struct {
	Status int        `json:"status"`
	Error  *itemError `json:"error"`
}

type itemError struct {
	Type     string `json:"type"`
	Reason   string `json:"reason"`
	CausedBy *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"caused_by"`
}

// preview matches the value excerpt servers put in mapping errors; row
// values stay out of sluice's messages.
var preview = regexp.MustCompile(`(?s)\.? *Preview of field's value: .*$|(?s)For input string: .*$|(?s)(failed to parse date field|Invalid format:|cannot parse) +\[.*?\]`)

func (e *itemError) String() string {
	if e == nil {
		return "no error detail"
	}
	s := e.Type + ": " + redact(e.Reason)
	if e.CausedBy != nil && e.CausedBy.Reason != "" {
		s += " (caused by " + e.CausedBy.Type + ": " + redact(e.CausedBy.Reason) + ")"
	}
	return s
}

func redact(reason string) string {
	return preview.ReplaceAllStringFunc(reason, func(m string) string {
		switch {
		case strings.HasPrefix(m, "For input string"):
			return "For input string: (value withheld)"
		case strings.Contains(m, "["):
			return m[:strings.IndexByte(m, '[')] + "[value withheld]"
		}
		return ""
	})
}

// outcome is what the sink does with one item's result.
type outcome uint8

const (
	itemOK       outcome = iota
	itemConflict         // version conflict: a newer version is stored (a replay)
	itemRetry            // may pass later: back-pressure, unavailable shards
	itemRejected         // this document can never be written as it is
	itemNoIndex          // the index is missing and cannot be auto-created
)

// classify decides an item's outcome from its status and error.
func classify(act byte, it *bulkItem) outcome {
	st := it.Status
	typ := ""
	if it.Error != nil {
		typ = it.Error.Type
	}
	switch {
	case st >= 200 && st < 300 && it.Error == nil:
		return itemOK
	case st == 404 && act == actDelete && (it.Error == nil || typ == "index_not_found_exception"):
		return itemOK // deleting a document that is not there
	case st == 409 || typ == "version_conflict_engine_exception":
		return itemConflict
	case typ == "index_not_found_exception":
		return itemNoIndex
	case st == 429 || st >= 500 || st == 0,
		typ == "es_rejected_execution_exception", typ == "rejected_execution_exception",
		typ == "circuit_breaking_exception", typ == "cluster_block_exception",
		typ == "unavailable_shards_exception", typ == "process_cluster_event_timeout_exception":
		return itemRetry
	}
	return itemRejected
}

// parseBulk decodes a bulk response. n is the number of items sent.
func parseBulk(body []byte, n int) (*bulkResponse, error) {
	var r bulkResponse
	// Fast path: no errors, nothing else to read.
	if i := bytes.Index(body, []byte(`"errors":`)); i >= 0 && bytes.HasPrefix(body[i+9:], []byte("false")) {
		return &r, nil
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("bulk response: %v", err)
	}
	if r.Errors && len(r.Items) != n {
		return nil, fmt.Errorf("bulk response has %d items for %d operations", len(r.Items), n)
	}
	return &r, nil
}

// responseError summarises an error response for messages.
func responseError(body []byte) string {
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &r) == nil && len(r.Error) > 0 {
		var e itemError
		if json.Unmarshal(r.Error, &e) == nil && e.Type != "" {
			return e.String()
		}
		if s, err := strconv.Unquote(string(r.Error)); err == nil {
			return s
		}
	}
	if len(body) > 300 {
		body = body[:300]
	}
	return string(bytes.TrimSpace(body))
}
