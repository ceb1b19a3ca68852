package topology

import (
	"fmt"
	"os"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/namecheck"
)

// Coordination types.
const (
	CoordinationNone     = ""         // one node; the embedded store holds everything
	CoordinationPostgres = "postgres" // a lease table on PostgreSQL shared by every node
)

// Coordination is where the nodes running one pipeline share its
// partitions of work (the `coordination:` block). See docs/coordination.md.
type Coordination struct {
	// Type is "postgres" for a lease table on PostgreSQL shared by every node running this pipeline file; empty: one node, nothing shared.
	Type string `yaml:"type"`
	// DSN names the PostgreSQL database that holds the lease table (postgres://user:password@host:port/db); it needs no session state, so it may go through PgBouncer in transaction pooling.
	DSN string `yaml:"dsn" sluice:"secret"`
	// Namespace separates pipelines sharing the table; changing it starts the pipeline afresh, as Data Prepper's partition_prefix does. Default: the pipeline's name.
	Namespace string `yaml:"namespace"`
	// Table is the lease table, created if missing.
	Table string `yaml:"table"`
	// Lease is how long a partition stays held without renewal; another node takes it over after that.
	Lease time.Duration `yaml:"lease"`
	// Renew is how often a node renews its leases; a node that could not renew for lease - renew stops writing, so it has stopped before any other node can take over.
	Renew time.Duration `yaml:"renew"`
}

// DefaultCoordination holds the defaults of the keys of `coordination:`.
func DefaultCoordination() Coordination {
	return Coordination{Table: "sluice_leases", Lease: 15 * time.Second, Renew: 5 * time.Second}
}

// Cluster is what a pipeline run by several nodes adds: the top-level
// node_id: and coordination: keys.
type Cluster struct {
	// NodeID names this node in the lease table and its logs. Default: the host name and the process id ("db1-4242").
	NodeID string `yaml:"node_id" sluice:"nodefault"`
	// Coordination shares the pipeline's partitions between nodes (below). Default: none.
	Coordination Coordination `yaml:"coordination"`
}

// DefaultNodeID is the host name and the process id.
func DefaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

var (
	nodeIDRE    = namecheck.New("A-Za-z0-9", "A-Za-z0-9_.:-", 0, 127)
	namespaceRE = namecheck.New("A-Za-z0-9", "A-Za-z0-9_.-", 0, 127)
	leaseTable  = namecheck.New("a-z_", "a-z0-9_", 0, 50)
)

// Validate checks the settings once defaults are applied; fields are named
// relative to the top level (node_id, coordination.lease, ...).
func (c Cluster) Validate() []*component.FieldError {
	var out []*component.FieldError
	add := func(field, msg, hint string) {
		out = append(out, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	if c.NodeID != "" && !nodeIDRE.Match(c.NodeID) {
		add("node_id", fmt.Sprintf("%q is not a valid node id", c.NodeID), "use letters, digits and _ . : -, at most 128, starting with a letter or digit")
	}
	co := c.Coordination
	switch co.Type {
	case CoordinationNone:
		if co.DSN != "" {
			add("coordination.type", "missing", "set type: postgres to share this pipeline between nodes, or remove coordination:")
		}
		return out
	case CoordinationPostgres:
	default:
		add("coordination.type", fmt.Sprintf("unknown coordination type %q", co.Type), "the one type is postgres")
		return out
	}
	if co.DSN == "" {
		add("coordination.dsn", "required with type: postgres", "the database that holds the lease table, e.g. postgres://sluice:${PGPASSWORD}@db:5432/sluice")
	}
	if co.Namespace != "" && !namespaceRE.Match(co.Namespace) {
		add("coordination.namespace", fmt.Sprintf("%q is not a valid namespace", co.Namespace), "use letters, digits and _ . -, at most 128")
	}
	if !leaseTable.Match(co.Table) {
		add("coordination.table", fmt.Sprintf("%q is not a valid table name", co.Table), "use lower-case letters, digits and _, at most 51, starting with a letter or _")
	}
	switch {
	case co.Lease < time.Second:
		add("coordination.lease", fmt.Sprintf("%v is shorter than 1s", co.Lease), "the default is 15s; a lease shorter than a few round trips to the store makes nodes lose it on any hiccup")
	case co.Renew <= 0:
		add("coordination.renew", fmt.Sprintf("%v is not positive", co.Renew), "the default is 5s")
	case co.Renew*2 > co.Lease:
		add("coordination.renew", fmt.Sprintf("renew %v is more than half of lease %v", co.Renew, co.Lease), "renew at most every lease/2 (default 5s of 15s), so that one failed renewal does not lose the lease")
	}
	return out
}
