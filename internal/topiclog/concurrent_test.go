package topiclog

import (
	"sync"
	"testing"
)

// TestReadWhileAppending: readers opening the active segment while
// appends publish it. Under -race this failed: Read took the segment's
// path after releasing the topic's lock, while publish rewrote the
// segment's struct under it.
func TestReadWhileAppending(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	tp := create(t, l, "t", smallTopic(1024)) // small segments: readers open them often
	const n = 200
	appendT(t, tp, recs(0, 1, 10))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i < n; i++ {
			if _, err := tp.Append(recs(i, 1, 10)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	r := tp.NewReader(0)
	defer r.Close()
	var got []Record
	for len(got) < n {
		var err error
		if got, err = r.Read(got, n, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	checkRecords(t, got, 0, n, 10)
	wg.Wait()
}
