// Package elasticsearch is the `type: elasticsearch` sink for Elasticsearch
// 7.17 and 8.x: rows become documents through the official go-elasticsearch
// client's bulk API, with external versions from the source position so
// that a replay never overwrites a newer document. The sink logic is shared
// with the OpenSearch sink in sink/internal/search; this package builds the
// client and registers the type.
//
// One client serves both major versions: the v8 client sends plain JSON
// requests (no compatibility header), which 7.17 accepts, and the bulk
// metadata sluice writes (version, version_type, routing; no _type) is the
// same in both.
package elasticsearch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/sink/internal/search"
)

// Config is the sink's configuration (see search.Config) plus Elastic's
// API-key authentication.
type Config struct {
	search.Config `yaml:",inline"`
	// APIKey is a base64 "id:key" API key; it takes precedence over
	// username and password.
	APIKey string `yaml:"api_key" sluice:"secret"`
}

// Factory is the registry entry for type: elasticsearch.
var Factory = component.SinkFactory{
	Doc:    "Elasticsearch 7.17/8.x indices via the bulk API; document per row key, external versions, deletes applied",
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
	// The base client: the transport (with the product check) without the
	// functional API (esapi.API, a struct of ~500 endpoint functions) that
	// NewClient builds, so the linker keeps only the request types used
	// below: ~6 MB less code in the binary, whose pages every sluice
	// process maps.
	c, err := elasticsearch.NewBaseClient(elasticsearch.Config{
		Addresses:    cfg.Hosts,
		Username:     cfg.Username,
		Password:     cfg.Password,
		APIKey:       cfg.APIKey,
		Transport:    tr,
		DisableRetry: true, // the sink and the engine retry, with backoff
	})
	if err != nil {
		return nil, err
	}
	return search.New(cfg.Config, &client{c: c, tr: tr}, search.Options{Product: "elasticsearch", Logger: env.Logger, Env: env, APIKey: cfg.APIKey != ""})
}

// client adapts go-elasticsearch to search.Client with the esapi request
// types; responses are read raw (the sink parses the little it needs).
type client struct {
	c  *elasticsearch.BaseClient
	tr *http.Transport
}

func do(ctx context.Context, c *elasticsearch.BaseClient, req esapi.Request) (search.Response, error) {
	resp, err := req.Do(ctx, c)
	if err != nil {
		return search.Response{}, err
	}
	return search.ReadResponse(resp.StatusCode, resp.Body)
}

func (c *client) Bulk(ctx context.Context, body []byte, filterPath string) (search.Response, error) {
	return do(ctx, c.c, esapi.BulkRequest{Body: bytes.NewReader(body), FilterPath: []string{filterPath}})
}

func (c *client) MGet(ctx context.Context, body []byte) (search.Response, error) {
	return do(ctx, c.c, esapi.MgetRequest{Body: bytes.NewReader(body)})
}

func (c *client) CreateIndex(ctx context.Context, index string, body []byte) (search.Response, error) {
	return do(ctx, c.c, esapi.IndicesCreateRequest{Index: index, Body: bytes.NewReader(body)})
}

func (c *client) DeleteIndex(ctx context.Context, index string) (search.Response, error) {
	return do(ctx, c.c, esapi.IndicesDeleteRequest{Index: []string{index}})
}

// Info implements search.Pinger: GET /. The client's product check
// failing (the server is not Elasticsearch, e.g. OpenSearch) is Permanent.
func (c *client) Info(ctx context.Context) (search.Response, error) {
	r, err := do(ctx, c.c, esapi.InfoRequest{})
	if err != nil && strings.Contains(err.Error(), "server is not Elasticsearch") {
		err = component.Permanent(fmt.Errorf("%w (hint: for OpenSearch use type: opensearch)", err))
	}
	return r, err
}

func (c *client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}
