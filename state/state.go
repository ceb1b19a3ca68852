// Package state is sluice's embedded checkpoint store: one bbolt file per
// pipeline under its state directory.
//
// A checkpoint is written in its own bbolt transaction, which fsyncs before
// Put returns; the engine calls Put only for positions that every sink has
// durably written (invariant 1 of the architecture), and only then tells the
// source. The same store will hold partition leases once coordination across
// nodes arrives; keys are namespaced by kind for that reason.
//
// # A damaged file is an error, never a panic nor a fresh start
//
// A state file that is damaged (a disk error, a bad copy, a truncation)
// must not make sluice start over silently — sources would snapshot again,
// or worse resume from a wrong position — nor crash it with a Go panic:
// bbolt trusts its pages and panics, or faults on memory past the end of a
// truncated file, when they are damaged. So:
//
//   - A new file is made whole under a temporary name and linked into place,
//     so state.db, once it exists, always holds sluice's buckets; an empty
//     file, or one without them, is damage, not a new store.
//   - Open locks the file and checks its structure (checkFile) before bbolt
//     reads it; bbolt calls run under a recover that turns a panic into the
//     same error, as a last resort.
//   - bbolt checksums only its meta pages, so every value carries a CRC-32C
//     of its key and bytes, and a manifest lists the sources that have a
//     checkpoint, so a checkpoint that vanished (a damaged page that lost an
//     element) is noticed too. Open verifies them all.
//
// Every such problem is a *DamagedError, whose message names the file, what
// is wrong, and how to recover: restore the file from a backup, or remove it
// to start over, with what starting over means for each kind of source.
//
// One meta page failing its checksum is not damage: it is what a write torn
// by a power loss leaves, and bbolt then uses the other meta page, which
// describes the previous, complete transaction (the previous checkpoint:
// the engine resumes a little earlier, which is safe).
//
// # File format
//
// Format 2 (this version): bucket "_sluice" holds "format" (the format's
// number) and "sources" (a JSON list of the sources that have a
// checkpoint); bucket "checkpoints" holds each source's checkpoint under its
// name. Every value is a record: a big-endian CRC-32C (Castagnoli) of the
// key followed by the payload, then the payload. Format 1 (earlier
// versions) had the bare checkpoints bucket; Open converts it in place, in
// one transaction. Earlier versions of sluice cannot read format 2.
package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var (
	bucketMeta        = []byte("_sluice")
	bucketCheckpoints = []byte("checkpoints")
	keyFormat         = []byte("format")
	keySources        = []byte("sources")
)

// formatVersion is the file format this version writes (see the package doc).
const formatVersion = 2

// Store is an open state file.
type Store struct {
	db   *bolt.DB
	path string
	// broken is set once a bbolt call panicked: the file is damaged and
	// nothing more is read from or written to it.
	broken atomic.Pointer[DamagedError]
}

// FileName is the state file's name inside the state directory.
const FileName = "state.db"

// DamagedError reports a state file that cannot be trusted.
type DamagedError struct {
	Path   string // the state file
	Detail string // what is wrong, for the message
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("state file %s is damaged: %s. %s", e.Path, e.Detail, Advice(e.Path, "rm "+e.Path))
}

// Advice says what a damaged state at path means and how to recover:
// restore it, or remove it (with remove, a shell command) to start over,
// and what starting over gives each kind of source. The embedded store's
// errors give the same advice.
func Advice(path, remove string) string {
	return fmt.Sprintf("sluice will not guess where the sources stopped. "+
		"To recover, restore %s from a backup taken while sluice was stopped, "+
		"or remove it to start over (%s; keep the rest of the state directory: it may hold data not yet delivered, such as the s3 sink's spool). "+
		"Starting over, every source begins as on its first run: "+
		"a postgres source snapshots again and then streams from its replication slot's position, which the slot kept (no change is lost; if you give up the pipeline instead, drop the slot, or it holds WAL forever); "+
		"mysql and mongodb sources snapshot again at a new position, so rows deleted meanwhile stay in the sinks; "+
		"a source with snapshot: never starts at the server's current position and misses the changes made since it stopped (postgres excepted); "+
		"sql_poll reads every row again; a kafka source resumes from its consumer group's committed offsets",
		path, remove)
}

