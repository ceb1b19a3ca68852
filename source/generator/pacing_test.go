package generator

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// fakeTicker hands the source ticks one at a time. A send on its unbuffered
// channel completes only when the source is back in its select, that is,
// when everything the previous tick earned has been emitted; stopped closes
// once the source has stopped the ticker.
type fakeTicker struct {
	ch       chan time.Time
	stopped  chan struct{}
	interval time.Duration // written before the first receive
}

// tick delivers t and reports whether the source took it.
func (f *fakeTicker) tick(t *testing.T, at time.Time) bool {
	t.Helper()
	select {
	case f.ch <- at:
		return true
	case <-f.stopped:
		return false
	case <-time.After(10 * time.Second):
		t.Fatal("the source took no tick within 10s")
		return false
	}
}

func TestPacing(t *testing.T) {
	type step struct {
		after time.Duration // tick time, from the start
		sizes []int         // batches the tick releases
	}
	for _, tc := range []struct {
		name     string
		rate     float64
		batch    int
		count    int64
		interval time.Duration
		start    []int // batches emitted at once
		steps    []step
	}{
		{
			name: "one per second", rate: 1, batch: 1000, interval: time.Second,
			start: []int{1},
			steps: []step{
				{time.Second, []int{1}},
				{2 * time.Second, []int{1}},
				{2500 * time.Millisecond, nil}, // half a token
				{3500 * time.Millisecond, []int{1}},
				{4500 * time.Millisecond, []int{1}},
			},
		},
		{
			name: "slower than a tick per event", rate: 0.5, batch: 10, interval: 2 * time.Second,
			start: []int{1},
			steps: []step{{2 * time.Second, []int{1}}, {4 * time.Second, []int{1}}},
		},
		{
			name: "several per tick in batches", rate: 1000, batch: 4, interval: 10 * time.Millisecond,
			start: []int{4, 4, 2},
			steps: []step{
				{10 * time.Millisecond, []int{4, 4, 2}},
				// A dropped tick: the bucket holds two ticks' worth.
				{30 * time.Millisecond, []int{4, 4, 4, 4, 4}},
				// Emit blocked for a second: no catching up beyond the bucket.
				{1030 * time.Millisecond, []int{4, 4, 4, 4, 4}},
				{1040 * time.Millisecond, []int{4, 4, 2}},
			},
		},
		{
			name: "fractional tokens carry over", rate: 250, batch: 1000, interval: 10 * time.Millisecond,
			start: []int{2},
			steps: []step{
				{10 * time.Millisecond, []int{3}},
				{20 * time.Millisecond, []int{2}},
				{30 * time.Millisecond, []int{3}},
			},
		},
		{
			name: "count", rate: 1000, batch: 100, count: 15, interval: 10 * time.Millisecond,
			start: []int{10},
			steps: []step{{10 * time.Millisecond, []int{5}}, {20 * time.Millisecond, nil}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Rate, cfg.BatchSize, cfg.Count = tc.rate, tc.batch, tc.count
			s := testSource(t, cfg)
			ft := &fakeTicker{ch: make(chan time.Time), stopped: make(chan struct{})}
			s.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
				ft.interval = d
				return ft.ch, func() { close(ft.stopped) }
			}
			c := newCollector(-1)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx, nil, c) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()

			seen := 0
			released := func() []int {
				bs := c.snapshot()
				var sizes []int
				for _, b := range bs[seen:] {
					sizes = append(sizes, len(b.events))
				}
				seen = len(bs)
				return sizes
			}
			// A tick at the start time earns nothing; once it is taken, the
			// start's batches are out.
			ft.tick(t, t0)
			if ft.interval != tc.interval {
				t.Fatalf("ticker interval %v, want %v", ft.interval, tc.interval)
			}
			if got := released(); !reflect.DeepEqual(got, tc.start) {
				t.Fatalf("at start: batches %v, want %v", got, tc.start)
			}
			for _, st := range tc.steps {
				at := t0.Add(st.after)
				ft.tick(t, at)
				ft.tick(t, at) // a barrier: earns nothing, taken once the tick's batches are out
				if got := released(); !reflect.DeepEqual(got, st.sizes) {
					t.Fatalf("tick at +%v: batches %v, want %v", st.after, got, st.sizes)
				}
			}
		})
	}
}
