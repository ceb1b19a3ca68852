package mysql

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/event"
)

// edgeColumn is one column of the edge table and its random values (nil:
// NULL), as arguments of a prepared INSERT.
type edgeColumn struct {
	name, ddl string
	gen       func(r *rand.Rand) any
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func intGen(lo, hi int64) func(r *rand.Rand) any {
	return func(r *rand.Rand) any {
		switch r.IntN(4) {
		case 0:
			return pick(r, lo, hi, 0, -1, 1)
		default:
			if lo == math.MinInt64 {
				return int64(r.Uint64())
			}
			return lo + r.Int64N(hi-lo)
		}
	}
}

func uintGen(hi uint64) func(r *rand.Rand) any {
	return func(r *rand.Rand) any {
		if r.IntN(4) == 0 {
			return pick(r, 0, hi, 1, hi/2+1)
		}
		if hi == math.MaxUint64 {
			return r.Uint64()
		}
		return r.Uint64N(hi + 1)
	}
}

func decimalGen(p, s int) func(r *rand.Rand) any {
	return func(r *rand.Rand) any {
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteByte('-')
		}
		n := r.IntN(p - s + 1)
		if r.IntN(5) == 0 {
			n = p - s // all digits
		}
		if n == 0 {
			b.WriteByte('0')
		}
		for i := range n {
			d := r.IntN(10)
			if i == 0 && n > 1 && d == 0 {
				d = 9
			}
			b.WriteByte(byte('0' + d))
		}
		if s > 0 {
			b.WriteByte('.')
			for range s {
				b.WriteByte(byte('0' + r.IntN(10)))
			}
		}
		return b.String()
	}
}

func textGen(alphabet []string, max int) func(r *rand.Rand) any {
	return func(r *rand.Rand) any {
		n := r.IntN(min(max, 12) + 1)
		if r.IntN(25) == 0 {
			n = max
		}
		var b strings.Builder
		for range n {
			b.WriteString(pick(r, alphabet...))
		}
		return b.String()
	}
}

func bytesGen(max int) func(r *rand.Rand) any {
	return func(r *rand.Rand) any {
		n := r.IntN(min(max, 16) + 1)
		if r.IntN(25) == 0 {
			n = max
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = pick(r, 0, 0xff, byte(r.IntN(256)), 'a', 0xc3)
		}
		return b
	}
}

func fracDigits(r *rand.Rand, fsp int) string {
	if fsp == 0 {
		return ""
	}
	s := fmt.Sprintf("%06d", r.IntN(1_000_000))
	return "." + s[:fsp]
}

func dateGen(r *rand.Rand) string {
	if r.IntN(6) == 0 {
		return pick(r, "0000-00-00", "2020-00-15", "2020-05-00", "2023-02-30", "2023-04-31", "2024-02-29", "1000-01-01", "9999-12-31", "1969-12-31", "1970-01-01")
	}
	return fmt.Sprintf("%04d-%02d-%02d", 1000+r.IntN(9000), 1+r.IntN(12), 1+r.IntN(28))
}

func timeGen(fsp int) func(r *rand.Rand) any {
	return func(r *rand.Rand) any {
		if r.IntN(6) == 0 {
			return pick(r, "00:00:00", "-00:00:00.5", "-838:59:59", "838:59:59", "-00:00:01", "-12:34:56.78", "-00:00:00.000001", "24:00:00")
		}
		sign := ""
		if r.IntN(2) == 0 {
			sign = "-"
		}
		return fmt.Sprintf("%s%d:%02d:%02d%s", sign, r.IntN(839), r.IntN(60), r.IntN(60), fracDigits(r, fsp))
	}
}

