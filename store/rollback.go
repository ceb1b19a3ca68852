package store

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// testHookRollback, when set, is called after each rollback batch is
// applied; the crash tests kill the process there.
var testHookRollback func(db *DB, batches int)

// rollback undoes every change of an epoch above its processor's committed
// epoch, before anything reads: it walks the undo records newest first
// (descending processor, epoch, sequence) and writes back the value each
// recorded, deleting the record in the same batch. Batches hold a bounded
// number of records; after a crash in the middle, the records left are the
// older ones, and finishing them gives the same result, since for each key
// the oldest record of the uncommitted epochs, applied last, is the value
// at the last commit. Records at or below the committed epoch cannot exist
// (Commit deletes them in its own write) and are deleted if found.
func (db *DB) rollback() error {
	const op = "roll back uncommitted changes"
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{tagUndo}, UpperBound: []byte{tagUndo + 1}})
	if err != nil {
		return db.wrap(op, err)
	}
	type proc struct {
		committed uint64
		prefix    []byte
	}
	procs := map[string]proc{}
	b := db.pdb.NewBatch()
	defer func() { b.Close() }()
	var key []byte
	n, batches := 0, 0
	for valid := it.Last(); valid; valid = it.Prev() {
		name, epoch, _, err := parseUndoKey(it.Key())
		if err != nil {
			it.Close()
			return db.corrupt(op, fmt.Errorf("undo key %q: %v", it.Key(), err))
		}
		p, ok := procs[name]
		if !ok {
			c, err := db.committedEpoch(name)
			if err != nil {
				it.Close()
				return err
			}
			p = proc{committed: c, prefix: spacePrefix(tagState, name)}
			procs[name] = p
		}
		if epoch > p.committed {
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return db.wrap(op, err)
			}
			k, old, present, err := decodeUndo(v)
			if err != nil {
				it.Close()
				return db.corrupt(op, fmt.Errorf("undo record %q of processor %s: %v", it.Key(), name, err))
			}
			key = append(append(key[:0], p.prefix...), k...)
			if present {
				err = b.Set(key, old, nil)
			} else {
				err = b.Delete(key, nil)
			}
			if err != nil {
				it.Close()
				return db.wrap(op, err)
			}
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			it.Close()
			return db.wrap(op, err)
		}
		if n++; n == db.limits.rollbackChunk {
			if err := db.pdb.Apply(b, pebble.NoSync); err != nil {
				it.Close()
				return db.wrap(op, err)
			}
			b.Reset()
			n = 0
			batches++
			if testHookRollback != nil {
				testHookRollback(db, batches)
			}
		}
	}
	if err := it.Close(); err != nil {
		return db.wrap(op, err)
	}
	switch {
	case n > 0:
		err = db.pdb.Apply(b, pebble.Sync)
	case batches > 0:
		err = db.pdb.LogData([]byte("rollback"), pebble.Sync) // sync the batches applied
	}
	return db.wrap(op, err)
}
