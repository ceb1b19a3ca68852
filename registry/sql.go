package registry

import (
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/sink/mysql"
	"github.com/sluice-dev/sluice/sink/postgres"
)

// addSQLSinks registers the SQL table sinks (PostgreSQL, MySQL/MariaDB).
func addSQLSinks(m map[string]component.SinkFactory) {
	m["postgres"] = postgres.Factory
	m["mysql"] = mysql.Factory
}