func datetimeGen(fsp int) func(r *rand.Rand) any {
	return func(r *rand.Rand) any {
		if r.IntN(6) == 0 {
			return pick(r, "0000-00-00 00:00:00", "2020-00-00 10:00:00", "2023-02-30 12:00:00", "1969-12-31 23:59:59.999999",
				"1970-01-01 00:00:00", "1000-01-01 00:00:00.5", "9999-12-31 23:59:59.999999")
		}
		return fmt.Sprintf("%s %02d:%02d:%02d%s", dateGen(r), r.IntN(24), r.IntN(60), r.IntN(60), fracDigits(r, fsp))
	}
}

func timestampGen(fsp int) func(r *rand.Rand) any {
	return func(r *rand.Rand) any {
		if r.IntN(6) == 0 {
			return pick(r, "0000-00-00 00:00:00", "1970-01-01 00:00:01", "2038-01-19 03:14:07.999999")
		}
		return time.Unix(1+r.Int64N(1<<31-2), 0).UTC().Format("2006-01-02 15:04:05") + fracDigits(r, fsp)
	}
}

func labelList(prefix string, n int) (ddl string, labels []string) {
	for i := range n {
		labels = append(labels, fmt.Sprintf("%s%d", prefix, i+1))
	}
	return "'" + strings.Join(labels, "','") + "'", labels
}

// edgeColumns covers every binlog type sluice decodes, at its edges.
func edgeColumns() []edgeColumn {
	utf8 := []string{"a", "b", "Z", " ", "'", "\\", "é", "ß", "日本", "🌍", "€", "\u0000", "½"}
	latin1 := []string{"a", "b", " ", "'", "é", "Ü", "€", "½", "ÿ", "ß"}
	ascii := []string{"a", "z", "0", " ", "~", "'"}
	bigEnumDDL, bigEnum := labelList("e", 300)
	set64DDL, set64 := labelList("s", 64)
	cols := []edgeColumn{
		{"ti", "TINYINT", intGen(-128, 127)},
		{"tiu", "TINYINT UNSIGNED", uintGen(255)},
		{"si", "SMALLINT", intGen(-32768, 32767)},
		{"siu", "SMALLINT UNSIGNED", uintGen(65535)},
		{"mi", "MEDIUMINT", intGen(-8388608, 8388607)},
		{"miu", "MEDIUMINT UNSIGNED", uintGen(16777215)},
		{"i", "INT", intGen(math.MinInt32, math.MaxInt32)},
		{"iu", "INT UNSIGNED", uintGen(math.MaxUint32)},
		{"bi", "BIGINT", intGen(math.MinInt64, math.MaxInt64)},
		{"biu", "BIGINT UNSIGNED", uintGen(math.MaxUint64)},
		{"f", "FLOAT", func(r *rand.Rand) any {
			return float64(pick(r, float32(0), 1.5, -3.4e38, 1.17549435e-38, float32(r.NormFloat64()*1e6)))
		}},
		{"d", "DOUBLE", func(r *rand.Rand) any { return pick(r, 0, 5e-324, 1e308, -1.5, r.NormFloat64()*1e12) }},
		{"d10", "DECIMAL(1,0)", decimalGen(1, 0)},
		{"d52", "DECIMAL(5,2)", decimalGen(5, 2)},
		{"d99", "DECIMAL(9,9)", decimalGen(9, 9)},
		{"d100", "DECIMAL(10,0)", decimalGen(10, 0)},
		{"d189", "DECIMAL(18,9)", decimalGen(18, 9)},
		{"d3010", "DECIMAL(30,10)", decimalGen(30, 10)},
		{"d3838", "DECIMAL(38,38)", decimalGen(38, 38)},
		{"d6530", "DECIMAL(65,30)", decimalGen(65, 30)},
		{"d6500", "DECIMAL(65,0)", decimalGen(65, 0)},
		{"c5", "CHAR(5)", textGen(utf8, 5)},
		{"c255", "CHAR(255)", textGen(utf8, 255)},
		{"vc", "VARCHAR(20)", textGen(utf8, 20)},
		{"vc300", "VARCHAR(300)", textGen(utf8, 300)},
		{"l1", "VARCHAR(20) CHARACTER SET latin1", textGen(latin1, 20)},
		{"l1c", "CHAR(10) CHARACTER SET latin1", textGen(latin1, 10)},
		{"a1", "VARCHAR(10) CHARACTER SET ascii", textGen(ascii, 10)},
		{"tt", "TINYTEXT", textGen(utf8, 60)},
		{"tx", "TEXT", textGen(utf8, 100)},
		{"mt", "MEDIUMTEXT", textGen(utf8, 100)},
		{"lt", "LONGTEXT CHARACTER SET latin1", textGen(latin1, 100)},
		{"js", "JSON", func(r *rand.Rand) any {
			return pick(r, `{"a": [1, 2.5, "é"]}`, `[]`, `null`, `"x"`, fmt.Sprintf(`{"n": %d}`, r.IntN(1000)))
		}},
		{"bn", "BINARY(4)", bytesGen(4)},
		{"vb", "VARBINARY(300)", bytesGen(300)},
		{"tb", "TINYBLOB", bytesGen(255)},
		{"bl", "BLOB", bytesGen(300)},
		{"mb", "MEDIUMBLOB", bytesGen(300)},
		{"lb", "LONGBLOB", bytesGen(300)},
		{"en", "ENUM('a','b''q','c')", func(r *rand.Rand) any { return pick(r, "a", "b'q", "c", "") }},
		{"enbig", "ENUM(" + bigEnumDDL + ")", func(r *rand.Rand) any { return pick(r, bigEnum...) }},
		{"st", "SET('x','y','z')", func(r *rand.Rand) any { return pick(r, "", "x", "y,z", "x,y,z", "z") }},
		{"st64", "SET(" + set64DDL + ")", func(r *rand.Rand) any {
			var ls []string
			for _, l := range set64 {
				if r.IntN(3) == 0 {
					ls = append(ls, l)
				}
			}
			return strings.Join(ls, ",")
		}},
		{"b1", "BIT(1)", uintGen(1)},
		{"b12", "BIT(12)", uintGen(4095)},
		{"b64", "BIT(64)", uintGen(math.MaxUint64)},
		{"dte", "DATE", func(r *rand.Rand) any { return dateGen(r) }},
		{"yr", "YEAR", func(r *rand.Rand) any { return pick(r, 0, 1901, 2155, 1901+r.IntN(255)) }},
	}
	for fsp := range 7 {
		cols = append(cols,
			edgeColumn{"tm" + strconv.Itoa(fsp), fmt.Sprintf("TIME(%d)", fsp), timeGen(fsp)},
			edgeColumn{"dt" + strconv.Itoa(fsp), fmt.Sprintf("DATETIME(%d)", fsp), datetimeGen(fsp)},
			edgeColumn{"ts" + strconv.Itoa(fsp), fmt.Sprintf("TIMESTAMP(%d) NULL", fsp), timestampGen(fsp)})
	}
	return cols
}

