package difftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/svctest"
)

// oracleCase is one topology and its input, as Oracle.java reads them.
type oracleCase struct {
	spec    map[string]any
	records []map[string]any
}

// oracleOut is one output record of Oracle.java.
type oracleOut struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
	Ts    int64           `json:"ts"`
	In    int             `json:"in"`
	End   bool            `json:"end"`
}

// runOracle runs every case in one JVM (scripts/kstreams/Oracle.java,
// compiled by scripts/kstreams.sh) and returns each case's outputs.
func runOracle(t *testing.T, cases []oracleCase) [][]oracleOut {
	t.Helper()
	dir := svctest.Need(t, svctest.KStreams)
	lib := filepath.Join(dir, "lib", "*")
	// Oracle.java is compiled from this tree, not taken from
	// $SLUICE_KSTREAMS/classes: that directory is shared by every
	// checkout using the same cache, which may hold another version.
	classes := t.TempDir()
	javac := exec.Command("javac", "-nowarn", "-d", classes, "-cp", lib, filepath.Join("..", "..", "scripts", "kstreams", "Oracle.java"))
	if b, err := javac.CombinedOutput(); err != nil {
		t.Fatalf("compiling scripts/kstreams/Oracle.java with SLUICE_KSTREAMS=%s: %v\n%s", dir, err, b)
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, c := range cases {
		if err := enc.Encode(c.spec); err != nil {
			t.Fatal(err)
		}
		for _, r := range c.records {
			if err := enc.Encode(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command("java", "-Xss4m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.io.tmpdir="+t.TempDir(),
		"-cp", lib+string(os.PathListSeparator)+classes, "Oracle")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("Oracle (Kafka Streams): %v\n%s", err, stderr.String())
	}
	var outs [][]oracleOut
	var cur []oracleOut
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var o oracleOut
		o.In = -1
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("Oracle output %q: %v", line, err)
		}
		if o.End {
			outs = append(outs, cur)
			cur = nil
			continue
		}
		cur = append(cur, o)
	}
	if len(outs) != len(cases) {
		t.Fatalf("Oracle answered %d cases of %d\n%s", len(outs), len(cases), stderr.String())
	}
	return outs
}

// canonJSON re-encodes a JSON text with sorted object keys.
func canonJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Sprintf("!%s", raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
