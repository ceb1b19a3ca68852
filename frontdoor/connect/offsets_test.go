package connect

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestOffsetsLifecycle: KIP-875 through the REST API with the topics in
// the topic log. A running connector's offsets show its checkpoint; PATCH
// and DELETE need it STOPPED (Connect's 400); a PATCHed FileStreamSource
// position and a PATCHed sink offset take effect at the next start (the
// sink's file gets the lines again from there); DELETE makes both start
// over.
func TestOffsetsLifecycle(t *testing.T) {
	state, files := t.TempDir(), t.TempDir()
	s := startLogServer(t, state, files)
	in, out := filepath.Join(files, "in.txt"), filepath.Join(files, "out.txt")
	if err := os.WriteFile(in, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, "PUT", s.url+"/connectors/src/config", `{"connector.class":"FileStreamSource","file":"in.txt","topic":"lines"}`, 201)
	expect(t, "PUT", s.url+"/connectors/sink/config", `{"connector.class":"FileStreamSink","file":"out.txt","topics":"lines"}`, 201)
	waitFile(t, out, "a\nb\n")
	body := func(b []byte) string { return string(b[:len(b)-1]) }

	// The sink's checkpoint follows its writes: wait for offset 2.
	waitBody(t, s.url+"/connectors/sink/offsets", `{"offsets":[{"partition":{"kafka_partition":0,"kafka_topic":"lines"},"offset":{"kafka_offset":2}}]}`)
	if b := expect(t, "GET", s.url+"/connectors/src/offsets", "", 200); body(b) != `{"offsets":[{"partition":{"filename":"in.txt"},"offset":{"position":4}}]}` {
		t.Errorf("source offsets: %s", b)
	}
	notStopped := `{"error_code":400,"message":"Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/src/stop' endpoint"}`
	if b := expect(t, "PATCH", s.url+"/connectors/src/offsets", `{"offsets":[{"partition":{"filename":"in.txt"},"offset":{"position":2}}]}`, 400); body(b) != notStopped {
		t.Errorf("PATCH running: %s", b)
	}
	if b := expect(t, "DELETE", s.url+"/connectors/src/offsets", "", 400); body(b) != notStopped {
		t.Errorf("DELETE running: %s", b)
	}
	if b := expect(t, "PATCH", s.url+"/connectors/src/offsets", `{"offsets":[]}`, 400); body(b) != `{"error_code":400,"message":"Partitions / offsets need to be provided for an alter offsets request"}` {
		t.Errorf("PATCH empty: %s", b)
	}
	if b := expect(t, "GET", s.url+"/connectors/nope/offsets", "", 404); body(b) != `{"error_code":404,"message":"Connector nope not found"}` {
		t.Errorf("GET unknown: %s", b)
	}

	// Stopped: the source reads from position 2 again ("b"), the sink
	// from offset 1 (the "b" already in the topic, then the new one).
	expect(t, "PUT", s.url+"/connectors/src/stop", "", 204)
	expect(t, "PUT", s.url+"/connectors/sink/stop", "", 204)
	if b := expect(t, "PATCH", s.url+"/connectors/src/offsets", `{"offsets":[{"partition":{"filename":"in.txt"},"offset":{"position":2}}]}`, 200); body(b) != `{"message":"The offsets for this connector have been altered successfully"}` {
		t.Errorf("PATCH source: %s", b)
	}
	if b := expect(t, "GET", s.url+"/connectors/src/offsets", "", 200); body(b) != `{"offsets":[{"partition":{"filename":"in.txt"},"offset":{"position":2}}]}` {
		t.Errorf("source offsets after PATCH: %s", b)
	}
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{`{"offsets":[{"partition":{"filename":"in.txt"},"offset":{"pos":2}}]}`, 500, `{"error_code":500,"message":"Offset objects should either be null or contain the key 'position'"}`},
		{`{"offsets":[{"partition":{"filename":"/etc/passwd"},"offset":{"position":2}}]}`, 400, `{"error_code":400,"message":"the partition's filename must be the connector's file, \"in.txt\""}`},
	} {
		if b := expect(t, "PATCH", s.url+"/connectors/src/offsets", tc.body, tc.code); body(b) != tc.want {
			t.Errorf("PATCH %s: %s", tc.body, b)
		}
	}
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{`{"offsets":[{"partition":{"kafka_topic":"lines"},"offset":{"kafka_offset":1}}]}`, 400, `{"error_code":400,"message":"The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'"}`},
		{`{"offsets":[{"partition":{"kafka_topic":"lines","kafka_partition":0},"offset":{"kafka_offset":"x"}}]}`, 400, `{"error_code":400,"message":"Failed to parse the following Kafka offset value in the provided offsets: 'x'. Offset values for sink connectors need to be integers."}`},
		{`{"offsets":[{"partition":{"kafka_topic":"lines","kafka_partition":3},"offset":{"kafka_offset":1}}]}`, 400, `{"error_code":400,"message":"sluice's topics have one partition, 0: kafka_partition 3 does not exist"}`},
		{`{"offsets":[{"partition":{"kafka_topic":"lines","kafka_partition":0},"offset":{"kafka_offset":1}}]}`, 200, `{"message":"The offsets for this connector have been altered successfully"}`},
	} {
		if b := expect(t, "PATCH", s.url+"/connectors/sink/offsets", tc.body, tc.code); body(b) != tc.want {
			t.Errorf("PATCH sink %s: %s", tc.body, b)
		}
	}
	if b := expect(t, "GET", s.url+"/connectors/sink/offsets", "", 200); body(b) != `{"offsets":[{"partition":{"kafka_partition":0,"kafka_topic":"lines"},"offset":{"kafka_offset":1}}]}` {
		t.Errorf("sink offsets after PATCH: %s", b)
	}
	expect(t, "PUT", s.url+"/connectors/src/resume", "", 202)
	expect(t, "PUT", s.url+"/connectors/sink/resume", "", 202)
	waitFile(t, out, "a\nb\nb\nb\n")

	// Reset: the source reads the whole file again, the sink the whole
	// topic (a, b, b, then the new a, b).
	expect(t, "PUT", s.url+"/connectors/src/stop", "", 204)
	expect(t, "PUT", s.url+"/connectors/sink/stop", "", 204)
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if b := expect(t, "DELETE", s.url+"/connectors/src/offsets", "", 200); body(b) != `{"message":"The offsets for this connector have been reset successfully"}` {
		t.Errorf("DELETE source: %s", b)
	}
	expect(t, "DELETE", s.url+"/connectors/sink/offsets", "", 200)
	for _, c := range []string{"src", "sink"} {
		if b := expect(t, "GET", s.url+"/connectors/"+c+"/offsets", "", 200); body(b) != `{"offsets":[]}` {
			t.Errorf("%s offsets after DELETE: %s", c, b)
		}
	}
	expect(t, "PUT", s.url+"/connectors/src/resume", "", 202)
	expect(t, "PUT", s.url+"/connectors/sink/resume", "", 202)
	waitFile(t, out, "a\nb\nb\na\nb\n")
}

