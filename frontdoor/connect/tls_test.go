package connect

import (
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/testpki"
)

// TestTranslateTLS: Debezium's TLS keys reach the sources: the PostgreSQL
// connector's libpq keys into the DSN, the MySQL connector's
// database.ssl.mode as ssl_mode (unset: none, the source's default).
func TestTranslateTLS(t *testing.T) {
	env := Env{Topics: testTopics}
	// pgx reads the files when it parses the DSN (loading the pipeline).
	ca := testpki.NewCA(t, "ca")
	ca.Client(t, "c")
	pem, key, root := filepath.Join(ca.Dir, "c.pem"), filepath.Join(ca.Dir, "c-key.pem"), ca.CAFile()
	p := mustLoad(t, "pg", pgWith(`"database.sslmode":"verify-full","database.sslrootcert":"`+root+`","database.sslcert":"`+pem+`","database.sslkey":"`+key+`"`), env)
	q := url.Values{"sslmode": {"verify-full"}, "sslrootcert": {root}, "sslcert": {pem}, "sslkey": {key}}
	if got, want := p.Sources["p"]["dsn"], "postgres://u@h:5432/d?"+q.Encode(); got != want {
		t.Errorf("postgres dsn %v, want %s", got, want)
	}
	const my = `{"connector.class":"io.debezium.connector.mysql.MySqlConnector","database.hostname":"h","database.user":"u","topic.prefix":"p","database.include.list":"shop"`
	for _, tc := range []struct{ extra, mode string }{{"", ""}, {`,"database.ssl.mode":"verify_identity"`, "verify_identity"}} {
		p := mustLoad(t, "my", my+tc.extra+"}", env)
		want := Node{"type": "mysql", "host": "h", "port": int64(3306), "user": "u", "tables": []string{"shop.*"}}
		if tc.mode != "" {
			want["ssl_mode"] = tc.mode
		}
		if got := p.Sources["p"]; !reflect.DeepEqual(got, want) {
			t.Errorf("mysql %q: %#v\nwant %#v", tc.extra, got, want)
		}
	}
	if _, err := translateJSON(t, "my", my+`,"database.ssl.mode":"sometimes"}`, env); err == nil ||
		err.Error() != "Connector configuration is invalid and contains the following 1 error(s):\n"+
			`database.ssl.mode: value "sometimes" is not supported (hint: one of disabled, preferred, required, verify_ca, verify_identity)`+"\n"+
			"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`" {
		t.Errorf("bad mode: %v", err)
	}
}

// TestTranslateJDBCTLS: the JDBC drivers' TLS parameters reach the DSN
// (they were dropped, so a connector asking for TLS connected in the
// clear); one sluice cannot honour is refused.
func TestTranslateJDBCTLS(t *testing.T) {
	env := Env{Topics: testTopics}
	sink := func(url string) string {
		return `{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","topics":"t","connection.url":"` + url + `","connection.user":"u","connection.password":"pw"}`
	}
	for _, tc := range []struct{ url, dsn string }{
		{"jdbc:mysql://h:3306/db", "u:pw@tcp(h:3306)/db"},
		{"jdbc:mysql://h:3306/db?sslMode=VERIFY_IDENTITY", "u:pw@tcp(h:3306)/db?tls=true"},
		{"jdbc:mysql://h:3306/db?sslMode=VERIFY_CA", "u:pw@tcp(h:3306)/db?tls=true"},
		{"jdbc:mysql://h:3306/db?sslMode=REQUIRED", "u:pw@tcp(h:3306)/db?tls=skip-verify"},
		{"jdbc:mysql://h:3306/db?sslMode=PREFERRED", "u:pw@tcp(h:3306)/db?tls=preferred"},
		{"jdbc:mysql://h:3306/db?sslMode=DISABLED", "u:pw@tcp(h:3306)/db"},
		{"jdbc:mysql://h:3306/db?useSSL=true", "u:pw@tcp(h:3306)/db?tls=true"},
		{"jdbc:mysql://h:3306/db?useSSL=true&verifyServerCertificate=false", "u:pw@tcp(h:3306)/db?tls=skip-verify"},
		{"jdbc:mariadb://h:3306/db?sslMode=trust", "u:pw@tcp(h:3306)/db?tls=skip-verify"},
		{"jdbc:mariadb://h:3306/db?sslMode=verify-full", "u:pw@tcp(h:3306)/db?tls=true"},
		{"jdbc:postgresql://h:5432/db?ssl=true", "postgres://u:pw@h:5432/db?sslmode=verify-full"},
		{"jdbc:postgresql://h:5432/db?sslmode=require", "postgres://u:pw@h:5432/db?sslmode=require"},
	} {
		p := mustLoad(t, "s", sink(tc.url), env)
		if got := p.Sinks["sink"]["dsn"]; got != tc.dsn {
			t.Errorf("%s: dsn %v, want %s", tc.url, got, tc.dsn)
		}
	}
	_, err := translateJSON(t, "s", sink("jdbc:mysql://h:3306/db?sslMode=SOMETIMES"), env)
	if err == nil || !strings.Contains(err.Error(), "connection.url: its TLS settings are not understood (hint: sslMode=DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY)") {
		t.Errorf("an unknown sslMode: %v", err)
	}
}
