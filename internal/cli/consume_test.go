package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestParseFrom(t *testing.T) {
	tests := []struct {
		in   string
		want fromSpec
		kgo  kgo.Offset
	}{
		{"beginning", fromSpec{kind: fromBeginning}, kgo.NewOffset().AtStart()},
		{"earliest", fromSpec{kind: fromBeginning}, kgo.NewOffset().AtStart()},
		{"END", fromSpec{kind: fromEnd}, kgo.NewOffset().AtEnd()},
		{"0", fromSpec{kind: fromOffset, offset: 0}, kgo.NewOffset().At(0)},
		{"1500", fromSpec{kind: fromOffset, offset: 1500}, kgo.NewOffset().At(1500)},
		{"2026-11-21T10:00:00Z", fromSpec{kind: fromTime, millis: 1795255200000}, kgo.NewOffset().AfterMilli(1795255200000)},
		{"2026-11-21T11:00:00.250+01:00", fromSpec{kind: fromTime, millis: 1795255200250}, kgo.NewOffset().AfterMilli(1795255200250)},
	}
	for _, tt := range tests {
		got, err := parseFrom(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseFrom(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if got.kgoOffset() != tt.kgo {
			t.Errorf("parseFrom(%q).kgoOffset() = %v, want %v", tt.in, got.kgoOffset(), tt.kgo)
		}
	}
	for _, bad := range []string{"-5", "yesterday", "2026-11-21", "10:00"} {
		if _, err := parseFrom(bad); err == nil || !strings.Contains(err.Error(), "invalid --from") {
			t.Errorf("parseFrom(%q) error = %v", bad, err)
		}
	}
}

func TestEndTracker(t *testing.T) {
	// Partition 0 has records 3..9 to read, 1 is empty, 2 starts at its end.
	tr := newEndTrackerAt(map[int32]int64{0: 3, 1: 0, 2: 5}, map[int32]int64{0: 10, 1: 0, 2: 5})
	if tr.done() {
		t.Fatal("done before reading partition 0")
	}
	tr.observe(0, 8)
	tr.observe(7, 100) // unknown partition: ignored
	if tr.done() {
		t.Fatal("done before offset 9")
	}
	tr.observe(0, 9)
	if !tr.done() {
		t.Fatal("not done after offset 9")
	}
	if !newEndTrackerAt(nil, nil).done() {
		t.Error("a tracker without partitions must be done")
	}
}

func TestListedOffsetsOf(t *testing.T) {
	listed := kadm.ListedOffsets{"t": {0: {Offset: 4}, 1: {Offset: 9}}, "other": {0: {Offset: 1}}}
	got, err := listedOffsetsOf(listed, "t", -1)
	if err != nil || len(got) != 2 || got[0] != 4 || got[1] != 9 {
		t.Errorf("all partitions: %v, %v", got, err)
	}
	got, err = listedOffsetsOf(listed, "t", 1)
	if err != nil || len(got) != 1 || got[1] != 9 {
		t.Errorf("partition 1: %v, %v", got, err)
	}
}

func testRecord() *kgo.Record {
	return &kgo.Record{
		Topic:     "orders",
		Partition: 2,
		Offset:    41,
		Timestamp: time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC),
		Key:       []byte("user1"),
		Value:     []byte("hello world"),
		Headers:   []kgo.RecordHeader{{Key: "source", Value: []byte("import")}, {Key: "bin", Value: []byte{0xff}}},
	}
}

func TestWriteTextRecord(t *testing.T) {
	var buf bytes.Buffer
	if err := writeTextRecord(&buf, testRecord()); err != nil {
		t.Fatal(err)
	}
	want := `partition=2 offset=41 timestamp=2026-11-21T10:00:00.123Z key=user1 headers=source=import,bin="\xff" value=hello world` + "\n"
	if buf.String() != want {
		t.Errorf("got  %q\nwant %q", buf.String(), want)
	}

	buf.Reset()
	r := &kgo.Record{Partition: 0, Offset: 0, Timestamp: time.UnixMilli(0), Value: []byte("two\nlines")}
	if err := writeTextRecord(&buf, r); err != nil {
		t.Fatal(err)
	}
	want = `partition=0 offset=0 timestamp=1970-01-01T00:00:00.000Z key=<null> value="two\nlines"` + "\n"
	if buf.String() != want {
		t.Errorf("got  %q\nwant %q", buf.String(), want)
	}
}

func TestTextField(t *testing.T) {
	tests := []struct {
		in      string
		inField bool
		want    string
	}{
		{"plain", true, "plain"},
		{"with space", false, "with space"},
		{"with space", true, `"with space"`},
		{"a=b", true, `"a=b"`},
		{"tab\there", false, "tab\there"},
		{"bell\a", false, `"bell\a"`},
		{"é ünïcode", false, "é ünïcode"},
		{"", true, ""},
	}
	for _, tt := range tests {
		if got := textField([]byte(tt.in), tt.inField); got != tt.want {
			t.Errorf("textField(%q, %v) = %q, want %q", tt.in, tt.inField, got, tt.want)
		}
	}
}

func TestWriteJSONRecord(t *testing.T) {
	var buf bytes.Buffer
	if err := writeJSONRecord(&buf, testRecord()); err != nil {
		t.Fatal(err)
	}
	want := `{"topic":"orders","partition":2,"offset":41,"timestamp":"2026-11-21T10:00:00.123456789Z",` +
		`"key":"user1","value":"hello world","headers":[{"key":"source","value":"import"},` +
		`{"key":"bin","value":"/w==","value_encoding":"base64"}]}` + "\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}

	// Null key, binary value, no headers, and HTML characters kept as is.
	buf.Reset()
	r := &kgo.Record{Topic: "t", Timestamp: time.UnixMilli(0), Value: []byte{0, 0xfe, '<'}}
	if err := writeJSONRecord(&buf, r); err != nil {
		t.Fatal(err)
	}
	var got jsonRecord
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Key != nil || got.Value == nil || *got.Value != "AP48" || got.ValueEncoding != "base64" || got.Headers == nil {
		t.Errorf("got %+v", got)
	}
	if !strings.Contains(buf.String(), `"headers":[]`) {
		t.Errorf("headers must be [] when empty: %s", buf.String())
	}
	buf.Reset()
	_ = writeJSONRecord(&buf, &kgo.Record{Value: []byte("<a&b>")})
	if !strings.Contains(buf.String(), `"value":"<a&b>"`) {
		t.Errorf("HTML escaped: %s", buf.String())
	}
}

func TestConsumeFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"t", "--from", "yesterday"}, "invalid --from"},
		{[]string{"t", "--format", "xml"}, "invalid --format"},
		{[]string{"t", "--group", "g", "--partition", "1"}, "cannot be used together"},
		{[]string{"t", "--max-messages", "-1"}, "invalid --max-messages"},
	}
	for _, tt := range tests {
		_, _, err := runCommand(t, newConsumeCommand(), "", append(tt.args, "-b", "127.0.0.1:1")...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("consume %v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}
