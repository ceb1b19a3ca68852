package expr

import (
	"testing"
	"unsafe"
)

// A pattern read from a column aliases its batch's memory, which a source
// may recycle once the batch is written: the cache keeps a copy of it, so
// that the recycled bytes change none of its keys.
func TestRegexCacheKeysAreCopies(t *testing.T) {
	buf := []byte("^cache-key-[0-9]+$")
	pattern := unsafe.String(&buf[0], len(buf))
	re, err := compiledRegex(pattern)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = '#' // the source recycles the batch
	}
	regexCache.Lock()
	got, ok := regexCache.m["^cache-key-[0-9]+$"]
	regexCache.Unlock()
	if !ok || got != re {
		t.Fatalf("the cache lost the pattern once its bytes were reused (found %v)", ok)
	}
	if again, err := compiledRegex("^cache-key-[0-9]+$"); err != nil || again != re {
		t.Fatalf("compiledRegex compiled the pattern again (%v)", err)
	}
}
