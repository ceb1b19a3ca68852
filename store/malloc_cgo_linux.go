//go:build cgo

package store

/*
#include <malloc.h>

// With cgo on, Pebble allocates its memtables and block cache with C
// malloc. glibc gives threads up to eight arenas per core; blocks the cache
// frees stay scattered across them, and the process's RSS keeps growing
// long after the cache is full (measured on a 10,000,000-key state: over
// 130 MiB with the default arenas, 61 MiB with two, 45 MiB with one; the
// cache and memtables hold 32 MiB). One arena is enough for a store that
// allocates a block per cache miss. This runs when the program is loaded,
// before the Go runtime starts threads: mallopt cannot take back arenas
// that threads already have. musl has no arenas to limit.
__attribute__((constructor)) static void sluice_store_limit_malloc_arenas(void) {
#ifdef M_ARENA_MAX
	mallopt(M_ARENA_MAX, 1);
#endif
}
*/
import "C"
