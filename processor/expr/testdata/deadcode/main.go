// Command deadcode is TestLinkerDropsUncalledMethods's probe: a program
// that compiles and runs an expression, and holds a type in an interface
// whose exported method nothing calls. The linker drops that method unless
// some reachable code calls reflect's Method or MethodByName with a name it
// cannot see.
package main

import (
	"fmt"
	"os"

	"github.com/sluice-dev/sluice/processor/expr"
)

type probe struct{ n int }

// UncalledProbeMethod is never called, directly or through an interface.
func (p probe) UncalledProbeMethod() int { return p.n }

func (p probe) String() string { return "probe" }

func main() {
	var s fmt.Stringer = probe{len(os.Args)}
	e, err := expr.Compile("probe", "1 + 2 == 3", true)
	fmt.Println(s, e != nil, err)
}
