package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Lease statuses.
const (
	StatusOpen  = "open"  // no owner: Acquire may take it
	StatusOwned = "owned" // held until Expires
	StatusDone  = "done"  // completed: never handed out again
	// StatusFailed: given up (the work cannot be done as configured);
	// never handed out again until Reopen.
	StatusFailed = "failed"
)

// embeddedLeases is the Leases of one namespace in the embedded store: one
// row per partition at l|ns|key, and, for partitions not done, an index
// entry at k|ns|kind|key, so that Acquire reads only the candidates of its
// kind. Every change is one synced Pebble batch, made under DB.leaseMu: a
// read of the row, the check, the write. The rules are those of the
// PostgreSQL lease table (namespace, key, kind, owner, status, progress,
// expires, version, epoch), one statement each:
//
//   - Create: INSERT … ON CONFLICT DO NOTHING (status open, epoch 0, version 1).
//   - Acquire: pick a row of the kind with status open, or owned with
//     expires ≤ now; UPDATE … SET owner, status owned, epoch = epoch+1,
//     version = version+1, expires = now+ttl WHERE key = … AND version = the
//     version read (retry on no row).
//   - Renew, Complete, Fail, Release: UPDATE … WHERE key = … AND owner = …
//     AND epoch = … AND status = 'owned'; no row means ErrLeaseLost. A lease
//     past its expiry that nobody took can still be renewed: no other owner
//     has written under a later epoch.
//   - Reopen: UPDATE … SET status open WHERE key = … AND status = 'failed'
//     AND version = the version read.
//
// now is the store's clock (Options.Clock), never the caller's.
type embeddedLeases struct {
	db     *DB
	ns     string
	rows   []byte // l|ns
	byKind []byte // k|ns
}

var _ Leases = (*embeddedLeases)(nil)

// Leases returns the leases of a namespace. Namespaces are separate: a new
// namespace starts with no partitions.
func (db *DB) Leases(namespace string) Leases {
	return &embeddedLeases{db: db, ns: namespace, rows: spacePrefix(tagLease, namespace), byKind: spacePrefix(tagLeaseKind, namespace)}
}

func (ls *embeddedLeases) rowKey(key string) []byte {
	return append(append([]byte(nil), ls.rows...), key...)
}

func (ls *embeddedLeases) kindKey(kind, key string) []byte {
	return append(appendName(append([]byte(nil), ls.byKind...), kind), key...)
}

// get reads a partition's row; ok is false when there is none.
func (ls *embeddedLeases) get(key string) (l Lease, ok bool, err error) {
	v, closer, err := ls.db.pdb.Get(ls.rowKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return l, false, nil
	}
	if err != nil {
		return l, false, ls.db.wrap("read lease "+key, err)
	}
	defer closer.Close()
	l, err = decodeLease(v)
	if err != nil {
		return l, false, ls.db.corrupt("read lease "+key, err)
	}
	l.Key = key
	return l, true, nil
}

func (ls *embeddedLeases) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ls.db.checkOpen(); err != nil {
		return err
	}
	ls.db.leaseMu.Lock()
	return nil
}

func (ls *embeddedLeases) end() { ls.db.leaseMu.Unlock() }

// write stores l (and its index entry) in one synced batch.
func (ls *embeddedLeases) write(l Lease) error {
	b := ls.db.pdb.NewBatch()
	defer b.Close()
	err := b.Set(ls.rowKey(l.Key), encodeLease(l), nil)
	if err == nil {
		if l.Status == StatusDone || l.Status == StatusFailed {
			err = b.Delete(ls.kindKey(l.Kind, l.Key), nil)
		} else {
			err = b.Set(ls.kindKey(l.Kind, l.Key), nil, nil)
		}
	}
	if err == nil {
		err = ls.db.pdb.Apply(b, pebble.Sync)
	}
	return ls.db.wrap("write lease "+l.Key, err)
}

// Create adds the partitions that do not exist yet with status open.
func (ls *embeddedLeases) Create(ctx context.Context, kind string, keys []string) error {
	if err := ls.begin(ctx); err != nil {
		return err
	}
	defer ls.end()
	b := ls.db.pdb.NewBatch()
	defer b.Close()
	for _, key := range keys {
		_, ok, err := ls.get(key)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		l := Lease{Key: key, Kind: kind, Status: StatusOpen, Version: 1}
		if err := b.Set(ls.rowKey(key), encodeLease(l), nil); err != nil {
			return ls.db.wrap("create lease "+key, err)
		}
		if err := b.Set(ls.kindKey(kind, key), nil, nil); err != nil {
			return ls.db.wrap("create lease "+key, err)
		}
	}
	if b.Empty() {
		return nil
	}
	return ls.db.wrap("create leases", ls.db.pdb.Apply(b, pebble.Sync))
}