// recordBinlog reads [file:pos, endFile:endPos) from the server as raw
// events and keeps the format description and the TABLE_MAP and rows
// events of the test database.
func (te *testEnv) recordBinlog(t *testing.T, file string, pos uint64, endFile string, endPos uint64) [][]byte {
	t.Helper()
	dc, _ := mysql.ParseDSN(te.dsn)
	host, port, err := hostPort(dc)
	if err != nil {
		t.Fatal(err)
	}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 4000 + uint32(rand.IntN(100000)), Flavor: gomysql.MariaDBFlavor, Host: host, Port: port,
		User: dc.User, Password: dc.Passwd, RawModeEnabled: true, DisableRetrySync: true, Logger: slog.New(slog.DiscardHandler),
	})
	defer syncer.Close()
	st, err := syncer.StartSync(gomysql.Position{Name: file, Pos: uint32(pos)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out [][]byte
	tables := map[uint64]bool{}
	cur, haveFDE := file, false
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			t.Fatalf("read the binlog: %v", err)
		}
		h := ev.Header
		body := ev.RawData[replication.EventHeaderSize:]
		switch h.EventType {
		case replication.ROTATE_EVENT:
			cur = string(ev.Event.(*replication.RotateEvent).NextLogName)
		case replication.FORMAT_DESCRIPTION_EVENT:
			if !haveFDE {
				out, haveFDE = append(out, clone(ev.RawData)), true
			}
		case replication.TABLE_MAP_EVENT:
			id := gomysql.FixedLengthInt(body[:6])
			n := int(body[8])
			if string(body[9:9+n]) == te.name {
				tables[id] = true
				out = append(out, clone(ev.RawData))
			}
		case replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1,
			replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2:
			if tables[gomysql.FixedLengthInt(body[:6])] {
				out = append(out, clone(ev.RawData))
			}
		}
		if cur == endFile && h.LogPos >= uint32(endPos) {
			return out
		}
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// TestImageDecoderDifferential writes edge values of every type to
// MariaDB (inserts of many rows per event, updates, deletes; zero and
// invalid dates, negative times, every fsp, 2-byte lengths, 300-label
// enums, 64-label sets, invalid UTF-8 bytes), reads the binlog back, and
// decodes each rows event with go-mysql (the source's old path) and with
// imageDecoder: every value must be identical, for the table's catalog
// decodings and for every other decoding of each binlog type. With -update
// it records the events for TestImageDecoderRecorded and the fuzz seeds.
func TestImageDecoderDifferential(t *testing.T) {
	te := newTestEnv(t)
	cols := edgeColumns()
	ddl := []string{"id INT PRIMARY KEY"}
	for _, c := range cols {
		ddl = append(ddl, c.name+" "+c.ddl)
	}
	te.exec("CREATE TABLE edge (" + strings.Join(ddl, ", ") + ")")
	ctx := context.Background()
	si := serverInfo{mariadb: true, gtid: true}
	file, pos, _, err := currentPosition(ctx, te.db, si)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := te.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Not strict: zero dates, zero parts and invalid days are stored.
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'"); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const rows, perStmt = 200, 8
	marks := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)+1), ",") + ")"
	for lo := 0; lo < rows; lo += perStmt {
		var args []any
		for id := lo; id < lo+perStmt; id++ {
			args = append(args, id)
			for _, c := range cols {
				if r.IntN(8) == 0 || id%40 == 39 {
					args = append(args, nil)
				} else {
					args = append(args, c.gen(r))
				}
			}
		}
		q := "INSERT INTO edge VALUES " + strings.TrimSuffix(strings.Repeat(marks+",", perStmt), ",")
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	for i, c := range cols {
		if i%3 != 0 {
			continue
		}
		if _, err := conn.ExecContext(ctx, "UPDATE edge SET "+c.name+" = ? WHERE id % 50 = ?", c.gen(r), i%50); err != nil {
			t.Fatalf("update %s: %v", c.name, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM edge WHERE id % 5 = 0"); err != nil {
		t.Fatal(err)
	}
	endFile, endPos, _, err := currentPosition(ctx, te.db, si)
	if err != nil {
		t.Fatal(err)
	}
	raws := te.recordBinlog(t, file, pos, endFile, endPos)

	isCols, err := loadColumns(ctx, te.db, tableRef{te.name, "edge"})
	if err != nil {
		t.Fatal(err)
	}
	_, types, err := buildSchema(event.Schema{}, tableRef{te.name, "edge"}, isCols)
	if err != nil {
		t.Fatal(err)
	}
	st := replayAll(t, raws, func(tm *replication.TableMapEvent, i int) []*colType {
		return append(variants(realType(tm, i)), types[i])
	})
	if want := rows/perStmt + len(cols)/3 + 1; st.events < want || st.fastEvents != st.events {
		t.Fatalf("%d rows events (%d decoded by the image decoder), want at least %d, all by the image decoder", st.events, st.fastEvents, want)
	}
	t.Logf("%d rows events, %d values compared", st.events, st.values)
	if *update {
		writeRecording(t, raws)
	}
}
