package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/component"
)

// cmdSnapshot asks a pipeline's source for an incremental snapshot of
// tables. It needs no running sluice: the source records the request in
// its database's log (app.RequestSnapshot), where the running pipeline —
// under `sluice run`, `sluice serve` or on another node — finds it in its
// stream, or its next run does.
func cmdSnapshot(args []string, reg component.Registry, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("snapshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	source := fs.String("source", "", "the source to snapshot (needed when several sources take incremental snapshots)")
	stop := fs.Bool("stop", false, "stop the incremental snapshot of TABLEs (of every table when none is named)")
	var where []string
	fs.Func("where", "TABLE=CONDITION: read only the rows of TABLE that match the SQL condition, e.g. 'public.orders=id IN (1,5,9)' (repeatable)", func(v string) error {
		t, c, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(t) == "" || strings.TrimSpace(c) == "" {
			return fmt.Errorf("%q is not TABLE=CONDITION", v)
		}
		where = append(where, v)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sluice snapshot [--source NAME] [--where TABLE=CONDITION]... [--stop] PIPELINE.yaml TABLE...\n\n"+
			"Re-reads TABLEs (schema.table; regular expressions allowed) while the pipeline streams: an incremental\n"+
			"snapshot, emitted in order with the changes (source.snapshot \"incremental\"). The request goes through\n"+
			"the source's database, so the pipeline may run anywhere; it acts on it when it streams.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() < 1 || (fs.NArg() < 2 && !*stop) {
		fs.Usage()
		return exitUsage
	}
	g, _, err := loadPipeline(fs.Arg(0), reg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	req := component.SnapshotRequest{Tables: fs.Args()[1:], Stop: *stop}
	for _, w := range where {
		t, c, _ := strings.Cut(w, "=")
		req.Conditions = append(req.Conditions, component.SnapshotCondition{Table: strings.TrimSpace(t), Filter: strings.TrimSpace(c)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.RequestSnapshot(ctx, g, reg, *source, req, nil); err != nil {
		fmt.Fprintln(stderr, "sluice snapshot:", err)
		return exitFailed
	}
	verb := "requested"
	if *stop {
		verb = "stop requested"
	}
	fmt.Fprintf(stdout, "incremental snapshot %s: %s\n", verb, strings.Join(req.Tables, ", "))
	return exitOK
}
