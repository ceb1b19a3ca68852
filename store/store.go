package store

import (
	"context"
	"errors"
	"time"

	"github.com/sluice-dev/sluice/component"
)

// Checkpoints hold each source's position.
type Checkpoints interface {
	// Checkpoint returns the stored checkpoint of a source, or nil.
	Checkpoint(source string) ([]byte, error)
	// SetCheckpoint durably stores the checkpoint of one source that no
	// stateful processor reads (a Commit without state).
	SetCheckpoint(source string, cp []byte) error
}

// OperatorState is the engine's side of one processor's State.
type OperatorState interface {
	component.State
	// Begin starts epoch e: changes made from now on belong to it. Epochs
	// passed to Begin grow; e is greater than Committed().
	Begin(e uint64)
	// Committed is the processor's last committed epoch (0: none); the
	// state reflects exactly the changes up to it after Open.
	Committed() uint64
}

// Commit is one atomic, synced step.
type Commit struct {
	// Checkpoints to store, by source name.
	Checkpoints map[string][]byte
	// Processors whose changes in epochs ≤ Epoch become durable.
	Processors []string
	Epoch      uint64
}

// Lease is a partition of work held by one owner until Expires. Epoch grows
// with every acquisition of the partition; writes made under a lease carry
// it, so a node that lost its lease can be refused (fencing).
type Lease struct {
	Key      string // partition key, e.g. "stream/shop" or "chunk/shop/public.t/17"
	Kind     string // "leader", "stream", "chunk", ...
	Owner    string // node id
	Status   string // "open", "owned", "done", "failed"
	Progress []byte // a JSON text, owner-defined (the PostgreSQL store keeps it as json, byte for byte)
	Epoch    uint64
	Version  uint64 // bumped by every change; updates are conditional on it
	Expires  time.Time
}

// ErrLeaseLost is returned when a lease is no longer held by the caller
// (expired and taken, or released).
var ErrLeaseLost = errors.New("lease lost")

// Leases hand partitions of work to owners. Times come from the store
// (for PostgreSQL: now() of the server), never from the caller's clock.
type Leases interface {
	// Create adds partitions that do not exist yet (existing keys are left
	// alone) with status "open".
	Create(ctx context.Context, kind string, keys []string) error
	// Acquire takes one partition of kind that is open or whose lease has
	// expired, for owner, for ttl; ok is false when none is available.
	Acquire(ctx context.Context, kind, owner string, ttl time.Duration) (l Lease, ok bool, err error)
	// Renew extends a held lease and stores progress; ErrLeaseLost when it
	// is no longer held at l.Epoch.
	Renew(ctx context.Context, l Lease, progress []byte, ttl time.Duration) (Lease, error)
	// Complete marks a held partition done; ErrLeaseLost when no longer held.
	Complete(ctx context.Context, l Lease, progress []byte) error
	// Release gives a held partition back (status open) for another owner.
	Release(ctx context.Context, l Lease) error
	// Fail marks a held partition failed, with its final progress (nil
	// keeps it): like done, it is never handed out again, until Reopen.
	// ErrLeaseLost when no longer held.
	Fail(ctx context.Context, l Lease, progress []byte) error
	// Reopen sets a failed partition back to open with progress (nil keeps
	// it), if its version is still l.Version (else ErrLeaseLost: someone
	// changed it since it was read).
	Reopen(ctx context.Context, l Lease, progress []byte) error
	// List returns the partitions whose keys start with prefix.
	List(ctx context.Context, prefix string) ([]Lease, error)
}
