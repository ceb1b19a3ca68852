// Package linger is the rule by which the change sources (postgres, mysql)
// let complete transactions wait for company before they emit them: a busy
// stream shares one sink write and one checkpoint among many transactions,
// while a lone transaction is not held back. Complete transactions go once
// the stream has been quiet for Quiet after the newest commit, and at the
// latest Max after the first of them.
package linger

import "time"

// The defaults: a fixed 5 ms wait was most of the commit → sink latency at
// low rates, and 1 ms of quiet is never reached by a stream busy enough to
// gain from sharing a write (issue 15).
const (
	Max   = 5 * time.Millisecond
	Quiet = time.Millisecond
)

// Rule replaces the defaults where its fields are set (tests set them).
type Rule struct{ Max, Quiet time.Duration }

// Durations returns how long complete transactions may wait at most, and
// how long the stream must be quiet for them to go at once.
func (r Rule) Durations() (maxWait, quiet time.Duration) {
	maxWait, quiet = Max, Quiet
	if r.Max > 0 {
		maxWait = r.Max
	}
	if r.Quiet > 0 {
		quiet = r.Quiet
	}
	return maxWait, quiet
}
