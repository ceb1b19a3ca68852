package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/source/postgres"
	"github.com/sluice-dev/sluice/topology"
)

// cmdStatus prints the partitions of a pipeline run by several nodes: the
// rows of its namespace in the lease table, with owner, epoch, expiry (by
// the server's clock) and progress.
func cmdStatus(args []string, reg component.Registry, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sluice status PIPELINE.yaml\n\nPrints the replication slots of the pipeline's postgres sources (active, retained WAL,\nconfirmed lag, wal_status, safe_wal_size) and, for a pipeline run by several nodes,\nits partitions in its coordination store (coordination: type postgres):\nkey, kind, owner, status, epoch, lease expiry and progress.")
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	g, _, err := loadPipeline(fs.Arg(0), reg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	uses, err := pipelineSlots(fs.Arg(0), reg, io.Discard)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(uses) > 0 {
		if code := printSlotStatus(ctx, stdout, stderr, uses); code != exitOK {
			return code
		}
	}
	if g.Cluster.Coordination.Type != topology.CoordinationPostgres {
		if len(uses) > 0 {
			fmt.Fprintf(stdout, "no coordination: block; the pipeline runs on one node and its state is in %s\n", g.StateDir)
			return exitOK
		}
		fmt.Fprintf(stderr, "%s: no coordination: block; the pipeline runs on one node and its state is in %s\n", fs.Arg(0), g.StateDir)
		return exitUsage
	}
	ps, err := app.ReadPartitions(ctx, g)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	if err := printPartitions(stdout, ps); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	return exitOK
}

func printPartitions(stdout io.Writer, ps app.Partitions) error {
	now := ps.ServerTime
	fmt.Fprintf(stdout, "namespace %s: %d partitions (server time %s)\n", ps.Namespace, len(ps.Partitions), now.Format(time.RFC3339))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tKIND\tOWNER\tSTATUS\tEPOCH\tEXPIRES\tPROGRESS")
	for _, l := range ps.Partitions {
		exp := "-"
		if l.Expires != nil {
			if d := l.Expires.Sub(now); d > 0 {
				exp = "in " + d.Round(100*time.Millisecond).String()
			} else {
				exp = "expired " + (-d).Round(100*time.Millisecond).String() + " ago"
			}
		}
		owner := l.Owner
		if owner == "" {
			owner = "-"
		}
		progress := string(l.Progress)
		if len(progress) > 80 {
			progress = progress[:77] + "..."
		}
		if progress == "" {
			progress = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", l.Key, l.Kind, owner, l.Status, l.Epoch, exp, progress)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range app.SummarizeChunks(ps) {
		var states []string
		for _, st := range []string{"open", "owned", "done", "failed"} {
			if n := c.States[st]; n > 0 {
				states = append(states, fmt.Sprintf("%s %d", st, n))
			}
		}
		if _, err := fmt.Fprintf(stdout, "snapshot chunks of source %s: %d (%s), %d rows read\n", c.Source, c.Chunks, strings.Join(states, ", "), c.Rows); err != nil {
			return err
		}
	}
	return nil
}

// printSlotStatus prints the replication slot of each postgres source,
// measured now.
func printSlotStatus(ctx context.Context, stdout, stderr io.Writer, uses []pgSlotUse) int {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSLOT\tACTIVE\tRETAINED_WAL\tCONFIRMED_LAG\tWAL_STATUS\tSAFE_WAL_SIZE")
	for _, u := range uses {
		slots, err := postgres.ListSlots(ctx, u.dsn)
		if err != nil {
			fmt.Fprintf(stderr, "source %s: list replication slots: %v\n", u.source, err)
			return exitFailed
		}
		found := false
		for _, s := range slots {
			if s.Name != u.slot {
				continue
			}
			found = true
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\t%s\n", u.source, s.Name, s.Active, bytesOrDash(s.Retained), bytesOrDash(s.ConfirmedLag), dash(s.WALStatus), bytesOrDash(s.SafeWALSize))
		}
		if !found {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\tmissing\t-\n", u.source, u.slot)
		}
	}
	if err := tw.Flush(); err != nil {
		return exitFailed
	}
	return exitOK
}

func bytesOrDash(n *int64) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprintf("%d", *n)
}
