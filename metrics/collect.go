package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// Metrics computed at scrape time.
var (
	descCheckpointAge = prometheus.NewDesc("sluice_source_checkpoint_age_seconds",
		"Time since the source's last durable checkpoint (since it was first seen when there is none yet).",
		[]string{labelPipeline, labelSource}, nil)
	descPhase = prometheus.NewDesc("sluice_source_phase",
		"1 for the phase the source reports (starting, snapshot, streaming).",
		[]string{labelPipeline, labelSource, labelPhase}, nil)
	descSnapshotRead = prometheus.NewDesc("sluice_source_snapshot_rows_read",
		"Rows read by the running snapshot.",
		[]string{labelPipeline, labelSource}, nil)
	descSnapshotEstimated = prometheus.NewDesc("sluice_source_snapshot_rows_estimated",
		"Rows the running snapshot expects (the database's estimate; 0 when unknown).",
		[]string{labelPipeline, labelSource}, nil)
	descPipelineState = prometheus.NewDesc("sluice_pipeline_state",
		"1 for the pipeline's current lifecycle state, 0 for the others.",
		[]string{labelPipeline, labelState}, nil)
)

// scrapeCollector collects the metrics with a fixed description that are
// computed at scrape time.
type scrapeCollector struct{ m *Metrics }

func (c scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCheckpointAge, descPhase, descSnapshotRead, descSnapshotEstimated, descPipelineState} {
		ch <- d
	}
}

func (c scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	ps, status := c.m.pipelines()
	now := time.Now()
	for _, p := range ps {
		for name, s := range p.sources.all() {
			age := now.Sub(time.Unix(0, s.checkpointAt.Load())).Seconds()
			ch <- prometheus.MustNewConstMetric(descCheckpointAge, prometheus.GaugeValue, max(age, 0), p.name, name)
			w := s.watched.Load()
			if w == nil || w.progress == nil {
				continue
			}
			pr := w.progress.Progress()
			ch <- prometheus.MustNewConstMetric(descPhase, prometheus.GaugeValue, 1, p.name, name, pr.Phase)
			if pr.Phase == "snapshot" {
				ch <- prometheus.MustNewConstMetric(descSnapshotRead, prometheus.GaugeValue, float64(pr.Done), p.name, name)
				ch <- prometheus.MustNewConstMetric(descSnapshotEstimated, prometheus.GaugeValue, float64(pr.Total), p.name, name)
			}
		}
	}
	if status == nil {
		return
	}
	for _, st := range status.Pipelines() {
		known := false
		for _, s := range States {
			v := 0.0
			if s == st.State {
				v, known = 1, true
			}
			ch <- prometheus.MustNewConstMetric(descPipelineState, prometheus.GaugeValue, v, st.Name, s)
		}
		if !known {
			ch <- prometheus.MustNewConstMetric(descPipelineState, prometheus.GaugeValue, 1, st.Name, st.State)
		}
	}
}

// gaugeCollector collects the sources' own gauges (component.Gauger). Their
// names are known only when collected, so it describes nothing: the
// registry treats it as unchecked and checks each scrape's consistency
// instead.
type gaugeCollector struct {
	m *Metrics

	mu    sync.Mutex
	descs map[string]*prometheus.Desc // by name: the first help seen wins
	// procDescs are the processors' gauges (labels pipeline, processor).
	procDescs map[string]*prometheus.Desc
}

func (c *gaugeCollector) Describe(chan<- *prometheus.Desc) {}

func (c *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	ps, _ := c.m.pipelines()
	var wg sync.WaitGroup
	for _, p := range ps {
		for name, s := range p.sources.all() {
			w := s.watched.Load()
			if w == nil || w.gauger == nil {
				continue
			}
			// Each Gauger may take a moment (a query with a short
			// timeout); ask them all at once.
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, g := range w.gauger.Gauges() {
					d := c.desc(g.Name, g.Help, g.Labels)
					if d == nil {
						continue
					}
					values := []string{p.name, name}
					for _, l := range g.Labels {
						values = append(values, l[1])
					}
					// A gauge whose labels differ from its name's first
					// ones is dropped here (inconsistent cardinality).
					if m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, g.Value, values...); err == nil {
						ch <- m
					}
				}
			}()
		}
		for name, s := range p.procs.all() {
			gp := s.gauger.Load()
			if gp == nil {
				continue
			}
			for _, g := range (*gp).Gauges() {
				d := c.procDesc(g.Name, g.Help)
				if d == nil {
					continue
				}
				if m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, g.Value, p.name, name); err == nil {
					ch <- m
				}
			}
		}
	}
	wg.Wait()
}

// procDesc is desc for a processor's gauge.
func (c *gaugeCollector) procDesc(name, help string) *prometheus.Desc {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.procDescs[name]; ok {
		return d
	}
	if _, ok := c.descs[name]; ok || !strings.HasPrefix(name, "sluice_") || reserved(name) || !model.LegacyValidation.IsValidMetricName(name) {
		return nil
	}
	if c.procDescs == nil {
		c.procDescs = map[string]*prometheus.Desc{}
	}
	d := prometheus.NewDesc(name, help, []string{labelPipeline, "processor"}, nil)
	c.procDescs[name] = d
	return d
}

// desc returns the description of a component gauge, or nil when its name
// is not one a component may use: a component's gauge must be named
// sluice_<something> in the classic character set ([a-zA-Z0-9_:], which
// every Prometheus server accepts) and must not take a name of this package.
func (c *gaugeCollector) desc(name, help string, extra [][2]string) *prometheus.Desc {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.descs[name]; ok {
		return d
	}
	if !strings.HasPrefix(name, "sluice_") || reserved(name) || !model.LegacyValidation.IsValidMetricName(name) {
		return nil
	}
	labels := []string{labelPipeline, labelSource}
	for _, l := range extra {
		if l[0] == labelPipeline || l[0] == labelSource || !model.LegacyValidation.IsValidLabelName(l[0]) {
			return nil
		}
		labels = append(labels, l[0])
	}
	d := prometheus.NewDesc(name, help, labels, nil)
	c.descs[name] = d
	return d
}

// reserved reports whether name belongs to this package's metrics.
func reserved(name string) bool {
	for _, p := range []string{"sluice_source_", "sluice_sink_", "sluice_processor_", "sluice_pipeline_", "sluice_retries_", "sluice_record_errors_", "sluice_dead_letters_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
