package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/verify"
)

const verifyUsage = `usage: sluice verify [flags] PIPELINE.yaml

Compares each table of the pipeline's source (postgres or mysql) with what one of its sinks
holds — a PostgreSQL table, an OpenSearch/Elasticsearch index, or the last
image of each key in a file/lines sink — and prints, per table, the keys
missing in the sink, the extra keys, and the keys whose values differ (a
sample of each, with the columns that differ and both values).

Values are compared after the conversion the pipeline applies (the sink's
table or index names, its document ids, the Debezium value forms), so a
sink that is right verifies clean. Tables are compared by key ranges of
--chunk-rows keys: between two PostgreSQL tables of the same column types
each range is checksummed inside both servers and only ranges whose
checksums differ are read; indexes and files are read range by range.
The source sees chunked, key-ordered reads in READ ONLY transactions, at
most --rate rows a second.

--repair asks the pipeline to snapshot the missing and different keys
again: it inserts Debezium execute-snapshot signals (type incremental,
additional-conditions naming the keys) into the source's signal table, which
the running pipeline picks up. Extra keys cannot be snapshotted (the source
has no row for them): verify prints how to remove them.

Exit codes: 0 every table equal, 1 differences found, 2 bad usage, an
invalid pipeline, or a comparison that could not be done (a server
unreachable, a sink verify cannot read).

Examples:
  sluice verify shop.yaml
  sluice verify --sink search --tables public.orders --rate 5000 shop.yaml
  sluice verify --json shop.yaml | jq '.tables[] | {table, missing, extra, different}'
  sluice verify --repair shop.yaml

Flags:`

func cmdVerify(args []string, reg component.Registry, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sink := fs.String("sink", "", "the sink to compare with (default: the pipeline's only sink verify can read)")
	tables := fs.String("tables", "", "compare only these source tables: schema.table, comma-separated, globs allowed")
	chunk := fs.Int("chunk-rows", 10000, "keys per range: one checksum, or one read, per range")
	rate := fs.Float64("rate", 0, "at most this many source rows a second (0: no limit)")
	sample := fs.Int("sample", 10, "list at most this many keys of each kind per table")
	repair := fs.Bool("repair", false, "insert execute-snapshot signals for the missing and different keys")
	signalTable := fs.String("signal-table", "", "with --repair: the signal table (schema.table), instead of the source's signal_data_collection")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, verifyUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	if *chunk <= 0 || *sample <= 0 || *rate < 0 {
		fmt.Fprintln(stderr, "sluice verify: --chunk-rows and --sample must be positive, --rate not negative")
		return exitUsage
	}
	g, _, err := loadPipeline(fs.Arg(0), reg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	opts := verify.Options{Sink: *sink, ChunkRows: *chunk, Rate: *rate, Sample: *sample, Repair: *repair, SignalTable: *signalTable}
	if *tables != "" {
		for _, t := range strings.Split(*tables, ",") {
			if t = strings.TrimSpace(t); t != "" {
				opts.Tables = append(opts.Tables, t)
			}
		}
	}
	// A progress line on stderr once a run takes more than two seconds,
	// then every two seconds.
	start, last := time.Now(), time.Now()
	opts.Progress = func(p verify.Progress) {
		if now := time.Now(); now.Sub(start) > 2*time.Second && now.Sub(last) > 2*time.Second {
			last = now
			fmt.Fprintf(stderr, "verify: %s: %d rows compared, %d differences so far (%s)\n", p.Table, p.Rows, p.Differences, now.Sub(start).Round(time.Second))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := verify.Run(ctx, g, opts)
	if err != nil {
		fmt.Fprintf(stderr, "sluice verify: %v\n", err)
		if ctx.Err() != nil {
			return exitAborted
		}
		return exitUsage
	}
	if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
	} else {
		rep.WriteText(stdout)
	}
	if !rep.Equal() {
		return exitFailed
	}
	return exitOK
}
