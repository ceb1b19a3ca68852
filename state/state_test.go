package state

import (
	"strings"
	"testing"
	"time"
)

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := s.Checkpoint("pg"); err != nil || cp != nil {
		t.Fatalf("fresh store: got %q, %v; want nil, nil", cp, err)
	}
	if err := s.SetCheckpoint("pg", []byte(`{"lsn":"0/1"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cp, err := s.Checkpoint("pg")
	if err != nil || string(cp) != `{"lsn":"0/1"}` {
		t.Fatalf("after reopen: got %q, %v", cp, err)
	}
	all, _ := s.Checkpoints()
	if len(all) != 1 {
		t.Fatalf("Checkpoints: %v", all)
	}
	if err := s.DeleteCheckpoint("pg"); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint("pg"); cp != nil {
		t.Fatalf("after delete: %q", cp)
	}
}

func TestLockedByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(dir, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "locked by another sluice process") {
		t.Fatalf("second open: %v", err)
	}
}
