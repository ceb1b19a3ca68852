package postgres

import (
	"encoding/json"
	"fmt"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-dev/sluice/source/internal/incrsnap"
)

// Phases of a checkpoint.
const (
	phaseSnapshot = "snapshot"
	phaseStream   = "stream"
)

// checkpoint is the source's position, persisted by the engine as JSON and
// handed back to Run on restart. Example (mid-snapshot):
//
//	{"v":1,"slot":"sluice_p_pg","phase":"snapshot","consistent_point":"0/16B3748",
//	 "tables":{"public.orders":{"done":false,"last_key":["41000"]},"public.items":{"done":true}}}
//
// and while streaming:
//
//	{"v":1,"slot":"sluice_p_pg","phase":"stream","consistent_point":"0/16B3748","lsn":"0/1A2B3C0",
//	 "captured":["public.items","public.orders"]}
//
// with an incremental snapshot running (see incremental.go):
//
//	{..., "incremental":{"tables":[{"table":"public.orders","filter":"id IN (1,5,9)","last_key":["5"]}]}}
type checkpoint struct {
	Version         int                       `json:"v"`
	Slot            string                    `json:"slot"`
	Phase           string                    `json:"phase"`
	ConsistentPoint string                    `json:"consistent_point,omitempty"`
	Tables          map[string]*tableProgress `json:"tables,omitempty"`
	// LSN is the end LSN of the last fully emitted commit (or heartbeat
	// message): streaming resumes after it.
	LSN string `json:"lsn,omitempty"`
	// TxID and TsUs are the xid and commit time (µs) of the newest
	// transaction up to LSN, for Kafka Connect's offsets view (Debezium's
	// txId and ts_usec); absent before the first streamed commit.
	TxID uint32 `json:"txid,omitempty"`
	TsUs int64  `json:"ts_us,omitempty"`
	// Captured lists the tables captured (schema.table, sorted), so that a
	// restart tells a table removed from the publication (its changes
	// since are lost: an error) from one added to tables (added to the
	// publication). Absent in checkpoints of older versions.
	Captured []string `json:"captured,omitempty"`
	// PublicationCreated records that this source created the publication,
	// so drop_slot_on_stop may drop it.
	PublicationCreated bool `json:"publication_created,omitempty"`
	// Incr is the progress of an incremental snapshot (incremental.go):
	// absent when none runs.
	Incr *incrsnap.State `json:"incremental,omitempty"`
	// fresh (not persisted) says that this run created the slot or read
	// the snapshot, so streaming starts with no commit seen yet: the first
	// changes' source.sequence has a null last commit LSN, as Debezium's.
	// A run resumed from a streaming checkpoint starts after the commit
	// the checkpoint names.
	fresh bool
}

// tableProgress is one table's snapshot progress: done, or the key of the
// last row of the last emitted chunk (COPY text of each key column).
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
	for name, p := range cp.Tables {
		if p == nil {
			return nil, fmt.Errorf("checkpoint table %q has no progress", name)
		}
	}
	if cp.Incr != nil {
		for i, t := range cp.Incr.Tables {
			if t == nil || t.Table == "" {
				return nil, fmt.Errorf("checkpoint incremental snapshot table %d has no name", i)
			}
		}
	}
	if _, err := cp.consistentLSN(); err != nil {
		return nil, err
	}
	if _, err := cp.streamLSN(); err != nil {
		return nil, err
	}
	return &cp, nil
}

func (c *checkpoint) consistentLSN() (pglogrepl.LSN, error) {
	if c.ConsistentPoint == "" {
		return 0, nil
	}
	l, err := pglogrepl.ParseLSN(c.ConsistentPoint)
	if err != nil {
		return 0, fmt.Errorf("checkpoint consistent_point: %w", err)
	}
	return l, nil
}

func (c *checkpoint) streamLSN() (pglogrepl.LSN, error) {
	if c.LSN == "" {
		return 0, nil
	}
	l, err := pglogrepl.ParseLSN(c.LSN)
	if err != nil {
		return 0, fmt.Errorf("checkpoint lsn: %w", err)
	}
	return l, nil
}

func (c *checkpoint) marshal() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain structs of strings and bools always marshal
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
