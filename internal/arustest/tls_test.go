package arustest

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestIssueExtraHosts(t *testing.T) {
	ca := NewCA(t, "test CA")
	body := ca.Issue(t, "node", true, "10.1.2.3", "node.example")
	var cert *x509.Certificate
	for rest := body; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			cert = c
		}
	}
	if cert == nil {
		t.Fatal("no certificate in the issued PEM")
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	for _, name := range []string{"127.0.0.1", "localhost", "10.1.2.3", "node.example"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "10.1.2.4", Roots: roots}); err == nil {
		t.Error("the certificate verifies for 10.1.2.4, which it does not name")
	}
}
