package pgleases

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sluice-dev/sluice/internal/namecheck"
	"github.com/sluice-dev/sluice/store"
)

// DefaultTable is the lease table's name when Options.Table is empty.
const DefaultTable = "sluice_leases"

// Options configure a Store.
type Options struct {
	// Table is the lease table (created if missing), in the connection's
	// search_path. Default DefaultTable. Lower-case letters, digits and _.
	Table string
	// Clock replaces the server's now() (tests only: the shared lease
	// suite moves time by hand). Nil: every statement reads now() of the
	// server, never the node's clock.
	Clock func() time.Time
	// MaxConns bounds the connection pool (default 4).
	MaxConns int32
}

var tableName = namecheck.New("a-z_", "a-z0-9_", 0, 50)

// Store is a PostgreSQL lease table shared by every node of a pipeline.
// Its methods are safe for concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	table string // quoted
	clock func() time.Time
	sql   statements
}

// statements are the package's SQL texts, built once for the table.
type statements struct {
	create, acquire, candidate, renew, complete, fail, reopen, release, list string
}

// Open connects to dsn and creates the lease table if it is missing. The
// DSN's password never appears in an error.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	if opt.Table == "" {
		opt.Table = DefaultTable
	}
	if !tableName.Match(opt.Table) {
		return nil, fmt.Errorf("pgleases: table name %q: use lower-case letters, digits and _ (at most 51), starting with a letter or _", opt.Table)
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pgleases: the coordination DSN cannot be parsed (expected postgres://user:password@host:port/db or key=value pairs)")
	}
	// Exec mode: unnamed statements, no per-session prepared statements,
	// so the store works through PgBouncer's transaction pooling.
	pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pc.MaxConns = 4
	if opt.MaxConns > 0 {
		pc.MaxConns = opt.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pgleases: connect to the coordination store %s: %w", where(pc), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgleases: connect to the coordination store %s: %w", where(pc), err)
	}
	s := &Store{pool: pool, table: pgx.Identifier{opt.Table}.Sanitize(), clock: opt.Clock}
	s.sql = s.statements()
	if err := s.createTable(ctx, opt.Table, where(pc)); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// where names the server without the password.
