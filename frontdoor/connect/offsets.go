package connect

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/supervisor"
)

// KIP-875: a connector's offsets are its pipeline's checkpoints shown in
// the connector's own shape, and set or reset through that shape while the
// connector is STOPPED.
//
//	sink connectors       {"kafka_topic": t, "kafka_partition": 0} → {"kafka_offset": n}
//	                      (the topic reader's checkpoint {"t": {"0": n}}: the next offset)
//	FileStreamSource      {"filename": f} → {"position": n}
//	Debezium PostgreSQL   {"server": prefix} → streaming {"lsn", "lsn_commit",
//	                      "lsn_proc"}: the end of the last emitted commit, with
//	                      its "txId" and "ts_usec" once one was streamed;
//	                      snapshotting {"snapshot": true, "last_snapshot_record": false,
//	                      "lsn": the snapshot's consistent point}
//	Debezium MySQL        {"server": prefix} → {"file", "pos"[, "gtids"][, "snapshot": true]}
//	JDBC source           {"protocol": "1", "table": t} → {"incrementing": n} and/or
//	                      {"timestamp": ms, "timestamp_nanos": ns}
//	Debezium MongoDB      {"server_id": prefix} → {"sec", "ord", "resume_token"[, "initsync": true]}
//
// Setting an offset changes the checkpoint where the shape says all sluice
// needs: a sink's topic offsets, FileStreamSource's position, a streaming
// PostgreSQL connector's lsn, a streaming MySQL connector's file and pos,
// the JDBC source's incrementing value. A null offset, and DELETE, remove
// the checkpoint: the source starts afresh (a new snapshot), a sink reads
// its topics from the earliest retained offset.

// connectorOffset is one entry of KIP-875's offsets list.
type connectorOffset struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

type connectorOffsets struct {
	Offsets []connectorOffset `json:"offsets"`
}

// managesOwnOffsets tells the classes whose Connect connectors implement
// alterOffsets (the answer's wording depends on it).
func managesOwnOffsets(class string) bool {
	return strings.HasPrefix(class, "org.apache.kafka.connect.file.")
}

func offsetsMessage(c *conn, verb string) string {
	if managesOwnOffsets(c.plan.Class) {
		return "The offsets for this connector have been " + verb + " successfully"
	}
	return "The Connect framework-managed offsets for this connector have been " + verb + " successfully. However, if this connector manages offsets externally, they will need to be manually " + verb + " in the system that the connector uses."
}

// offsets answers GET .../offsets.
func (s *Server) offsets(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "Connector %s not found")
	if !ok {
		return
	}
	if c.plan == nil {
		writeJSON(w, http.StatusOK, connectorOffsets{Offsets: []connectorOffset{}})
		return
	}
	cps, err := s.opt.Supervisor.Checkpoints(r.Context(), c.pipe)
	if err != nil {
		writeError(w, http.StatusInternalServerError, scrub(err.Error(), secretValues(c.rec.Config, c.plan)))
		return
	}
	out, err := toOffsets(c, cps)
	if err != nil {
		writeError(w, http.StatusInternalServerError, scrub(err.Error(), secretValues(c.rec.Config, c.plan)))
		return
	}
	writeJSON(w, http.StatusOK, connectorOffsets{Offsets: out})
}

// stoppedForOffsets answers Connect's 400 unless the connector is STOPPED.
func stoppedForOffsets(w http.ResponseWriter, c *conn) bool {
	if c.rec.Target != string(supervisor.Stopped) {
		writeError(w, http.StatusBadRequest, "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/"+c.rec.Name+"/stop' endpoint")
		return false
	}
	return true
}

