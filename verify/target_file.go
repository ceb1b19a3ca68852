package verify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/format"
)

// fileTarget reads a file or lines sink's output and keeps, per key, the
// last image the lines leave (a delete removes the key, a truncate of the
// table every key). The images of one table are held in memory while it
// is compared.
type fileTarget struct {
	files    func() ([]string, error) // in write order
	opts     format.Options
	shared   bool
	sinkName string
}

// rotatedFiles lists a file sink's rotated files (stem-TIME-SEQ.ext) in
// the order they were written, then the active file.
func rotatedFiles(active string) func() ([]string, error) {
	return func() ([]string, error) {
		ext := filepath.Ext(active)
		stem := strings.TrimSuffix(active, ext)
		matches, err := filepath.Glob(stem + "-*" + ext)
		if err != nil {
			return nil, err
		}
		type rf struct {
			name, time string
			seq        int
		}
		var rot []rf
		for _, m := range matches {
			mid := strings.TrimSuffix(strings.TrimPrefix(m, stem+"-"), ext)
			tm, seq, ok := strings.Cut(mid, "-")
			n, err := strconv.Atoi(seq)
			if !ok || err != nil || len(tm) != len("20060102T150405Z") {
				continue
			}
			rot = append(rot, rf{m, tm, n})
		}
		sort.Slice(rot, func(i, j int) bool {
			if rot[i].time != rot[j].time {
				return rot[i].time < rot[j].time
			}
			return rot[i].seq < rot[j].seq
		})
		var out []string
		for _, r := range rot {
			out = append(out, r.name)
		}
		if _, err := os.Stat(active); err == nil {
			out = append(out, active)
		}
		return out, nil
	}
}

func (t *fileTarget) close(context.Context) {}

func (t *fileTarget) table(ctx context.Context, st srcTable) (tableTarget, error) {
	enc, err := format.New(t.opts)
	if err != nil {
		return nil, usagef("sink %s: %v", t.sinkName, err)
	}
	ft := &fileTable{t: t, st: st, enc: enc, images: map[string]image{}}
	if t.opts.Format == format.Row && t.shared {
		return nil, usagef("sink %s writes the rows of several tables in format row, and its lines do not say their table: verify cannot tell them apart (format debezium, or a sink per table, can be verified)", t.sinkName)
	}
	if t.opts.Format == format.Row {
		switch t.opts.Unwrap.DeleteHandling {
		case "", "drop":
			ft.note = append(ft.note, "format row with delete_handling drop writes nothing for a delete: a deleted row still shows as extra")
		case "tombstone", "none":
			ft.note = append(ft.note, "format row with delete_handling tombstone writes null for a delete, without its key: a deleted row still shows as extra")
		}
	}
	files, err := t.files()
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", t.sinkName, err)
	}
	for _, f := range files {
		if err := ft.read(f); err != nil {
			return nil, fmt.Errorf("sink %s: %w", t.sinkName, err)
		}
		ft.names = append(ft.names, f)
	}
	if len(files) == 0 {
		ft.note = append(ft.note, "the sink has written no file yet: every row is missing")
	}
	return ft, nil
}

type fileTable struct {
	t      *fileTarget
	st     srcTable
	enc    format.Encoder
	images map[string]image // last image per key id
	names  []string
	note   []string
}

func (f *fileTable) name() string {
	if len(f.names) == 0 {
		return "(no file)"
	}
	if len(f.names) == 1 {
		return f.names[0]
	}
	return fmt.Sprintf("%s (and %d rotated files)", f.names[len(f.names)-1], len(f.names)-1)
}

func (f *fileTable) notes() []string { return f.note }

