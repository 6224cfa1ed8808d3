package cli

import (
	"bufio"
	"strings"
	"testing"
)

func TestSplitKeyValue(t *testing.T) {
	tests := []struct {
		line, sep string
		key       *string // nil: no key
		value     string
	}{
		{line: "k:v", sep: ":", key: ptr("k"), value: "v"},
		{line: "k:v:w", sep: ":", key: ptr("k"), value: "v:w"},
		{line: ":v", sep: ":", key: ptr(""), value: "v"},
		{line: "k:", sep: ":", key: ptr("k"), value: ""},
		{line: "no separator", sep: ":", value: "no separator"},
		{line: "k::v", sep: "::", key: ptr("k"), value: "v"},
		{line: "k:v", sep: "", value: "k:v"},
		{line: "", sep: ":", value: ""},
	}
	for _, tt := range tests {
		key, value := splitKeyValue([]byte(tt.line), tt.sep)
		switch {
		case tt.key == nil && key != nil, tt.key != nil && (key == nil || string(key) != *tt.key), string(value) != tt.value:
			t.Errorf("splitKeyValue(%q, %q) = %q, %q", tt.line, tt.sep, key, value)
		}
	}
}

func ptr(s string) *string { return &s }

func TestReadLine(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("a\r\nb\n\nlast"))
	var got []string
	for {
		line, err := readLine(r)
		if err != nil {
			break
		}
		got = append(got, string(line))
	}
	if strings.Join(got, "|") != "a|b||last" {
		t.Errorf("got %q", got)
	}

	r = bufio.NewReader(strings.NewReader("x\n"))
	if line, err := readLine(r); err != nil || string(line) != "x" {
		t.Fatalf("got %q, %v", line, err)
	}
	if _, err := readLine(r); err == nil {
		t.Error("want io.EOF after the last line, not an empty record")
	}
}

func TestParseHeaders(t *testing.T) {
	headers, err := parseHeaders([]string{"source=import", "trace=a=b", "source=again", "empty="})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"source=import", "trace=a=b", "source=again", "empty="}
	if len(headers) != len(want) {
		t.Fatalf("got %d headers, want %d", len(headers), len(want))
	}
	for i, h := range headers {
		if got := h.Key + "=" + string(h.Value); got != want[i] {
			t.Errorf("header %d = %q, want %q", i, got, want[i])
		}
	}
	if _, err := parseHeaders([]string{"nokey"}); err == nil {
		t.Error("header without = accepted")
	}
}

func TestNewLineRecord(t *testing.T) {
	headers, _ := parseHeaders([]string{"h=1"})
	r := newLineRecord("t", []byte("user1:login"), ":", headers)
	if r.Topic != "t" || string(r.Key) != "user1" || string(r.Value) != "login" || len(r.Headers) != 1 {
		t.Errorf("got %+v", r)
	}
}

// TestProduceFlagErrors checks that bad flags are reported before any
// connection is tried (the bootstrap address is unreachable on purpose).
func TestProduceFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"t", "--acks", "2"}, "invalid --acks"},
		{[]string{"t", "--compression", "brotli"}, "invalid --compression"},
		{[]string{"t", "--header", "nokey"}, "invalid --header"},
		{[]string{"t", "--partition", "-2"}, "invalid --partition"},
		{[]string{}, "accepts 1 arg"},
	}
	for _, tt := range tests {
		_, _, err := runCommand(t, newProduceCommand(), "", append(tt.args, "-b", "127.0.0.1:1")...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("produce %v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}
