// Package lint holds repository rules that linters cannot express, checked
// as a test over the source tree.
package lint

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func goFiles(t *testing.T) map[string]string {
	t.Helper()
	root := repoRoot(t)
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "arus-data") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			files[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sleepAllowed lists the only places that may call time.Sleep: the
// polling helper itself.
var sleepAllowed = map[string]bool{
	"internal/arustest/arustest.go": true,
}

func TestNoSleepInTests(t *testing.T) {
	for path, src := range goFiles(t) {
		if !strings.HasSuffix(path, "_test.go") && !strings.HasPrefix(path, "internal/arustest/") {
			continue
		}
		if path == "internal/lint/lint_test.go" || sleepAllowed[path] {
			continue
		}
		if strings.Contains(src, "time.Sleep(") {
			t.Errorf("%s: time.Sleep in a test; wait on a condition (arustest.Eventually) instead", path)
		}
	}
}

func TestNoBrokerImplementationsImported(t *testing.T) {
	for path, src := range goFiles(t) {
		if path == "internal/lint/lint_test.go" {
			continue
		}
		if strings.Contains(src, `"github.com/twmb/franz-go/pkg/kfake"`) {
			t.Errorf("%s imports kfake: arus never imports another broker", path)
		}
	}
}

func TestNoPanicInServing(t *testing.T) {
	for path, src := range goFiles(t) {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		if !strings.HasPrefix(path, "internal/api/") && !strings.HasPrefix(path, "internal/server/") {
			continue
		}
		if strings.Contains(src, "panic(") {
			t.Errorf("%s calls panic: bad input must fail the request, not the broker", path)
		}
	}
}
