package verify

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/sluice-dev/sluice/sink/elasticsearch"
	"github.com/sluice-dev/sluice/sink/file"
	"github.com/sluice-dev/sluice/sink/lines"
	"github.com/sluice-dev/sluice/sink/opensearch"
	pgsink "github.com/sluice-dev/sluice/sink/postgres"
	pgsource "github.com/sluice-dev/sluice/source/postgres"
	"github.com/sluice-dev/sluice/topology"
)

// openTarget opens the sink n for reading. shared says that several of
// the source's tables stream to it.
func openTarget(ctx context.Context, n *topology.Node, src source, srcName string, shared bool) (target, error) {
	switch c := n.Config.(type) {
	case *pgsink.Config:
		sc, err := pgsource.OpenScanner(ctx, c.DSN)
		if err != nil {
			return nil, fmt.Errorf("sink %s: %w", n.Name, err)
		}
		return &pgTarget{cfg: c, sc: sc, source: srcName}, nil
	case *opensearch.Config:
		return newSearchTarget(searchConf{Hosts: c.Hosts, Username: c.Username, Password: c.Password,
			Index: c.Index, DocumentID: c.DocumentID, RequestTimeout: c.RequestTimeout, Transport: c.Transport}, n.Name, shared)
	case *elasticsearch.Config:
		return newSearchTarget(searchConf{Hosts: c.Hosts, Username: c.Username, Password: c.Password, APIKey: c.APIKey,
			Index: c.Index, DocumentID: c.DocumentID, RequestTimeout: c.RequestTimeout, Transport: c.Transport}, n.Name, shared)
	case *file.Config:
		return &fileTarget{files: rotatedFiles(c.Path), opts: c.Options, shared: shared, sinkName: n.Name}, nil
	case *lines.Config:
		p := c.Path
		if c.Root != "" && !filepath.IsAbs(p) {
			p = filepath.Join(c.Root, p)
		}
		return &fileTarget{files: func() ([]string, error) { return existing(p) }, opts: c.Options, shared: shared, sinkName: n.Name}, nil
	}
	return nil, usagef("sink %s is of type %s: verify reads postgres, opensearch, elasticsearch, file and lines sinks", n.Name, n.Type)
}
