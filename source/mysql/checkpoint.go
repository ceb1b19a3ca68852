package mysql

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/source/internal/incrsnap"
)

// Phases of a checkpoint.
const (
	phaseSnapshot = "snapshot"
	phaseStream   = "stream"
)

// checkpoint is the source's position, persisted by the engine as JSON.
// Mid-snapshot:
//
//	{"v":1,"phase":"snapshot","file":"binlog.000002","pos":93889471,"gtid":"0-1-5891",
//	 "tables":{"shop.orders":{"last_key":["41000"]},"shop.items":{"done":true}}}
//
// and while streaming:
//
//	{"v":1,"phase":"stream","file":"binlog.000002","pos":93901234,"gtid":"0-1-5893"}
//
// file/pos is where reading resumes: the end of the last fully emitted
// transaction (or the snapshot's consistent position); gtid is the GTID
// position (MariaDB domain-server-seq list, or a MySQL GTID set) at that
// same point, empty when the server has no GTIDs.
type checkpoint struct {
	Version int                       `json:"v"`
	Phase   string                    `json:"phase"`
	File    string                    `json:"file"`
	Pos     uint64                    `json:"pos"`
	GTID    string                    `json:"gtid,omitempty"`
	Tables  map[string]*tableProgress `json:"tables,omitempty"`
	// Incr is the progress of an incremental snapshot (incremental.go).
	Incr *incrsnap.State `json:"incremental,omitempty"`
	// Captured lists the captured tables (db.table, sorted) while
	// streaming, so that a restart finds tables added to tables since
	// and reads their rows by an incremental snapshot. Absent in older
	// checkpoints.
	Captured []string `json:"captured,omitempty"`
}

// tableProgress is one table's snapshot progress: done, or the key of the
// last row of the last emitted chunk, each column as its text form.
type tableProgress struct {
	Done    bool     `json:"done,omitempty"`
	LastKey []string `json:"last_key,omitempty"`
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
	case phaseSnapshot, phaseStream:
	default:
		return nil, fmt.Errorf("checkpoint phase %q is unknown", cp.Phase)
	}
	if _, err := fileIndex(cp.File); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return &cp, nil
}

func (c *checkpoint) marshal() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain structs of strings and numbers always marshal
	}
	return b
}

// clone copies c deeply enough to be marshalled while c changes.
func (c *checkpoint) clone() *checkpoint {
	cp := *c
	cp.Incr = c.Incr.Clone()
	if c.Tables != nil {
		cp.Tables = make(map[string]*tableProgress, len(c.Tables))
		for k, v := range c.Tables {
			t := *v
			cp.Tables[k] = &t
		}
	}
	return &cp
}

// fileIndex returns the numeric suffix of a binlog file name
// ("binlog.000042" → 42), which orders files.
func fileIndex(name string) (uint64, error) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return 0, fmt.Errorf("binlog file name %q has no numeric suffix", name)
	}
	n, err := strconv.ParseUint(name[i+1:], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("binlog file name %q has no numeric suffix", name)
	}
	return n, nil
}
