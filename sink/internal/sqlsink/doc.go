// Package sqlsink is the engine shared by the SQL table sinks
// (sink/postgres, sink/mysql): configuration, batch planning, type mapping,
// identifier quoting, value conversion and the positions table. A Dialect
// supplies what differs between servers; Writer implements component.Sink
// on top of it.
//
// # One Write, one transaction
//
// Before the transaction, each event's target table is resolved (the table
// template) and checked once per *event.Schema: created when missing
// (auto_create), given the columns a newer schema adds (auto_evolve, always
// nullable), or the Write fails with component.Permanent naming the fix. DDL
// runs outside the transaction because MySQL commits implicitly around it.
//
// Then, in one transaction:
//
//  1. The sink's row of the positions table (default sluice_positions,
//     key (sink, source), columns hi, lo, updated_at) is inserted if
//     missing and read with SELECT ... FOR UPDATE, per source of the batch
//     — per stream for sources whose Seqs grow per stream only
//     (event.Schema.SeqPerStream: sql_poll), the source column then
//     holding the stream's name.
//     In a coordinated run (component.Env.Epoch > 0, several nodes) the
//     row (sink, '#epoch') is locked first: its hi holds the highest epoch
//     that wrote through the sink. A write of an older epoch is refused
//     whole (component.ErrFenced, Permanent: another node took the
//     pipeline over); a newer one raises it in the same transaction.
//  2. Events whose non-zero event.Seq is not after the stored one are
//     skipped: they are already written (a replay after a crash, or an
//     older batch after a newer one). Snapshot rows (zero Seq) are always
//     applied, idempotently.
//  3. The rest is planned (Plan) and applied: per key, consecutive changes
//     collapse into at most one delete and one write (later wins; delete
//     then re-insert; unchanged TOAST columns filled from an earlier image
//     of the key in the batch, else left out of an UPDATE so the stored
//     value stays). Keys are then independent, so rows go in multi-row
//     statements: deletes, then inserts/upserts, then updates, then soft
//     deletes. A truncate, or a key-changing update that must keep
//     unchanged columns, is a barrier.
//  4. The positions row is advanced to the highest Seq applied — but not
//     past a rejected event, so that a replay before the engine has
//     dead-lettered it rejects it again rather than skipping it — and the
//     transaction commits. Write returns only then.
//
// Pipelined (both sinks) splits this for the engine's flushing
// runner (component.FlushingSink): WriteBuffered does steps 1–4 but the
// commit, Flush commits, and the next batch goes into a transaction of its
// own while that commit runs. Its invariants are on the type: inserts and
// upserts only before the previous commit has ended, the positions rows it
// held locked and checked after the rows, the epoch row still locked
// first, one commit after the other, and any failure rolls the open
// transaction back for the engine to write its batches again with Write.
//
// # Errors
//
// Each statement group runs under a savepoint. When the server rejects the
// data (Dialect.Classify says ClassRecord: a constraint violation, a value
// out of range or too long, a bad value for the column type), the group is
// rolled back to its savepoint and bisected until the bad rows stand alone;
// they are returned as component.RecordErrors (every event a rejected row
// stands for, naming table, key and the server's message) and everything
// else commits. ClassConfig errors (authentication, missing table or column,
// privileges) are component.Permanent; credentials the server refuses
// (Dialect.Refused) are a component.AuthError naming the user, the server
// and the sink's dsn key in the pipeline file. Anything else (connection lost,
// deadlock, server gone) fails the Write with a plain error; the engine
// retries it and the driver's pool reconnects. A DSN's password never
// appears in an error (Redact).
//
// # Modes
//
//   - upsert (default): every row image is written whether or not the key
//     exists (INSERT ... ON CONFLICT DO UPDATE / ON DUPLICATE KEY UPDATE).
//   - insert: creates are plain INSERTs, so an existing key is a record
//     error (the Confluent JDBC sink's insert.mode=insert); snapshot rows
//     still upsert, because a resumed snapshot re-reads rows; updates are
//     UPDATEs.
//   - update: UPDATE only; an event for a row that does not exist changes
//     nothing (it is not an error: the row is simply not in the target).
//
// delete_mode: delete (default) removes the row; soft sets
// soft_delete_column (default __deleted, boolean, NOT NULL DEFAULT false,
// added by auto_create / auto_evolve) to true and every written row sets it
// to false; none ignores deletes. A key-changing update always removes the
// old key (the row moved). truncate: true applies truncate events (TRUNCATE
// on PostgreSQL, DELETE FROM on MySQL, both inside the transaction); false
// (default) ignores them. Tables without a key (and no key_columns) take
// inserts only; their updates and deletes are record errors that say to set
// key_columns. Nothing recognises a keyless row twice, so snapshot rows of a
// keyless table that a crash makes the source read again are inserted again.
//
// # Type mapping (auto_create, auto_evolve)
//
//	event type              PostgreSQL                     MySQL / MariaDB
//	bool                    boolean                        TINYINT(1)
//	int16 / int32 / int64   smallint / integer / bigint    SMALLINT / INT / BIGINT
//	float32 / float64       real / double precision        FLOAT / DOUBLE (NaN, ±Inf: record error)
//	decimal(p,s)            numeric(p,s)                   DECIMAL(p,s) if p ≤ 65 and 0 ≤ s ≤ 30
//	decimal(p,-s) (PG 15)   numeric(p,-s)                  DECIMAL(p+s,0)
//	decimal, unconstrained  numeric                        DECIMAL(65,30) (35 integer and 30 fraction digits;
//	                                                       more fraction digits are rounded; NaN: record error)
//	money                   numeric(19,2)                  DECIMAL(19,2)
//	string varchar(n)       character varying(n)           VARCHAR(n) (n ≤ 4096, key n ≤ 768), else LONGTEXT
//	string char(n)          character(n)                   VARCHAR(n) (MySQL CHAR drops trailing spaces)
//	string text             text                           LONGTEXT; as a key VARCHAR(255)
//	bytes                   bytea                          LONGBLOB; as a key VARBINARY(255)
//	uuid                    uuid                           CHAR(36)
//	json / jsonb            json / jsonb                   JSON
//	date                    date                           DATE (±infinity: record error)
//	time(p)                 time(p)                        TIME(p)
//	timetz(p)               time(p) with time zone         TIME(p), the UTC time
//	timestamp(p)            timestamp(p)                   DATETIME(p) (±infinity: record error)
//	timestamptz(p)          timestamp(p) with time zone    DATETIME(p) holding UTC (session time_zone '+00:00';
//	                                                       TIMESTAMP would end in 2038)
//	interval                interval                       VARCHAR(64), ISO 8601 ("P1Y2M3DT4H5M6.7S")
//	enum                    text                           VARCHAR(255)
//	array of T              T[]                            JSON array (decimals as exact JSON numbers,
//	                                                       bytes as base64)
//	xml, unknown            xml, text                      LONGTEXT
//	inet/cidr/macaddr       inet/cidr/macaddr              VARCHAR(64)
//
// Fractional-second precision 0 in the event means the default, 6. Key
// columns and source NOT NULL columns are NOT NULL; the key is the PRIMARY
// KEY. MySQL tables are utf8mb4 with a binary NO PAD collation so keys that
// PostgreSQL tells apart ('a', 'A', 'a ') stay apart.
//
// Values are always statement parameters (or COPY / LOAD DATA data),
// never SQL text; identifiers are always quoted (QuotePG, QuoteMySQL), so a
// table named `x"; DROP TABLE y; --` is just a table with that name.
package sqlsink
