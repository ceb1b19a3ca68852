package config_test

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/topology"
)

func TestCoordination(t *testing.T) {
	p, err := config.Load("p.yaml", []byte(minimal), registry.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (topology.Cluster{Coordination: topology.DefaultCoordination()}); p.Cluster != want {
		t.Fatalf("default %+v, want %+v", p.Cluster, want)
	}
	p, err = config.Load("p.yaml", []byte(minimal+"node_id: db1\ncoordination: {type: postgres, dsn: \"postgres://u:${PW}@h/db\", namespace: shop-2, lease: 30s, renew: 10s}\n"),
		registry.Default(), func(k string) (string, bool) { return "secret", k == "PW" })
	if err != nil {
		t.Fatal(err)
	}
	want := topology.Cluster{NodeID: "db1", Coordination: topology.Coordination{Type: "postgres", DSN: "postgres://u:secret@h/db", Namespace: "shop-2", Table: "sluice_leases", Lease: 30 * time.Second, Renew: 10 * time.Second}}
	if p.Cluster != want {
		t.Fatalf("%+v, want %+v", p.Cluster, want)
	}
	for _, c := range []struct{ yaml, err string }{
		{"coordination: {type: etcd}\n", "p.yaml:5: coordination.type: unknown coordination type \"etcd\" (hint: the one type is postgres)"},
		{"coordination: {type: postgres}\n", "p.yaml:5: coordination.dsn: required with type: postgres (hint: the database that holds the lease table, e.g. postgres://sluice:${PGPASSWORD}@db:5432/sluice)"},
		{"coordination: {type: postgres, dsn: x, renew: 10s}\n", "p.yaml:5: coordination.renew: renew 10s is more than half of lease 15s (hint: renew at most every lease/2 (default 5s of 15s), so that one failed renewal does not lose the lease)"},
		{"coordination: {type: postgres, dsn: x, lease: 500ms}\n", "p.yaml:5: coordination.lease: 500ms is shorter than 1s (hint: the default is 15s; a lease shorter than a few round trips to the store makes nodes lose it on any hiccup)"},
		{"coordination: {type: postgres, dsn: x, table: Leases}\n", "p.yaml:5: coordination.table: \"Leases\" is not a valid table name (hint: use lower-case letters, digits and _, at most 51, starting with a letter or _)"},
		{"coordination: {type: postgres, dsn: x, ttl: 3s}\n", "p.yaml:5: coordination.ttl: unknown key (hint: valid keys: dsn, lease, namespace, renew, table, type)"},
		{"coordination: {dsn: x}\n", "p.yaml:5: coordination.type: missing (hint: set type: postgres to share this pipeline between nodes, or remove coordination:)"},
		{"node_id: \"a b\"\n", "p.yaml:5: node_id: \"a b\" is not a valid node id (hint: use letters, digits and _ . : -, at most 128, starting with a letter or digit)"},
	} {
		_, err := config.Load("p.yaml", []byte(minimal+c.yaml), registry.Default(), nil)
		if err == nil || err.Error() != c.err {
			t.Errorf("%s: got %v\nwant %s", c.yaml, err, c.err)
		}
	}
}
