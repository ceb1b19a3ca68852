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
	"github.com/sluice-dev/sluice/topology"
)

// cmdStatus prints the partitions of a pipeline run by several nodes: the
// rows of its namespace in the lease table, with owner, epoch, expiry (by
// the server's clock) and progress.
func cmdStatus(args []string, reg component.Registry, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sluice status PIPELINE.yaml\n\nPrints the pipeline's partitions in its coordination store (coordination: type postgres):\nkey, kind, owner, status, epoch, lease expiry and progress.")
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
	if g.Cluster.Coordination.Type != topology.CoordinationPostgres {
		fmt.Fprintf(stderr, "%s: no coordination: block; the pipeline runs on one node and its state is in %s\n", fs.Arg(0), g.StateDir)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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