// Open opens (creating if needed) the store in dir. A second process opening
// the same directory waits up to timeout and then fails with an error saying
// another sluice holds it. A damaged file is a *DamagedError.
func Open(dir string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: create state_dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := create(path); err != nil {
			return nil, fmt.Errorf("state: create %s: %w", path, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	if err := lock(f, timeout); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, lockedError(path)
		}
		return nil, fmt.Errorf("state: lock %s: %w", path, err)
	}
	if err := checkFile(f); err != nil {
		f.Close()
		var d *damage
		if errors.As(err, &d) {
			return nil, &DamagedError{Path: path, Detail: d.msg}
		}
		return nil, fmt.Errorf("state: read %s: %w", path, err)
	}
	s := &Store{path: path}
	var db *bolt.DB
	returned := false
	err = s.guard("open", func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout,
			OpenFile: func(string, int, os.FileMode) (*os.File, error) { return f, nil }})
		returned = true
		return err
	})
	if err != nil {
		if !returned {
			f.Close() // bbolt closes it on an error it returns, not on a panic
		}
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, lockedError(path)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
			return nil, &DamagedError{Path: path, Detail: err.Error()}
		}
		var d *DamagedError
		if errors.As(err, &d) {
			return nil, d
		}
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	s.db = db
	if err := s.guard("check", s.init); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func lockedError(path string) error {
	return fmt.Errorf("state: %s is locked by another sluice process (stop it, or give this pipeline its own state_dir)", path)
}

// create makes a new, empty store at path: built under a temporary name,
// then linked into place, so that path never names a file without
// sluice's buckets (see the package doc). A file another process created
// meanwhile wins.
func create(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), FileName+".new-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	tmp.Close()
	defer os.Remove(name)
	if err := os.Remove(name); err != nil { // bbolt initialises only a missing or empty file
		return err
	}
	db, err := bolt.Open(name, 0o600, nil)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketCheckpoints); err != nil {
			return err
		}
		if err := m.Put(keyFormat, seal(keyFormat, []byte(strconv.Itoa(formatVersion)))); err != nil {
			return err
		}
		return m.Put(keySources, seal(keySources, []byte("[]")))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Link fails if path exists, where rename would replace a store that
	// another process created (and may already be using) meanwhile.
	if err := os.Link(name, path); err != nil && !errors.Is(err, fs.ErrExist) {
		if lerr := os.Rename(name, path); lerr != nil {
			return err
		}
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// guard runs f, a call into bbolt, turning a panic (bbolt's reaction to a
// damaged page) or a memory fault into a *DamagedError. After one, the
// store refuses every further call.
func (s *Store) guard(what string, f func() error) (err error) {
	if d := s.broken.Load(); d != nil {
		return d
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			d := &DamagedError{Path: s.path, Detail: fmt.Sprintf("reading it failed (%s: %v)", what, r)}
			s.broken.CompareAndSwap(nil, d)
			err = d
		}
	}()
	return f()
}

// seal makes a record of payload stored under key (see the package doc).
func seal(key, payload []byte) []byte {
	out := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(out, recordSum(key, payload))
	return append(out, payload...)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func recordSum(key, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, payload)
}

// unseal returns a record's payload, or a *DamagedError when the record
// does not match its checksum.
func (s *Store) unseal(what string, key, v []byte) ([]byte, error) {
	if len(v) < 4 || binary.BigEndian.Uint32(v) != recordSum(key, v[4:]) {
		return nil, &DamagedError{Path: s.path, Detail: what + " does not match its checksum"}
	}
	return v[4:], nil
}

func (s *Store) damaged(format string, args ...any) error {
	return &DamagedError{Path: s.path, Detail: fmt.Sprintf(format, args...)}
}

// init converts a format 1 file and verifies every record of a format 2
// file against its checksum and the manifest.
func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var names []string
		err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
		if err != nil {
			return err
		}
		for _, n := range names {
			if n != string(bucketMeta) && n != string(bucketCheckpoints) {
				return s.damaged("it holds an unknown bucket %q", n)
			}
		}
		cps := tx.Bucket(bucketCheckpoints)
		meta := tx.Bucket(bucketMeta)
		switch {
		case meta == nil && cps == nil:
			return s.damaged("it holds none of sluice's buckets")
		case meta == nil:
			return s.upgrade(tx, cps)
		case cps == nil:
			return s.damaged("its checkpoints bucket is missing")
		}
		f, err := s.unseal("the format record", keyFormat, meta.Get(keyFormat))
		if err != nil {
			return err
		}
		if string(f) != strconv.Itoa(formatVersion) {
			return fmt.Errorf("state: %s has format %q, which this version of sluice cannot read (it reads format %d): run the version of sluice that wrote it", s.path, f, formatVersion)
		}
		listed, err := s.manifest(meta)
		if err != nil {
			return err
		}
		found := map[string]bool{}
		err = cps.ForEach(func(k, v []byte) error {
			if v == nil {
				return s.damaged("the checkpoints bucket holds a bucket %q", k)
			}
			if !slices.Contains(listed, string(k)) {
				return s.damaged("it holds a checkpoint for source %q that its list of sources does not name", k)
			}
			found[string(k)] = true
			_, err := s.unseal(fmt.Sprintf("the checkpoint of source %q", k), k, v)
			return err
		})
		if err != nil {
			return err
		}
		for _, n := range listed {
			if !found[n] {
				return s.damaged("the checkpoint of source %q is missing", n)
			}
		}
		return nil
	})
}

