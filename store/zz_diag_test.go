package store

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestDiagGet(t *testing.T) {
	db := openT(t, t.TempDir())
	s := stateT(t, db, "agg")
	var key []byte
	epoch := uint64(1)
	s.Begin(1)
	for i := range uint64(100_000) {
		key = benchKey(key, i)
		must(t, s.Set(key, make([]byte, 32)))
		if i%1000 == 999 {
			if epoch%10 == 0 {
				must(t, db.Commit(Commit{Processors: []string{"agg"}, Epoch: epoch}))
			}
			epoch++
			s.Begin(epoch)
		}
	}
	t.Log(db.pdb.Metrics().String())
	rng := rand.New(rand.NewPCG(1, 1))
	start := time.Now()
	for range 20000 {
		key = benchKey(key, rng.Uint64N(100000))
		if _, ok, err := s.Get(key); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	t.Log(time.Since(start) / 20000)
	t.Log(db.pdb.Metrics().String())
}
