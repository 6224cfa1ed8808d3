package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/arustest"
)

// arus console serves the console for a cluster it reaches by address.
func TestConsoleCommand(t *testing.T) {
	b := arustest.StartBroker(t)
	root := newRootCommand()
	pr, pw := io.Pipe()
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"console", "--bootstrap", b.Addr(), "--http-listener", "127.0.0.1:0", "--log-level", "error"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- root.ExecuteContext(ctx)
		pw.Close()
	}()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, pr)
	}()
	var line string
	select {
	case line = <-lines:
	case err := <-done:
		t.Fatalf("console exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("console printed no address")
	}
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("no URL in %q", line)
	}
	url := strings.Fields(line[i:])[0]
	resp, err := http.Get(url + "api/cluster")
	if err != nil {
		t.Fatal(err)
	}
	var cluster struct {
		Brokers []struct{ Port int32 }
		Health  string
	}
	err = json.NewDecoder(resp.Body).Decode(&cluster)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(cluster.Brokers) != 1 || cluster.Health != "ok" {
		t.Fatalf("cluster through arus console: %d %v %+v", resp.StatusCode, err, cluster)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("console after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("console did not stop")
	}

	_, _, err = runCommand(t, newRootCommand(), "", "console", "--bootstrap", b.Addr(), "--http-listener", "off")
	if err == nil || !strings.Contains(err.Error(), "--http-listener is off") {
		t.Fatalf("console with the listener off: %v", err)
	}
}
