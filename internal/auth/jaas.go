package auth

import (
	"fmt"
	"strings"
	"unicode"
)

// JAASEntry is one login module of a sasl.jaas.config value:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required
//	    username="admin" password="admin-secret" user_alice="alice-secret";
type JAASEntry struct {
	LoginModule string
	Flag        string
	Options     map[string]string
}

// ParseJAAS parses a sasl.jaas.config value as Kafka's JaasConfig does:
// one or more "module flag key=value ... ;" entries, values quoted or
// bare, comments not allowed.
func ParseJAAS(s string) ([]JAASEntry, error) {
	var out []JAASEntry
	p := jaasParser{s: s}
	for {
		p.space()
		if p.eof() {
			break
		}
		module := p.word()
		p.space()
		flag := strings.ToLower(p.word())
		switch flag {
		case "required", "requisite", "sufficient", "optional":
		default:
			return nil, fmt.Errorf("sasl.jaas.config: login module %q: bad control flag %q", module, flag)
		}
		e := JAASEntry{LoginModule: module, Flag: flag, Options: map[string]string{}}
		for {
			p.space()
			if p.eof() {
				return nil, fmt.Errorf("sasl.jaas.config: login module %q does not end with ';'", module)
			}
			if p.s[p.i] == ';' {
				p.i++
				break
			}
			key := p.word()
			p.space()
			if key == "" || p.eof() || p.s[p.i] != '=' {
				return nil, fmt.Errorf("sasl.jaas.config: login module %q: expected key=value", module)
			}
			p.i++
			p.space()
			val, err := p.value()
			if err != nil {
				return nil, fmt.Errorf("sasl.jaas.config: login module %q option %s: %w", module, key, err)
			}
			e.Options[key] = val
		}
		if module == "" {
			return nil, fmt.Errorf("sasl.jaas.config: missing login module")
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sasl.jaas.config: no login module")
	}
	return out, nil
}

type jaasParser struct {
	s string
	i int
}

func (p *jaasParser) eof() bool { return p.i >= len(p.s) }

func (p *jaasParser) space() {
	for !p.eof() && unicode.IsSpace(rune(p.s[p.i])) {
		p.i++
	}
}

func (p *jaasParser) word() string {
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if unicode.IsSpace(rune(c)) || c == '=' || c == ';' || c == '"' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

func (p *jaasParser) value() (string, error) {
	if p.eof() {
		return "", fmt.Errorf("missing value")
	}
	if p.s[p.i] != '"' {
		w := p.word()
		if w == "" {
			return "", fmt.Errorf("missing value")
		}
		return w, nil
	}
	p.i++
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if p.eof() {
				return "", fmt.Errorf("unterminated quote")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated quote")
}

// PlainLoginModule is the JAAS module of SASL PLAIN.
const PlainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"

// PlainUsers returns the users of a PLAIN listener's sasl.jaas.config:
// its user_<name>="<password>" options.
func PlainUsers(jaas string) (map[string]string, error) {
	entries, err := ParseJAAS(jaas)
	if err != nil {
		return nil, err
	}
	users := map[string]string{}
	for _, e := range entries {
		if e.LoginModule != PlainLoginModule {
			return nil, fmt.Errorf("sasl.jaas.config: PLAIN needs %s, got %s", PlainLoginModule, e.LoginModule)
		}
		for k, v := range e.Options {
			if name, ok := strings.CutPrefix(k, "user_"); ok && name != "" {
				users[name] = v
			}
		}
	}
	return users, nil
}