// alterOffsets answers PATCH .../offsets.
func (s *Server) alterOffsets(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "Connector %s not found")
	if !ok {
		return
	}
	var body struct {
		Offsets []connectorOffset `json:"offsets"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if len(body.Offsets) == 0 {
		writeError(w, http.StatusBadRequest, "Partitions / offsets need to be provided for an alter offsets request")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !stoppedForOffsets(w, c) {
		return
	}
	if c.plan == nil {
		writeError(w, http.StatusBadRequest, "the connector's configuration does not translate: fix it first (PUT .../config)")
		return
	}
	cps, err := s.opt.Supervisor.Checkpoints(r.Context(), c.pipe)
	if err == nil {
		err = alterCheckpoints(c, cps, body.Offsets)
	}
	var code *offsetError
	switch {
	case errors.As(err, &code):
		writeError(w, code.code, code.msg)
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, scrub(err.Error(), secretValues(c.rec.Config, c.plan)))
		return
	}
	if err := s.opt.Supervisor.SetCheckpoints(c.pipe, cps); err != nil {
		writeError(w, http.StatusInternalServerError, scrub(err.Error(), secretValues(c.rec.Config, c.plan)))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": offsetsMessage(c, "altered")})
}

// resetOffsets answers DELETE .../offsets: every source of the connector's
// pipeline loses its checkpoint.
func (s *Server) resetOffsets(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "Connector %s not found")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !stoppedForOffsets(w, c) {
		return
	}
	cps, err := s.opt.Supervisor.Checkpoints(r.Context(), c.pipe)
	if err == nil {
		for k := range cps {
			cps[k] = nil
		}
		err = s.opt.Supervisor.SetCheckpoints(c.pipe, cps)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, scrub(err.Error(), secretValues(c.rec.Config, c.plan)))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": offsetsMessage(c, "reset")})
}

// offsetError is a refused offset, answered with code.
type offsetError struct {
	code int
	msg  string
}

func (e *offsetError) Error() string { return e.msg }

func badOffset(format string, args ...any) error {
	return &offsetError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// sourceName is the pipeline source whose checkpoint the offsets show.
func sourceName(p *Plan) string {
	for n := range p.Sources {
		return n // every connector's pipeline has one source
	}
	return ""
}

// prefixOf is a Debezium connector's topic prefix.
func prefixOf(cfg Config) string {
	for _, k := range []string{"topic.prefix", "database.server.name", "mongodb.name"} {
		if v := cfg[k]; v != "" {
			return v
		}
	}
	return ""
}

// toOffsets renders the checkpoints in the connector's shape.
func toOffsets(c *conn, cps map[string][]byte) ([]connectorOffset, error) {
	out := []connectorOffset{}
	cp := cps[sourceName(c.plan)]
	if len(cp) == 0 {
		return out, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(cp, &m); err != nil {
		return nil, fmt.Errorf("the checkpoint of connector %s is not JSON: %w", c.rec.Name, err)
	}
	str := func(k string) string {
		var s string
		json.Unmarshal(m[k], &s)
		return s
	}
	switch {
	case c.plan.Type == "sink":
		var topics map[string]map[string]int64
		if err := json.Unmarshal(cp, &topics); err != nil {
			return nil, fmt.Errorf("the checkpoint of connector %s is not topic offsets: %w", c.rec.Name, err)
		}
		for t, parts := range topics {
			for p, off := range parts {
				n, _ := strconv.Atoi(p)
				out = append(out, connectorOffset{Partition: map[string]any{"kafka_topic": t, "kafka_partition": n}, Offset: map[string]any{"kafka_offset": off}})
			}
		}
		sort.Slice(out, func(i, j int) bool {
			return fmt.Sprint(out[i].Partition["kafka_topic"], out[i].Partition["kafka_partition"]) < fmt.Sprint(out[j].Partition["kafka_topic"], out[j].Partition["kafka_partition"])
		})
	case c.plan.Class == "org.apache.kafka.connect.file.FileStreamSourceConnector":
		var pos int64
		json.Unmarshal(m["position"], &pos)
		out = append(out, connectorOffset{Partition: map[string]any{"filename": c.rec.Config["file"]}, Offset: map[string]any{"position": pos}})
	case c.plan.Class == "io.debezium.connector.postgresql.PostgresConnector":
		part := map[string]any{"server": prefixOf(c.rec.Config)}
		if str("phase") == "stream" {
			lsn, err := parseLSN(str("lsn"))
			if err != nil {
				return nil, err
			}
			off := map[string]any{"lsn": lsn, "lsn_commit": lsn, "lsn_proc": lsn}
			var tx, ts int64
			if json.Unmarshal(m["txid"], &tx) == nil && tx != 0 {
				off["txId"] = tx
			}
			if json.Unmarshal(m["ts_us"], &ts) == nil && ts != 0 {
				off["ts_usec"] = ts
			}
			out = append(out, connectorOffset{Partition: part, Offset: off})
		} else {
			lsn, err := parseLSN(str("consistent_point"))
			if err != nil {
				return nil, err
			}
			out = append(out, connectorOffset{Partition: part, Offset: map[string]any{"snapshot": true, "last_snapshot_record": false, "lsn": lsn}})
		}
	case c.plan.Class == "io.debezium.connector.mysql.MySqlConnector" || c.plan.Class == "io.debezium.connector.mariadb.MariaDbConnector":
		var pos int64
		json.Unmarshal(m["pos"], &pos)
		off := map[string]any{"file": str("file"), "pos": pos}
		if g := str("gtid"); g != "" {
			off["gtids"] = g
		}
		if str("phase") != "stream" {
			off["snapshot"] = true
		}
		out = append(out, connectorOffset{Partition: map[string]any{"server": prefixOf(c.rec.Config)}, Offset: off})
	case c.plan.Class == "io.confluent.connect.jdbc.JdbcSourceConnector":
		var tables map[string]struct {
			TS *struct{ Time *string } `json:"ts"`
			ID *struct{ Int *string }  `json:"id"`
		}
		json.Unmarshal(m["tables"], &tables)
		names := make([]string, 0, len(tables))
		for t := range tables {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			wm := tables[t]
			off := map[string]any{}
			if wm.ID != nil && wm.ID.Int != nil {
				n, _ := strconv.ParseInt(*wm.ID.Int, 10, 64)
				off["incrementing"] = n
			}
			if wm.TS != nil && wm.TS.Time != nil {
				if ts, err := time.Parse(time.RFC3339Nano, *wm.TS.Time); err == nil {
					off["timestamp"] = ts.UnixMilli()
					off["timestamp_nanos"] = ts.Nanosecond()
				}
			}
			out = append(out, connectorOffset{Partition: map[string]any{"protocol": "1", "table": t}, Offset: off})
		}
	case c.plan.Class == "io.debezium.connector.mongodb.MongoDbConnector":
		// Debezium's MongoDB offsets: the cluster time's seconds and
		// increment, the resume token's _data; initsync while exporting.
		var ct uint64
		json.Unmarshal(m["ct"], &ct)
		var token struct {
			Data string `json:"_data"`
		}
		json.Unmarshal(m["token"], &token)
		off := map[string]any{"sec": int64(ct >> 32), "ord": int64(uint32(ct))}
		if token.Data != "" {
			off["resume_token"] = token.Data
		}
		if str("phase") != "stream" {
			off["initsync"] = true
		}
		out = append(out, connectorOffset{Partition: map[string]any{"server_id": prefixOf(c.rec.Config)}, Offset: off})
	default:
		out = append(out, connectorOffset{Partition: map[string]any{"server_id": prefixOf(c.rec.Config)}, Offset: map[string]any{"sluice_checkpoint": json.RawMessage(cp)}})
	}
	return out, nil
}

// parseLSN reads PostgreSQL's X/Y.
func parseLSN(s string) (int64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("the checkpoint's LSN %q is not X/Y", s)
	}
	return int64(h<<32 | l), nil
}

func formatLSN(n int64) string { return fmt.Sprintf("%X/%X", uint64(n)>>32, uint32(n)) }

// number reads a JSON number given as a number (as Connect's offsets are).
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// alterCheckpoints applies the offsets to cps (nil: remove a checkpoint).
func alterCheckpoints(c *conn, cps map[string][]byte, offs []connectorOffset) error {
	src := sourceName(c.plan)
	if c.plan.Type == "sink" {
		topics := map[string]map[string]int64{}
		if cp := cps[src]; len(cp) > 0 {
			if err := json.Unmarshal(cp, &topics); err != nil {
				return fmt.Errorf("the checkpoint of connector %s is not topic offsets: %w", c.rec.Name, err)
			}
		}
		for _, o := range offs {
			t, tok := o.Partition["kafka_topic"].(string)
			p, pok := number(o.Partition["kafka_partition"])
			if !tok || !pok {
				return badOffset("The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'")
			}
			if p != 0 {
				return badOffset("sluice's topics have one partition, 0: kafka_partition %d does not exist", p)
			}
			if o.Offset == nil {
				delete(topics, t)
				continue
			}
			n, ok := number(o.Offset["kafka_offset"])
			if !ok || n < 0 {
				return badOffset("Failed to parse the following Kafka offset value in the provided offsets: '%v'. Offset values for sink connectors need to be integers.", o.Offset["kafka_offset"])
			}
			topics[t] = map[string]int64{"0": n}
		}
		if len(topics) == 0 {
			cps[src] = nil
			return nil
		}
		b, _ := json.Marshal(topics)
		cps[src] = b
		return nil
	}
	if len(offs) != 1 {
		return badOffset("sluice's %s has one partition: give one offset", c.plan.Class)
	}
	o := offs[0]
	if o.Offset == nil {
		cps[src] = nil // a fresh start
		return nil
	}
	var cp map[string]any
	if b := cps[src]; len(b) > 0 {
		if err := json.Unmarshal(b, &cp); err != nil {
			return fmt.Errorf("the checkpoint of connector %s is not JSON: %w", c.rec.Name, err)
		}
	}
	switch c.plan.Class {
	case "org.apache.kafka.connect.file.FileStreamSourceConnector":
		if f, _ := o.Partition["filename"].(string); f != c.rec.Config["file"] {
			return badOffset("the partition's filename must be the connector's file, %q", c.rec.Config["file"])
		}
		n, ok := number(o.Offset["position"])
		if !ok {
			// Kafka Connect answers this one with 500.
			return &offsetError{code: http.StatusInternalServerError, msg: "Offset objects should either be null or contain the key 'position'"}
		}
		if n < 0 {
			return badOffset("position must not be negative")
		}
		cp = map[string]any{"position": n}
	case "io.debezium.connector.postgresql.PostgresConnector":
		if err := checkServer(c, o); err != nil {
			return err
		}
		n, ok := number(o.Offset["lsn"])
		if !ok {
			return badOffset(`the offset must hold "lsn", an LSN as a number`)
		}
		if cp == nil || cp["phase"] != "stream" {
			return badOffset("sluice moves the lsn of a streaming PostgreSQL connector only; this one has not finished its snapshot (hint: DELETE the offsets for a new snapshot)")
		}
		cp["lsn"] = formatLSN(n)
		delete(cp, "txid") // they described the old position
		delete(cp, "ts_us")
	case "io.debezium.connector.mysql.MySqlConnector", "io.debezium.connector.mariadb.MariaDbConnector":
		if err := checkServer(c, o); err != nil {
			return err
		}
		f, fok := o.Offset["file"].(string)
		n, nok := number(o.Offset["pos"])
		if !fok || !nok || f == "" {
			return badOffset(`the offset must hold "file" and "pos" (a binlog file and position)`)
		}
		if cp == nil || cp["phase"] != "stream" {
			return badOffset("sluice moves the binlog position of a streaming MySQL connector only; this one has not finished its snapshot (hint: DELETE the offsets for a new snapshot)")
		}
		cp["file"], cp["pos"] = f, n
		if g, ok := o.Offset["gtids"].(string); ok {
			cp["gtid"] = g
		} else {
			delete(cp, "gtid")
		}
	case "io.confluent.connect.jdbc.JdbcSourceConnector":
		t, _ := o.Partition["table"].(string)
		n, ok := number(o.Offset["incrementing"])
		if t == "" || !ok || len(o.Offset) != 1 {
			return badOffset(`sluice sets the "incrementing" offset of a table only: {"partition": {"protocol": "1", "table": T}, "offset": {"incrementing": N}}`)
		}
		if cp == nil {
			cp = map[string]any{"v": 1, "mode": c.rec.Config["mode"]}
		}
		tables, _ := cp["tables"].(map[string]any)
		if tables == nil {
			tables = map[string]any{}
		}
		tables[t] = map[string]any{"id": map[string]any{"int": strconv.FormatInt(n, 10)}}
		cp["tables"] = tables
	default:
		return badOffset("sluice cannot set the offsets of %s, only reset them (hint: DELETE .../offsets, or an offset of null)", c.plan.Class)
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	cps[src] = b
	return nil
}

func checkServer(c *conn, o connectorOffset) error {
	if s, _ := o.Partition["server"].(string); s != prefixOf(c.rec.Config) {
		return badOffset(`the partition must be {"server": %q}`, prefixOf(c.rec.Config))
	}
	return nil
}
