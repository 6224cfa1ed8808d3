package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// ScramMechanism is a SCRAM mechanism with Kafka's wire code
// (ScramMechanism in AlterUserScramCredentials).
type ScramMechanism int8

// SCRAM mechanisms.
const (
	ScramSHA256 ScramMechanism = 1
	ScramSHA512 ScramMechanism = 2
)

// Iteration bounds of Kafka's ScramMechanism (minIterations 4096, maxIterations 16384).
const (
	ScramMinIterations = 4096
	ScramMaxIterations = 16384
)

// ScramMechanismByName maps a mechanism name to its code.
func ScramMechanismByName(name string) (ScramMechanism, bool) {
	switch name {
	case MechanismScramSHA256:
		return ScramSHA256, true
	case MechanismScramSHA512:
		return ScramSHA512, true
	}
	return 0, false
}

// Valid reports whether m is a known mechanism.
func (m ScramMechanism) Valid() bool { return m == ScramSHA256 || m == ScramSHA512 }

func (m ScramMechanism) String() string {
	switch m {
	case ScramSHA256:
		return MechanismScramSHA256
	case ScramSHA512:
		return MechanismScramSHA512
	}
	return fmt.Sprintf("UNKNOWN(%d)", int8(m))
}

func (m ScramMechanism) hash() func() hash.Hash {
	if m == ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// ScramCredential is what the server keeps of a SCRAM password
// (RFC 5802 section 3): never the password or the salted password.
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// SaltPassword is RFC 5802's Hi(password, salt, iterations): PBKDF2 with
// the mechanism's HMAC. Clients send its result in
// AlterUserScramCredentials, so the password never reaches the broker.
func SaltPassword(m ScramMechanism, password string, salt []byte, iterations int) ([]byte, error) {
	size := m.hash()().Size()
	return pbkdf2.Key(m.hash(), password, salt, iterations, size)
}

// NewScramCredential derives the stored credential from a salted password.
func NewScramCredential(m ScramMechanism, saltedPassword, salt []byte, iterations int32) ScramCredential {
	clientKey := hmacSum(m, saltedPassword, []byte("Client Key"))
	stored := m.hash()()
	stored.Write(clientKey)
	return ScramCredential{
		Salt:       append([]byte(nil), salt...),
		StoredKey:  stored.Sum(nil),
		ServerKey:  hmacSum(m, saltedPassword, []byte("Server Key")),
		Iterations: iterations,
	}
}

func hmacSum(m ScramMechanism, key, msg []byte) []byte {
	h := hmac.New(m.hash(), key)
	h.Write(msg)
	return h.Sum(nil)
}

// scramSession is the server side of SCRAM (RFC 5802, RFC 7677):
//
//	client-first  [gs2 header]n=user,r=cnonce[,ext]
//	server-first  r=cnonce+snonce,s=salt,i=iterations
//	client-final  c=base64(gs2 header),r=nonce[,ext],p=proof
//	server-final  v=server-signature
//
// Channel binding is not supported (as in Kafka); neither are delegation
// tokens (the tokenauth extension).
type scramSession struct {
	mech      ScramMechanism
	creds     Credentials
	step      int
	gs2       string
	user      string
	nonce     string
	cred      ScramCredential
	firstBare string
	serverMsg string
	principal Principal
}

func newScramSession(m ScramMechanism, creds Credentials) *scramSession {
	return &scramSession{mech: m, creds: creds}
}

// maxScramMessage bounds a client message (a username, nonce and proof
// are a few hundred bytes).
const maxScramMessage = 4096

func (s *scramSession) Step(token []byte) ([]byte, bool, error) {
	if len(token) > maxScramMessage {
		return nil, false, ErrAuthenticationFailed
	}
	switch s.step {
	case 0:
		s.step = 1
		out, err := s.clientFirst(string(token))
		return out, false, err
	case 1:
		s.step = 2
		out, err := s.clientFinal(string(token))
		return out, err == nil, err
	}
	return nil, false, ErrAuthenticationFailed
}

func (s *scramSession) Principal() Principal { return s.principal }

func (s *scramSession) clientFirst(msg string) ([]byte, error) {
	// gs2-header: cbind flag, authzid, then the bare message.
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok || (flag != "n" && flag != "y") {
		return nil, ErrAuthenticationFailed
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	if !ok || (authzid != "" && !strings.HasPrefix(authzid, "a=")) {
		return nil, ErrAuthenticationFailed
	}
	s.gs2 = msg[:len(msg)-len(bare)]
	s.firstBare = bare
	fields := strings.Split(bare, ",")
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "n=") || !strings.HasPrefix(fields[1], "r=") {
		return nil, ErrAuthenticationFailed
	}
	user, err := decodeSaslName(fields[0][2:])
	if err != nil || user == "" {
		return nil, ErrAuthenticationFailed
	}
	if authzid != "" {
		if az, err := decodeSaslName(authzid[2:]); err != nil || az != user {
			return nil, ErrAuthenticationFailed
		}
	}
	for _, ext := range fields[2:] {
		if strings.HasPrefix(ext, "tokenauth=") {
			return nil, ErrAuthenticationFailed // delegation tokens: not supported
		}
	}
	cnonce := fields[1][2:]
	if cnonce == "" {
		return nil, ErrAuthenticationFailed
	}
	cred, ok := s.creds.Scram(s.mech, user)
	if !ok {
		return nil, ErrAuthenticationFailed
	}
	var random [18]byte
	_, _ = rand.Read(random[:])
	s.user, s.cred = user, cred
	s.nonce = cnonce + base64.RawURLEncoding.EncodeToString(random[:])
	s.serverMsg = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(int(cred.Iterations))
	return []byte(s.serverMsg), nil
}

func (s *scramSession) clientFinal(msg string) ([]byte, error) {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, ErrAuthenticationFailed
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	fields := strings.Split(withoutProof, ",")
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "c=") || !strings.HasPrefix(fields[1], "r=") {
		return nil, ErrAuthenticationFailed
	}
	cbind, err := base64.StdEncoding.DecodeString(fields[0][2:])
	// As Kafka's ScramSaslServer, the client's nonce must end with the
	// one the server sent, not equal it: librdkafka repeats its own nonce
	// in front. The proof covers the message as sent either way.
	if err != nil || string(cbind) != s.gs2 || !strings.HasSuffix(fields[1][2:], s.nonce) {
		return nil, ErrAuthenticationFailed
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != len(s.cred.StoredKey) {
		return nil, ErrAuthenticationFailed
	}
	authMessage := []byte(s.firstBare + "," + s.serverMsg + "," + withoutProof)
	signature := hmacSum(s.mech, s.cred.StoredKey, authMessage)
	clientKey := make([]byte, len(proof))
	subtle.XORBytes(clientKey, proof, signature)
	h := s.mech.hash()()
	h.Write(clientKey)
	if subtle.ConstantTimeCompare(h.Sum(nil), s.cred.StoredKey) != 1 {
		return nil, ErrAuthenticationFailed
	}
	s.principal = User(s.user)
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSum(s.mech, s.cred.ServerKey, authMessage))), nil
}

// decodeSaslName undoes RFC 5802's escaping of ',' and '=' in names.
func decodeSaslName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", ErrAuthenticationFailed
		}
		i += 2
	}
	return b.String(), nil
}
