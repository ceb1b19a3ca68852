package kafkautil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

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

// TestRefused: the brokers refusing the SASL credentials (franz-go's error
// for SASL_AUTHENTICATION_FAILED, with the broker's message) is an error
// naming the user, the brokers and the keys to fix, never the password.
// The test broker has no SASL listener, so the error is built here.
func TestRefused(t *testing.T) {
	c := Conn{Brokers: []string{"k1:9092", "k2:9092"}, SASLMechanism: "scram-sha-256", Username: "app", Password: "canary-Pw-7731"}
	refusal := fmt.Errorf("%w: %s", kerr.SaslAuthenticationFailed, "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256")
	err, ok := c.Refused(refusal, "kafka sink", component.Env{Name: "out", Path: "sinks.out"})
	want := `kafka sink: k1:9092,k2:9092 refused user "app": SASL_AUTHENTICATION_FAILED: SASL Authentication failed.: ` +
		"Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256; " +
		"check the user and password in sinks.out.username and sinks.out.password (a ${VAR} there is read from the environment), " +
		"and that the brokers have this user for sasl_mechanism SCRAM-SHA-256"
	if !ok || !component.IsPermanent(err) || err.Error() != want || strings.Contains(err.Error(), "canary") {
		t.Fatalf("Refused = %v, %v\nwant the permanent error %s", err, ok, want)
	}
	if _, ok := c.Refused(kerr.TopicAuthorizationFailed, "kafka sink", component.Env{}); ok {
		t.Error("an authorization failure is not refused credentials")
	}
}
