package config

import (
	"strings"
	"testing"
)

func TestHTTPListener(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "", ""},
		{"off", "", ""},
		{"OFF", "", ""},
		{"localhost:8080", "localhost:8080", ""},
		{"0.0.0.0:0", "0.0.0.0:0", ""},
		{"8080", "", "http.listener"},
	} {
		b := Broker{}
		if err := ApplyProperties(&b, map[string]string{"http.listener": tc.in}); err != nil {
			t.Fatal(err)
		}
		err := b.Validate()
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one about %s", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || b.HTTPListener != tc.want):
			t.Errorf("%q: %q %v, want %q", tc.in, b.HTTPListener, err, tc.want)
		}
	}
}