// Acquire takes the first partition of kind (in key order) that is open or
// whose lease has expired.
func (ls *embeddedLeases) Acquire(ctx context.Context, kind, owner string, ttl time.Duration) (Lease, bool, error) {
	if ttl <= 0 {
		return Lease{}, false, fmt.Errorf("store: acquire a lease of kind %s: ttl %v is not positive", kind, ttl)
	}
	if err := ls.begin(ctx); err != nil {
		return Lease{}, false, err
	}
	defer ls.end()
	now := ls.db.clock()
	lo := appendName(append([]byte(nil), ls.byKind...), kind)
	it, err := ls.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return Lease{}, false, ls.db.wrap("acquire a lease of kind "+kind, err)
	}
	var found Lease
	var ok bool
	for valid := it.First(); valid && !ok; valid = it.Next() {
		key := string(it.Key()[len(lo):])
		l, exists, gerr := ls.get(key)
		switch {
		case gerr != nil:
			err = gerr
		case !exists || l.Kind != kind || l.Status == StatusDone || l.Status == StatusFailed:
			err = ls.db.corrupt("acquire a lease of kind "+kind, fmt.Errorf("index entry of %q does not match its row", key))
		case l.Status == StatusOpen || !now.Before(l.Expires):
			found, ok = l, true
		}
		if err != nil {
			break
		}
	}
	if cerr := it.Close(); err == nil {
		err = ls.db.wrap("acquire a lease of kind "+kind, cerr)
	}
	if err != nil || !ok {
		return Lease{}, false, err
	}
	found.Owner, found.Status = owner, StatusOwned
	found.Epoch++
	found.Version++
	found.Expires = now.Add(ttl)
	if err := ls.write(found); err != nil {
		return Lease{}, false, err
	}
	return found, true, nil
}

// held reads l's row and checks that l's owner still holds it at l.Epoch.
func (ls *embeddedLeases) held(l Lease) (Lease, error) {
	cur, ok, err := ls.get(l.Key)
	if err != nil {
		return cur, err
	}
	if !ok || cur.Status != StatusOwned || cur.Owner != l.Owner || cur.Epoch != l.Epoch {
		return cur, fmt.Errorf("store: lease %s of %s at epoch %d: %w", l.Key, l.Owner, l.Epoch, ErrLeaseLost)
	}
	return cur, nil
}

// Renew extends a held lease to now+ttl and stores progress (nil keeps the
// stored progress).
func (ls *embeddedLeases) Renew(ctx context.Context, l Lease, progress []byte, ttl time.Duration) (Lease, error) {
	if ttl <= 0 {
		return Lease{}, fmt.Errorf("store: renew lease %s: ttl %v is not positive", l.Key, ttl)
	}
	if err := ls.begin(ctx); err != nil {
		return Lease{}, err
	}
	defer ls.end()
	cur, err := ls.held(l)
	if err != nil {
		return Lease{}, err
	}
	if progress != nil {
		cur.Progress = bytes.Clone(progress)
	}
	cur.Version++
	cur.Expires = ls.db.clock().Add(ttl)
	if err := ls.write(cur); err != nil {
		return Lease{}, err
	}
	return cur, nil
}

// Complete marks a held partition done, with its final progress (nil keeps
// the stored progress).
func (ls *embeddedLeases) Complete(ctx context.Context, l Lease, progress []byte) error {
	return ls.finish(ctx, l, progress, StatusDone)
}

// Fail marks a held partition failed, with its final progress (nil keeps
// the stored progress).
func (ls *embeddedLeases) Fail(ctx context.Context, l Lease, progress []byte) error {
	return ls.finish(ctx, l, progress, StatusFailed)
}

// Reopen sets a failed partition back to open if its version is still
// l.Version.
func (ls *embeddedLeases) Reopen(ctx context.Context, l Lease, progress []byte) error {
	if err := ls.begin(ctx); err != nil {
		return err
	}
	defer ls.end()
	cur, ok, err := ls.get(l.Key)
	if err != nil {
		return err
	}
	if !ok || cur.Status != StatusFailed || cur.Version != l.Version {
		return fmt.Errorf("store: reopen lease %s at version %d: %w", l.Key, l.Version, ErrLeaseLost)
	}
	if progress != nil {
		cur.Progress = bytes.Clone(progress)
	}
	cur.Owner, cur.Status = "", StatusOpen
	cur.Version++
	return ls.write(cur)
}

// finish ends a held lease with status done or failed.
func (ls *embeddedLeases) finish(ctx context.Context, l Lease, progress []byte, status string) error {
	if err := ls.begin(ctx); err != nil {
		return err
	}
	defer ls.end()
	cur, err := ls.held(l)
	if err != nil {
		return err
	}
	if progress != nil {
		cur.Progress = bytes.Clone(progress)
	}
	cur.Status = status
	cur.Version++
	cur.Expires = time.Time{}
	return ls.write(cur)
}

// Release gives a held partition back (status open, no owner), keeping its
// progress for the next owner.
func (ls *embeddedLeases) Release(ctx context.Context, l Lease) error {
	if err := ls.begin(ctx); err != nil {
		return err
	}
	defer ls.end()
	cur, err := ls.held(l)
	if err != nil {
		return err
	}
	cur.Owner, cur.Status = "", StatusOpen
	cur.Version++
	cur.Expires = time.Time{}
	return ls.write(cur)
}

// List returns the partitions whose keys start with prefix, in key order.
func (ls *embeddedLeases) List(ctx context.Context, prefix string) ([]Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ls.db.checkOpen(); err != nil {
		return nil, err
	}
	lo := ls.rowKey(prefix)
	it, err := ls.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, ls.db.wrap("list leases", err)
	}
	var out []Lease
	for valid := it.First(); valid; valid = it.Next() {
		v, verr := it.ValueAndErr()
		if verr != nil {
			err = ls.db.wrap("list leases", verr)
			break
		}
		key := string(it.Key()[len(ls.rows):])
		l, derr := decodeLease(v)
		if derr != nil {
			err = ls.db.corrupt("list leases", fmt.Errorf("lease %s: %v", key, derr))
			break
		}
		l.Key = key
		out = append(out, l)
	}
	if cerr := it.Close(); err == nil {
		err = ls.db.wrap("list leases", cerr)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
