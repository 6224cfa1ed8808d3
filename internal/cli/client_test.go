package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runCommand executes cmd with args and stdin, returning what it wrote to
// stdout and stderr.
func runCommand(t *testing.T, cmd *cobra.Command, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	// Bound every command, so that a broker that never answers fails the
	// test instead of hanging it.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// clientCommands returns fresh instances of every command this package's
// client side provides.
func clientCommands() []*cobra.Command {
	return []*cobra.Command{newTopicCommand(), newProduceCommand(), newConsumeCommand(), newBenchCommand()}
}

func TestBootstrapServers(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{name: "default", want: "localhost:9092"},
		{name: "env", env: "h1:1,h2:2", want: "h1:1|h2:2"},
		{name: "flag wins over env", env: "h1:1", args: []string{"-b", "x:9, y:10 ,"}, want: "x:9|y:10"},
		{name: "long flag", args: []string{"--bootstrap-server", "z:1"}, want: "z:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(bootstrapEnv, tt.env)
			var got []string
			cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error {
				got = bootstrapServers(cmd)
				return nil
			}}
			addClientFlags(cmd)
			if _, _, err := runCommand(t, cmd, "", tt.args...); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAddClientFlagsTwice(t *testing.T) {
	parent := &cobra.Command{Use: "arus"}
	addClientFlags(parent)
	addClientFlags(parent)
	child := newProduceCommand() // adds its own copy of the flag
	parent.AddCommand(child)
	var got []string
	child.RunE = func(cmd *cobra.Command, _ []string) error {
		got = bootstrapServers(cmd)
		return nil
	}
	if _, _, err := runCommand(t, parent, "", "produce", "t", "-b", "a:1"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "a:1" {
		t.Fatalf("got %q, want [a:1]", got)
	}
}

func TestUnreachableBroker(t *testing.T) {
	// Port 1 on loopback refuses connections, so this fails fast.
	_, _, err := runCommand(t, newTopicCommand(), "", "list", "-b", "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "cannot reach broker at 127.0.0.1:1") {
		t.Fatalf("got error %v, want one saying the broker cannot be reached", err)
	}
}

func TestParseAcks(t *testing.T) {
	for _, s := range []string{"all", "-1", "1", "0", "ALL", "leader", "none"} {
		opts, err := parseAcks(s)
		if err != nil || len(opts) == 0 {
			t.Errorf("parseAcks(%q) = %v, %v", s, opts, err)
		}
	}
	opts, _ := parseAcks("all")
	if len(opts) != 1 {
		t.Errorf("acks=all must keep idempotent writes, got %d options", len(opts))
	}
	for _, s := range []string{"1", "0"} {
		if opts, _ := parseAcks(s); len(opts) != 2 {
			t.Errorf("acks=%s must disable idempotent writes, got %d options", s, len(opts))
		}
	}
	if _, err := parseAcks("2"); err == nil || !strings.Contains(err.Error(), "--acks") {
		t.Errorf("parseAcks(2) error = %v, want an --acks error", err)
	}
}

func TestParseCompression(t *testing.T) {
	tests := map[string]kgo.CompressionCodec{
		"none":   kgo.NoCompression(),
		"gzip":   kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(),
		"lz4":    kgo.Lz4Compression(),
		"zstd":   kgo.ZstdCompression(),
		"ZSTD":   kgo.ZstdCompression(),
	}
	for s, want := range tests {
		got, err := parseCompression(s)
		if err != nil || got != want {
			t.Errorf("parseCompression(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := parseCompression("brotli"); err == nil {
		t.Error("parseCompression(brotli) succeeded")
	}
}

func TestParseKeyValue(t *testing.T) {
	tests := []struct {
		in, key, value string
		ok             bool
	}{
		{"a=b", "a", "b", true},
		{"a=", "a", "", true},
		{"a=b=c", "a", "b=c", true},
		{"=b", "", "", false},
		{"ab", "", "", false},
	}
	for _, tt := range tests {
		key, value, err := parseKeyValue("header", tt.in)
		if (err == nil) != tt.ok || key != tt.key || value != tt.value {
			t.Errorf("parseKeyValue(%q) = %q, %q, %v", tt.in, key, value, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--header") {
			t.Errorf("error %q does not name the flag", err)
		}
	}
}

// TestHelpTexts checks every command explains itself with examples.
func TestHelpTexts(t *testing.T) {
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd.Short == "" || cmd.Long == "" {
			t.Errorf("%q lacks Short or Long help", cmd.CommandPath())
		}
		if !strings.Contains(cmd.Long, "Examples:") {
			t.Errorf("%q help has no examples", cmd.CommandPath())
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	for _, cmd := range clientCommands() {
		walk(cmd)
		out, _, err := runCommand(t, cmd, "", "--help")
		if err != nil || !strings.Contains(out, "--bootstrap-server") {
			t.Errorf("%s --help: err %v, output lacks --bootstrap-server:\n%s", cmd.Name(), err, out)
		}
	}
}
