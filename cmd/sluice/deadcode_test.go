package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestExecutableDropsUnusedMethods checks that the linker's dead-code
// elimination of methods is on for the whole executable. One call of
// reflect's Method or MethodByName with a name the compiler cannot see,
// anywhere in the program, makes the linker keep every exported method of
// every type held in an interface: expr-lang's did (see
// third_party/expr/SLUICE.md), and they were 20 MB of the executable's 93
// and about 12 MB of its resident pages (docs/performance.md, "Start-up
// memory"). The S3 client's PutBucketLifecycleConfiguration is a method
// sluice never calls: kept, it shows that elimination is off. To find the
// call: go build -ldflags=-dumpdep ./cmd/sluice 2>&1 | grep ReflectMethod.
func TestExecutableDropsUnusedMethods(t *testing.T) {
	out, err := exec.Command("go", "tool", "nm", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool nm: %v\n%s", err, out)
	}
	has := func(sym string) bool {
		for line := range strings.Lines(string(out)) {
			if strings.HasSuffix(strings.TrimSpace(line), " "+sym) {
				return true
			}
		}
		return false
	}
	const used = "github.com/aws/aws-sdk-go-v2/service/s3.(*Client).PutObject"
	const unused = "github.com/aws/aws-sdk-go-v2/service/s3.(*Client).PutBucketLifecycleConfiguration"
	if !has(used) {
		t.Fatalf("%s, which the S3 sink calls, is not in go tool nm's output: the check cannot see methods", used)
	}
	if has(unused) {
		t.Fatalf("the executable keeps %s, which sluice never calls: some code calls reflect's Method or MethodByName with a non-constant argument, which keeps every exported method (find it with go build -ldflags=-dumpdep ./cmd/sluice 2>&1 | grep ReflectMethod)", unused)
	}
}
