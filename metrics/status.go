package metrics

import "time"

// Pipeline lifecycle states, as the runtime (package supervisor) reports
// them; Kafka Connect's names.
const (
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED" // PipelineStatus.Error says why
	StateRestarting = "RESTARTING"
)

// States are the states sluice_pipeline_state always has a series for (0
// when not current), so that an alert on one of them never sees a missing
// series. A state outside this list gets a series while it is current.
var States = []string{StateRunning, StatePaused, StateStopped, StateFailed, StateRestarting}

// PipelineStatus is one pipeline's lifecycle state.
type PipelineStatus struct {
	Name  string
	State string // one of States
	// Error is why the pipeline FAILED; like every error of sluice it
	// holds no secret.
	Error string
	// Since is when the pipeline entered State.
	Since time.Time
}

// StatusSource reports the state of every pipeline of the process (the
// runtime implements it). Pipelines is called at scrape time and for
// /readyz, from any goroutine, and must be cheap.
type StatusSource interface {
	Pipelines() []PipelineStatus
}

// Ready reports whether a pipeline in state s is doing its work, or was
// told to pause: the process is ready when every pipeline is.
func Ready(s string) bool { return s == StateRunning || s == StatePaused }
