package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-dev/sluice/state"
)

// Options bound the store's memory and inject its clock. The zero value is
// usable.
type Options struct {
	// MemTableSize is the size of one Pebble memtable (default 8 MiB); at
	// most two are held.
	MemTableSize uint64
	// CacheSize is Pebble's memory budget (default 32 MiB): the memtables
	// are reserved inside it, the rest caches blocks. It must exceed twice
	// MemTableSize, or nothing is cached.
	CacheSize int64
	// LockTimeout is how long Open waits for another process to release
	// the state directory (default 0: fail at once).
	LockTimeout time.Duration
	// Clock is the leases' time. Default: the wall clock at Open, advanced
	// by the monotonic clock, so a wall-clock step while running neither
	// shortens nor stretches a lease.
	Clock func() time.Time
	// Logger receives Pebble's background errors (default slog.Default()).
	Logger *slog.Logger

	// fs is the file system (tests: a crashable in-memory one).
	fs vfs.FS
}

const (
	defaultMemTableSize = 8 << 20
	defaultCacheSize    = 32 << 20
	// StoreDirName is the Pebble database's directory inside the state dir.
	StoreDirName = "store"
	lockFileName = "store.lock"
)

// DB is one open store: checkpoints, operator state and leases of one
// pipeline, in one Pebble database at <state_dir>/store.
type DB struct {
	fs    vfs.FS
	dir   string // the pipeline's state directory
	path  string // <dir>/store, named in every error
	pdb   *pebble.DB
	lock  io.Closer
	clock func() time.Time
	// limits are the operator states' bounds (tests shrink them).
	limits limits

	// commitMu serialises Commits, so that the epochs they write only grow.
	commitMu sync.Mutex
	// leaseMu serialises lease updates: each reads a row and writes it back.
	leaseMu sync.Mutex

	mu struct {
		sync.Mutex
		states map[string]*opState // by processor name
	}
	closed atomic.Bool
}

// Open opens the store of the state directory dir, creating it if needed.
// A missing <dir>/store is a fresh start; an existing one is opened as it
// is (a damaged one is an error naming the recovery, never a silent fresh
// start). Checkpoints of an older sluice (<dir>/state.db) are imported once.
// Changes of operator state that no Commit made durable are rolled back
// before Open returns.
func Open(dir string, opts Options) (*DB, error) {
	if opts.MemTableSize == 0 {
		opts.MemTableSize = defaultMemTableSize
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = defaultCacheSize
	}
	if opts.CacheSize < 2*int64(opts.MemTableSize)+4<<20 {
		return nil, fmt.Errorf("store: cache size %d must exceed twice the memtable size %d by 4 MiB at least: Pebble reserves the memtables inside the cache", opts.CacheSize, opts.MemTableSize)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.fs == nil {
		opts.fs = vfs.Default
	}
	if opts.Clock == nil {
		t0 := time.Now()
		opts.Clock = func() time.Time { return t0.Add(time.Since(t0)).Round(0) }
	}
	if err := mkdirAllSynced(opts.fs, dir); err != nil {
		return nil, fmt.Errorf("store: create state_dir %s: %w", dir, err)
	}
	lock, err := lockDir(opts.fs, dir, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	db := &DB{fs: opts.fs, dir: dir, path: filepath.Join(dir, StoreDirName), lock: lock, clock: opts.Clock, limits: defaultLimits}
	db.mu.states = map[string]*opState{}
	if err := db.open(opts); err != nil {
		if db.pdb != nil {
			db.pdb.Close()
		}
		lock.Close()
		return nil, err
	}
	return db, nil
}

// lockDir takes <dir>/store.lock for the life of the DB: it covers the
// creation of the store and the import of state.db as well as Pebble's own
// lock inside the store.
func lockDir(fsys vfs.FS, dir string, timeout time.Duration) (io.Closer, error) {
	path := filepath.Join(dir, lockFileName)
	deadline := time.Now().Add(timeout)
	for {
		l, err := fsys.Lock(path)
		if err == nil {
			return l, nil
		}
		var pe *fs.PathError
		held := !errors.As(err, &pe) && (errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
			strings.Contains(err.Error(), "lock held by current process"))
		if !held {
			return nil, fmt.Errorf("store: lock %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("store: %s is locked by another sluice process (stop it, or give this pipeline its own state_dir)", dir)
		}
		time.Sleep(50 * time.Millisecond) // polling a file lock: there is nothing to wait on
	}
}

func (db *DB) pebbleOptions(opts Options) *pebble.Options {
	po := &pebble.Options{
		MemTableSize:                opts.MemTableSize,
		MemTableStopWritesThreshold: 2,
		CacheSize:                   opts.CacheSize,
		MaxOpenFiles:                256,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      pebbleLogger{db: db, log: opts.Logger},
		FS:                          opts.fs,
	}
	// Every first change of a key in an epoch reads the key for its undo
	// record, and inserts of new keys (join rows, new groups) read keys
	// that do not exist: bloom filters answer those without a data block.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	po.EventListener = &pebble.EventListener{
		BackgroundError: func(err error) {
			opts.Logger.Error("store: background error", "dir", db.path, "err", db.wrap("background work", err))
		},
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			opts.Logger.Error("store: data corruption", "dir", db.path, "err", db.corrupt(info.Path, info.Details))
		},
	}
	return po
}

func (db *DB) open(opts Options) error {
	tmp := db.path + ".tmp"
	if err := db.fs.RemoveAll(tmp); err != nil {
		return fmt.Errorf("store: remove the unfinished %s: %w", tmp, err)
	}
	_, err := db.fs.Stat(db.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := db.create(tmp, opts); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("store: %w", err)
	}
	po := db.pebbleOptions(opts)
	// The directory exists, so it was created completely (see create):
	// without a MANIFEST it is damaged, not new.
	po.ErrorIfNotExists = true
	pdb, err := pebble.Open(db.path, po)
	if err != nil {
		if errors.Is(err, pebble.ErrDBDoesNotExist) {
			return db.corrupt("open", errors.New("its MANIFEST is missing"))
		}
		if pebble.IsCorruptionError(err) || errors.Is(err, os.ErrNotExist) {
			// A file the MANIFEST or its marker names is gone.
			return db.corrupt("open", err)
		}
		return fmt.Errorf("store: cannot open %s: %v; if its files are damaged, %s", db.path, err, db.recovery())
	}
	db.pdb = pdb
	if err := db.checkLayout(); err != nil {
		return err
	}
	if err := db.migrate(); err != nil {
		return err
	}
	return db.rollback()
}

// create makes a new store in tmp and renames it to db.path, so that an
// existing db.path was always created completely: a crash during creation
// leaves only tmp, which the next Open removes.
func (db *DB) create(tmp string, opts Options) error {
	pdb, err := pebble.Open(tmp, db.pebbleOptions(opts))
	if err != nil {
		return fmt.Errorf("store: create %s: %w", tmp, err)
	}
	err = pdb.Set(metaFormat, []byte{layoutVersion}, pebble.Sync)
	if cerr := pdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: create %s: %w", tmp, err)
	}
	if err := db.fs.Rename(tmp, db.path); err != nil {
		return fmt.Errorf("store: create %s: %w", db.path, err)
	}
	return syncDir(db.fs, db.dir)
}

