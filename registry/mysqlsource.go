package registry

import (
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/source/mysql"
)

// addMySQLSource registers the MySQL/MariaDB binlog source.
func addMySQLSource(m map[string]component.SourceFactory) {
	m["mysql"] = mysql.Factory
}
