// Package coordination runs one pipeline on several nodes through a shared
// lease store (store.Leases: the PostgreSQL table of package pgleases, or
// the embedded store for one node). It is issue 13's runtime side; the
// semantics follow Data Prepper's source coordination (seed 000): a
// partition is held by one node at a time under a lease, renewed while the
// node works and taken over by another node when it expires.
//
// # What is built
//
// The stream partition (StreamKey(pipeline), its own kind): a node runs
// the pipeline — every source and sink — only while it holds it (Term).
// The invariants:
//
//  1. One writer. The holder renews every Renew; its stop deadline is the
//     local monotonic time at which its last successful renewal was SENT,
//     plus Lease - Renew. The server computed the expiry as its now() +
//     Lease with now() read after the send, so the deadline falls at
//     least Renew before any other node can acquire the partition (clock
//     rates equal within Renew/Lease, i.e. 33% with the defaults). At the
//     deadline the term is lost (Lost is closed) and the caller aborts its
//     sources and sink writes (engine.Runner.Abort).
//  2. Fenced checkpoints. Checkpoints are the partition's progress, written
//     by Renew, i.e. WHERE owner = me AND epoch = mine: after a takeover
//     the old holder's writes are refused by the store (ErrLeaseLost), and
//     after its own deadline the term refuses them without asking.
//  3. Resume. The next holder reads the progress at acquisition: it
//     resumes from the last checkpoint the previous holder stored, i.e.
//     the last position every sink had durably written (at-least-once, as
//     after a crash of one node).
//  4. Epoch. Each term has the partition's epoch, which grows with every
//     acquisition; sources and sinks get it in component.Env.Epoch (0: not
//     coordinated). The PostgreSQL source, when Epoch > 0, terminates a
//     walsender still holding its slot (the old holder's, cut off but not
//     yet noticed by the server) instead of waiting for it. The SQL table
//     sinks keep the highest epoch that wrote through them in their
//     positions table and refuse a write of an older one
//     (component.ErrFenced); the node then waits for the partition again.
//
// # Chunks
//
// TryAcquire takes a partition of a kind without waiting (a snapshot
// chunk, package app's chunks.go): the same lease, renewal and stop
// deadline as the stream partition; Complete marks it done fenced by the
// epoch, so a node that lost a chunk cannot complete it over the node
// that took it; Fail marks it failed likewise (a chunk that cannot be
// read: no node takes it again and every node stops, package app). The stream partition's holder plans the chunks and stores
// the plan with the sources' checkpoints in one write (SetCheckpoints).
//
// # Not built yet (see docs/coordination.md)
//
// A stream partition per source (one per pipeline now), chunks of sources
// other than PostgreSQL and MySQL, epochs in search sinks' external versions,
// operator state of stateful processors (refused with coordination), and
// the REST status.
package coordination
