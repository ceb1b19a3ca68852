package ksqldb

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/topiclog"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
	"github.com/sluice-dev/sluice/supervisor"
)

func (s *Server) sortedRels() []*relation {
	out := make([]*relation, 0, len(s.rels))
	for _, r := range s.rels {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Server) show(st *parse.Show, text string, props map[string]string) (any, *stmtErr) {
	switch st.What {
	case "STREAMS", "TABLES":
		list := []sourceInfo{}
		for _, r := range s.sortedRels() {
			if r.kind()+"S" == st.What {
				list = append(list, sourceInfo{Type: r.kind(), Name: r.Name, Topic: r.Topic, KeyFormat: r.KeyFormat, ValueFormat: r.ValueFormat, IsWindowed: r.Windowed})
			}
		}
		if st.What == "STREAMS" {
			return streamsList{Type: "streams", StatementText: text, Streams: list, Warnings: []warning{}}, nil
		}
		return tablesList{Type: "tables", StatementText: text, Tables: list, Warnings: []warning{}}, nil
	case "QUERIES":
		ids := make([]string, 0, len(s.queries))
		for id := range s.queries {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		list := []runningQuery{}
		for _, id := range ids {
			list = append(list, s.running(s.queries[id]))
		}
		return queriesList{Type: "queries", StatementText: text, Queries: list, Warnings: []warning{}}, nil
	case "TOPICS":
		if s.opt.LogDir == "" {
			return nil, bad("SHOW TOPICS lists the topic log's topics: this server carries its topics in Kafka (hint: list them with Kafka's tools)")
		}
		l, err := topiclog.Open(s.opt.LogDir, topiclog.Options{})
		if err != nil {
			return nil, &stmtErr{code: http.StatusInternalServerError, msg: err.Error()}
		}
		defer l.Close()
		names, err := l.Topics()
		if err != nil {
			return nil, &stmtErr{code: http.StatusInternalServerError, msg: err.Error()}
		}
		list := []topicInfo{}
		for _, n := range names {
			list = append(list, topicInfo{Name: n, ReplicaInfo: []int{1}})
		}
		return topicsList{Type: "kafka_topics", StatementText: text, Topics: list, Warnings: []warning{}}, nil
	case "CONNECTORS":
		return s.showConnectors(text)
	case "PROPERTIES":
		list := []property{}
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			list = append(list, property{Name: k, Scope: "KSQL", Value: props[k]})
		}
		return propertiesList{Type: "properties", StatementText: text, Properties: list, Overwritten: keys, Defaults: []string{}, Warnings: []warning{}}, nil
	}
	return nil, bad("SHOW %s is not supported by sluice (hint: SHOW STREAMS, TABLES, QUERIES, CONNECTORS, TOPICS or PROPERTIES)", st.What)
}

// running is a query as SHOW QUERIES and DESCRIBE list it; its state is
// its pipeline's.
func (s *Server) running(q *query) runningQuery {
	state := "UNKNOWN"
	if st, ok := s.opt.Supervisor.Status(q.Pipe); ok {
		switch st.State {
		case supervisor.Running, supervisor.Restarting:
			state = "RUNNING"
		case supervisor.Failed:
			state = "ERROR"
		case supervisor.Paused:
			state = "PAUSED"
		case supervisor.Stopped:
			state = "NOT_RUNNING"
		}
	}
	topic := q.Sink
	if rel := s.rels[q.Sink]; rel != nil {
		topic = rel.Topic
	}
	return runningQuery{QueryString: q.Stmt, Sinks: []string{q.Sink}, SinkKafkaTopics: []string{topic}, ID: q.ID, StatusCount: map[string]int{state: 1}, QueryType: "PERSISTENT", State: state}
}

func (s *Server) showConnectors(text string) (any, *stmtErr) {
	if s.opt.Connect == nil {
		return nil, bad("this server has no Kafka Connect API")
	}
	code, b := s.callConnect("GET", "/connectors?expand=status&expand=info", nil)
	if code != http.StatusOK {
		return nil, &stmtErr{code: http.StatusInternalServerError, msg: "listing the connectors: " + connectMessage(b)}
	}
	var all map[string]struct {
		Info struct {
			Config map[string]string `json:"config"`
			Type   string            `json:"type"`
		} `json:"info"`
		Status struct {
			Connector struct {
				State string `json:"state"`
			} `json:"connector"`
			Tasks []struct {
				State string `json:"state"`
			} `json:"tasks"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, &stmtErr{code: http.StatusInternalServerError, msg: "the Connect API's answer does not decode: " + err.Error()}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	list := []simpleConnector{}
	for _, n := range names {
		c := all[n]
		running := 0
		for _, t := range c.Status.Tasks {
			if t.State == "RUNNING" {
				running++
			}
		}
		state := c.Status.Connector.State
		if len(c.Status.Tasks) > 0 {
			state = fmt.Sprintf("%s (%d/%d tasks RUNNING)", state, running, len(c.Status.Tasks))
		}
		list = append(list, simpleConnector{Name: n, Type: strings.ToUpper(c.Info.Type), ClassName: c.Info.Config["connector.class"], State: state})
	}
	return connectorList{Type: "connector_list", StatementText: text, Warnings: []warning{}, Connectors: list}, nil
}

func (s *Server) describe(st *parse.Describe, text string) (any, *stmtErr) {
	rel := s.rels[st.Name.Name]
	if rel == nil {
		return nil, bad("Could not find STREAM/TABLE '%s' in the Metastore", st.Name.Name)
	}
	var reads, writes []runningQuery
	for _, id := range s.readers(rel.Name) {
		reads = append(reads, s.running(s.queries[id]))
	}
	for _, q := range s.queries {
		if q.Sink == rel.Name {
			writes = append(writes, s.running(q))
		}
	}
	if reads == nil {
		reads = []runningQuery{}
	}
	if writes == nil {
		writes = []runningQuery{}
	}
	fields, warnings := s.fields(rel)
	d := sourceDescription{Name: rel.Name, ReadQueries: reads, WriteQueries: writes, Fields: fields, Type: rel.kind(), Timestamp: rel.Timestamp,
		Extended: st.Extended, KeyFormat: rel.KeyFormat, ValueFormat: rel.ValueFormat, Topic: rel.Topic, Partitions: 1, Replication: 1, Statement: rel.Stmt,
		QueryOffsetSummaries: []any{}, SourceConstraints: []string{}, ClusterStatistics: []any{}, ClusterErrorStats: []any{}}
	return sourceDescriptionEntity{Type: "sourceDescription", StatementText: text, SourceDescription: d, Warnings: warnings}, nil
}

// fields are a relation's columns: declared, else those of its topic's
// first record (as ksqlDB infers them from the registered schema).
func (s *Server) fields(rel *relation) ([]fieldInfo, []warning) {
	out := []fieldInfo{}
	if len(rel.Columns) > 0 {
		for _, c := range rel.Columns {
			f := fieldInfo{Name: c.Name.Name, Schema: schemaOf(c.Type.T)}
			if c.Key {
				f.FieldType = "KEY"
			}
			out = append(out, f)
		}
		return out, []warning{}
	}
	sch, err := s.topicSchema(rel.Topic)
	if err != nil || sch == nil {
		return out, []warning{{Message: fmt.Sprintf("the columns of %s are known once its topic %s holds a record", rel.Name, rel.Topic)}}
	}
	for _, c := range sch.Columns {
		out = append(out, fieldInfo{Name: c.Name, Schema: schemaOf(c.Type)})
		if c.Key {
			out[len(out)-1].FieldType = "KEY"
		}
	}
	return out, []warning{}
}

func schemaOf(t types.Type) schemaInfo {
	name := t.String()
	if i := strings.IndexAny(name, "<("); i > 0 {
		name = name[:i]
	}
	return schemaInfo{Type: name}
}
