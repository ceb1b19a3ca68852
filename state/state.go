// Package state is sluice's embedded checkpoint store: one bbolt file per
// pipeline under its state directory.
//
// A checkpoint is written in its own bbolt transaction, which fsyncs before
// Put returns; the engine calls Put only for positions that every sink has
// durably written (invariant 1 of the architecture), and only then tells the
// source. The same store will hold partition leases once coordination across
// nodes arrives; keys are namespaced by kind for that reason.
package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketCheckpoints = []byte("checkpoints")

// Store is an open state file.
type Store struct {
	db *bolt.DB
}

// FileName is the state file's name inside the state directory.
const FileName = "state.db"

// Open opens (creating if needed) the store in dir. A second process opening
// the same directory waits up to timeout and then fails with an error saying
// another sluice holds it.
func Open(dir string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: create state_dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("state: %s is locked by another sluice process (stop it, or give this pipeline its own state_dir)", path)
		}
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketCheckpoints)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state: init %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Checkpoint returns the stored checkpoint of a source, or nil.
func (s *Store) Checkpoint(source string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCheckpoints).Get([]byte(source)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: read checkpoint of %s: %w", source, err)
	}
	return out, nil
}

// SetCheckpoint durably stores the checkpoint of a source.
func (s *Store) SetCheckpoint(source string, cp []byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCheckpoints).Put([]byte(source), cp)
	})
	if err != nil {
		return fmt.Errorf("state: write checkpoint of %s: %w", source, err)
	}
	return nil
}

// DeleteCheckpoint forgets a source's checkpoint (a reset).
func (s *Store) DeleteCheckpoint(source string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCheckpoints).Delete([]byte(source))
	})
}

// Checkpoints returns every stored checkpoint by source name.
func (s *Store) Checkpoints() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCheckpoints).ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, err
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }
