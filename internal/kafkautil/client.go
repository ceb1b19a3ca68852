// Package kafkautil holds what the Kafka sink and source share: the
// connection settings (brokers, client id, SASL, TLS) as one configuration
// struct embedded inline in both, turned into franz-go client options, and
// the classification of franz-go's errors at connect (Transient).
//
// Secrets: Password is never printed; errors name the mechanism and the
// user, not the password.
package kafkautil

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/transient"
)

// Conn is the connection part of a Kafka component's configuration.
type Conn struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string `yaml:"brokers"`
	// ClientID is sent to the brokers (default "sluice").
	ClientID string `yaml:"client_id"`
	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty for none.
	SASLMechanism string `yaml:"sasl_mechanism"`
	Username      string `yaml:"username"`
	Password      string `yaml:"password" sluice:"secret"`
	// TLS connects with TLS (system roots unless TLSCAFile is set).
	TLS bool `yaml:"tls"`
	// TLSCAFile is a PEM file of CA certificates to trust.
	TLSCAFile string `yaml:"tls_ca_file"`
	// TLSInsecureSkipVerify turns off certificate verification (tests only).
	TLSInsecureSkipVerify bool `yaml:"tls_insecure_skip_verify"`
	// Dial, when set, opens every connection to a broker instead of the
	// default dialer, whatever address the cluster's metadata advertises:
	// tests route a client through a proxy they can cut (svctest.Proxy).
	// It is not a pipeline file key, and cannot be combined with TLS.
	Dial func(ctx context.Context, network, host string) (net.Conn, error) `yaml:"-"`
}

// DefaultConn returns the defaults.
func DefaultConn() Conn { return Conn{ClientID: "sluice"} }

// Validate reports problems as *component.FieldError.
func (c *Conn) Validate() []error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, &component.FieldError{Field: "brokers", Msg: "is required", Hint: "brokers: [127.0.0.1:9092]"})
	}
	for _, b := range c.Brokers {
		if b == "" || !strings.Contains(b, ":") {
			errs = append(errs, &component.FieldError{Field: "brokers", Msg: fmt.Sprintf("%q is not host:port", b), Hint: "brokers: [kafka-1:9092, kafka-2:9092]"})
		}
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.Username == "" {
			errs = append(errs, &component.FieldError{Field: "username", Msg: "is required with sasl_mechanism"})
		}
	default:
		errs = append(errs, &component.FieldError{Field: "sasl_mechanism", Msg: fmt.Sprintf("unknown mechanism %q", c.SASLMechanism), Hint: "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"})
	}
	if (c.TLSCAFile != "" || c.TLSInsecureSkipVerify) && !c.TLS {
		errs = append(errs, &component.FieldError{Field: "tls", Msg: "tls_ca_file / tls_insecure_skip_verify need tls: true"})
	}
	return errs
}

// Options returns the franz-go options for the connection.
func (c *Conn) Options() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.ClientID != "" {
		opts = append(opts, kgo.ClientID(c.ClientID))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.Username, Pass: c.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.Username, Pass: c.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.Username, Pass: c.Password}.AsSha512Mechanism()))
	}
	if c.Dial != nil {
		if c.TLS {
			return nil, fmt.Errorf("a custom dialer cannot be combined with tls")
		}
		opts = append(opts, kgo.Dialer(c.Dial))
	}
	if c.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSInsecureSkipVerify} //nolint:gosec // opt-in, documented
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("tls_ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("tls_ca_file %s: no PEM certificates", c.TLSCAFile)
			}
			tc.RootCAs = pool
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	return opts, nil
}

// Refused returns, when err (a franz-go error) is the brokers refusing the
// SASL credentials, the component.AuthError of the component what (env
// names its keys) and true.
func (c *Conn) Refused(err error, what string, env component.Env) (error, bool) {
	if !errors.Is(err, kerr.SaslAuthenticationFailed) {
		return nil, false
	}
	return component.AuthFailed(component.AuthError{Component: what, User: c.Username, Server: strings.Join(c.Brokers, ","),
		Reason: err.Error(), Keys: env.Key("username") + " and " + env.Key("password"),
		Hint: "that the brokers have this user for sasl_mechanism " + strings.ToUpper(c.SASLMechanism)}), true
}

// ConnectError is the error of component what's failed connect step (a
// metadata request, err): refused SASL credentials as the AuthError of
// Refused, a certificate that does not verify with what to fix (both
// Permanent), anything else as "what: connect to the brokers: err".
func (c *Conn) ConnectError(err error, what string, env component.Env) error {
	if a, ok := c.Refused(err, what, env); ok {
		return a
	}
	err = fmt.Errorf("%s: connect to the brokers: %w", what, err)
	if fix, ok := transient.TLSFix(err, env.Key("tls_ca_file"),
		"use broker addresses it holds (in "+env.Key("brokers")+", and in the listeners the brokers advertise)",
		env.Key("tls")+" and "+env.Key("tls_ca_file")); ok {
		return component.Permanent(fmt.Errorf("%w; %s", err, fix))
	}
	return err
}
