package connect

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/svctest"
)

// step is one call of the differential sequence; after, when set, waits
// for a state on both servers before the next call.
type step struct {
	method, path, body string
	wait               func(t *testing.T, base string)
}

// TestConnectDifferential sends the same calls to a real Kafka Connect 3.9
// worker (scripts/connect.sh) and to sluice's REST API and compares the
// status codes and the JSON field sets of the answers, values aside
// (worker ids, versions, offsets), KIP-875's offsets included. It fails in CI when the worker is not
// there and skips locally with how to start it.
func TestConnectDifferential(t *testing.T) {
	connectURL := svctest.Need(t, svctest.Connect)
	connectFiles := os.Getenv("SLUICE_CONNECT_FILES")
	s := startServer(t, t.TempDir(), t.TempDir())
	topic := uniqueTopic(t)
	sfx := strings.TrimPrefix(topic, "sluice-connect-")
	src, sink := "dsrc-"+sfx, "dsink-"+sfx
	seq := func(files string) []step {
		in, out := filepath.Join(files, src+".txt"), filepath.Join(files, sink+".txt")
		os.WriteFile(in, []byte("a\nb\n"), 0o644)
		srcCfg := fmt.Sprintf(`{"connector.class":"FileStreamSource","file":%q,"topic":%q,"tasks.max":1}`, in, topic)
		sinkCfg := fmt.Sprintf(`{"connector.class":"org.apache.kafka.connect.file.FileStreamSinkConnector","file":%q,"topics":%q}`, out, topic)
		running := func(name string) func(*testing.T, string) {
			return func(t *testing.T, base string) { waitState(t, base, name, "RUNNING", "RUNNING") }
		}
		return []step{
			{method: "GET", path: "/"},
			{method: "PUT", path: "/connectors/" + src + "/config", body: srcCfg, wait: running(src)},
			{method: "PUT", path: "/connectors/" + src + "/config", body: srcCfg, wait: running(src)},
			{method: "POST", path: "/connectors", body: fmt.Sprintf(`{"name":%q,"config":%s}`, sink, sinkCfg), wait: running(sink)},
			{method: "POST", path: "/connectors", body: fmt.Sprintf(`{"name":%q,"config":%s}`, sink, sinkCfg)},
			{method: "GET", path: "/connectors/" + src},
			{method: "GET", path: "/connectors/" + src + "/config"},
			{method: "GET", path: "/connectors/" + src + "/status"},
			{method: "GET", path: "/connectors/" + src + "/tasks"},
			{method: "GET", path: "/connectors/" + src + "/tasks/0/status"},
			{method: "GET", path: "/connectors?expand=status&expand=info"},
			// A running connector's offsets are compared once it has
			// stopped (below): Connect commits them every
			// offset.flush.interval.ms, sluice's checkpoint moves at once.
			{method: "PUT", path: "/connectors/" + src + "/pause", wait: func(t *testing.T, base string) { waitState(t, base, src, "PAUSED", "PAUSED") }},
			{method: "GET", path: "/connectors/" + src + "/status"},
			{method: "PUT", path: "/connectors/" + src + "/resume", wait: running(src)},
			{method: "PUT", path: "/connectors/" + sink + "/stop", wait: func(t *testing.T, base string) { waitState(t, base, sink, "STOPPED", "") }},
			{method: "GET", path: "/connectors/" + sink + "/status"},
			{method: "GET", path: "/connectors/" + sink + "/tasks"},
			// KIP-875 offsets of a stopped sink and a running source.
			{method: "PATCH", path: "/connectors/" + sink + "/offsets", body: fmt.Sprintf(`{"offsets":[{"partition":{"kafka_topic":%q,"kafka_partition":0},"offset":{"kafka_offset":1}}]}`, topic)},
			{method: "GET", path: "/connectors/" + sink + "/offsets"},
			{method: "PATCH", path: "/connectors/" + sink + "/offsets", body: fmt.Sprintf(`{"offsets":[{"partition":{"kafka_topic":%q},"offset":{"kafka_offset":1}}]}`, topic)},
			{method: "PATCH", path: "/connectors/" + sink + "/offsets", body: fmt.Sprintf(`{"offsets":[{"partition":{"kafka_topic":%q,"kafka_partition":0},"offset":{"kafka_offset":"x"}}]}`, topic)},
			{method: "PATCH", path: "/connectors/" + sink + "/offsets", body: `{"offsets":[]}`},
			{method: "PATCH", path: "/connectors/" + sink + "/offsets", body: `{}`},
			{method: "PATCH", path: "/connectors/" + src + "/offsets", body: fmt.Sprintf(`{"offsets":[{"partition":{"filename":%q},"offset":{"position":1}}]}`, in)},
			{method: "DELETE", path: "/connectors/" + src + "/offsets"},
			{method: "GET", path: "/connectors/nope-" + sfx + "/offsets"},
			{method: "PATCH", path: "/connectors/nope-" + sfx + "/offsets", body: `{"offsets":[{"partition":{},"offset":null}]}`},
			{method: "DELETE", path: "/connectors/nope-" + sfx + "/offsets"},
			{method: "DELETE", path: "/connectors/" + sink + "/offsets"},
			{method: "GET", path: "/connectors/" + sink + "/offsets"},
			{method: "PUT", path: "/connectors/" + sink + "/resume", wait: running(sink)},
			{method: "POST", path: "/connectors/" + src + "/restart", wait: running(src)},
			{method: "POST", path: "/connectors/" + src + "/tasks/0/restart", wait: running(src)},
			{method: "POST", path: "/connectors/" + src + "/tasks/7/restart"},
			{method: "GET", path: "/connectors/" + src + "/tasks/7/status"},
			// Error cases.
			{method: "GET", path: "/connectors/nope-" + sfx},
			{method: "GET", path: "/connectors/nope-" + sfx + "/status"},
			{method: "PUT", path: "/connectors/nope-" + sfx + "/pause"},
			{method: "POST", path: "/connectors/nope-" + sfx + "/restart"},
			{method: "DELETE", path: "/connectors/nope-" + sfx},
			{method: "PUT", path: "/connectors/bad-" + sfx + "/config", body: `{"connector.class":`},
			{method: "PUT", path: "/connectors/bad-" + sfx + "/config", body: `{"name":"other","connector.class":"FileStreamSink","topics":"x"}`},
			{method: "PUT", path: "/connectors/bad-" + sfx + "/config", body: `{"connector.class":"com.example.Nope"}`},
			{method: "PUT", path: "/connectors/bad-" + sfx + "/config", body: `{"connector.class":"FileStreamSink"}`},
			{method: "PUT", path: "/connectors/bad-" + sfx + "/config", body: `{"topics":"x"}`},
			// Routes the API does not have: JSON errors, not plain text.
			{method: "GET", path: "/connectors/" + src + "/nope"},
			{method: "POST", path: "/connectors/" + src + "/config", body: srcCfg},
			{method: "DELETE", path: "/connector-plugins"},
			{method: "GET", path: "/connector-plugins"},
			{method: "GET", path: "/connector-plugins/FileStreamSinkConnector/config"},
			{method: "GET", path: "/connector-plugins/org.apache.kafka.connect.file.FileStreamSourceConnector/config"},
			{method: "GET", path: "/connector-plugins/org.apache.kafka.connect.transforms.RegexRouter/config"},
			{method: "GET", path: "/connector-plugins/com.example.Nope/config"},
			{method: "GET", path: "/admin/loggers/root"},
			{method: "PUT", path: "/admin/loggers/root", body: `{"level":"INFO"}`},
			{method: "GET", path: "/admin/loggers/root"},
			{method: "PUT", path: "/admin/loggers/org.apache.kafka.connect.file", body: `{"level":"NOPE"}`},
			{method: "PUT", path: "/admin/loggers/org.apache.kafka.connect.file", body: `{}`},
			{method: "PUT", path: "/admin/loggers/org.apache.kafka.connect.file?scope=cluster", body: `{"level":"INFO"}`},
			{method: "GET", path: "/admin/loggers/nope." + sfx},
			{method: "PUT", path: "/connector-plugins/FileStreamSinkConnector/config/validate", body: `{"connector.class":"FileStreamSink"}`},
			// A stopped source's offsets: set, read, refused, reset.
			{method: "PUT", path: "/connectors/" + src + "/stop", wait: func(t *testing.T, base string) { waitState(t, base, src, "STOPPED", "") }},
			{method: "PATCH", path: "/connectors/" + src + "/offsets", body: fmt.Sprintf(`{"offsets":[{"partition":{"filename":%q},"offset":{"position":1}}]}`, in)},
			{method: "GET", path: "/connectors/" + src + "/offsets"},
			{method: "PATCH", path: "/connectors/" + src + "/offsets", body: fmt.Sprintf(`{"offsets":[{"partition":{"filename":%q},"offset":{"pos":1}}]}`, in)},
			// (After the reset Connect lists the partition with a null
			// offset or not at all, as its offsets topic reader has it.)
			{method: "DELETE", path: "/connectors/" + src + "/offsets"},
			{method: "DELETE", path: "/connectors/" + src},
			{method: "DELETE", path: "/connectors/" + sink},
			{method: "GET", path: "/connectors/" + src},
		}
	}
	type answer struct {
		code   int
		fields string
	}
	run := func(base, files string) []answer {
		var out []answer
		for _, st := range seq(files) {
			code, b := call(t, st.method, base+st.path, st.body)
			if strings.HasPrefix(st.path, "/connectors?") {
				// Only this test's connectors: the worker may hold others.
				var m map[string]json.RawMessage
				json.Unmarshal(b, &m)
				for k := range m {
					if !strings.HasSuffix(k, sfx) {
						delete(m, k)
					}
				}
				b, _ = json.Marshal(m)
			}
			out = append(out, answer{code, fieldSet(b)})
			if st.wait != nil && code < 300 {
				st.wait(t, base)
			}
		}
		return out
	}
	want := run(connectURL, connectFiles)
	got := run(s.url, s.files)
	for i, st := range seq(t.TempDir()) {
		if got[i] != want[i] {
			t.Errorf("%s %s:\n sluice:  %d %s\n connect: %d %s", st.method, st.path, got[i].code, got[i].fields, want[i].code, want[i].fields)
		}
	}
}

// fieldSet describes a JSON body by its shape: object keys (recursively),
// the shape of an array's first element, and the kinds of values.
func fieldSet(b []byte) string {
	if len(strings.TrimSpace(string(b))) == 0 {
		return "<empty>"
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "<not json>"
	}
	return shape(v)
}

func shape(v any) string {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + shape(v[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		if len(v) == 0 {
			return "[]"
		}
		return "[" + shape(v[0]) + "]"
	case string:
		return "s"
	case float64:
		return "n"
	case bool:
		return "b"
	}
	return "null"
}
