//go:build race

package s3

// raceEnabled: allocation counts are not checked under the race detector,
// which allocates for itself.
const raceEnabled = true