// read applies one file's lines to the images.
func (f *fileTable) read(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	br := bufio.NewReaderSize(fh, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			if perr := f.apply(line); perr != nil {
				return fmt.Errorf("%s:%d: %v", path, n, perr)
			}
		} // a last line without its newline is a crash's partial write: not durable, not counted
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lineImage decodes one line: its op ("d" delete, "t" truncate, "" row),
// the row image's members and whether it is of this table.
func (f *fileTable) lineImage(line []byte) (op string, members map[string]json.RawMessage, mine bool, err error) {
	if f.t.opts.Format == format.Row {
		if string(bytesTrim(line)) == "null" {
			return "", nil, false, nil
		}
		if err := json.Unmarshal(line, &members); err != nil {
			return "", nil, false, err
		}
		if d, ok := members["__deleted"]; ok && string(d) == `"true"` {
			op = "d"
		}
		return op, members, true, nil
	}
	var env struct {
		Payload *json.RawMessage `json:"payload"`
	}
	if f.t.opts.Format == format.DebeziumSchema {
		if err := json.Unmarshal(line, &env); err != nil {
			return "", nil, false, err
		}
		if env.Payload == nil {
			return "", nil, false, fmt.Errorf("no payload")
		}
		line = *env.Payload
	}
	var e struct {
		Before map[string]json.RawMessage `json:"before"`
		After  map[string]json.RawMessage `json:"after"`
		Op     string                     `json:"op"`
		Source struct {
			DB     string `json:"db"`
			Schema string `json:"schema"`
			Table  string `json:"table"`
		} `json:"source"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return "", nil, false, err
	}
	sch := f.st.schema()
	mine = e.Source.Table == sch.Table && e.Source.Schema == sch.Namespace
	if sch.Namespace == "" { // MySQL: db.table
		mine = mine && e.Source.DB == sch.Database
	}
	switch e.Op {
	case "d":
		return "d", e.Before, mine, nil
	case "t":
		return "t", nil, mine, nil
	}
	return "", e.After, mine, nil
}

func bytesTrim(b []byte) []byte { return []byte(strings.TrimSpace(string(b))) }

func (f *fileTable) apply(line []byte) error {
	op, members, mine, err := f.lineImage(line)
	if err != nil || !mine {
		return err
	}
	switch op {
	case "t":
		clear(f.images)
		return nil
	}
	img, err := f.image(members)
	if err != nil {
		return err
	}
	if op == "d" {
		delete(f.images, img.id)
		return nil
	}
	f.images[img.id] = img
	return nil
}

// image takes the table's columns from a row's members; the id is the key
// columns' values (JSON strings unquoted) joined as ${key} joins them.
func (f *fileTable) image(members map[string]json.RawMessage) (image, error) {
	sch := f.st.schema()
	img := image{cols: make(map[string]string, len(sch.Columns))}
	for _, c := range sch.Columns {
		raw, ok := members[c.Name]
		if !ok {
			continue
		}
		v, err := canonJSON(raw)
		if err != nil {
			return img, fmt.Errorf("column %s: %v", c.Name, err)
		}
		img.cols[c.Name] = v
	}
	key := make([]string, len(sch.KeyIdx))
	for i, k := range sch.KeyIdx {
		v, ok := img.cols[sch.Columns[k].Name]
		if !ok {
			return img, fmt.Errorf("the row lacks key column %s", sch.Columns[k].Name)
		}
		var s string
		if json.Unmarshal([]byte(v), &s) == nil {
			v = s
		}
		key[i] = v
	}
	img.id = keyID(key)
	return img, nil
}

func (f *fileTable) expect(rw row) (image, error) {
	line, ok, err := f.enc.AppendValue(nil, rowEvent(f.st.schema(), rw.Values))
	if err != nil {
		return image{}, err
	}
	if !ok {
		return image{}, usagef("sink %s skips snapshot rows (skipped_operations): nothing to compare", f.t.sinkName)
	}
	_, members, _, err := f.lineImage(line)
	if err != nil {
		return image{}, err
	}
	img, err := f.image(members)
	img.key = rw.Key
	return img, err
}

func (f *fileTable) fetch(_ context.Context, exp []image, _, _ []string) ([]image, error) {
	var out []image
	for _, e := range exp {
		if img, ok := f.images[e.id]; ok {
			out = append(out, img)
			delete(f.images, e.id) // what is left at the end is extra
		}
	}
	return out, nil
}

func (f *fileTable) extras(_ context.Context, _ int64, limit int, _ func([]string) (map[string]bool, error)) ([]string, int, error) {
	ids := make([]string, 0, len(f.images))
	for id := range f.images {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	n := len(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	return ids, n, nil
}

// existing is path alone if it exists, else nothing.
func existing(path string) ([]string, error) {
	if _, err := os.Stat(path); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	return []string{path}, nil
}
