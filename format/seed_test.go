package format

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// TestSeed001Product compares the product insert with the message of seed
// 001 (Debezium 1.7.1.Final, pretty-printed, so compared as JSON values, not
// bytes). The parts that Debezium did not change between 1.7 and 2.7 must be
// equal; the ones it did change are checked to differ exactly as expected:
//
//   - 2.x adds ts_us and ts_ns to source and to the envelope;
//   - 2.x declares "incremental" among the snapshot enum's allowed values;
//   - 2.7 names the transaction block "event.block" (version 1), moves it
//     before "op", and gives the Envelope schema version 2.
func TestSeed001Product(t *testing.T) {
	raw, err := os.ReadFile("testdata/seed001_product.json")
	if err != nil {
		t.Fatal(err)
	}
	var seed map[string]any
	if err := json.Unmarshal(raw, &seed); err != nil {
		t.Fatal(err)
	}
	out, _, err := newDebezium(true).AppendValue(nil, productEvent())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}

	seedSchema, gotSchema := seed["schema"].(map[string]any), got["schema"].(map[string]any)
	seedFields, gotFields := fieldsByName(seedSchema), fieldsByName(gotSchema)
	for _, f := range []string{"before", "after", "op", "ts_ms"} {
		if !reflect.DeepEqual(seedFields[f], gotFields[f]) {
			t.Errorf("envelope schema field %q:\n got %v\nwant %v", f, gotFields[f], seedFields[f])
		}
	}
	if gotSchema["name"] != seedSchema["name"] || gotSchema["version"] != 2.0 {
		t.Errorf("envelope name/version = %v/%v", gotSchema["name"], gotSchema["version"])
	}
	// Source: the same fields in the same order, plus ts_us and ts_ns.
	ss, gs := fieldsByName(seedFields["source"]), fieldsByName(gotFields["source"])
	for name, f := range ss {
		g := gs[name]
		if name == "snapshot" {
			f["parameters"] = map[string]any{"allowed": "true,last,false,incremental"}
		}
		if !reflect.DeepEqual(f, g) {
			t.Errorf("source schema field %q:\n got %v\nwant %v", name, g, f)
		}
	}
	if len(gs) != len(ss)+2 || gs["ts_us"] == nil || gs["ts_ns"] == nil {
		t.Errorf("source schema fields: %v", keys(gs))
	}
	tx := gotFields["transaction"]
	if tx["name"] != "event.block" || !reflect.DeepEqual(tx["fields"], seedFields["transaction"]["fields"]) {
		t.Errorf("transaction schema = %v", tx)
	}

	seedPayload, gotPayload := seed["payload"].(map[string]any), got["payload"].(map[string]any)
	for _, f := range []string{"before", "after", "op", "ts_ms", "transaction"} {
		if !reflect.DeepEqual(seedPayload[f], gotPayload[f]) {
			t.Errorf("payload %q:\n got %v\nwant %v", f, gotPayload[f], seedPayload[f])
		}
	}
	seedSrc, gotSrc := seedPayload["source"].(map[string]any), gotPayload["source"].(map[string]any)
	for k, v := range seedSrc {
		if k == "version" {
			continue
		}
		if !reflect.DeepEqual(v, gotSrc[k]) {
			t.Errorf("payload source %q = %v, want %v", k, gotSrc[k], v)
		}
	}
	if gotSrc["version"] != DebeziumVersion {
		t.Errorf("source.version = %v", gotSrc["version"])
	}
}

// fieldsByName indexes a struct schema's fields by their "field" name.
func fieldsByName(schema any) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, f := range schema.(map[string]any)["fields"].([]any) {
		fm := f.(map[string]any)
		m[fm["field"].(string)] = fm
	}
	return m
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
