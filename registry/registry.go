// Package registry builds sluice's component registry: the one place that
// lists every source, processor and sink type. It is an explicit map (no init()
// side effects), so tests can build registries of their own.
package registry

import (
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/sink/file"
	"github.com/sluice-dev/sluice/sink/stdout"
	"github.com/sluice-dev/sluice/source/generator"
	"github.com/sluice-dev/sluice/source/postgres"
)

// Default returns the registry of every built-in component type.
func Default() component.Registry {
	r := component.Registry{
		Sources: map[string]component.SourceFactory{
			"postgres":  postgres.Factory,
			"generator": generator.Factory,
		},
		Processors: map[string]component.ProcessorFactory{},
		Sinks: map[string]component.SinkFactory{
			"file":   file.Factory,
			"stdout": stdout.Factory,
		},
	}
	addSearchSinks(r.Sinks)
	addSQLSinks(r.Sinks)
	addKafka(r)
	addS3Sinks(r.Sinks)
	addMySQLSource(r.Sources)
	addPollSource(r.Sources)
	addMongoDBSource(r.Sources)
	addProcessors(r.Processors)
	return r
}
