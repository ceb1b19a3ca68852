package sqlsink

import (
	"context"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/transient"
)

var _ component.Connector = (*Writer)(nil)

// Connect implements component.Connector: it opens a transaction and rolls
// it back, which connects and authenticates. A server that is down or
// starting up fails with a plain error (retried by the engine at start);
// a bad password, an unknown database or a TLS setup that does not verify
// is Permanent.
func (w *Writer) Connect(ctx context.Context) error {
	tx, err := w.d.Begin(ctx)
	if err != nil {
		err = w.fail("connect", err)
		if transient.TLS(err) {
			return component.Permanent(err)
		}
		return err
	}
	return tx.Rollback(ctx)
}
