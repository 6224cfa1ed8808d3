package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

type testCreds struct {
	plain map[string]string
	scram map[string]ScramCredential
}

func (c testCreds) PlainPassword(_, user string) (string, bool) {
	p, ok := c.plain[user]
	return p, ok
}

func (c testCreds) Scram(m ScramMechanism, user string) (ScramCredential, bool) {
	cr, ok := c.scram[m.String()+"/"+user]
	return cr, ok
}

func TestPlain(t *testing.T) {
	creds := testCreds{plain: map[string]string{"alice": "secret"}}
	for _, c := range []struct {
		token string
		ok    bool
	}{
		{"\x00alice\x00secret", true},
		{"alice\x00alice\x00secret", true},
		{"bob\x00alice\x00secret", false},
		{"\x00alice\x00wrong", false},
		{"\x00mallory\x00secret", false},
		{"alice secret", false},
	} {
		s, err := NewSession(MechanismPlain, Mechanisms, "SASL_PLAINTEXT", creds)
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := s.Step([]byte(c.token))
		if c.ok != (err == nil && done) {
			t.Errorf("%q: done=%v err=%v", c.token, done, err)
		}
		if c.ok && s.Principal() != User("alice") {
			t.Errorf("principal %v", s.Principal())
		}
	}
	if _, err := NewSession(MechanismPlain, []string{MechanismScramSHA256}, "L", creds); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Errorf("disabled mechanism: %v", err)
	}
}

// scramClient is the client side of RFC 5802, for the test only.
func scramClient(t *testing.T, s Session, m ScramMechanism, user, password string) error {
	t.Helper()
	return scramClientNonce(t, s, m, user, password, func(n string) string { return n })
}

// scramClientNonce is scramClient whose final message carries
// finalNonce(server nonce).
func scramClientNonce(t *testing.T, s Session, m ScramMechanism, user, password string, finalNonce func(string) string) error {
	t.Helper()
	first := "n,,n=" + user + ",r=clientnonce"
	sf, _, err := s.Step([]byte(first))
	if err != nil {
		return err
	}
	var nonce, salt string
	var iters int
	for _, f := range strings.Split(string(sf), ",") {
		switch {
		case strings.HasPrefix(f, "r="):
			nonce = f[2:]
		case strings.HasPrefix(f, "s="):
			salt = f[2:]
		case strings.HasPrefix(f, "i="):
			for _, c := range f[2:] {
				iters = iters*10 + int(c-'0')
			}
		}
	}
	rawSalt, _ := base64.StdEncoding.DecodeString(salt)
	salted, err := SaltPassword(m, password, rawSalt, iters)
	if err != nil {
		t.Fatal(err)
	}
	cred := NewScramCredential(m, salted, rawSalt, int32(iters))
	without := "c=" + base64.StdEncoding.EncodeToString([]byte("n,,")) + ",r=" + finalNonce(nonce)
	authMsg := "n=" + user + ",r=clientnonce," + string(sf) + "," + without
	clientKey := hmacSum(m, salted, []byte("Client Key"))
	sig := hmacSum(m, cred.StoredKey, []byte(authMsg))
	proof := make([]byte, len(sig))
	subtle.XORBytes(proof, clientKey, sig)
	final, done, err := s.Step([]byte(without + ",p=" + base64.StdEncoding.EncodeToString(proof)))
	if err != nil {
		return err
	}
	want := "v=" + base64.StdEncoding.EncodeToString(hmacSum(m, cred.ServerKey, []byte(authMsg)))
	if !done || !hmac.Equal(final, []byte(want)) {
		t.Fatalf("server final %q, want %q", final, want)
	}
	return nil
}