func waitBody(t *testing.T, url, want string) {
	t.Helper()
	var last []byte
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, b := call(t, "GET", url, "")
		last = b
		if code == 200 && string(b) == want+"\n" {
			return
		}
	}
	t.Fatalf("GET %s: %s, want %s", url, last, want)
}

// TestOffsetShapes: the checkpoints of Debezium's PostgreSQL and MySQL
// connectors and of the JDBC source in their connectors' offset shapes,
// and PATCHed back into checkpoints.
func TestOffsetShapes(t *testing.T) {
	env := Env{Topics: testTopics}
	plan := func(body string) *conn {
		cfg, err := ParseConfig(json.RawMessage(body))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Translate("c", cfg, env)
		if err != nil {
			t.Fatal(err)
		}
		return &conn{rec: &record{Name: "c", Config: cfg}, plan: p}
	}
	pg := plan(pgWith(`"slot.name":"s"`))
	mysql := plan(`{"connector.class":"MySqlConnector","database.hostname":"h","database.user":"u","topic.prefix":"inv","database.include.list":"shop"}`)
	jdbc := plan(seed003Source)
	mongo := plan(seed004Logistics)
	for _, tc := range []struct {
		c    *conn
		cp   string
		want string
	}{
		{pg, `{"v":1,"slot":"s","phase":"stream","consistent_point":"0/16B3748","lsn":"1/1A2B3C0"}`,
			`[{"partition":{"server":"p"},"offset":{"lsn":4322407360,"lsn_commit":4322407360,"lsn_proc":4322407360}}]`},
		{pg, `{"v":1,"slot":"s","phase":"stream","consistent_point":"0/16B3748","lsn":"1/1A2B3C0","txid":771,"ts_us":1700000000123456}`,
			`[{"partition":{"server":"p"},"offset":{"lsn":4322407360,"lsn_commit":4322407360,"lsn_proc":4322407360,"ts_usec":1700000000123456,"txId":771}}]`},
		{pg, `{"v":1,"slot":"s","phase":"snapshot","consistent_point":"0/16B3748","tables":{"public.a":{"done":true}}}`,
			`[{"partition":{"server":"p"},"offset":{"last_snapshot_record":false,"lsn":23803720,"snapshot":true}}]`},
		{mysql, `{"v":1,"phase":"stream","file":"binlog.000003","pos":1234,"gtid":"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"}`,
			`[{"partition":{"server":"inv"},"offset":{"file":"binlog.000003","gtids":"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5","pos":1234}}]`},
		{jdbc, `{"v":1,"mode":"incrementing","tables":{"USERS":{"id":{"int":"42"}}}}`,
			`[{"partition":{"protocol":"1","table":"USERS"},"offset":{"incrementing":42}}]`},
		{mongo, `{"v":1,"phase":"stream","token":{"_data":"8266A1B2C3000000012B"},"ct":7301444407494967299,"ord":1}`,
			`[{"partition":{"server_id":"my-replica-set"},"offset":{"ord":3,"resume_token":"8266A1B2C3000000012B","sec":1700000001}}]`},
		{mongo, `{"v":1,"phase":"export","token":{"_data":"8266"},"export":{"d.c":{"done":true}}}`,
			`[{"partition":{"server_id":"my-replica-set"},"offset":{"initsync":true,"ord":0,"resume_token":"8266","sec":0}}]`},
	} {
		src := sourceName(tc.c.plan)
		got, err := toOffsets(tc.c, map[string][]byte{src: []byte(tc.cp)})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(got); string(b) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.cp, b, tc.want)
		}
	}
	for _, tc := range []struct {
		c          *conn
		cp, offset string
		want       string
	}{
		{pg, `{"v":1,"slot":"s","phase":"stream","consistent_point":"0/16B3748","lsn":"1/1A2B3C0","txid":771,"ts_us":1700000000123456}`, `{"partition":{"server":"p"},"offset":{"lsn":23803720}}`,
			`{"consistent_point":"0/16B3748","lsn":"0/16B3748","phase":"stream","slot":"s","v":1}`},
		{pg, `{"v":1,"slot":"s","phase":"snapshot","consistent_point":"0/16B3748"}`, `{"partition":{"server":"p"},"offset":{"lsn":23803720}}`,
			`error: sluice moves the lsn of a streaming PostgreSQL connector only; this one has not finished its snapshot (hint: DELETE the offsets for a new snapshot)`},
		{pg, `{"v":1,"slot":"s","phase":"stream","lsn":"1/1A2B3C0"}`, `{"partition":{"server":"other"},"offset":{"lsn":1}}`, `error: the partition must be {"server": "p"}`},
		{pg, `{"v":1,"slot":"s","phase":"stream","lsn":"1/1A2B3C0"}`, `{"partition":{"server":"p"},"offset":null}`, `<nil>`},
		{mysql, `{"v":1,"phase":"stream","file":"binlog.000003","pos":1234,"gtid":"x:1"}`, `{"partition":{"server":"inv"},"offset":{"file":"binlog.000004","pos":4}}`,
			`{"file":"binlog.000004","phase":"stream","pos":4,"v":1}`},
		{jdbc, ``, `{"partition":{"protocol":"1","table":"USERS"},"offset":{"incrementing":7}}`,
			`{"mode":"incrementing","tables":{"USERS":{"id":{"int":"7"}}},"v":1}`},
		{mongo, `{"v":1,"phase":"stream"}`, `{"partition":{"server_id":"my-replica-set"},"offset":{"sec":1}}`,
			`error: sluice cannot set the offsets of io.debezium.connector.mongodb.MongoDbConnector, only reset them (hint: DELETE .../offsets, or an offset of null)`},
		{mongo, `{"v":1,"phase":"stream"}`, `{"partition":{"server_id":"my-replica-set"},"offset":null}`, `<nil>`},
	} {
		var o connectorOffset
		if err := json.Unmarshal([]byte(tc.offset), &o); err != nil {
			t.Fatal(err)
		}
		src := sourceName(tc.c.plan)
		cps := map[string][]byte{src: []byte(tc.cp)}
		got := ""
		if err := alterCheckpoints(tc.c, cps, []connectorOffset{o}); err != nil {
			got = "error: " + err.Error()
		} else if cps[src] == nil {
			got = "<nil>"
		} else {
			got = string(cps[src])
		}
		if got != tc.want {
			t.Errorf("%s + %s:\n got %s\nwant %s", tc.cp, tc.offset, got, tc.want)
		}
	}
	if !reflect.DeepEqual(sourceName(pg.plan), "p") {
		t.Errorf("source name %q", sourceName(pg.plan))
	}
}
