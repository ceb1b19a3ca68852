package store

import (
	"io"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var pebbleOpen = pebble.Open
