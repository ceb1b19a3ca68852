// Package mongotest gives integration tests a throw-away database on the
// MongoDB-compatible server the project's scripts start (FerretDB, found
// through internal/svctest: a test fails in CI and skips locally when it is
// not running).
package mongotest

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sluice-dev/sluice/internal/svctest"
)

// DB is a database of its own for one test, dropped at the test's end.
type DB struct {
	URI    string // the server's URI ($SLUICE_MONGODB_URI)
	Name   string // prefix + "_" + 8 random hex digits
	Client *mongo.Client
	*mongo.Database
}

// New connects to the server and names a fresh database prefix_<random>;
// the database is dropped and the client disconnected when t ends.
func New(t testing.TB, prefix string) *DB {
	t.Helper()
	uri := svctest.Need(t, svctest.FerretDB)
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	var rnd [4]byte
	_, _ = crand.Read(rnd[:])
	name := prefix + "_" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = client.Database(name).Drop(ctx)
		_ = client.Disconnect(ctx)
	})
	return &DB{URI: uri, Name: name, Client: client, Database: client.Database(name)}
}
