package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-dev/sluice/state"
)

var _ Checkpoints = (*DB)(nil)

// Checkpoint returns the stored checkpoint of a source, or nil.
func (db *DB) Checkpoint(source string) ([]byte, error) {
	if err := db.checkOpen(); err != nil {
		return nil, err
	}
	v, closer, err := db.pdb.Get(checkpointKey(source))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, db.wrap("read the checkpoint of "+source, err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// SetCheckpoint durably stores the checkpoint of one source (synced).
func (db *DB) SetCheckpoint(source string, cp []byte) error {
	if err := db.checkOpen(); err != nil {
		return err
	}
	return db.wrap("write the checkpoint of "+source, db.pdb.Set(checkpointKey(source), cp, pebble.Sync))
}

// DeleteCheckpoint forgets a source's checkpoint (a reset), synced.
func (db *DB) DeleteCheckpoint(source string) error {
	if err := db.checkOpen(); err != nil {
		return err
	}
	return db.wrap("delete the checkpoint of "+source, db.pdb.Delete(checkpointKey(source), pebble.Sync))
}

// Checkpoints returns every stored checkpoint by source name.
func (db *DB) Checkpoints() (map[string][]byte, error) {
	if err := db.checkOpen(); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{tagCheckpoint}, UpperBound: []byte{tagCheckpoint + 1}})
	if err != nil {
		return nil, db.wrap("read checkpoints", err)
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, db.wrap("read checkpoints", err)
		}
		out[string(it.Key()[1:])] = bytes.Clone(v)
	}
	if err := it.Close(); err != nil {
		return nil, db.wrap("read checkpoints", err)
	}
	return out, nil
}

// Commit makes, in one atomic synced write, c.Checkpoints durable together
// with every change of the processors in c.Processors in epochs ≤ c.Epoch.
// After Commit returns, those processors' Committed() is c.Epoch, and
// changes in those epochs are refused (the engine must Begin a later one).
// Commit may run while the processors work on later epochs; it must not be
// called from inside a State call (a Scan's fn).
func (db *DB) Commit(c Commit) error {
	if err := db.checkOpen(); err != nil {
		return err
	}
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	states := make([]*opState, 0, len(c.Processors))
	for _, p := range c.Processors {
		s, err := db.state(p)
		if err != nil {
			return err
		}
		// Seal first: from here on, changes in epochs ≤ c.Epoch are
		// refused, so the pending ones flushed now are all there is.
		if err := s.seal(c.Epoch); err != nil {
			return err
		}
		states = append(states, s)
	}
	b := db.pdb.NewBatch()
	defer b.Close()
	for src, cp := range c.Checkpoints {
		if err := b.Set(checkpointKey(src), cp, nil); err != nil {
			return db.wrap("commit", err)
		}
	}
	var ev [8]byte
	for _, s := range states {
		if err := b.Set(epochKey(s.name), appendU64(ev[:0], c.Epoch), nil); err != nil {
			return db.wrap("commit", err)
		}
		lo, hi := s.undoRange(c.Epoch)
		if err := b.DeleteRange(lo, hi, nil); err != nil {
			return db.wrap("commit", err)
		}
	}
	if err := db.pdb.Apply(b, pebble.Sync); err != nil {
		return db.wrap("commit", err)
	}
	for _, s := range states {
		s.committed.Store(c.Epoch)
	}
	return nil
}

// migrate imports the checkpoints of an older sluice's state.db (package
// state, bbolt) once, then renames it to state.db.migrated. Every step can
// be interrupted: the import is one synced batch and happens only while
// the store has no checkpoint; the rename happens only after it. A crash
// before the rename leaves both, with equal checkpoints, and the next Open
// just renames.
func (db *DB) migrate() error {
	old := filepath.Join(db.dir, state.FileName)
	if _, err := db.fs.Stat(old); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("store: migrate %s: %w", old, err)
	}
	if err := db.importStateDB(old); err != nil {
		return err
	}
	return finishMigration(db.fs, db.dir)
}

func (db *DB) importStateDB(old string) error {
	st, err := state.Open(db.dir, time.Second)
	if err != nil {
		return fmt.Errorf("store: import the checkpoints of %s: %w", old, err)
	}
	cps, err := st.Checkpoints()
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: import the checkpoints of %s: %w", old, err)
	}
	have, err := db.Checkpoints()
	if err != nil {
		return err
	}
	if len(have) > 0 {
		for src, cp := range cps {
			if h, ok := have[src]; !ok || !bytes.Equal(h, cp) {
				return fmt.Errorf("store: %s (the checkpoints of an older sluice) and %s both hold checkpoints, and they differ (source %q): remove %s to keep the store's, or remove %s to import the older file",
					old, db.path, src, old, db.path)
			}
		}
		return nil // imported before a crash; only the rename is left
	}
	if len(cps) == 0 {
		return nil
	}
	b := db.pdb.NewBatch()
	defer b.Close()
	for src, cp := range cps {
		if err := b.Set(checkpointKey(src), cp, nil); err != nil {
			return db.wrap("import "+old, err)
		}
	}
	return db.wrap("import "+old, db.pdb.Apply(b, pebble.Sync))
}

// finishMigration renames state.db once its checkpoints are in the store.
func finishMigration(fsys vfs.FS, dir string) error {
	old := filepath.Join(dir, state.FileName)
	if err := fsys.Rename(old, old+".migrated"); err != nil {
		return fmt.Errorf("store: migrate %s: %w", old, err)
	}
	return syncDir(fsys, dir)
}
