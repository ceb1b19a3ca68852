package generator_test

import (
	"context"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/source/generator"
)

// printer prints events and stops the run after the last one.
type printer struct {
	left int
	stop context.CancelFunc
}

func (p *printer) Emit(_ context.Context, evs []event.Event, checkpoint []byte) error {
	for _, e := range evs {
		fmt.Printf("%s %s %s\n", e.Op, e.Schema.Stream, e.Position)
		for _, img := range []struct {
			name string
			vals []event.Value
		}{{"before", e.Before}, {"after", e.After}} {
			if img.vals == nil {
				continue
			}
			var s []string
			for _, v := range img.vals {
				s = append(s, v.Text())
			}
			fmt.Printf("  %s: %s\n", img.name, strings.Join(s, " | "))
		}
	}
	fmt.Printf("checkpoint %s\n", checkpoint)
	if p.left -= len(evs); p.left <= 0 {
		p.stop()
	}
	return nil
}

// A generator's keys in a pipeline file (the part under the source's name
// besides type:), and the first events it produces. Unset keys keep their
// defaults (batch_size 1000 here).
func Example() {
	const keys = `
tables: [product, users]
rate: 0          # as fast as the pipeline takes them; default 1 per second
count: 8         # then stop producing; 0 (default) runs forever
seed: 7          # default 1
operations: {insert: 2, update: 1, delete: 1}
`
	cfg := generator.Factory.Config()
	dec := yaml.NewDecoder(strings.NewReader(keys))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		panic(err)
	}
	src, err := generator.Factory.New(cfg, component.Env{Name: "shop"})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := src.Run(ctx, nil, &printer{left: 8, stop: cancel}); err != nil {
		panic(err)
	}
	// Output:
	// c shop.public.product gen 1
	//   after: 1 | Classic Wooden Bench | 395.04 | gold | Pet Supplies | 97 | Nisi amet aliqua quis. | B0C24ZNNZD
	// c shop.public.users gen 2
	//   after: 1 | James Nilsson | james.nilsson27@example.org | 8797 Chestnut Street, Dayton | 1704067294089706
	// c shop.public.product gen 3
	//   after: 2 | Small Copper Sunglasses | 317.55 | olive | Movies | 10 | NULL | B03WBP5TU4
	// c shop.public.users gen 4
	//   after: 2 | Lisa Okafor | lisa.okafor@example.com | 4357 Main Lane, Newport | 1704067333062743
	// u shop.public.product gen 5
	//   before: 1 | Classic Wooden Bench | 395.04 | gold | Pet Supplies | 97 | Nisi amet aliqua quis. | B0C24ZNNZD
	//   after: 1 | Classic Wooden Bench | 426.62 | gold | Pet Supplies | 46 | NULL | B0C24ZNNZD
	// d shop.public.users gen 6
	//   before: 1 | James Nilsson | james.nilsson27@example.org | 8797 Chestnut Street, Dayton | 1704067294089706
	// c shop.public.product gen 7
	//   after: 3 | Synergistic Aluminum Chair | 755.51 | turquoise | Games | 15 | NULL | B01JEUBZN2
	// u shop.public.users gen 8
	//   before: 2 | Lisa Okafor | lisa.okafor@example.com | 4357 Main Lane, Newport | 1704067333062743
	//   after: 2 | Lisa Okafor | lisa.okafor88@example.net | 1881 Lake Lane, Jackson | 1704067333062743
	// checkpoint {"v":1,"seed":7,"events":8,"next_id":{"product":4,"users":3}}
}
