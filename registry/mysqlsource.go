package registry

import "github.com/sluice-dev/sluice/component"

// addMySQLSource registers the MySQL/MariaDB binlog source.
func addMySQLSource(m map[string]component.SourceFactory) {}
