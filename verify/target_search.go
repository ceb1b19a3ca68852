package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/tmpl"
)

// searchTarget reads an OpenSearch or Elasticsearch sink's indexes over
// HTTP: documents by id (realtime _mget) for each chunk of source rows,
// and, when the index holds more documents than the source rows matched,
// every id (a scroll without _source) to list the extra ones.
type searchTarget struct {
	cfg      searchConf
	apiKey   string
	client   *http.Client
	host     string
	index    *tmpl.Template
	id       *tmpl.Template
	shared   bool // several tables stream to the sink
	sinkName string
}

// searchConf is what verify takes from an opensearch or elasticsearch
// sink's configuration.
type searchConf struct {
	Hosts              []string
	Username, Password string
	APIKey             string
	Index, DocumentID  string
	RequestTimeout     time.Duration
	Transport          func() (*http.Transport, error)
}

func newSearchTarget(cfg searchConf, sinkName string, shared bool) (*searchTarget, error) {
	tr, err := cfg.Transport()
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", sinkName, err)
	}
	if len(cfg.Hosts) == 0 {
		return nil, usagef("sink %s has no hosts", sinkName)
	}
	t := &searchTarget{cfg: cfg, apiKey: cfg.APIKey, client: &http.Client{Transport: tr, Timeout: cfg.RequestTimeout},
		host: strings.TrimRight(cfg.Hosts[0], "/"), shared: shared, sinkName: sinkName}
	if t.index, err = tmpl.Parse(cfg.Index); err != nil {
		return nil, usagef("sink %s: index: %v", sinkName, err)
	}
	if t.id, err = tmpl.Parse(cfg.DocumentID); err != nil {
		return nil, usagef("sink %s: document_id: %v", sinkName, err)
	}
	return t, nil
}

func (t *searchTarget) close(context.Context) { t.client.CloseIdleConnections() }

