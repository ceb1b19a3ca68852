package s3

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
)

// BenchmarkS3 measures rows/s through the sink into the S3 server (JSON
// lines in the row format, and Parquet) against the physical limit on the
// same machine: putting the same objects, pre-built, with the same client.
// Each iteration writes 200,000 product-sized rows in batches of 16,384 (the engine's default write size) into
// objects of 50,000 rows and closes the sink; "ratio" is sink rows/s over
// pre-built rows/s.
//
//	go test -run '^$' -bench S3 -benchtime 3x ./sink/s3
func BenchmarkS3(b *testing.B) {
	const rows, batch, perObject = 200000, 16384, 50000
	evs := make([]event.Event, rows)
	for i := range evs {
		evs[i] = change(i+1, event.OpCreate)
		evs[i].After[1] = event.String(fmt.Sprintf("Incredible Iron Pants %d, violet, Tools, 41 in stock, B0009PC1XA", i))
		evs[i].Source.TsUs = baseMs * 1000
	}
	for _, format := range []string{"row", Parquet} {
		b.Run(format, func(b *testing.B) {
			srv := newServer(b)
			var sinkTime, putTime time.Duration
			for n := 0; n < b.N; n++ {
				cfg := srv.cfg
				cfg.Format, cfg.FlushSize, cfg.RotateBytes, cfg.Prefix = format, perObject, 0, fmt.Sprintf("sink%d", n)
				s, err := New(cfg, component.Env{Name: "bench", StateDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				for i := 0; i < rows; i += batch {
					if err := s.Write(context.Background(), evs[i:min(i+batch, rows)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
				sinkTime += time.Since(start)
			}
			// The baseline: the objects of the first iteration, from files.
			dir := b.TempDir()
			var files, keys []string
			for i, k := range srv.keys(b) {
				if len(files) == rows/perObject {
					break
				}
				f := filepath.Join(dir, fmt.Sprint(i))
				if err := os.WriteFile(f, srv.get(b, k), 0o644); err != nil {
					b.Fatal(err)
				}
				files, keys = append(files, f), append(keys, "prebuilt/"+k)
			}
			c, err := newClient(srv.cfg, component.Env{})
			if err != nil {
				b.Fatal(err)
			}
			for n := 0; n < b.N; n++ {
				start := time.Now()
				for i := range files {
					f, err := os.Open(files[i])
					if err != nil {
						b.Fatal(err)
					}
					st, _ := f.Stat()
					err = c.put(context.Background(), keys[i], object{name: files[i], r: f, size: st.Size()}, "application/octet-stream")
					f.Close()
					if err != nil {
						b.Fatal(err)
					}
				}
				putTime += time.Since(start)
			}
			sinkRate := float64(rows) * float64(b.N) / sinkTime.Seconds()
			putRate := float64(rows) * float64(b.N) / putTime.Seconds()
			b.ReportMetric(sinkRate, "rows/s")
			b.ReportMetric(putRate, "prebuilt-rows/s")
			b.ReportMetric(sinkRate/putRate, "ratio")
		})
	}
}

// productSchema is sluice-bench's product table.
var productSchema = &event.Schema{
	Stream: "pg.public.product", Source: "pg", Connector: "postgresql", Database: "bench",
	Namespace: "public", Table: "product", Version: 1,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt32, TypeName: "int4", Key: true},
		{Name: "name", Type: event.TypeString, TypeName: "varchar", Optional: true},
		{Name: "price", Type: event.TypeFloat64, TypeName: "float8", Optional: true},
		{Name: "color", Type: event.TypeString, TypeName: "varchar", Optional: true},
		{Name: "category", Type: event.TypeString, TypeName: "varchar", Optional: true},
		{Name: "quantity", Type: event.TypeInt32, TypeName: "int4", Optional: true},
		{Name: "description", Type: event.TypeString, TypeName: "varchar", Optional: true},
		{Name: "internalId", Type: event.TypeString, TypeName: "varchar", Optional: true},
	},
	KeyIdx: []int{0},
}

// productRows spools n rows shaped like sluice-bench's product table.
func productRows(n int) (specs []colSpec, recs [][]byte) {
	specs = specsFor(productSchema)
	words := []string{"Ergonomic", "Rustic", "Sleek", "Small", "Intelligent", "Handcrafted", "Gorgeous", "Practical", "Refined", "Tasty"}
	colors := []string{"red", "green", "blue", "violet", "black", "white", "teal"}
	for i := range n {
		e := event.Event{Schema: productSchema, Op: event.OpRead, After: []event.Value{
			event.Int(int64(i + 1)),
			event.String(words[i%10] + " Iron Pants " + words[(i/10)%10]),
			event.Float(float64(i%10000) / 7),
			event.String(colors[i%7]),
			event.String(words[(i/7)%10]),
			event.Int(int64(i % 1000)),
			event.String(fmt.Sprintf("The %s product with %s design, made for %d uses; reference %x", words[i%10], words[(i/3)%10], i%97, i*2654435761)),
			event.String(fmt.Sprintf("B%09X", i*7919)),
		}, Source: event.Source{TsUs: baseMs * 1000, LSN: 0x500, HasLSN: true}}
		b, _, err := appendEventRow(nil, specs, &e)
		if err != nil {
			panic(err)
		}
		recs = append(recs, b)
	}
	return specs, recs
}

// BenchmarkParquetBuild measures building a Parquet object from spooled
// product rows (the build's CPU, without the spool's I/O).
//
//	go test -run '^$' -bench ParquetBuild -cpuprofile /tmp/cpu ./sink/s3
func BenchmarkParquetBuild(b *testing.B) {
	specs, recs := productRows(100000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		i := 0
		if err := writeParquet(io.Discard, "product_v1", specs, "snappy", func() ([]byte, bool, error) {
			if i == len(recs) {
				return nil, false, nil
			}
			i++
			return recs[i-1], true, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/row")
}

// BenchmarkDecodeColumns measures decoding spooled product rows into the
// column chunks of a batch, the build's own share of its CPU.
func BenchmarkDecodeColumns(b *testing.B) {
	specs, recs := productRows(batchRows)
	cw, err := newColumnWriter(io.Discard, "product_v1", specs, "snappy", "")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		for _, r := range recs {
			if cw.arena, err = decodeColumns(cw.chunk, cw.arena, r); err != nil {
				b.Fatal(err)
			}
		}
		for c := range cw.chunk {
			cw.chunk[c] = cw.chunk[c][:0]
		}
		cw.arena = cw.arena[:0]
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/row")
}

// BenchmarkAppendEventRow measures spooling product rows' values (the
// Write path's share of the Parquet format).
func BenchmarkAppendEventRow(b *testing.B) {
	specs := specsFor(productSchema)
	evs := make([]event.Event, batchRows)
	for i := range evs {
		evs[i] = event.Event{Schema: productSchema, Op: event.OpRead, After: []event.Value{
			event.Int(int64(i + 1)), event.String("Rustic Iron Pants Sleek"), event.Float(float64(i) / 7),
			event.String("violet"), event.String("Tools"), event.Int(int64(i % 1000)),
			event.String(fmt.Sprintf("The Rustic product with Sleek design, made for %d uses; reference %x", i%97, i*2654435761)),
			event.String(fmt.Sprintf("B%09X", i*7919)),
		}, Source: event.Source{TsUs: baseMs * 1000, LSN: 0x500, HasLSN: true}}
	}
	var buf []byte
	b.ResetTimer()
	for range b.N {
		buf = buf[:0]
		for i := range evs {
			var err error
			if buf, _, err = appendEventRow(buf, specs, &evs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/row")
}

// productEvents returns n snapshot events of sluice-bench's product table.
func productEvents(n int) []event.Event {
	words := []string{"Ergonomic", "Rustic", "Sleek", "Small", "Intelligent", "Handcrafted", "Gorgeous", "Practical", "Refined", "Tasty"}
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{Schema: productSchema, Op: event.OpRead, After: []event.Value{
			event.Int(int64(i + 1)),
			event.String(words[i%10] + " Iron Pants " + words[(i/10)%10]),
			event.Float(float64(i%10000) / 7),
			event.String("violet"),
			event.String(words[(i/7)%10]),
			event.Int(int64(i % 1000)),
			event.String(fmt.Sprintf("The %s product with %s design, made for %d uses; reference %x", words[i%10], words[(i/3)%10], i%97, i*2654435761)),
			event.String(fmt.Sprintf("B%09X", i*7919)),
		}, Source: event.Source{TsUs: baseMs * 1000, LSN: 0x500, HasLSN: true}}
	}
	return evs
}

// BenchmarkJSONSpool measures the JSON-lines spooling of product rows in
// the Debezium format: encoding, framing, writing (the page cache; no
// fsync), per row.
func BenchmarkJSONSpool(b *testing.B) {
	evs := productEvents(batchRows)
	enc, err := format.New(format.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	sp, err := createSpool(b.TempDir(), 1, spoolHeader{Stream: "s", Format: "debezium"}, time.Unix(0, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer sp.close()
	var buf []byte
	b.ResetTimer()
	for n := range b.N {
		if n%16 == 0 {
			// Keep the file small: the page cache, not the disk.
			if err := sp.f.Truncate(0); err != nil {
				b.Fatal(err)
			}
		}
		for i := range evs {
			if buf, err = format.AppendLines(enc, buf[:0], &evs[i]); err != nil {
				b.Fatal(err)
			}
			if err := sp.add(pos{hi: 1, lo: uint64(i + 1)}, baseMs, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/row")
}

// BenchmarkJSONUploadRead measures what the upload of a JSON-lines object
// reads: the checksum pass over its sealed spool (with the SHA-256 of the
// whole object, as over plain HTTP) and the body read through the
// payloads in the 32 KiB reads of net/http's copy, per row.
func BenchmarkJSONUploadRead(b *testing.B) {
	const rows = 50000
	evs := productEvents(rows)
	enc, err := format.New(format.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	sp, err := createSpool(b.TempDir(), 1, spoolHeader{Stream: "s", Format: "debezium"}, time.Unix(0, 0))
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	for i := range evs {
		if buf, err = format.AppendLines(enc, buf[:0], &evs[i]); err != nil {
			b.Fatal(err)
		}
		if err := sp.add(pos{hi: 1, lo: uint64(i + 1)}, baseMs, buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := sp.seal(func(string) error { return nil }); err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 32<<10)
	b.ResetTimer()
	for range b.N {
		p, err := openPayloads(sp, sp.bytes)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, io.NewSectionReader(p, 0, p.size), chunk); err != nil {
			b.Fatal(err)
		}
		p.close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// nopStore takes objects without reading them.
type nopStore struct{}

func (nopStore) put(context.Context, string, object, string) error { return nil }

// BenchmarkJSONWrite measures the sink's Write of product rows as
// JSON lines in the Debezium format, in the engine's 16,384-row batches
// into objects of 50,000 rows (spooling, fsyncs, seals; the upload takes
// each object without reading it), per row.
func BenchmarkJSONWrite(b *testing.B) {
	const rows, batch = 100000, 16384
	evs := productEvents(rows)
	cfg := *DefaultConfig()
	cfg.Bucket, cfg.Format, cfg.FlushSize, cfg.RotateBytes = "lake", "debezium", 50000, 0
	b.ResetTimer()
	for range b.N {
		s, err := New(cfg, component.Env{Name: "bench", StateDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		s.store = nopStore{}
		for i := 0; i < rows; i += batch {
			if err := s.Write(context.Background(), evs[i:min(i+batch, rows)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}
