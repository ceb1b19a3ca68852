package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// startPostgres starts a throw-away PostgreSQL with fsync on through
// scripts/postgres.sh under base and returns its DSN.
func startPostgres(ctx context.Context, repo, base string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repo, "scripts/postgres.sh"), "start")
	cmd.Env = append(os.Environ(), "SLUICE_TMP="+base, "SLUICE_PG_FSYNC=on")
	cmd.Env = append(cmd.Env, "SLUICE_PG_PORT=") // always a free port
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/postgres.sh start: %w", err)
	}
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "export SLUICE_PG_DSN="); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("scripts/postgres.sh start printed no SLUICE_PG_DSN: %q", out)
}

// stopPostgres stops the server under base and removes its directory.
func stopPostgres(repo, base string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repo, "scripts/postgres.sh"), "stop")
	cmd.Env = append(os.Environ(), "SLUICE_TMP="+base)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "sluice-bench: stopping PostgreSQL: %v\n", err)
	}
}

// connect opens one connection with a deadline on the handshake.
func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return pgx.Connect(ctx, dsn)
}

// exec runs statements one by one, each with its own deadline.
func execAll(ctx context.Context, conn *pgx.Conn, d time.Duration, stmts ...string) error {
	for _, s := range stmts {
		sctx, cancel := context.WithTimeout(ctx, d)
		_, err := conn.Exec(sctx, s)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// createTableSQL is seed 001's product table.
const createTableSQL = `DROP TABLE IF EXISTS product;
CREATE TABLE product (
	id serial PRIMARY KEY,
	name varchar(500),
	price float8 DEFAULT 0,
	color varchar(50),
	category varchar(50),
	quantity int DEFAULT 0,
	description varchar(1000),
	"internalId" varchar(50)
)`

// fillSQL makes rows of about 180 bytes of COPY text each, from word lists
// so that the text compresses and encodes like real product data.
const fillSQL = `INSERT INTO product (name, price, color, category, quantity, description, "internalId")
SELECT
	(ARRAY['Ergonomic','Rustic','Sleek','Small','Intelligent','Handcrafted','Gorgeous','Practical','Refined','Tasty'])[1 + g % 10]
	|| ' ' || (ARRAY['Steel','Wooden','Cotton','Granite','Plastic','Rubber','Frozen','Fresh','Bronze','Marble'])[1 + (g / 10) % 10]
	|| ' ' || (ARRAY['Chair','Table','Shoes','Hat','Gloves','Keyboard','Bike','Lamp','Towels','Soap','Cheese','Sausages'])[1 + (g / 100) % 12],
	round((random() * 1000)::numeric, 2)::float8,
	(ARRAY['red','green','blue','black','white','ivory','salmon','turquoise','violet','orchid'])[1 + (g / 7) % 10],
	(ARRAY['Books','Games','Garden','Health','Home','Jewelery','Kids','Music','Outdoors','Sports','Toys','Tools'])[1 + (g / 13) % 12],
	(random() * 500)::int,
	'The ' || (ARRAY['slim','sturdy','classic','modern','compact','deluxe'])[1 + (g / 3) % 6]
	|| ' design for everyday use, batch ' || (g % 977) || '; ref ' || md5(g::text)
	|| ', checked in hall ' || (g % 31) || ' and packed',
	'INT-' || lpad(g::text, 9, '0')
FROM generate_series(1, $1::int) AS g`

// tableInfo describes the benchmark table.
type tableInfo struct {
	Rows       int64 `json:"rows"`
	TableBytes int64 `json:"table_bytes"` // heap only
	TotalBytes int64 `json:"total_bytes"` // with indexes and TOAST
	CopyBytes  int64 `json:"copy_bytes"`  // COPY text output size
}

// setupTable creates and fills the product table and a publication for it.
func setupTable(ctx context.Context, conn *pgx.Conn, rows int, publication string) (tableInfo, error) {
	var ti tableInfo
	if err := execAll(ctx, conn, time.Minute, createTableSQL); err != nil {
		return ti, err
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Minute+time.Duration(rows)*time.Millisecond)
	_, err := conn.Exec(fctx, fillSQL, rows)
	cancel()
	if err != nil {
		return ti, fmt.Errorf("fill product: %w", err)
	}
	if err := execAll(ctx, conn, 10*time.Minute, "VACUUM ANALYZE product",
		"DROP PUBLICATION IF EXISTS "+publication,
		"CREATE PUBLICATION "+publication+" FOR TABLE public.product"); err != nil {
		return ti, err
	}
	qctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = conn.QueryRow(qctx, `SELECT count(*), pg_relation_size('product'), pg_total_relation_size('product') FROM product`).
		Scan(&ti.Rows, &ti.TableBytes, &ti.TotalBytes)
	return ti, err
}

// queryString runs a one-value query with a deadline.
func queryString(ctx context.Context, conn *pgx.Conn, q string, args ...any) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var s string
	err := conn.QueryRow(ctx, q, args...).Scan(&s)
	return s, err
}

// dropSlot drops a replication slot, retrying while a just-stopped
// walsender still holds it.
func dropSlot(ctx context.Context, conn *pgx.Conn, slot string) error {
	end := time.Now().Add(30 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := conn.Exec(sctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, slot)
		cancel()
		if err == nil || time.Now().After(end) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitSlotActive waits until a walsender streams from slot.
func waitSlotActive(ctx context.Context, conn *pgx.Conn, slot string, d time.Duration, c *child) error {
	end := time.Now().Add(d)
	for {
		var active bool
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := conn.QueryRow(sctx, `SELECT coalesce(bool_or(active), false) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&active)
		cancel()
		if err != nil {
			return err
		}
		if active {
			return nil
		}
		if c.exitedEarly() {
			return fmt.Errorf("%s %w (status %v) before slot %s became active", c.name, errExited, c.err, slot)
		}
		if time.Now().After(end) {
			return fmt.Errorf("slot %s not active after %s", slot, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// machine describes where the benchmark ran.
type machine struct {
	NProc     int    `json:"nproc"`
	CPU       string `json:"cpu"`
	Kernel    string `json:"kernel,omitempty"`
	Postgres  string `json:"postgres"`
	GoVersion string `json:"go"`
	Note      string `json:"note"`
}

func describeMachine(ctx context.Context, conn *pgx.Conn) machine {
	m := machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if v, err := queryString(ctx, conn, "SELECT version()"); err == nil {
		m.Postgres = v
	}
	m.Note = fmt.Sprintf("PostgreSQL, sluice, psql/pg_recvlogical and the benchmark's own loaders share the %d cores", m.NProc)
	return m
}

// findRepo walks up from the working directory to the sluice module root.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/sluice-dev/sluice\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the sluice repository (no go.mod for github.com/sluice-dev/sluice above %s)", dir)
		}
		dir = parent
	}
}

// pgTool finds a PostgreSQL client program: PATH first, then the newest
// /usr/lib/postgresql/*/bin.
func pgTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found; install postgresql-client", name)
}

// checkpoint flushes dirty buffers so that a checkpoint owed to an earlier
// phase's WAL does not land inside the next measurement.
func (b *bench) checkpoint() error {
	return execAll(b.ctx, b.conn, 5*time.Minute, "CHECKPOINT")
}

// loadAvg is the first three fields of /proc/loadavg: other work on the
// machine is the largest source of noise in these figures.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