func TestScram(t *testing.T) {
	for _, m := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		salt := []byte("0123456789abcdef")
		salted, err := SaltPassword(m, "pencil", salt, 4096)
		if err != nil {
			t.Fatal(err)
		}
		creds := testCreds{scram: map[string]ScramCredential{m.String() + "/user": NewScramCredential(m, salted, salt, 4096)}}
		s, err := NewSession(m.String(), Mechanisms, "L", creds)
		if err != nil {
			t.Fatal(err)
		}
		if err := scramClient(t, s, m, "user", "pencil"); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if s.Principal() != User("user") {
			t.Fatalf("principal %v", s.Principal())
		}
		// librdkafka sends its own nonce again in front of the server's;
		// Kafka accepts a final nonce that ends with the server's.
		s, _ = NewSession(m.String(), Mechanisms, "L", creds)
		if err := scramClientNonce(t, s, m, "user", "pencil", func(n string) string { return "clientnonce" + n }); err != nil {
			t.Fatalf("%s librdkafka-style nonce: %v", m, err)
		}
		s, _ = NewSession(m.String(), Mechanisms, "L", creds)
		if err := scramClientNonce(t, s, m, "user", "pencil", func(n string) string { return n + "x" }); !errors.Is(err, ErrAuthenticationFailed) {
			t.Fatalf("%s nonce not ending with the server's: %v", m, err)
		}
		s, _ = NewSession(m.String(), Mechanisms, "L", creds)
		if err := scramClient(t, s, m, "user", "wrong"); !errors.Is(err, ErrAuthenticationFailed) {
			t.Fatalf("%s wrong password: %v", m, err)
		}
		s, _ = NewSession(m.String(), Mechanisms, "L", creds)
		if err := scramClient(t, s, m, "nobody", "pencil"); !errors.Is(err, ErrAuthenticationFailed) {
			t.Fatalf("%s unknown user: %v", m, err)
		}
	}
}

func FuzzScramServer(f *testing.F) {
	m := ScramSHA256
	salt := []byte("salt")
	salted, _ := SaltPassword(m, "pw", salt, 4096)
	creds := testCreds{scram: map[string]ScramCredential{m.String() + "/u": NewScramCredential(m, salted, salt, 4096)}}
	f.Add([]byte("n,,n=u,r=abc"), []byte("c=biws,r=abc,p=AAAA"))
	f.Add([]byte("y,a=u,n=u,r=x,ext=1"), []byte("c=eSxhPXUs,r=x,p="))
	f.Fuzz(func(t *testing.T, first, final []byte) {
		s, _ := NewSession(m.String(), Mechanisms, "L", creds)
		if _, _, err := s.Step(first); err != nil {
			return
		}
		if _, done, err := s.Step(final); err == nil || done {
			t.Fatalf("a guessed final message authenticated: %q %q", first, final)
		}
	})
}

func TestJAASPlainUsers(t *testing.T) {
	users, err := PlainUsers(`org.apache.kafka.common.security.plain.PlainLoginModule required
		username="admin" password="admin-secret" user_admin="admin-secret" user_alice="al\"ice";`)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users["admin"] != "admin-secret" || users["alice"] != `al"ice` {
		t.Fatalf("users %v", users)
	}
	for _, bad := range []string{"", "x", "mod required a=1", "mod maybe a=1;", `mod required a="x;`} {
		if _, err := ParseJAAS(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestPrincipalMapping(t *testing.T) {
	m, err := NewPrincipalMapper(`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?).*$/$1@$2/L,DEFAULT`)
	if err != nil {
		t.Fatal(err)
	}
	for dn, want := range map[string]string{
		"CN=kafka1,OU=ServiceUsers,O=Org": "kafka1",
		"CN=Duke,OU=JavaSoft,O=Sun,C=US":  "duke@javasoft",
		"EMAILADDRESS=x@y,CN=z":           "EMAILADDRESS=x@y,CN=z",
	} {
		if got := m.Map(dn); got != want {
			t.Errorf("Map(%q) = %q, want %q", dn, got, want)
		}
	}
	def, _ := NewPrincipalMapper("")
	if def.Map("CN=a,O=b") != "CN=a,O=b" {
		t.Error("default keeps the DN")
	}
	if _, err := NewPrincipalMapper("RULE:broken"); err == nil {
		t.Error("bad rule parsed")
	}
}

// FuzzPlainAndJAAS: the PLAIN message parser never panics and only the
// right password of a known user authenticates; the JAAS parser (server
// configuration, but read from files operators edit) never panics.
func FuzzPlainAndJAAS(f *testing.F) {
	creds := testCreds{plain: map[string]string{"alice": "secret"}}
	f.Add([]byte("\x00alice\x00secret"), `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="secret";`)
	f.Add([]byte("alice\x00alice\x00secret\x00"), `x required username="a\"b" password='c';`)
	f.Add([]byte("\x00\x00"), `;;"`)
	f.Fuzz(func(t *testing.T, token []byte, jaas string) {
		s, err := NewSession(MechanismPlain, Mechanisms, "SASL_PLAINTEXT", creds)
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := s.Step(token)
		if err == nil && done {
			parts := bytes.Split(token, []byte{0})
			if len(parts) != 3 || string(parts[1]) != "alice" || string(parts[2]) != "secret" {
				t.Fatalf("%q authenticated as %v", token, s.Principal())
			}
		}
		_, _ = ParseJAAS(jaas)
		_, _ = PlainUsers(jaas)
	})
}
