//go:build integration

// Package browser drives the web console in headless Chromium: a real
// arus binary serves it, console.mjs (playwright-core) clicks through it.
// scripts/install-browser-test-deps.sh installs Debian's chromium and
// `npm ci`s playwright-core here; without them the test skips.
package browser

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/arustest"
)

const (
	chromiumPath = "/usr/bin/chromium"
	// scenarioTimeout bounds console.mjs (it waits for lag to rise and
	// fall, and takes two screenshots of each page).
	scenarioTimeout = 5 * time.Minute
)

func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not found; run scripts/install-browser-test-deps.sh (apt-get install chromium)", chromiumPath)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found on PATH; install Node.js (CI has it) to run the browser test")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		t.Skip("test/browser/node_modules/playwright-core missing; run scripts/install-browser-test-deps.sh (npm ci)")
	}
	bin := buildArus(t)
	dir := t.TempDir()
	listener, httpAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logPath := filepath.Join(dir, "arus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	srv := exec.Command(bin, "serve", "--listener", listener, "--data-dir", filepath.Join(dir, "data"),
		"--http-listener", httpAddr, "--auto-create-topics=false")
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("arus log:\n%s", tail(string(b), 60))
			}
		}
	})
	url := "http://" + httpAddr + "/"
	arustest.Eventually(t, 30*time.Second, "the console answers /api/cluster", func() bool {
		resp, err := http.Get(url + "api/cluster")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	shots, err := filepath.Abs("screenshots")
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, scenarioTimeout)
	defer scancel()
	cmd := exec.CommandContext(sctx, node, "console.mjs")
	cmd.Env = append(os.Environ(), "CONSOLE_URL="+url, "ARUS_BIN="+bin, "BOOTSTRAP="+listener, "SHOTS="+shots,
		"CHROMIUM="+chromiumPath)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	passed := false
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		passed = passed || strings.HasSuffix(line, "all checks passed")
	}
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("console.mjs: %v (passed=%v); screenshots so far in %s", err, passed, shots)
	}
	t.Logf("screenshots in %s", shots)
}

// buildArus builds ./cmd/arus into a temporary directory.
func buildArus(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "arus")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	goTool := filepath.Join(runtimeGOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/arus")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runtimeGOROOT() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return fmt.Sprint(strings.Join(parts, "\n"))
}
