package auth

import (
	"errors"
	"fmt"
	"strings"
)

// SASL mechanism names, as clients send them in SaslHandshake.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// Mechanisms lists the mechanisms arus implements.
var Mechanisms = []string{MechanismPlain, MechanismScramSHA256, MechanismScramSHA512}

// ErrAuthenticationFailed is returned by a SASL exchange that rejects the
// client (wrong password, unknown user, malformed message). Its message is
// what the client is told; it never says which of those it was.
var ErrAuthenticationFailed = errors.New("authentication failed: invalid credentials")

// ErrUnsupportedMechanism is returned by NewSession for a mechanism that
// is not enabled.
var ErrUnsupportedMechanism = errors.New("auth: unsupported SASL mechanism")

// Session is one server side of a SASL exchange. Step is called with
// each token the client sends and returns the token to answer; done is
// true after the last one, when Principal is valid. An error ends the
// exchange (the connection is then closed). Not safe for concurrent use.
type Session interface {
	Step(token []byte) (challenge []byte, done bool, err error)
	Principal() Principal
}

// Credentials looks up what the mechanisms check passwords against.
type Credentials interface {
	// PlainPassword is the PLAIN password of user on listener (from its
	// JAAS config); ok is false for an unknown user.
	PlainPassword(listener, user string) (password string, ok bool)
	// Scram is the stored SCRAM credential of user; ok is false for an
	// unknown user or a mechanism it has no credential for.
	Scram(mechanism ScramMechanism, user string) (cred ScramCredential, ok bool)
}

// NewSession starts the server side of mechanism for a connection on
// listener; enabled is the listener's sasl.enabled.mechanisms.
func NewSession(mechanism string, enabled []string, listener string, creds Credentials) (Session, error) {
	ok := false
	for _, m := range enabled {
		ok = ok || m == mechanism
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedMechanism, mechanism)
	}
	switch mechanism {
	case MechanismPlain:
		return &plainSession{listener: listener, creds: creds}, nil
	case MechanismScramSHA256:
		return newScramSession(ScramSHA256, creds), nil
	case MechanismScramSHA512:
		return newScramSession(ScramSHA512, creds), nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedMechanism, mechanism)
}

// ValidMechanisms checks a sasl.enabled.mechanisms list.
func ValidMechanisms(list []string) error {
	for _, m := range list {
		found := false
		for _, s := range Mechanisms {
			found = found || s == m
		}
		if !found {
			return fmt.Errorf("sasl.enabled.mechanisms: arus supports %s, not %s", strings.Join(Mechanisms, ", "), m)
		}
	}
	return nil
}