// manifest reads the list of sources that have a checkpoint.
func (s *Store) manifest(meta *bolt.Bucket) ([]string, error) {
	b, err := s.unseal("the list of sources", keySources, meta.Get(keySources))
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, s.damaged("the list of sources cannot be read: %v", err)
	}
	return names, nil
}

func putManifest(meta *bolt.Bucket, names []string) error {
	slices.Sort(names)
	b, _ := json.Marshal(names)
	return meta.Put(keySources, seal(keySources, b))
}

// upgrade converts a format 1 file: it seals every checkpoint and writes
// the manifest. Format 1 had no checksums, so its values are taken as they
// are.
func (s *Store) upgrade(tx *bolt.Tx, cps *bolt.Bucket) error {
	type kv struct{ k, v []byte }
	var all []kv
	err := cps.ForEach(func(k, v []byte) error {
		if v == nil {
			return s.damaged("the checkpoints bucket holds a bucket %q", k)
		}
		all = append(all, kv{slices.Clone(k), slices.Clone(v)})
		return nil
	})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(all))
	for _, e := range all {
		if err := cps.Put(e.k, seal(e.k, e.v)); err != nil {
			return err
		}
		names = append(names, string(e.k))
	}
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if err := meta.Put(keyFormat, seal(keyFormat, []byte(strconv.Itoa(formatVersion)))); err != nil {
		return err
	}
	return putManifest(meta, names)
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// Checkpoint returns the stored checkpoint of a source, or nil.
func (s *Store) Checkpoint(source string) ([]byte, error) {
	var out []byte
	err := s.guard("read a checkpoint", func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket(bucketCheckpoints).Get([]byte(source))
			if v == nil {
				return nil
			}
			p, err := s.unseal(fmt.Sprintf("the checkpoint of source %q", source), []byte(source), v)
			out = slices.Clone(p)
			return err
		})
	})
	if err != nil {
		var d *DamagedError
		if errors.As(err, &d) {
			return nil, d
		}
		return nil, fmt.Errorf("state: read checkpoint of %s: %w", source, err)
	}
	return out, nil
}

// SetCheckpoint durably stores the checkpoint of a source.
func (s *Store) SetCheckpoint(source string, cp []byte) error {
	err := s.guard("write a checkpoint", func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketCheckpoints)
			key := []byte(source)
			known := b.Get(key) != nil
			if err := b.Put(key, seal(key, cp)); err != nil || known {
				return err
			}
			meta := tx.Bucket(bucketMeta)
			names, err := s.manifest(meta)
			if err != nil {
				return err
			}
			return putManifest(meta, append(names, source))
		})
	})
	if err != nil {
		var d *DamagedError
		if errors.As(err, &d) {
			return d
		}
		return fmt.Errorf("state: write checkpoint of %s: %w", source, err)
	}
	return nil
}

// DeleteCheckpoint forgets a source's checkpoint (a reset).
func (s *Store) DeleteCheckpoint(source string) error {
	return s.guard("delete a checkpoint", func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			if err := tx.Bucket(bucketCheckpoints).Delete([]byte(source)); err != nil {
				return err
			}
			meta := tx.Bucket(bucketMeta)
			names, err := s.manifest(meta)
			if err != nil {
				return err
			}
			return putManifest(meta, slices.DeleteFunc(names, func(n string) bool { return n == source }))
		})
	})
}

// Checkpoints returns every stored checkpoint by source name.
func (s *Store) Checkpoints() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.guard("read the checkpoints", func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketCheckpoints).ForEach(func(k, v []byte) error {
				p, err := s.unseal(fmt.Sprintf("the checkpoint of source %q", k), k, v)
				out[string(k)] = slices.Clone(p)
				return err
			})
		})
	})
	return out, err
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }
