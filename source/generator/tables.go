package generator

import (
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strconv"

	"github.com/sluice-dev/sluice/event"
)

// A shape is one built-in table: its columns and how to fill a row.
//
// A row is a pure function of (seed, table, id, version): fill reseeds two
// PCGs, one from (seed, table, id) for the columns a row keeps for life
// (name, category, ...) and one from (seed, table, id, version) for the
// columns updates change (price, quantity, ...). So the generator never
// stores row contents: an update's Before image is the row at version v,
// regenerated, and its After image the row at v+1.
type shape struct {
	name    string
	columns []event.Column
	// fill writes the row into b.vals[at:at+len(columns)]. fixed and mut are
	// seeded by the caller.
	fill func(b *builder, at int, id int32, fixed, mut *rand.PCG)
}

var shapes = []*shape{productShape, usersShape}

func lookupShape(name string) *shape {
	for _, s := range shapes {
		if s.name == name {
			return s
		}
	}
	return nil
}

func tableNames() []string {
	names := make([]string, len(shapes))
	for i, s := range shapes {
		names[i] = s.name
	}
	sort.Strings(names)
	return names
}

// tableSalt separates the tables' random streams, so adding a table to the
// list does not change the rows of the others.
func tableSalt(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// schemaFor builds the immutable schema of a shape in a source named source.
func schemaFor(s *shape, source string) *event.Schema {
	cols := make([]event.Column, len(s.columns))
	copy(cols, s.columns)
	var key []int
	for i, c := range cols {
		if c.Key {
			key = append(key, i)
		}
	}
	return &event.Schema{
		Stream:    source + "." + namespace + "." + s.name,
		Source:    source,
		Connector: "generator",
		Database:  database,
		Namespace: namespace,
		Table:     s.name,
		Version:   1,
		Columns:   cols,
		KeyIdx:    key,
	}
}

const (
	namespace = "public"
	database  = "generator"
)

// The product table of seed 001 (a Kotlin Exposed IntIdTable filled with
// kotlin-faker), with the column types, lengths and defaults Debezium
// reported for it. Debezium reports the serial id's default as 0.
var productShape = &shape{
	name: "product",
	columns: []event.Column{
		{Name: "id", Type: event.TypeInt32, TypeName: "int4", TypeOID: 23, Key: true, Default: event.Int(0), HasDefault: true},
		{Name: "name", Type: event.TypeString, TypeName: "varchar", TypeOID: 1043, Length: 500},
		{Name: "price", Type: event.TypeFloat64, TypeName: "float8", TypeOID: 701, Default: event.Float(0), HasDefault: true},
		{Name: "color", Type: event.TypeString, TypeName: "varchar", TypeOID: 1043, Length: 50, Optional: true},
		{Name: "category", Type: event.TypeString, TypeName: "varchar", TypeOID: 1043, Length: 50},
		{Name: "quantity", Type: event.TypeInt32, TypeName: "int4", TypeOID: 23, Default: event.Int(0), HasDefault: true},
		{Name: "description", Type: event.TypeString, TypeName: "varchar", TypeOID: 1043, Length: 1000, Optional: true},
		{Name: "internalId", Type: event.TypeString, TypeName: "varchar", TypeOID: 1043, Length: 50},
	},
	fill: fillProduct,
}

func fillProduct(b *builder, at int, id int32, fixed, mut *rand.PCG) {
	v := b.vals[at : at+8]
	v[0] = event.Int(int64(id))

	// For life: name, color, category, internalId.
	start := len(b.text)
	b.text = append(b.text, pick(fixed, productAdjectives)...)
	b.text = append(b.text, ' ')
	b.text = append(b.text, pick(fixed, productMaterials)...)
	b.text = append(b.text, ' ')
	b.text = append(b.text, pick(fixed, productNouns)...)
	b.textValue(at+1, start)
	if intn(fixed, 10) == 0 {
		v[3] = event.Null
	} else {
		v[3] = event.String(pick(fixed, colors))
	}
	v[4] = event.String(pick(fixed, departments))
	// An ASIN-like code: "B0" and 8 of [0-9A-Z]; 36^8 < 2^64, so one draw.
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	start = len(b.text)
	b.text = append(b.text, 'B', '0')
	code := intn(fixed, 36*36*36*36*36*36*36*36)
	for range 8 {
		b.text = append(b.text, alnum[code%36])
		code /= 36
	}
	b.textValue(at+7, start)

	// Changed by updates: price, quantity, description.
	v[2] = event.Float(float64(100+intn(mut, 99_900)) / 100)
	v[5] = event.Int(int64(intn(mut, 100)))
	if intn(mut, 2) == 0 {
		v[6] = event.Null
	} else {
		start = len(b.text)
		words := 3 + int(intn(mut, 6))
		for i := range words {
			w := pick(mut, loremWords)
			if i == 0 {
				b.text = append(b.text, w[0]-('a'-'A'))
				b.text = append(b.text, w[1:]...)
				continue
			}
			b.text = append(b.text, ' ')
			b.text = append(b.text, w...)
		}
		b.text = append(b.text, pick(mut, loremPunctuation)...)
		b.textValue(at+6, start)
	}
}

// The users table of seed 003 (a Python Faker script feeding a table that a
// JDBC source polls by its incrementing key).
var usersShape = &shape{
	name: "users",
	columns: []event.Column{
		{Name: "id", Type: event.TypeInt32, TypeName: "int4", TypeOID: 23, Key: true, Default: event.Int(0), HasDefault: true},
		{Name: "full_name", Type: event.TypeString, TypeName: "varchar", TypeOID: 1043, Length: 200},
		{Name: "email", Type: event.TypeString, TypeName: "varchar", TypeOID: 1043, Length: 320},
		{Name: "address", Type: event.TypeString, TypeName: "varchar", TypeOID: 1043, Length: 500, Optional: true},
		{Name: "created_at", Type: event.TypeTimestampTZ, TypeName: "timestamptz", TypeOID: 1184},
	},
	fill: fillUser,
}

// usersEpoch is created_at of user 0, in microseconds: 2024-01-01T00:00:00Z.
// created_at is synthetic (a minute per id plus jitter), not the wall
// clock, so that a regenerated Before image matches the row as inserted.
const usersEpoch = 1_704_067_200_000_000

func fillUser(b *builder, at int, id int32, fixed, mut *rand.PCG) {
	v := b.vals[at : at+5]
	v[0] = event.Int(int64(id))

	// For life: full_name, created_at.
	first := pick(fixed, firstNames)
	last := pick(fixed, lastNames)
	start := len(b.text)
	b.text = append(b.text, first...)
	b.text = append(b.text, ' ')
	b.text = append(b.text, last...)
	b.textValue(at+1, start)
	v[4] = event.Int(usersEpoch + int64(id)*60_000_000 + int64(intn(fixed, 60_000_000)))

	// Changed by updates: email, address.
	start = len(b.text)
	b.text = appendLower(b.text, first)
	b.text = append(b.text, '.')
	b.text = appendLower(b.text, last)
	if n := intn(mut, 200); n < 100 {
		b.text = strconv.AppendUint(b.text, n, 10)
	}
	b.text = append(b.text, '@')
	b.text = append(b.text, pick(mut, emailDomains)...)
	b.textValue(at+2, start)
	if intn(mut, 8) == 0 {
		v[3] = event.Null
	} else {
		start = len(b.text)
		b.text = strconv.AppendUint(b.text, 1+intn(mut, 9999), 10)
		b.text = append(b.text, ' ')
		b.text = append(b.text, pick(mut, streetNames)...)
		b.text = append(b.text, ' ')
		b.text = append(b.text, pick(mut, streetSuffixes)...)
		b.text = append(b.text, ',', ' ')
		b.text = append(b.text, pick(mut, cities)...)
		b.textValue(at+3, start)
	}
}

func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
