package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/source/postgres"
)

const slotsUsage = `usage: sluice slots list (--dsn DSN | PIPELINE.yaml...)
       sluice slots drop (--dsn DSN | PIPELINE.yaml) SLOT

PostgreSQL replication slots keep WAL on the server's disk until their
consumer confirms it. A slot nothing reads any more (a pipeline deleted
with its state, a test left behind) keeps WAL forever: find it and drop it.

  list   every replication slot of the server: name, plugin, database,
         active (a walsender streams from it), retained WAL (current WAL
         position − restart_lsn), wal_status, and the pipeline that uses it
         when you name pipeline files (their postgres sources' slots)
  drop   drop one slot; refused while it is active (a running pipeline
         holds it: stop that pipeline first). Dropping the slot of a
         pipeline that is only stopped loses the changes since its
         checkpoint: it then fails at start (on_slot_lost: fail) or
         snapshots again (on_slot_lost: resnapshot)

The server is --dsn's, or that of the pipeline files' postgres sources
(with PIPELINE.yaml, drop only drops a slot one of its sources uses).
The DSN may be an environment variable's: --dsn "$PG_DSN".

Examples:
  sluice slots list --dsn postgres://admin@db:5432/shop
  sluice slots list shop.yaml
  sluice slots drop --dsn postgres://admin@db:5432/shop sluice_old_pg
`

// pgSlotUse is a postgres source of a pipeline file: its server and slot.
type pgSlotUse struct {
	pipeline, stateDir, source, slot, dsn string
}

func cmdSlots(args []string, reg component.Registry, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "drop") {
		fmt.Fprint(stderr, slotsUsage)
		return exitUsage
	}
	verb := args[0]
	fs := flag.NewFlagSet("slots "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("dsn", "", "the PostgreSQL server's connection string (instead of pipeline files)")
	fs.Usage = func() { fmt.Fprint(stderr, slotsUsage) }
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	rest := fs.Args()
	var name string
	if verb == "drop" {
		if len(rest) == 0 {
			fmt.Fprint(stderr, "sluice slots drop: name the slot to drop\n\n"+slotsUsage)
			return exitUsage
		}
		name, rest = rest[len(rest)-1], rest[:len(rest)-1]
	}
	if (*dsn == "") == (len(rest) == 0) || (verb == "drop" && len(rest) > 1) {
		fmt.Fprint(stderr, "sluice slots "+verb+": give either --dsn or pipeline files\n\n"+slotsUsage)
		return exitUsage
	}
	var uses []pgSlotUse
	for _, p := range rest {
		u, err := pipelineSlots(p, reg, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "sluice:", err)
			return exitUsage
		}
		if len(u) == 0 {
			fmt.Fprintf(stderr, "sluice: %s has no postgres source\n", p)
			return exitUsage
		}
		uses = append(uses, u...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if verb == "drop" {
		return slotsDrop(ctx, *dsn, name, uses, stdout, stderr)
	}
	return slotsList(ctx, *dsn, uses, stdout, stderr)
}

// pipelineSlots returns the postgres sources of a pipeline file.
func pipelineSlots(path string, reg component.Registry, stderr io.Writer) ([]pgSlotUse, error) {
	g, _, err := loadPipeline(path, reg, stderr)
	if err != nil {
		return nil, err
	}
	var out []pgSlotUse
	for _, c := range g.Sources {
		cfg, ok := c.Config.(*postgres.Config)
		if !ok {
			continue
		}
		src, err := postgres.New(cfg, component.Env{Name: c.Name, Pipeline: g.Name})
		if err != nil {
			return nil, fmt.Errorf("%s: source %s: %w", path, c.Name, err)
		}
		out = append(out, pgSlotUse{pipeline: g.Name, stateDir: g.StateDir, source: c.Name, slot: src.SlotName(), dsn: src.DSN()})
	}
	return out, nil
}

func slotsList(ctx context.Context, dsn string, uses []pgSlotUse, stdout, stderr io.Writer) int {
	// One listing per server (pipelines may share one).
	dsns := []string{dsn}
	if dsn == "" {
		dsns = nil
		for _, u := range uses {
			if !slices.Contains(dsns, u.dsn) {
				dsns = append(dsns, u.dsn)
			}
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tPLUGIN\tDATABASE\tACTIVE\tRETAINED_WAL\tWAL_STATUS\tUSED_BY")
	code := exitOK
	for _, d := range dsns {
		slots, err := postgres.ListSlots(ctx, d)
		if err != nil {
			fmt.Fprintln(stderr, "sluice: list replication slots:", err)
			code = exitFailed
			continue
		}
		for _, s := range slots {
			used := "-"
			for _, u := range uses {
				if u.slot == s.Name && u.dsn == d {
					used = fmt.Sprintf("pipeline %s, source %s (state_dir %s)", u.pipeline, u.source, u.stateDir)
				}
			}
			retained := "-"
			if s.Retained != nil {
				retained = fmt.Sprintf("%d", *s.Retained)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", s.Name, dash(s.Plugin), dash(s.Database), s.Active, retained, dash(s.WALStatus), used)
		}
	}
	if err := tw.Flush(); err != nil {
		return exitFailed
	}
	return code
}

func slotsDrop(ctx context.Context, dsn, name string, uses []pgSlotUse, stdout, stderr io.Writer) int {
	if dsn == "" {
		var names []string
		for _, u := range uses {
			names = append(names, u.slot)
			if u.slot == name {
				dsn = u.dsn
			}
		}
		if dsn == "" {
			fmt.Fprintf(stderr, "sluice: no postgres source of the pipeline uses slot %q (its sources use %s); to drop another slot, give --dsn\n", name, strings.Join(names, ", "))
			return exitUsage
		}
	}
	if err := postgres.DropSlot(ctx, dsn, name); err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "dropped replication slot %s\n", name)
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
