// Package mysql is sluice's MySQL/MariaDB change-data-capture source: a
// consistent snapshot of the configured tables, then every row change after
// it from the row-based binlog (go-mysql's BinlogSyncer), as event.Events in
// batches.
package mysql
