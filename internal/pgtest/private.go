package pgtest

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/internal/svctest"
)

// Private starts a PostgreSQL server of the test's own with
// scripts/postgres.sh and returns the DSN of its database sluice_test (see
// svctest.Private): for server settings (ALTER SYSTEM), restarts, WAL
// limits, which must not touch the shared server.
func Private(t testing.TB) string {
	t.Helper()
	return svctest.Private(t, svctest.Service{Env: "SLUICE_PG_DSN", Script: "scripts/postgres.sh start"}, func() bool {
		if _, err := exec.LookPath("initdb"); err == nil {
			return true
		}
		m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
		return len(m) > 0
	})
}
