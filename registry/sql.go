package registry

import "github.com/sluice-dev/sluice/component"

// addSQLSinks registers the SQL table sinks (PostgreSQL, MySQL/MariaDB).
func addSQLSinks(m map[string]component.SinkFactory) {}
