package auth

import (
	"bytes"
	"crypto/subtle"
)

// plainSession is SASL PLAIN (RFC 4616): one message
// "authzid NUL authcid NUL password", checked against the listener's
// JAAS users, as Kafka's PlainServerCallbackHandler does.
type plainSession struct {
	listener  string
	creds     Credentials
	principal Principal
}

func (s *plainSession) Step(token []byte) ([]byte, bool, error) {
	authzid, rest, ok := bytes.Cut(token, []byte{0})
	if !ok {
		return nil, false, ErrAuthenticationFailed
	}
	user, password, ok := bytes.Cut(rest, []byte{0})
	if !ok || len(user) == 0 || len(password) == 0 {
		return nil, false, ErrAuthenticationFailed
	}
	// Kafka: "Authentication failed: Client requested an authorization id
	// that is different from username".
	if len(authzid) > 0 && !bytes.Equal(authzid, user) {
		return nil, false, ErrAuthenticationFailed
	}
	want, ok := s.creds.PlainPassword(s.listener, string(user))
	if !ok || subtle.ConstantTimeCompare([]byte(want), password) != 1 {
		return nil, false, ErrAuthenticationFailed
	}
	s.principal = User(string(user))
	return []byte{}, true, nil
}

func (s *plainSession) Principal() Principal { return s.principal }
