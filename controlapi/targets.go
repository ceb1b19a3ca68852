package controlapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-dev/sluice/internal/durable"
	"github.com/sluice-dev/sluice/supervisor"
)

// targetFile holds a file pipeline's target state in its state directory.
const targetFile = "target.json"

// LoadTarget returns the target state stored in a pipeline's state
// directory: RUNNING when none is stored.
func LoadTarget(stateDir string) (supervisor.State, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, targetFile))
	if errors.Is(err, os.ErrNotExist) {
		return supervisor.Running, nil
	}
	if err != nil {
		return "", err
	}
	var t struct {
		Target supervisor.State `json:"target"`
	}
	if err := json.Unmarshal(b, &t); err != nil || (t.Target != supervisor.Running && t.Target != supervisor.Paused && t.Target != supervisor.Stopped) {
		return "", fmt.Errorf("%s is damaged (hint: remove it; the pipeline then starts RUNNING)", filepath.Join(stateDir, targetFile))
	}
	return t.Target, nil
}

// saveTarget stores st durably: a temporary file fsynced, renamed, the
// directory fsynced. With no stateDir (a pipeline of `sluice run`, whose
// states last as long as the process) nothing is stored.
func saveTarget(stateDir string, st supervisor.State) error {
	if stateDir == "" {
		return nil
	}
	if err := durable.MkdirAll(stateDir); err != nil {
		return err
	}
	b, _ := json.Marshal(struct {
		Target supervisor.State `json:"target"`
	}{st})
	return durable.WriteFile(filepath.Join(stateDir, targetFile), append(b, '\n'), 0o644)
}