// do sends one request and decodes a 2xx JSON answer into out; status is
// returned for the caller to judge a 404.
func (t *searchTarget) do(ctx context.Context, method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.host+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	switch {
	case t.apiKey != "":
		req.Header.Set("Authorization", "ApiKey "+t.apiKey)
	case t.cfg.Username != "":
		req.SetBasicAuth(t.cfg.Username, t.cfg.Password)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap() // the url.Error quotes the URL, which may hold a password
		}
		return 0, fmt.Errorf("sink %s: %s %s: %v", t.sinkName, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("sink %s: %s %s: %v", t.sinkName, method, path, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return resp.StatusCode, nil
	}
	if resp.StatusCode/100 != 2 {
		if len(data) > 300 {
			data = data[:300]
		}
		return resp.StatusCode, fmt.Errorf("sink %s: %s %s: HTTP %d: %s", t.sinkName, method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("sink %s: %s %s: %v", t.sinkName, method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func (t *searchTarget) table(ctx context.Context, st srcTable) (tableTarget, error) {
	s := &searchTable{t: t, st: st, defaultID: t.cfg.DocumentID == "${key}"}
	name, err := t.index.RenderString(rowEvent(st.schema(), make([]event.Value, len(st.schema().Columns))))
	if err != nil || strings.Contains(t.cfg.Index, "${/") {
		return nil, usagef("sink %s: index template %q depends on row values: verify needs one index per table", t.sinkName, t.cfg.Index)
	}
	s.index = strings.ToLower(name)
	if !s.defaultID {
		s.note = append(s.note, fmt.Sprintf("document_id is %q, not ${key}: extra documents are counted but not listed", t.cfg.DocumentID))
	}
	if t.shared && !strings.Contains(t.cfg.Index, "${table}") {
		s.note = append(s.note, fmt.Sprintf("index %s may hold other tables' documents: extra documents are not looked for", s.index))
		s.noExtras = true
	}
	return s, nil
}

type searchTable struct {
	t         *searchTarget
	st        srcTable
	index     string
	defaultID bool
	noExtras  bool
	note      []string
	missingIx bool
}

func (s *searchTable) name() string    { return s.index }
func (s *searchTable) notes() []string { return s.note }

func (s *searchTable) expect(rw row) (image, error) {
	ev := rowEvent(s.st.schema(), rw.Values)
	var id []byte
	var err error
	if s.defaultID {
		id, err = tmpl.AppendKey(nil, ev)
	} else {
		id, err = s.t.id.Render(nil, ev)
	}
	if err != nil {
		return image{}, fmt.Errorf("document_id: %w", err)
	}
	doc, err := format.AppendDocumentWith(nil, s.st.schema(), rw.Values, nil, format.DocumentOptions{OmitKeyID: true})
	if err != nil {
		return image{}, err
	}
	cols, err := canonMembers(doc)
	if err != nil {
		return image{}, err
	}
	return image{id: string(id), cols: cols, key: rw.Key}, nil
}

func (s *searchTable) fetch(ctx context.Context, exp []image, _, _ []string) ([]image, error) {
	if len(exp) == 0 {
		return nil, nil
	}
	ids := make([]string, len(exp))
	for i, e := range exp {
		ids[i] = e.id
	}
	var resp struct {
		Docs []struct {
			ID     string          `json:"_id"`
			Found  bool            `json:"found"`
			Source json.RawMessage `json:"_source"`
		} `json:"docs"`
	}
	status, err := s.t.do(ctx, http.MethodPost, "/"+s.index+"/_mget", map[string]any{"ids": ids}, &resp)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		if !s.missingIx {
			s.missingIx = true
			s.note = append(s.note, fmt.Sprintf("index %s does not exist: every row is missing", s.index))
		}
		return nil, nil
	}
	var out []image
	for _, d := range resp.Docs {
		if !d.Found {
			continue
		}
		cols, err := canonMembers(d.Source)
		if err != nil {
			return nil, fmt.Errorf("sink %s: document %s of %s: %v", s.t.sinkName, d.ID, s.index, err)
		}
		out = append(out, image{id: d.ID, cols: cols})
	}
	return out, nil
}

// extras counts the index's documents (after a refresh, so that every
// acknowledged write counts) and, when more than the source rows matched,
// lists the ids that are not source keys.
func (s *searchTable) extras(ctx context.Context, matched int64, limit int, inSource func([]string) (map[string]bool, error)) ([]string, int, error) {
	if s.noExtras || s.missingIx {
		return nil, 0, nil
	}
	if st, err := s.t.do(ctx, http.MethodPost, "/"+s.index+"/_refresh", nil, nil); err != nil || st == http.StatusNotFound {
		return nil, 0, err
	}
	var cnt struct {
		Count int64 `json:"count"`
	}
	if _, err := s.t.do(ctx, http.MethodGet, "/"+s.index+"/_count", nil, &cnt); err != nil {
		return nil, 0, err
	}
	n := int(cnt.Count - matched)
	if n <= 0 {
		return nil, 0, nil
	}
	if !s.defaultID {
		return nil, n, nil
	}
	var page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if _, err := s.t.do(ctx, http.MethodPost, "/"+s.index+"/_search?scroll=1m",
		map[string]any{"size": 1000, "_source": false, "sort": []string{"_doc"}}, &page); err != nil {
		return nil, 0, err
	}
	var ids []string
	defer func() {
		if page.ScrollID != "" {
			s.t.do(context.WithoutCancel(ctx), http.MethodDelete, "/_search/scroll", map[string]any{"scroll_id": page.ScrollID}, nil)
		}
	}()
	for len(page.Hits.Hits) > 0 && len(ids) < limit {
		batch := make([]string, len(page.Hits.Hits))
		for i, h := range page.Hits.Hits {
			batch[i] = h.ID
		}
		in, err := inSource(batch)
		if err != nil {
			s.note = append(s.note, fmt.Sprintf("extra documents are counted but not listed: their ids are not keys the source accepts (%v)", err))
			return nil, n, nil
		}
		for _, id := range batch {
			if !in[id] && len(ids) < limit {
				ids = append(ids, id)
			}
		}
		id := page.ScrollID
		page.Hits.Hits = nil
		if _, err := s.t.do(ctx, http.MethodPost, "/_search/scroll", map[string]any{"scroll": "1m", "scroll_id": id}, &page); err != nil {
			return nil, 0, err
		}
	}
	return ids, n, nil
}
