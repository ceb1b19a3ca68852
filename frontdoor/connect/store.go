package connect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sluice-dev/sluice/internal/durable"
)

// record is a connector as stored in <state>/connectors/<dir>/connector.json:
// its configuration as given (secrets included: the server needs them to
// run it; the file is 0600) and the state it should be in.
type record struct {
	Name   string `json:"name"`
	Config Config `json:"config"`
	// Target is RUNNING, PAUSED or STOPPED: what pause, resume and stop
	// asked for, kept across restarts of the server.
	Target string `json:"target"`
}

const recordFile = "connector.json"

// pipelineName is the connector's pipeline (and directory) name: the
// connector's own name when it is a valid pipeline name, else a digest of
// it (Connect names may hold any character but control characters).
func pipelineName(connector string) string {
	if nodeName.Match(connector) {
		return connector
	}
	sum := sha256.Sum256([]byte(connector))
	return "connector-" + hex.EncodeToString(sum[:8])
}

// connectorDir is where a connector's record and its pipeline's state
// live.
func connectorDir(stateDir, connector string) string {
	return filepath.Join(stateDir, "connectors", pipelineName(connector))
}

// save writes rec durably: a temporary file fsynced, renamed over the old
// one, the directory fsynced.
func save(stateDir string, rec *record) error {
	dir := connectorDir(stateDir, rec.Name)
	if err := durable.MkdirAll(dir); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dir, recordFile), append(b, '\n'), 0o600)
}

// forget removes a connector's record; its pipeline's state (checkpoints)
// stays, so a connector created again under the same name resumes where
// it was, as Kafka Connect keeps a deleted connector's offsets.
func forget(stateDir, connector string) error {
	dir := connectorDir(stateDir, connector)
	if err := os.Remove(filepath.Join(dir, recordFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return durable.SyncDir(dir)
}

// loadAll reads every stored connector, by name.
func loadAll(stateDir string) ([]*record, error) {
	paths, err := filepath.Glob(filepath.Join(stateDir, "connectors", "*", recordFile))
	if err != nil {
		return nil, err
	}
	var out []*record
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("connector record %s is damaged: %v (hint: restore it, or remove it to forget the connector)", p, err)
		}
		if rec.Name == "" || connectorDir(stateDir, rec.Name) != filepath.Dir(p) {
			return nil, fmt.Errorf("connector record %s names connector %q, which belongs elsewhere (hint: remove the file)", p, rec.Name)
		}
		out = append(out, &rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