func (db *DB) checkLayout() error {
	v, closer, err := db.pdb.Get(metaFormat)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return db.corrupt("open", errors.New("its layout version is missing"))
		}
		return db.wrap("open", err)
	}
	defer closer.Close()
	if len(v) != 1 || v[0] != layoutVersion {
		return fmt.Errorf("store: %s has layout version %v, this sluice reads %d: run the sluice that wrote it, or remove the directory to start over (the sources then snapshot again)", db.path, v, layoutVersion)
	}
	return nil
}

// mkdirAllSynced creates dir and its missing parents, syncing the parent of
// each directory it creates: otherwise a power loss could take the new
// state directory away with everything synced inside it, and the next Open
// would start afresh without a word.
func mkdirAllSynced(fsys vfs.FS, dir string) error {
	dir = filepath.Clean(dir)
	if _, err := fsys.Stat(dir); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSynced(fsys, parent); err != nil {
			return err
		}
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return syncDir(fsys, parent)
}

func syncDir(fsys vfs.FS, dir string) error {
	d, err := fsys.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	return nil
}

// Close closes the store; no other call may be in progress. Changes not
// committed are dropped (the next Open rolls back those already written).
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	db.mu.Lock()
	for _, s := range db.mu.states {
		s.mu.Lock()
		if s.mu.batch != nil {
			s.mu.batch.Close()
			s.mu.batch = nil
		}
		s.mu.err = ErrClosed
		s.mu.Unlock()
	}
	db.mu.Unlock()
	err := db.pdb.Close()
	if lerr := db.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("store: close %s: %w", db.path, err)
	}
	return nil
}

// ErrClosed is returned by calls on a closed store.
var ErrClosed = errors.New("store: closed")

// ErrCorrupt marks errors caused by damaged store files or records:
// errors.Is(err, ErrCorrupt).
var ErrCorrupt = errors.New("store damaged")

// CorruptError says which store is damaged and how to recover.
type CorruptError struct {
	Dir string // the store directory
	Op  string // what was being done
	Err error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: %s is damaged (%s: %v). %s", e.Dir, e.Op, e.Err, recoveryText(e.Dir))
}

func (e *CorruptError) Unwrap() error        { return e.Err }
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// recoveryText is state.Advice for the store directory; starting over also
// empties the operator state (SQL tables, aggregates, join windows), which
// is rebuilt from what the sources read again.
func recoveryText(dir string) string {
	return state.Advice(dir, "rm -r "+dir) + "; operator state (SQL tables, aggregates, join windows) starts empty and is rebuilt from what the sources read again"
}

func (db *DB) recovery() string { return recoveryText(db.path) }

func (db *DB) corrupt(op string, err error) error {
	return &CorruptError{Dir: db.path, Op: op, Err: err}
}

// wrap names the store in a Pebble error, and the recovery when the error
// is a corruption.
func (db *DB) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *CorruptError
	if errors.As(err, &ce) || errors.Is(err, ErrClosed) {
		return err
	}
	if pebble.IsCorruptionError(err) {
		return db.corrupt(op, err)
	}
	return fmt.Errorf("store: %s: %s: %w", db.path, op, err)
}

func (db *DB) checkOpen() error {
	if db.closed.Load() {
		return ErrClosed
	}
	return nil
}

// pebbleLogger keeps Pebble's informational chatter out of the logs and
// names the store in its errors. Pebble calls Fatalf only when it cannot go
// on (a failed WAL or MANIFEST write): the process exits, and the next Open
// recovers the last commit.
type pebbleLogger struct {
	db  *DB
	log *slog.Logger
}

func (l pebbleLogger) Infof(string, ...any) {}
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("store: "+fmt.Sprintf(format, args...), "dir", l.db.path)
}
func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error("store: fatal: "+fmt.Sprintf(format, args...), "dir", l.db.path,
		"recovery", "restart: the store recovers its last commit; if it reports damage, "+l.db.recovery())
	os.Exit(70)
}
