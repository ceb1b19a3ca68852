package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

func TestDebeziumProps(t *testing.T) {
	got, err := debeziumProps("postgres://bench:secret@localhost:5433/bench?sslmode=disable", "bench_pub", "initial", "bench_dbz_snap", "/w/out")
	if err != nil {
		t.Fatal(err)
	}
	want := `name=sluice-bench
connector.class=io.debezium.connector.postgresql.PostgresConnector
offset.storage=org.apache.kafka.connect.storage.MemoryOffsetBackingStore
offset.flush.interval.ms=0
database.hostname=localhost
database.port=5433
database.user=bench
database.password=secret
database.dbname=bench
topic.prefix=bench
plugin.name=pgoutput
slot.name=bench_dbz_snap
publication.name=bench_pub
publication.autocreate.mode=disabled
table.include.list=public.product
snapshot.mode=initial
capture.out=/w/out
capture.formats=debezium
capture.value.only=true
capture.fsync=true
`
	if got != want {
		t.Errorf("debeziumProps =\n%s\nwant\n%s", got, want)
	}
}

func TestParseDebeziumEnv(t *testing.T) {
	got, err := parseDebeziumEnv("debezium.sh: fetching\nexport SLUICE_DEBEZIUM=/root/.cache/sluice/debezium/2.7.3.Final\n")
	if err != nil || got != "/root/.cache/sluice/debezium/2.7.3.Final" {
		t.Errorf("parseDebeziumEnv = %q, %v", got, err)
	}
	if _, err := parseDebeziumEnv("export SLUICE_DEBEZIUM=/a\\ b\n"); err == nil || err.Error() != `scripts/debezium.sh printed a SLUICE_DEBEZIUM this benchmark cannot use: "/a\\ b"` {
		t.Errorf("quoted path: err = %v", err)
	}
	if _, err := parseDebeziumEnv("nothing\n"); err == nil || err.Error() != `scripts/debezium.sh start printed no SLUICE_DEBEZIUM line: "nothing\n"` {
		t.Errorf("no line: err = %v", err)
	}
}

func TestLineRunRates(t *testing.T) {
	r := lineRun{total: 5 * time.Second, first: time.Second}
	if got := r.rate(1001); got != 200.2 {
		t.Errorf("rate = %v, want 200.2", got)
	}
	if got := r.steady(1001); got != 250 {
		t.Errorf("steady = %v, want 250", got)
	}
	if got := (lineRun{total: time.Second, first: time.Second}).steady(10); got != 10 {
		t.Errorf("steady with no time after the first line = %v, want the whole rate 10", got)
	}
}

func TestScaleSizesAndSpread(t *testing.T) {
	if got := scaleSizes(1_000_000, true); len(got) != 3 || got[0] != 100_000 || got[1] != 1_000_000 || got[2] != 10_000_000 {
		t.Errorf("scaleSizes(1M, x10) = %v", got)
	}
	if got := scaleSizes(5, false); len(got) != 2 || got[0] != 1 || got[1] != 5 {
		t.Errorf("scaleSizes(5) = %v", got)
	}
	if got := rateSpread([]float64{100, 110, 105}); got < 0.0999 || got > 0.1001 {
		t.Errorf("rateSpread = %v, want 0.1", got)
	}
	if got := rateSpread([]float64{100}); got != 0 {
		t.Errorf("rateSpread of one = %v", got)
	}
}

func TestWideTableSQL(t *testing.T) {
	create, fill := wideTableSQL(5)
	if want := "DROP TABLE IF EXISTS wide;\nCREATE TABLE wide (id int PRIMARY KEY, c1 text, c2 float8, c3 boolean, c4 timestamptz, c5 int)"; create != want {
		t.Errorf("create =\n%s\nwant\n%s", create, want)
	}
	if want := "INSERT INTO wide SELECT g, 'v1-' || (g % 1000), g * 2 / 7.0, (g + 3) % 2 = 0, timestamptz '2024-01-01 00:00:00+00' + (g + 4) * interval '1 second', g + 5 FROM generate_series(1, $1::int) AS g"; fill != want {
		t.Errorf("fill =\n%s\nwant\n%s", fill, want)
	}
}

// TestProxy: the relay passes bytes while up; down cuts the open
// connection and closes new ones at once; up again relays again.
func TestProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // an echo server
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	px, err := startProxy(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer px.close()
	echo := func(c net.Conn) (string, error) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return "", err
		}
		return bufio.NewReader(c).ReadString('\n')
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", px.addr())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := dial()
	defer c.Close()
	if got, err := echo(c); got != "ping\n" || err != nil {
		t.Fatalf("up: echo = %q, %v", got, err)
	}
	px.setDown(true)
	if got, err := echo(c); err == nil {
		t.Errorf("down: the open connection still echoed %q", got)
	}
	c2 := dial()
	defer c2.Close()
	if got, err := echo(c2); err == nil {
		t.Errorf("down: a new connection echoed %q", got)
	}
	px.setDown(false)
	c3 := dial()
	defer c3.Close()
	if got, err := echo(c3); got != "ping\n" || err != nil {
		t.Errorf("up again: echo = %q, %v", got, err)
	}
}

// TestWaitCountEndsAtCountStart: a completion count that says when it
// started (the mariadb phase's count(*), whose read view held every row
// then) ends the run at that moment, not when the scan returned; a count
// that says nothing ends it when it returned, as before.
func TestWaitCountEndsAtCountStart(t *testing.T) {
	b := &bench{ctx: t.Context(), p: params{Rows: 10}, finePoll: true}
	started := time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC)
	calls := 0
	seen, err := b.waitCount("x", 10, nil, func(context.Context) (int64, error) {
		calls++
		if calls < 3 {
			return 0, nil // the last row is not there yet
		}
		b.countStarted = started
		return 10, nil
	})
	if err != nil || !seen.Equal(started) || calls != 3 {
		t.Errorf("waitCount = %v, %v after %d counts; want %v after 3", seen, err, calls, started)
	}
	before := time.Now()
	seen, err = b.waitCount("x", 10, nil, func(context.Context) (int64, error) { return 10, nil })
	if err != nil || seen.Before(before) {
		t.Errorf("waitCount without a start = %v, %v; want a time after %v", seen, err, before)
	}
}
