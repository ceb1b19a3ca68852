// Package registry builds sluice's component registry: the one place that
// lists every source, processor and sink type. It is an explicit map (no
// init() side effects), so tests can build registries of their own.
package registry

import (
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/processor/filter"
	"github.com/sluice-dev/sluice/processor/mapper"
	"github.com/sluice-dev/sluice/processor/route"
	"github.com/sluice-dev/sluice/processor/streamsql"
	"github.com/sluice-dev/sluice/processor/unwrap"
	"github.com/sluice-dev/sluice/sink/elasticsearch"
	"github.com/sluice-dev/sluice/sink/file"
	kafkasink "github.com/sluice-dev/sluice/sink/kafka"
	linessink "github.com/sluice-dev/sluice/sink/lines"
	mysqlsink "github.com/sluice-dev/sluice/sink/mysql"
	"github.com/sluice-dev/sluice/sink/opensearch"
	pgsink "github.com/sluice-dev/sluice/sink/postgres"
	"github.com/sluice-dev/sluice/sink/s3"
	"github.com/sluice-dev/sluice/sink/stdout"
	topiclogsink "github.com/sluice-dev/sluice/sink/topiclog"
	"github.com/sluice-dev/sluice/source/generator"
	kafkasource "github.com/sluice-dev/sluice/source/kafka"
	linessource "github.com/sluice-dev/sluice/source/lines"
	"github.com/sluice-dev/sluice/source/mongodb"
	mysqlsource "github.com/sluice-dev/sluice/source/mysql"
	pgsource "github.com/sluice-dev/sluice/source/postgres"
	"github.com/sluice-dev/sluice/source/sqlpoll"
	topiclogsource "github.com/sluice-dev/sluice/source/topiclog"
)

// Default returns the registry of every built-in component type.
func Default() component.Registry {
	return component.Registry{
		Sources: map[string]component.SourceFactory{
			"postgres":  pgsource.Factory,
			"mysql":     mysqlsource.Factory,
			"mongodb":   mongodb.Factory,
			"sql_poll":  sqlpoll.Factory,
			"kafka":     kafkasource.Factory,
			"generator": generator.Factory,
			"topiclog":  topiclogsource.Factory,
			"lines":     linessource.Factory,
		},
		Processors: map[string]component.ProcessorFactory{
			"filter": filter.Factory,
			"map":    mapper.Factory,
			"route":  route.Factory,
			"sql":    streamsql.Factory,
			"unwrap": unwrap.Factory,
		},
		Sinks: map[string]component.SinkFactory{
			"file":          file.Factory,
			"stdout":        stdout.Factory,
			"opensearch":    opensearch.Factory,
			"elasticsearch": elasticsearch.Factory,
			"postgres":      pgsink.Factory,
			"mysql":         mysqlsink.Factory,
			"kafka":         kafkasink.Factory,
			"s3":            s3.Factory,
			"topiclog":      topiclogsink.Factory,
			"lines":         linessink.Factory,
		},
	}
}
