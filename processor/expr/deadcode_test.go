package expr

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	exprlang "github.com/expr-lang/expr"
)

// TestLinkerDropsUncalledMethods builds testdata/deadcode and checks that
// the linker dropped its uncalled exported method. A reflect Method or
// MethodByName call with a name the compiler cannot see, anywhere in the
// program, makes the linker keep every exported method of every type held
// in an interface: expr-lang had such calls, which kept 20 MB of unused
// API methods in sluice's executable (and about 12 MB of them resident).
// sluice builds against third_party/expr, where every method lookup goes
// through a constant name (its internal/methods).
func TestLinkerDropsUncalledMethods(t *testing.T) {
	if testing.Short() {
		t.Skip("links a program")
	}
	bin := filepath.Join(t.TempDir(), "deadcode")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/deadcode").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./testdata/deadcode: %v\n%s", err, out)
	}
	out, err = exec.Command("go", "tool", "nm", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool nm: %v\n%s", err, out)
	}
	syms := string(out)
	if !strings.Contains(syms, "main.probe.String") {
		t.Fatalf("the probe's called method main.probe.String is not in the executable: the check cannot see methods")
	}
	if strings.Contains(syms, "UncalledProbeMethod") {
		t.Fatalf("the linker kept main.probe.UncalledProbeMethod, which nothing calls: some code calls reflect's Method or MethodByName with a non-constant argument (find it with go build -ldflags=-dumpdep ./testdata/deadcode 2>&1 | grep ReflectMethod)")
	}
}

// TestMethodNamesCover checks that expressions can call every exported
// method of the types their values can have: third_party/expr finds a
// method only if its name is in its internal/methods.Names.
func TestMethodNamesCover(t *testing.T) {
	values := []any{time.Time{}, new(time.Time), time.Duration(0), time.Month(1), time.Weekday(0), time.UTC, Decimal{}, new(Decimal)}
	for _, v := range values {
		ty := reflect.TypeOf(v)
		for i := range ty.NumMethod() {
			name := ty.Method(i).Name
			src := "x." + name
			if _, err := exprlang.Compile(src, exprlang.Env(map[string]any{"x": v})); err != nil {
				t.Errorf("%s on %s: %v (add %q to third_party/expr/internal/methods)", src, ty, err, name)
			}
		}
	}
}
