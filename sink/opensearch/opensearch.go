// Package opensearch is the `type: opensearch` sink: rows become documents
// in OpenSearch indices through the official opensearch-go client's bulk
// API, with external versions from the source position so that a replay
// never overwrites a newer document. The sink logic is shared with the
// Elasticsearch sink in sink/internal/search; this package builds the
// client and registers the type.
package opensearch

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/sink/internal/search"
)

// Config is the sink's configuration: the keys of Data Prepper's opensearch
// sink that sluice supports (see search.Config).
type Config struct {
	search.Config `yaml:",inline"`
}

// Factory is the registry entry for type: opensearch.
var Factory = component.SinkFactory{
	Doc:    "OpenSearch indices via the bulk API; document per row key, external versions, deletes applied",
	Config: func() any { return &Config{Config: search.Defaults()} },
	New: func(cfg any, env component.Env) (component.Sink, error) {
		return New(*cfg.(*Config), env)
	},
}

// New builds the sink; env names it (and its keys, in messages).
func New(cfg Config, env component.Env) (*search.Sink, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, component.Permanent(errors.Join(errs...))
	}
	tr, err := search.HTTPTransport(&cfg.Config)
	if err != nil {
		return nil, err
	}
	c, err := opensearch.NewClient(opensearch.Config{
		Addresses:    cfg.Hosts,
		Username:     cfg.Username,
		Password:     cfg.Password,
		Transport:    tr,
		DisableRetry: true, // the sink and the engine retry, with backoff
	})
	if err != nil {
		return nil, err
	}
	return search.New(cfg.Config, &client{c: c, tr: tr}, search.Options{Product: "opensearch", Logger: env.Logger, Env: env})
}

// client adapts opensearch-go to search.Client. Requests go through the
// client's transport with the typed request builders; responses are read
// raw (the sink parses the little it needs).
type client struct {
	c  *opensearch.Client
	tr *http.Transport
}

func (c *client) do(ctx context.Context, method string, req opensearch.Request) (search.Response, error) {
	resp, err := c.c.Do(ctx, method, req, nil)
	if resp == nil {
		return search.Response{}, err
	}
	r, rerr := search.ReadResponse(resp.StatusCode, resp.Body)
	if err != nil && r.Status == 0 {
		return r, err
	}
	return r, rerr
}

func (c *client) Bulk(ctx context.Context, body []byte, filterPath string) (search.Response, error) {
	return c.do(ctx, http.MethodPost, opensearchapi.BulkReq{Body: bytes.NewReader(body),
		Params: opensearchapi.BulkParams{FilterPath: []string{filterPath}}})
}

func (c *client) MGet(ctx context.Context, body []byte) (search.Response, error) {
	return c.do(ctx, http.MethodPost, opensearchapi.MGetReq{Body: bytes.NewReader(body)})
}

func (c *client) CreateIndex(ctx context.Context, index string, body []byte) (search.Response, error) {
	return c.do(ctx, http.MethodPut, opensearchapi.IndicesCreateReq{Index: index, Body: bytes.NewReader(body)})
}

func (c *client) DeleteIndex(ctx context.Context, index string) (search.Response, error) {
	return c.do(ctx, http.MethodDelete, opensearchapi.IndicesDeleteReq{Indices: []string{index}})
}

// Info implements search.Pinger: GET /.
func (c *client) Info(ctx context.Context) (search.Response, error) {
	return c.do(ctx, http.MethodGet, opensearchapi.InfoReq{})
}

func (c *client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}
