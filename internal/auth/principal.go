package auth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Principal is an authenticated identity, as Kafka's KafkaPrincipal:
// a type ("User") and a name.
type Principal struct {
	Type string
	Name string
}

// UserType is the principal type of every principal arus creates.
const UserType = "User"

// Anonymous is the principal of an unauthenticated connection
// (PLAINTEXT listeners, SSL without a client certificate).
var Anonymous = Principal{Type: UserType, Name: "ANONYMOUS"}

// User returns the principal User:name.
func User(name string) Principal { return Principal{Type: UserType, Name: name} }

// String is Kafka's form, "User:alice".
func (p Principal) String() string { return p.Type + ":" + p.Name }

// ErrBadPrincipal is returned by ParsePrincipal for a string that is not
// "Type:name".
var ErrBadPrincipal = errors.New("auth: principal must be Type:name")

// ParsePrincipal parses "User:alice" (Kafka's SecurityUtils.parseKafkaPrincipal).
func ParsePrincipal(s string) (Principal, error) {
	typ, name, ok := strings.Cut(s, ":")
	if !ok || typ == "" || name == "" {
		return Principal{}, fmt.Errorf("%w: %q", ErrBadPrincipal, s)
	}
	return Principal{Type: typ, Name: name}, nil
}

// PrincipalMapper maps a client certificate's distinguished name to a
// principal name with Kafka's ssl.principal.mapping.rules: a comma-
// separated list of RULE:pattern/replacement/[LU] and DEFAULT; the first
// rule whose pattern matches the whole DN wins, DEFAULT (and no match)
// keeps the DN.
type PrincipalMapper struct {
	rules []mappingRule
}

type mappingRule struct {
	isDefault bool
	pattern   *regexp.Regexp
	replace   string
	toLower   bool
	toUpper   bool
}

// ruleRE is one rule of ssl.principal.mapping.rules (Kafka's
// SslPrincipalMapper.RULE_PARSER).
var ruleRE = regexp.MustCompile(`^\s*((DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU])?)\s*(,\s*|$)`)

// javaGroupRef turns Java's $1 group references into Go's ${1}.
var javaGroupRef = regexp.MustCompile(`\$(\d+)`)

// NewPrincipalMapper parses ssl.principal.mapping.rules; "" is DEFAULT.
func NewPrincipalMapper(rules string) (*PrincipalMapper, error) {
	m := &PrincipalMapper{}
	rest := strings.TrimSpace(rules)
	if rest == "" {
		rest = "DEFAULT"
	}
	for rest != "" {
		loc := ruleRE.FindStringSubmatchIndex(rest)
		if loc == nil || loc[0] != 0 {
			return nil, fmt.Errorf("ssl.principal.mapping.rules: invalid rule at %q", rest)
		}
		sub := func(i int) string {
			if loc[2*i] < 0 {
				return ""
			}
			return rest[loc[2*i]:loc[2*i+1]]
		}
		if sub(2) == "DEFAULT" {
			m.rules = append(m.rules, mappingRule{isDefault: true})
		} else {
			re, err := regexp.Compile("^(?:" + sub(3) + ")$")
			if err != nil {
				return nil, fmt.Errorf("ssl.principal.mapping.rules: %w", err)
			}
			m.rules = append(m.rules, mappingRule{pattern: re, replace: javaGroupRef.ReplaceAllString(sub(5), "$${$1}"),
				toLower: sub(7) == "L", toUpper: sub(7) == "U"})
		}
		rest = rest[loc[1]:]
	}
	return m, nil
}

// Map returns the principal name for dn.
func (m *PrincipalMapper) Map(dn string) string {
	for _, r := range m.rules {
		if r.isDefault {
			return dn
		}
		if !r.pattern.MatchString(dn) {
			continue
		}
		out := r.pattern.ReplaceAllString(dn, r.replace)
		switch {
		case r.toLower:
			out = strings.ToLower(out)
		case r.toUpper:
			out = strings.ToUpper(out)
		}
		return out
	}
	return dn
}

// CertificatePrincipal is the principal of a TLS client: the mapped
// subject of its leaf certificate, or Anonymous without one.
func (m *PrincipalMapper) CertificatePrincipal(chain []*x509.Certificate) Principal {
	if len(chain) == 0 {
		return Anonymous
	}
	return User(m.Map(chain[0].Subject.String()))
}
