// Package jvmtest runs Java itself for sluice's differential tests of the
// Java-compatible functions of its streaming SQL (DateTimeFormatter
// patterns, Double.toString, BigDecimal): Diff.java is compiled with javac
// and answers one question per line. Tests that need it skip with a how-to
// when no JDK is installed, and fail in CI ($CI set).
package jvmtest

import (
	"bytes"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

//go:embed Diff.java
var source []byte

// Answer is Java's answer to one question: OK false when Java threw.
type Answer struct {
	OK     bool
	Result string
}

// Ask compiles Diff.java and asks it every question (tab-separated
// operation and arguments; see Diff.java), returning the answers in order.
func Ask(t testing.TB, questions []string) []Answer {
	t.Helper()
	javac, err1 := exec.LookPath("javac")
	java, err2 := exec.LookPath("java")
	if err1 != nil || err2 != nil {
		msg := "javac and java are not on PATH; install a JDK (17 or later, e.g. `apt-get install openjdk-17-jdk-headless`) to run the differential test against Java"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Diff.java"), source, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(javac, "-d", dir, filepath.Join(dir, "Diff.java")).CombinedOutput(); err != nil {
		t.Fatalf("javac Diff.java: %v\n%s", err, out)
	}
	for _, q := range questions {
		if strings.ContainsAny(q, "\n\r") {
			t.Fatalf("question %q has a line break", q)
		}
	}
	cmd := exec.Command(java, "-Duser.timezone=UTC", "-Duser.language=en", "-Duser.country=US", "-cp", dir, "Diff")
	cmd.Stdin = strings.NewReader(strings.Join(questions, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java Diff: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(questions) {
		t.Fatalf("java Diff answered %d of %d questions\n%s", len(lines), len(questions), stderr.String())
	}
	answers := make([]Answer, len(lines))
	for i, l := range lines {
		if res, ok := strings.CutPrefix(l, "OK\t"); ok {
			answers[i] = Answer{OK: true, Result: res}
		}
	}
	return answers
}
