package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/pgtest"
)

// TestPublicationCheckRacesDrops runs the streaming publication check in a
// tight loop while captured tables, then the publication, are dropped
// under it. A drop is never a removal: a dropped table is let go and a
// dropped publication says so, whenever the drop commits during a check.
// (The server reads a publication's tables with its catalog snapshot,
// which can be newer than the statement's snapshot; a check that took
// both from one statement saw a table dropped during it as still present
// but no longer listed: "removed from publication".)
func TestPublicationCheckRacesDrops(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	src, err := New(te.config("public.*"), component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.pubKinds = pubAll
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn := pgtest.Connect(t, te.dsn)
	pub := pgx.Identifier{src.publication}.Sanitize()

	// check runs w.check until stop says to, and returns its first error.
	check := func(w *pubWatch, stop func() bool) error {
		for !stop() {
			if err := w.check(ctx, conn); err != nil {
				return err
			}
		}
		return nil
	}
	ref := func(name string) tableRef {
		var oid uint32
		if err := te.conn.QueryRow(ctx, `SELECT $1::regclass::oid`, name).Scan(&oid); err != nil {
			t.Fatal(err)
		}
		return tableRef{oid: oid, schema: "public", name: name}
	}

	te.exec(`CREATE TABLE keep (id int PRIMARY KEY)`)
	const rounds = 150
	for i := range rounds {
		name := fmt.Sprintf("d%d", i)
		te.exec(`CREATE TABLE ` + name + ` (id int PRIMARY KEY)`)
		if i == 0 {
			te.exec(`CREATE PUBLICATION ` + pub + ` FOR TABLE keep, ` + name)
		} else {
			te.exec(`ALTER PUBLICATION ` + pub + ` ADD TABLE ` + name)
		}
		w := &pubWatch{src: src, refs: []tableRef{ref("keep"), ref(name)}}
		checked := make(chan error, 1)
		go func() { checked <- check(w, func() bool { return len(w.refs) == 1 }) }()
		te.exec(`DROP TABLE ` + name)
		if err := <-checked; err != nil {
			t.Fatalf("round %d, table %s dropped during a check: %v", i, name, err)
		}
	}

	for i := range rounds {
		if i > 0 {
			te.exec(`CREATE PUBLICATION ` + pub + ` FOR TABLE keep`)
		}
		w := &pubWatch{src: src, refs: []tableRef{ref("keep")}}
		checked := make(chan error, 1)
		go func() { checked <- check(w, func() bool { return false }) }()
		te.exec(`DROP PUBLICATION ` + pub)
		err := <-checked
		if err == nil || !component.IsPermanent(err) {
			// A lookup racing the drop can fail outright (the server's
			// "publication does not exist"); sideLoop retries those.
			for err != nil && !component.IsPermanent(err) {
				err = w.check(ctx, conn)
			}
		}
		want := fmt.Sprintf("publication %q was dropped while streaming", src.publication)
		if err == nil || len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
			t.Fatalf("round %d, publication dropped during a check: %v", i, err)
		}
	}
}
