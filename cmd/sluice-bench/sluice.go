package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// buildSluice compiles cmd/sluice into dir and returns the binary's path.
func buildSluice(ctx context.Context, repo, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "sluice")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/sluice")
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// sluiceRevision describes the checked-out tree, for the report.
func sluiceRevision(repo string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// sluiceRun is one sluice process with its pipeline: a postgres source on
// public.product into a file sink in Debezium's envelope.
type sluiceRun struct {
	dir string // holds pipeline.yaml, state/, out.jsonl and sluice.log
	out string
	log string
	c   *child
}

// startSluice writes a pipeline into a fresh dir and starts sluice on it.
// snapshot is "initial" or "never"; slot and publication are reused when
// they exist. The sink is a file in Debezium's envelope.
// args go to sluice run (e.g. from profileArgs).
func (b *bench) startSluice(name, snapshot, slot string, args ...string) (*sluiceRun, error) {
	return b.startSluiceInto(name, snapshot, slot, fileSink, args...)
}

// startSluiceInto is startSluice with the sinks: block written by sinks.
func (b *bench) startSluiceInto(name, snapshot, slot string, sinks func(r *sluiceRun) string, args ...string) (*sluiceRun, error) {
	return b.startSluiceOn("public.product", b.publication, name, snapshot, slot, sinks, args...)
}

// startSluiceOn is startSluiceInto on another table and its publication.
func (b *bench) startSluiceOn(table, publication, name, snapshot, slot string, sinks func(r *sluiceRun) string, args ...string) (*sluiceRun, error) {
	dir := filepath.Join(b.work, name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r := &sluiceRun{dir: dir, out: filepath.Join(dir, "out.jsonl"), log: filepath.Join(dir, "sluice.log")}
	pipeline := fmt.Sprintf(`# written by sluice-bench
state_dir: %s
sources:
  src:
    type: postgres
    dsn: %s
    tables: [%s]
    snapshot: %s
    slot: %s
    publication: %s
sinks:
%s`, strconv.Quote(filepath.Join(dir, "state")), strconv.Quote(b.dsn), table, snapshot, slot, publication, sinks(r))
	if b.engineYAML != "" {
		pipeline += "\nengine: " + b.engineYAML + "\n"
	}
	cfg := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(cfg, []byte(pipeline), 0o644); err != nil {
		return nil, err
	}
	c, err := b.procs.start(b.sluiceBin, nil, r.log, nil, append(append([]string{"run"}, args...), cfg)...)
	if err != nil {
		return nil, err
	}
	c.name = "sluice (" + name + ")"
	r.c = c
	return r, nil
}

// stop stops sluice with SIGTERM (drain, checkpoint) and reports an unclean
// exit with the end of its log.
func (r *sluiceRun) stop() error {
	if err := r.c.stop(60 * time.Second); err != nil {
		return fmt.Errorf("%s: %v; log tail:\n%s", r.c.name, err, tailFile(r.log, 2000))
	}
	return nil
}

// failed wraps err with the end of sluice's log.
func (r *sluiceRun) failed(err error) error {
	return fmt.Errorf("%w; sluice log tail:\n%s", err, tailFile(r.log, 2000))
}

// remove deletes the run's directory (the output file can be large)
// unless -keep was given.
func (b *bench) remove(r *sluiceRun) {
	if !b.keep {
		_ = os.RemoveAll(r.dir)
	}
}
