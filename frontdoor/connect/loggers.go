package connect

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kafka Connect's /admin/loggers over slog. The logger "root" is sluice's
// log level (Options.LogLevel): log4j's levels map onto slog's — TRACE,
// DEBUG and ALL are Debug, INFO Info, WARN Warn, ERROR and FATAL Error,
// OFF above every level. sluice has no named loggers below root: setting
// another name is answered as Connect answers it and listed by GET, and the
// log says that it changes nothing.

// loggers holds the levels set through the API.
type loggers struct {
	mu    sync.Mutex
	level *slog.LevelVar
	set   map[string]loggerLevel // names other than root
	root  *int64                 // root's last_modified: always null, as Connect's
}

type loggerLevel struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

// log4jLevel maps a log4j level name onto slog's; ok is false for a name
// log4j does not know.
func log4jLevel(name string) (slog.Level, bool) {
	switch strings.ToUpper(name) {
	case "ALL", "TRACE", "DEBUG":
		return slog.LevelDebug, true
	case "INFO":
		return slog.LevelInfo, true
	case "WARN":
		return slog.LevelWarn, true
	case "ERROR", "FATAL":
		return slog.LevelError, true
	case "OFF":
		return slog.LevelError + 8, true
	}
	return 0, false
}

// levelName is log4j's name of a slog level.
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARN"
	case l < slog.LevelError+8:
		return "ERROR"
	}
	return "OFF"
}

func (s *Server) listLoggers(w http.ResponseWriter, r *http.Request) {
	l := &s.loggers
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]loggerLevel{"root": {Level: levelName(l.level.Level()), LastModified: l.root}}
	for n, v := range l.set {
		out[n] = v
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getLogger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	l := &s.loggers
	l.mu.Lock()
	defer l.mu.Unlock()
	if name == "root" {
		writeJSON(w, http.StatusOK, loggerLevel{Level: levelName(l.level.Level()), LastModified: l.root})
		return
	}
	v, ok := l.set[name]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Logger %s not found.", name))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) putLogger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var body map[string]json.RawMessage
	if !readBody(w, r, &body) {
		return
	}
	var level string
	json.Unmarshal(body["level"], &level)
	if level == "" {
		writeError(w, http.StatusBadRequest, "Desired 'level' parameter was not specified in request.")
		return
	}
	sl, ok := log4jLevel(level)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("invalid log level '%s'.", level))
		return
	}
	l := &s.loggers
	l.mu.Lock()
	now := time.Now().UnixMilli()
	var affected []string
	if name == "root" {
		// Connect keeps root's last_modified null.
		l.level.Set(sl)
		// log4j sets every logger below root too.
		for n := range l.set {
			l.set[n] = loggerLevel{Level: strings.ToUpper(level), LastModified: &now}
			affected = append(affected, n)
		}
		affected = append(affected, "root")
	} else {
		for n := range l.set {
			if strings.HasPrefix(n, name+".") {
				l.set[n] = loggerLevel{Level: strings.ToUpper(level), LastModified: &now}
				affected = append(affected, n)
			}
		}
		l.set[name] = loggerLevel{Level: strings.ToUpper(level), LastModified: &now}
		affected = append(affected, name)
	}
	l.mu.Unlock()
	sort.Strings(affected)
	if name != "root" {
		s.opt.Logger.Warn("logger "+name+" set to "+strings.ToUpper(level)+": sluice has no such logger, so this changes nothing (the logger root sets sluice's level)", "logger", name)
	} else {
		s.opt.Logger.Info("log level set", "level", strings.ToUpper(level))
	}
	if r.URL.Query().Get("scope") == "cluster" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, affected)
}
