package app

import (
	"testing"

	"github.com/sluice-dev/sluice/component"
)

func TestBar(t *testing.T) {
	got := bar("shop", component.Progress{Phase: "snapshot", Done: 500, Total: 1000}, 12500)
	if want := "shop snapshot [██████████░░░░░░░░░░]  50% 500/1000 rows 12.5k/s"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	got = bar("shop", component.Progress{Phase: "streaming", Done: 42}, 3)
	if want := "shop streaming 42 events 3/s"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}