func where(pc *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database)
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// createTable creates the table and its index if missing. Nodes starting
// together may race on CREATE … IF NOT EXISTS (PostgreSQL then reports a
// duplicate type or relation); the loser retries and finds it made.
func (s *Store) createTable(ctx context.Context, name, where string) error {
	ddl := []string{
		`CREATE TABLE IF NOT EXISTS ` + s.table + ` (
	namespace text COLLATE "C" NOT NULL,
	key text COLLATE "C" NOT NULL,
	kind text NOT NULL,
	owner text NOT NULL DEFAULT '',
	status text NOT NULL,
	progress json,
	epoch bigint NOT NULL,
	version bigint NOT NULL,
	expires timestamptz,
	PRIMARY KEY (namespace, key))`,
		`CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{name + "_todo"}.Sanitize() + ` ON ` + s.table +
			` (namespace, kind, key) WHERE status <> 'done'`,
	}
	for _, q := range ddl {
		var err error
		for range 3 {
			if _, err = s.pool.Exec(ctx, q); err == nil || !raced(err) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("pgleases: create the lease table %s on %s: %w (the user needs CREATE on the schema, or create it beforehand: see docs/coordination.md)", name, where, err)
		}
	}
	return nil
}

func raced(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07" || pe.Code == "42710")
}

// now is the SQL for the current time: the server's now(), or the test
// clock passed as $1.
const now = `coalesce($1::timestamptz, now())`

const cols = `key, kind, owner, status, progress::text, epoch, version, expires`

func (s *Store) statements() statements {
	t := s.table
	ttl := `$2::bigint * interval '1 microsecond'`
	held := `namespace = $3 AND key = $4 AND owner = $5 AND epoch = $6 AND status = 'owned'`
	held1 := `namespace = $1 AND key = $2 AND owner = $3 AND epoch = $4 AND status = 'owned'`
	return statements{
		create: `INSERT INTO ` + t + ` (namespace, key, kind, status, epoch, version)
	SELECT $1, k, $2, 'open', 0, 1 FROM unnest($3::text[]) AS k
	ON CONFLICT (namespace, key) DO NOTHING`,
		// One statement: pick the first candidate in key order, update it
		// only if its version is still the one read. Under READ COMMITTED a
		// concurrent acquirer's committed update makes the recheck of
		// version fail, so no row comes back and the caller retries.
		acquire: `WITH c AS (
	SELECT key, version FROM ` + t + `
	WHERE namespace = $3 AND kind = $4 AND status <> 'done' AND (status = 'open' OR (status = 'owned' AND expires <= ` + now + `))
	ORDER BY key LIMIT 1)
UPDATE ` + t + ` AS l SET owner = $5, status = 'owned', epoch = l.epoch + 1, version = l.version + 1,
	expires = ` + now + ` + ` + ttl + `
FROM c WHERE l.namespace = $3 AND l.key = c.key AND l.version = c.version
RETURNING l.key, l.kind, l.owner, l.status, l.progress::text, l.epoch, l.version, l.expires`,
		candidate: `SELECT EXISTS (SELECT 1 FROM ` + t + `
	WHERE namespace = $2 AND kind = $3 AND status <> 'done' AND (status = 'open' OR (status = 'owned' AND expires <= ` + now + `)))`,
		renew: `UPDATE ` + t + ` SET progress = coalesce($7::json, progress), version = version + 1,
	expires = ` + now + ` + ` + ttl + `
WHERE ` + held + ` RETURNING ` + cols,
		complete: `UPDATE ` + t + ` SET progress = coalesce($5::json, progress), version = version + 1,
	status = 'done', expires = NULL
WHERE ` + held1,
		fail: `UPDATE ` + t + ` SET progress = coalesce($5::json, progress), version = version + 1,
	status = 'failed', expires = NULL
WHERE ` + held1,
		reopen: `UPDATE ` + t + ` SET progress = coalesce($4::json, progress), version = version + 1,
	owner = '', status = 'open', expires = NULL
WHERE namespace = $1 AND key = $2 AND status = 'failed' AND version = $3`,
		release: `UPDATE ` + t + ` SET owner = '', status = 'open', version = version + 1, expires = NULL
WHERE ` + held1,
		list: `SELECT ` + cols + ` FROM ` + t + `
WHERE namespace = $1 AND left(key, length($2)) = $2 ORDER BY key`,
	}
}

// nowArg is $1: nil (the server's now()) or the test clock.
func (s *Store) nowArg() any {
	if s.clock == nil {
		return nil
	}
	t := s.clock()
	return &t
}

// Leases returns the leases of a namespace. Namespaces share nothing.
func (s *Store) Leases(namespace string) store.Leases {
	return &leases{s: s, ns: namespace}
}

// leases is the store.Leases of one namespace; the rules are those of the
// embedded store (store/leases.go), one statement each.
type leases struct {
	s  *Store
	ns string
}

var _ store.Leases = (*leases)(nil)

func (ls *leases) fail(what string, err error) error {
	return fmt.Errorf("pgleases: %s in namespace %q: %w", what, ls.ns, err)
}

func scanLease(row pgx.Row) (store.Lease, error) {
	var l store.Lease
	var progress *string
	var epoch, version int64
	var expires *time.Time
	if err := row.Scan(&l.Key, &l.Kind, &l.Owner, &l.Status, &progress, &epoch, &version, &expires); err != nil {
		return l, err
	}
	if progress != nil {
		l.Progress = []byte(*progress)
	}
	l.Epoch, l.Version = uint64(epoch), uint64(version)
	if expires != nil {
		l.Expires = *expires
	}
	return l, nil
}

// Create adds the partitions that do not exist yet with status open.
func (ls *leases) Create(ctx context.Context, kind string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if _, err := ls.s.pool.Exec(ctx, ls.s.sql.create, ls.ns, kind, keys); err != nil {
		return ls.fail("create partitions of kind "+kind, err)
	}
	return nil
}

func micros(ttl time.Duration) int64 { return int64(ttl / time.Microsecond) }

// Acquire takes the first partition of kind (in key order) that is open or
// whose lease has expired.
func (ls *leases) Acquire(ctx context.Context, kind, owner string, ttl time.Duration) (store.Lease, bool, error) {
	if ttl < time.Microsecond {
		return store.Lease{}, false, fmt.Errorf("pgleases: acquire a lease of kind %s: ttl %v is not positive", kind, ttl)
	}
	for {
		l, err := scanLease(ls.s.pool.QueryRow(ctx, ls.s.sql.acquire, ls.s.nowArg(), micros(ttl), ls.ns, kind, owner))
		if err == nil {
			return l, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return store.Lease{}, false, ls.fail("acquire a lease of kind "+kind, err)
		}
		// No row: none was available, or another node took the one we
		// picked between our read and our update. Retry only in the
		// second case; every retry follows someone else's progress.
		var more bool
		if err := ls.s.pool.QueryRow(ctx, ls.s.sql.candidate, ls.s.nowArg(), ls.ns, kind).Scan(&more); err != nil {
			return store.Lease{}, false, ls.fail("acquire a lease of kind "+kind, err)
		}
		if !more {
			return store.Lease{}, false, nil
		}
	}
}

func lost(l store.Lease) error {
	return fmt.Errorf("store: lease %s of %s at epoch %d: %w", l.Key, l.Owner, l.Epoch, store.ErrLeaseLost)
}

// progressArg is nil (keep the stored progress) or the JSON text.
func progressArg(p []byte) any {
	if p == nil {
		return nil
	}
	s := string(p)
	return &s
}

// Renew extends a held lease to now+ttl and stores progress (nil keeps the
// stored progress).
func (ls *leases) Renew(ctx context.Context, l store.Lease, progress []byte, ttl time.Duration) (store.Lease, error) {
	if ttl < time.Microsecond {
		return store.Lease{}, fmt.Errorf("pgleases: renew lease %s: ttl %v is not positive", l.Key, ttl)
	}
	cur, err := scanLease(ls.s.pool.QueryRow(ctx, ls.s.sql.renew, ls.s.nowArg(), micros(ttl), ls.ns, l.Key, l.Owner, int64(l.Epoch), progressArg(progress)))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Lease{}, lost(l)
	}
	if err != nil {
		return store.Lease{}, ls.fail("renew lease "+l.Key, err)
	}
	return cur, nil
}

// Complete marks a held partition done, with its final progress (nil keeps
// the stored progress).
func (ls *leases) Complete(ctx context.Context, l store.Lease, progress []byte) error {
	return ls.change(ctx, "complete", ls.s.sql.complete, l, progressArg(progress))
}

// Fail marks a held partition failed, with its final progress (nil keeps
// the stored progress): it is not handed out again until Reopen.
func (ls *leases) Fail(ctx context.Context, l store.Lease, progress []byte) error {
	return ls.change(ctx, "fail", ls.s.sql.fail, l, progressArg(progress))
}

// Reopen sets a failed partition back to open (progress nil keeps it) if
// its version is still l.Version.
func (ls *leases) Reopen(ctx context.Context, l store.Lease, progress []byte) error {
	tag, err := ls.s.pool.Exec(ctx, ls.s.sql.reopen, ls.ns, l.Key, int64(l.Version), progressArg(progress))
	if err != nil {
		return ls.fail("reopen lease "+l.Key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: reopen lease %s at version %d: %w", l.Key, l.Version, store.ErrLeaseLost)
	}
	return nil
}

// Release gives a held partition back (status open, no owner), keeping its
// progress for the next owner.
func (ls *leases) Release(ctx context.Context, l store.Lease) error {
	return ls.change(ctx, "release", ls.s.sql.release, l)
}

// change runs complete (with the progress as $5) or release.
func (ls *leases) change(ctx context.Context, what, q string, l store.Lease, extra ...any) error {
	args := append([]any{ls.ns, l.Key, l.Owner, int64(l.Epoch)}, extra...)
	tag, err := ls.s.pool.Exec(ctx, q, args...)
	if err != nil {
		return ls.fail(what+" lease "+l.Key, err)
	}
	if tag.RowsAffected() == 0 {
		return lost(l)
	}
	return nil
}

// List returns the partitions whose keys start with prefix, in key order.
func (ls *leases) List(ctx context.Context, prefix string) ([]store.Lease, error) {
	rows, err := ls.s.pool.Query(ctx, ls.s.sql.list, ls.ns, prefix)
	if err != nil {
		return nil, ls.fail("list partitions", err)
	}
	defer rows.Close()
	var out []store.Lease
	for rows.Next() {
		l, err := scanLease(rows)
		if err != nil {
			return nil, ls.fail("list partitions", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, ls.fail("list partitions", err)
	}
	return out, nil
}

// Now is the server's now(), the clock of every expiry (for `sluice status`).
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := s.pool.QueryRow(ctx, `SELECT now()`).Scan(&t); err != nil {
		return t, fmt.Errorf("pgleases: read the server's time: %w", err)
	}
	return t, nil
}

// Drop removes every partition of a namespace (starting a pipeline afresh
// under the same namespace); tests and `sluice reset` use it.
func (s *Store) Drop(ctx context.Context, namespace string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE namespace = $1`, namespace); err != nil {
		return fmt.Errorf("pgleases: drop namespace %q: %w", namespace, err)
	}
	return nil
}
