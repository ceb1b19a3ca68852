package sinktest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DecodeDebezium reads one Debezium JSON envelope of the suite's table
// (with or without its schema part) as the records a history destination
// holds for it: the row of a create, update or snapshot read; a delete
// (with its before image's v); for an update that changes the key, a
// delete of the old key then the new row. Harnesses of sinks that write
// Debezium's format (file, kafka, s3) read their destination with it.
func DecodeDebezium(value []byte) ([]Record, error) {
	var env struct {
		Payload *json.RawMessage `json:"payload"`
		Schema  *json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(value, &env); err != nil {
		return nil, fmt.Errorf("not JSON: %v: %.200s", err, value)
	}
	body := value
	if env.Payload != nil && env.Schema != nil {
		body = *env.Payload
	}
	var p struct {
		Op     string `json:"op"`
		Before *row   `json:"before"`
		After  *row   `json:"after"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a Debezium envelope: %v: %.200s", err, body)
	}
	switch {
	case p.Op == "d" && p.Before != nil:
		return []Record{{ID: p.Before.ID, V: p.Before.V, Deleted: true}}, nil
	case (p.Op == "c" || p.Op == "r") && p.After != nil:
		return []Record{{ID: p.After.ID, V: p.After.V}}, nil
	case p.Op == "u" && p.After != nil:
		if p.Before != nil && p.Before.ID != p.After.ID {
			return []Record{{ID: p.Before.ID, V: p.Before.V, Deleted: true}, {ID: p.After.ID, V: p.After.V}}, nil
		}
		return []Record{{ID: p.After.ID, V: p.After.V}}, nil
	}
	return nil, fmt.Errorf("op %q with before %v and after %v is not a change of the suite's table: %.200s", p.Op, p.Before != nil, p.After != nil, body)
}

type row struct {
	ID int64  `json:"id"`
	V  string `json:"v"`
}
