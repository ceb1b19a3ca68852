package kafkautil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Conn
		want string // fields with errors, comma-separated
	}{
		{Conn{Brokers: []string{"k:9092"}}, ""},
		{Conn{}, "brokers"},
		{Conn{Brokers: []string{"nohost"}}, "brokers"},
		{Conn{Brokers: []string{"k:9092"}, SASLMechanism: "scram-sha-512", Username: "u"}, ""},
		{Conn{Brokers: []string{"k:9092"}, SASLMechanism: "PLAIN"}, "username"},
		{Conn{Brokers: []string{"k:9092"}, SASLMechanism: "GSSAPI", Username: "u"}, "sasl_mechanism"},
		{Conn{Brokers: []string{"k:9092"}, TLSCAFile: "ca.pem"}, "tls"},
	} {
		var got []string
		for _, e := range tc.c.Validate() {
			got = append(got, e.(*component.FieldError).Field)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%+v: errors in %v, want %q", tc.c, got, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	c := Conn{Brokers: []string{"k:9092"}, ClientID: "x", SASLMechanism: "SCRAM-SHA-256", Username: "u", Password: "secret", TLS: true}
	opts, err := c.Options()
	if err != nil || len(opts) != 4 {
		t.Fatalf("%d options, %v", len(opts), err)
	}
	bad := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	c.TLSCAFile = bad
	if _, err := c.Options(); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad CA file: %v", err)
	}
}
