package coordination

import (
	"context"
	"testing"
	"time"
)

// A chunk taken with TryAcquire is completed fenced by its epoch: after
// its lease expired and another node took it, the first owner's Complete
// is refused and the chunk stays the second owner's; the second owner's
// completes it with its progress, and nothing more can be acquired.
func TestTryAcquireCompleteFenced(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	ls := db.Leases("ns")
	if err := ls.Create(ctx, "chunk/p", []string{"chunk/p/s/000000"}); err != nil {
		t.Fatal(err)
	}
	a := &cuttable{Leases: ls}
	opt := Options{Lease: 300 * time.Millisecond, Renew: 100 * time.Millisecond, Logger: quiet()}
	ta, ok, err := TryAcquire(ctx, a, "chunk/p", "node-a", opt)
	if err != nil || !ok {
		t.Fatalf("TryAcquire: %v %v", ok, err)
	}
	if err := ta.SetProgress([]byte(`{"node":"node-a"}`)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := TryAcquire(ctx, ls, "chunk/p", "node-b", opt); ok || err != nil {
		t.Fatalf("a held chunk was acquired again: %v %v", ok, err)
	}
	a.cut.Store(true) // node-a can no longer renew: its lease expires
	wait(t, ta.Lost(), 2*time.Second, "node-a's chunk lost at its stop deadline")
	var tb *Term
	deadline := time.Now().Add(2 * time.Second)
	for tb == nil {
		if t2, ok, err := TryAcquire(ctx, ls, "chunk/p", "node-b", opt); err != nil {
			t.Fatal(err)
		} else if ok {
			tb = t2
		} else if time.Now().After(deadline) {
			t.Fatal("node-b did not take the expired chunk over")
		}
		time.Sleep(10 * time.Millisecond) // polling the store, as runChunks does
	}
	if tb.Epoch() != ta.Epoch()+1 {
		t.Fatalf("epochs %d then %d", ta.Epoch(), tb.Epoch())
	}
	if string(tb.Lease().Progress) != `{"node":"node-a"}` {
		t.Fatalf("progress handed over: %s", tb.Lease().Progress)
	}
	a.cut.Store(false)
	if err := ta.Complete(ctx, []byte(`{"node":"node-a","rows":1}`)); err == nil {
		t.Fatal("node-a completed a chunk it lost")
	}
	if err := tb.Complete(ctx, []byte(`{"node":"node-b","rows":7}`)); err != nil {
		t.Fatal(err)
	}
	got, err := ls.List(ctx, "chunk/p/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Status != "done" || got[0].Owner != "node-b" || string(got[0].Progress) != `{"node":"node-b","rows":7}` {
		t.Fatalf("chunk after completion: %+v", got)
	}
	if _, ok, err := TryAcquire(ctx, ls, "chunk/p", "node-c", opt); ok || err != nil {
		t.Fatalf("a done chunk was acquired: %v %v", ok, err)
	}
	if err := tb.SetProgress([]byte(`{}`)); err == nil {
		t.Fatalf("progress after completion: %v", err)
	}
}

// SetCheckpoints stores several checkpoints in one write, next to the ones
// stored before; a nil one removes its entry.
func TestSetCheckpointsTogether(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	ls := db.Leases("ns")
	opt := Options{Lease: time.Second, Renew: 300 * time.Millisecond, Logger: quiet()}
	tm, err := Acquire(ctx, ls, StreamKey("p"), "node-a", opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.SetCheckpoint("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := tm.SetCheckpoints(map[string][]byte{"#chunks": []byte("plan"), "b": []byte("2")}); err != nil {
		t.Fatal(err)
	}
	got, err := ls.List(ctx, StreamKey("p"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"checkpoints":{"#chunks":"cGxhbg==","a":"MQ==","b":"Mg=="}}`; len(got) != 1 || string(got[0].Progress) != want {
		t.Fatalf("progress %s, want %s", got[0].Progress, want)
	}
	// A nil checkpoint removes the entry.
	if err := tm.SetCheckpoints(map[string][]byte{"#chunks": nil}); err != nil {
		t.Fatal(err)
	}
	if got, err = ls.List(ctx, StreamKey("p")); err != nil {
		t.Fatal(err)
	}
	if want := `{"checkpoints":{"a":"MQ==","b":"Mg=="}}`; string(got[0].Progress) != want {
		t.Fatalf("progress %s, want %s", got[0].Progress, want)
	}
	if err := tm.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
