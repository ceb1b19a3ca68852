package format_test

import (
	"fmt"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
)

func ExampleNew() {
	schema := &event.Schema{
		Stream: "shop.public.items", Source: "shop", Connector: "postgresql", Database: "shop",
		Namespace: "public", Table: "items",
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32, Key: true},
			{Name: "price", Type: event.TypeDecimal, Precision: 10, Scale: 2, Optional: true},
		},
		KeyIdx: []int{0},
	}
	e := &event.Event{
		Op: event.OpCreate, Schema: schema,
		After:  []event.Value{event.Int(7), event.Decimal("19.90")},
		Source: event.Source{TsUs: 1700000000000000, TxID: 501, HasTxID: true, LSN: 23982504, HasLSN: true},
		TsMs:   1700000000123,
	}
	enc, err := format.New(format.Options{Format: format.Row, Unwrap: format.UnwrapOptions{
		DeleteHandling: "rewrite", AddFields: []string{"op", "lsn", "source.ts_ms"},
	}})
	if err != nil {
		panic(err)
	}
	key := enc.AppendKey(nil, e)
	value, _, err := enc.AppendValue(nil, e)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n%s\n", key, value)
	// Output:
	// {"id":7}
	// {"id":7,"price":"B8Y=","__deleted":"false","__op":"c","__lsn":23982504,"__source_ts_ms":1700000000000}
}
