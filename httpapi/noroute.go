package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// JSONNoRoute serves mux, answering what it has no route for (404, or 405
// with Allow) with Kafka Connect's error body, {"error_code": 404,
// "message": "HTTP 404 Not Found"}, as a Connect worker does, rather than
// the mux's plain text: clients of these APIs parse every error as JSON.
func JSONNoRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusOnly{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		code := rec.code
		if code < 400 {
			code = http.StatusNotFound
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(struct {
			Code    int    `json:"error_code"`
			Message string `json:"message"`
		}{code, fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))})
	})
}

// statusOnly keeps the status and header a handler writes, nothing else.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.code = code }
