// Package exectest helps test the streaming SQL operators: an in-memory
// component.State that is strict about the State contract.
package exectest

import (
	"bytes"
	"errors"
	"sort"

	"github.com/sluice-dev/sluice/component"
)

// State is an in-memory component.State. It enforces the contract's
// lifetimes: a slice it returned (a Get's value, a key or value passed to
// a Scan's fn) is overwritten with 0xEE bytes at the next call, so an
// operator that keeps one past its validity sees garbage at once; and it
// refuses DeleteRange inside a Scan's fn, as the store does.
type State struct {
	keys []string // sorted
	m    map[string][]byte

	handed [][]byte // slices returned since the last call
	inScan bool

	// Counts of calls, for tests that check an operator avoids work.
	Gets, Sets, Deletes, DeleteRanges, Scans int
}

var _ component.State = (*State)(nil)

// NewState returns an empty State.
func NewState() *State { return &State{m: map[string][]byte{}} }

func (s *State) spoil() {
	for _, b := range s.handed {
		for i := range b {
			b[i] = 0xEE
		}
	}
	s.handed = s.handed[:0]
}

func (s *State) hand(b []byte) []byte {
	c := bytes.Clone(b)
	if c == nil {
		c = []byte{}
	}
	s.handed = append(s.handed, c)
	return c
}

func (s *State) find(k string) (int, bool) {
	i := sort.SearchStrings(s.keys, k)
	return i, i < len(s.keys) && s.keys[i] == k
}

// Get implements component.State.
func (s *State) Get(key []byte) ([]byte, bool, error) {
	if !s.inScan {
		s.spoil()
	}
	s.Gets++
	v, ok := s.m[string(key)]
	if !ok {
		return nil, false, nil
	}
	return s.hand(v), true, nil
}

// Set implements component.State.
func (s *State) Set(key, value []byte) error {
	if !s.inScan {
		s.spoil()
	}
	s.Sets++
	k := string(key)
	if _, ok := s.m[k]; !ok {
		i, _ := s.find(k)
		s.keys = append(s.keys, "")
		copy(s.keys[i+1:], s.keys[i:])
		s.keys[i] = k
	}
	s.m[k] = bytes.Clone(value)
	return nil
}

// Delete implements component.State.
func (s *State) Delete(key []byte) error {
	if !s.inScan {
		s.spoil()
	}
	s.Deletes++
	k := string(key)
	if i, ok := s.find(k); ok {
		s.keys = append(s.keys[:i], s.keys[i+1:]...)
		delete(s.m, k)
	}
	return nil
}

// DeleteRange implements component.State.
func (s *State) DeleteRange(start, end []byte) error {
	if s.inScan {
		return errors.New("exectest: DeleteRange inside a Scan")
	}
	s.spoil()
	s.DeleteRanges++
	i, _ := s.find(string(start))
	j := len(s.keys)
	if end != nil {
		j, _ = s.find(string(end))
	}
	if j <= i {
		return nil
	}
	for _, k := range s.keys[i:j] {
		delete(s.m, k)
	}
	s.keys = append(s.keys[:i], s.keys[j:]...)
	return nil
}

// Scan implements component.State. fn sees the keys present when Scan
// started, with their values at that time.
func (s *State) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	if s.inScan {
		return errors.New("exectest: Scan inside a Scan")
	}
	s.spoil()
	s.Scans++
	i, _ := s.find(string(start))
	j := len(s.keys)
	if end != nil {
		j, _ = s.find(string(end))
	}
	if j <= i {
		return nil
	}
	keys := append([]string(nil), s.keys[i:j]...)
	vals := make([][]byte, len(keys))
	for n, k := range keys {
		vals[n] = bytes.Clone(s.m[k])
	}
	s.inScan = true
	defer func() { s.inScan = false; s.spoil() }()
	for n, k := range keys {
		kb, vb := []byte(k), vals[n]
		s.handed = append(s.handed, kb, vb)
		if !fn(kb, vb) {
			return nil
		}
	}
	return nil
}

// Len is the number of keys.
func (s *State) Len() int { return len(s.keys) }

// Keys returns every key, in order (copies).
func (s *State) Keys() [][]byte {
	out := make([][]byte, len(s.keys))
	for i, k := range s.keys {
		out[i] = []byte(k)
	}
	return out
}

// Clone returns an independent copy of the state (for restart tests that
// compare two runs).
func (s *State) Clone() *State {
	c := NewState()
	c.keys = append([]string(nil), s.keys...)
	for k, v := range s.m {
		c.m[k] = bytes.Clone(v)
	}
	return c
}
