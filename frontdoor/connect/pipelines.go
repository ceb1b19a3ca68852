package connect

// What `sluice serve` needs to hold connectors beside pipelines loaded
// from files in one supervisor: the pipeline names stored connectors
// take (checked against the files' at start), which connector a pipeline
// belongs to, and the scrubbing of every connector's secrets from a
// message (package controlapi serves the supervisor's errors).

// StoredPipelines returns the pipeline name of every connector stored in
// stateDir, mapped to the connector's name.
func StoredPipelines(stateDir string) (map[string]string, error) {
	recs, err := loadAll(stateDir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(recs))
	for _, rec := range recs {
		out[pipelineName(rec.Name)] = rec.Name
	}
	return out, nil
}

// PipelineName is the name of the connector's pipeline in the supervisor.
func PipelineName(connector string) string { return pipelineName(connector) }

// ConnectorOf returns the name of the connector whose pipeline is named
// pipeline.
func (s *Server) ConnectorOf(pipeline string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, c := range s.conns {
		if c.pipe == pipeline {
			return name, true
		}
	}
	return "", false
}

// Scrub replaces the secret values of every connector in msg by the mask.
func (s *Server) Scrub(msg string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		msg = scrub(msg, secretValues(c.rec.Config, c.plan))
	}
	return msg
}
