package search

import "net/http"

// Transport is HTTPTransport(c) as a method, so that packages outside
// sink/ (sluice verify reads the indexes) reach it through the engines'
// Config, which embeds this one.
func (c *Config) Transport() (*http.Transport, error) { return HTTPTransport(c) }
