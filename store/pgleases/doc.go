// Package pgleases is store.Leases on a PostgreSQL table, so that several
// sluice nodes running one pipeline share out its partitions of work (issue
// 13; seed 000's source coordination, without DynamoDB). The embedded store
// (package store) keeps the same rules for one node; both pass the suite in
// store/leasetest.
//
// # The table
//
// Created if missing (Options.Table, default sluice_leases):
//
//	namespace text, key text (both COLLATE "C": key order is byte order,
//	    as in the embedded store), PRIMARY KEY (namespace, key)
//	kind, owner, status ('open', 'owned', 'done') text
//	progress json (kept byte for byte), epoch bigint, version bigint,
//	expires timestamptz (NULL when not owned)
//	index (namespace, kind, key) WHERE status <> 'done'
//
// # Invariants
//
//   - Time is the server's now(), never a node's clock (Options.Clock is
//     for tests). One statement reads it, so one server clock orders every
//     acquisition and expiry.
//   - Acquire is one statement: the first candidate (open, or owned with
//     expires ≤ now) in key order, updated only WHERE version = the version
//     read. Under READ COMMITTED a concurrent acquirer's committed update
//     makes that recheck fail (no row); Acquire then asks whether any
//     candidate is left and retries only if so, so every retry follows
//     another node's progress and none spins on an empty table.
//   - Epoch grows by one at each acquisition of a partition; Renew,
//     Complete and Release are UPDATE … WHERE owner = mine AND epoch = mine
//     AND status = 'owned'. No row: store.ErrLeaseLost. So a node that lost
//     a partition can change nothing of it (fencing), and a lease past its
//     expiry that nobody took can still be renewed (nobody wrote under a
//     later epoch).
//   - No session state: no advisory locks, no named prepared statements
//     (pgx QueryExecModeExec), no multi-statement transactions. Every call
//     is one auto-committed statement, so nothing depends on the server
//     session and PgBouncer's transaction (and statement) pooling fits
//     (not yet tested through a real PgBouncer).
//   - Nodes creating the table at once: CREATE … IF NOT EXISTS can still
//     fail with a duplicate type or relation; the loser retries.
//
// What a node does with its leases (renewing before expiry, stopping its
// writes before another node can take over, fencing sinks with the epoch)
// is package coordination's; see docs/coordination.md.
package pgleases
