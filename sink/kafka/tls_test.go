package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
	"github.com/sluice-dev/sluice/internal/kafkautil"
	"github.com/sluice-dev/sluice/internal/logtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/internal/testpki"
	kafkasource "github.com/sluice-dev/sluice/source/kafka"
)

const tlsSecret = "canary-TLS-pw-3381"

// TestTLS: a private broker's SASL_SSL listener (scripts/kafka.sh with
// SLUICE_KAFKA_TLS; its certificate valid for localhost only). The sink
// writes with SCRAM-SHA-512 and the kafka source reads it back with
// PLAIN, both trusting the test CA (tls_ca_file); SCRAM-SHA-256
// connects. A wrong password (sink and source), another CA and a host
// name the certificate does not hold each fail at once with a permanent
// error that says what to fix and holds no password.
func TestTLS(t *testing.T) {
	srv := svctest.StartKafkaSASL(t, tlsSecret)
	secret := srv.Password
	conn := func(mech, password string) kafkautil.Conn {
		c := kafkautil.DefaultConn()
		c.Brokers, c.SASLMechanism, c.Username, c.Password = []string{srv.Brokers}, mech, "sluice", password
		c.TLS, c.TLSCAFile = true, srv.CAFile
		return c
	}
	ctx := context.Background()
	var b [4]byte
	_, _ = rand.Read(b[:])
	topic := "tls-" + hex.EncodeToString(b[:])
	sink := func(t *testing.T, c kafkautil.Conn, logs *logtest.Recorder) *Sink {
		cfg := DefaultConfig()
		cfg.Conn, cfg.Topic = c, topic
		s, err := Factory.New(cfg, component.Env{Name: "k", Path: "sinks.k", Logger: logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(ctx) })
		return s.(*Sink)
	}
	source := func(t *testing.T, c kafkautil.Conn, logs *logtest.Recorder) component.Source {
		cfg := kafkasource.DefaultConfig()
		cfg.Conn, cfg.Topics = c, []string{topic}
		s, err := kafkasource.Factory.New(cfg, component.Env{Name: "k", Pipeline: "tls", Path: "sources.k", Logger: logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	s := sink(t, conn("SCRAM-SHA-512", secret), logtest.New())
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if err := s.Write(ctx, []event.Event{*eventtest.ProductEvent()}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := sink(t, conn("SCRAM-SHA-256", secret), logtest.New()).Connect(ctx); err != nil {
		t.Fatalf("Connect with SCRAM-SHA-256: %v", err)
	}
	src := source(t, conn("PLAIN", secret), logtest.New())
	out := sourcetest.NewEmitter()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- src.Run(rctx, nil, out) }()
	out.WaitFor(t, "the record", 30*time.Second, func(evs []event.Event) bool { return len(evs) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("source Run: %v", err)
	}
	src.Close()
	if e := out.Events()[0]; e.Op != event.OpCreate || e.After[1].Text() != "Incredible Iron Pants" {
		t.Fatalf("read back %+v", e)
	}

	refused := func(comp string) string {
		return comp + `: ` + srv.Brokers + ` refused user "sluice": SASL_AUTHENTICATION_FAILED: `
	}
	other := testpki.NewCA(t, "another CA")
	for _, tc := range []struct {
		name           string
		conn           kafkautil.Conn
		source         bool
		prefix, suffix string
	}{
		{"sink wrong password", conn("SCRAM-SHA-512", "not-"+secret), false, refused("kafka sink"),
			"; check the user and password in sinks.k.username and sinks.k.password (a ${VAR} there is read from the environment), " +
				"and that the brokers have this user for sasl_mechanism SCRAM-SHA-512"},
		{"source wrong password", conn("PLAIN", "not-"+secret), true, refused("kafka source"),
			"; check the user and password in sources.k.username and sources.k.password (a ${VAR} there is read from the environment), " +
				"and that the brokers have this user for sasl_mechanism PLAIN"},
		{"wrong CA", func() kafkautil.Conn { c := conn("PLAIN", secret); c.TLSCAFile = other.CAFile(); return c }(), false,
			"kafka sink: connect to the brokers: ", "x509: certificate signed by unknown authority; " +
				"the server's certificate is not signed by a CA this client trusts: set sinks.k.tls_ca_file to the PEM file of the CA that signed it"},
		{"wrong host name", func() kafkautil.Conn {
			c := conn("PLAIN", secret)
			c.Brokers = []string{strings.Replace(srv.Brokers, "localhost", "127.0.0.1", 1)}
			return c
		}(), false,
			"kafka sink: connect to the brokers: ", "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs; " +
				"the server's certificate does not hold the host name connected to: use broker addresses it holds (in sinks.k.brokers, and in the listeners the brokers advertise)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := logtest.New()
			start := time.Now()
			var err error
			if tc.source {
				src := source(t, tc.conn, logs)
				err = src.Run(ctx, nil, sourcetest.NewEmitter())
				src.Close()
			} else {
				err = sink(t, tc.conn, logs).Connect(ctx)
			}
			if err == nil || !component.IsPermanent(err) || !strings.HasPrefix(err.Error(), tc.prefix) || !strings.HasSuffix(err.Error(), tc.suffix) {
				t.Fatalf("= %v (permanent %v)\nwant a permanent error %s … %s", err, component.IsPermanent(err), tc.prefix, tc.suffix)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("failed after %s, want at once", d)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error holds the password: %v", err)
			}
			if h := logs.Holding(secret); len(h) > 0 {
				t.Errorf("logs hold the password: %q", h)
			}
		})
	}
}
