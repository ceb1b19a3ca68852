package dataprepper

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/processor/expr"
	"github.com/sluice-dev/sluice/registry"
)

// FuzzTranslate: any input is translated or refused with config.Errors,
// never a panic; a translation explains to YAML that parses, loads without
// panicking, and never prints a password.
func FuzzTranslate(f *testing.F) {
	for _, p := range []string{"testdata/seed000/pipeline.yaml", "testdata/documentdb/pipeline.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(""))
	}
	f.Add([]byte(base), []byte("source_coordination:\n  partition_prefix: a\n  store:\n    in_memory:\n"))
	f.Add([]byte(strings.Replace(base, `index: "idx"`, `index: "${getMetadata(\"primary_key\")}$${/a}${{x}}"`, 1)), []byte("ssl: false\n"))
	f.Add([]byte(processorsFile), []byte(""))
	f.Add([]byte(dateFile), []byte(""))
	reg := registry.Default()
	f.Fuzz(func(t *testing.T, data, server []byte) {
		var sc *ServerConfig
		if len(server) > 0 {
			sc = &ServerConfig{File: "dp.yaml", Data: server}
		}
		Detect(data)
		tr, err := Translate("p.yaml", data, sc)
		if err != nil {
			if _, ok := err.(config.Errors); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		out := tr.Explain("p.yaml")
		var doc yaml.Node
		if err := yaml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("explained pipeline is not YAML: %v\n%s", err, out)
		}
		for _, s := range tr.Secrets {
			if len(s.node.Value) >= 4 && strings.Contains(string(out), s.node.Value) && !strings.Contains(s.node.Value, "${") {
				t.Fatalf("explain printed a password:\n%s", out)
			}
		}
		_, _ = config.LoadNode("p.yaml", tr.Doc, reg, noEnv)
	})
}

// FuzzCondition: a Data Prepper condition translates to a sluice condition
// that compiles, or is refused with an error; never a panic.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{`/a == "x"`, `not /f or /n <= -2`, `/s =~ "a|b" and (/x != null)`, `length(/a) > 1`, `/a in {1}`, `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		cond, guard, err := translateCondition(src)
		if err != nil {
			return
		}
		for _, x := range []string{cond, guard, "!(" + guard + " && (" + cond + "))"} {
			x = strings.ReplaceAll(x, "$$", "$") // as the pipeline file's interpolation reads it
			if _, err := expr.Compile("c", x, true); err != nil {
				t.Fatalf("%q translated to %q, which does not compile: %v", src, x, err)
			}
		}
	})
}
