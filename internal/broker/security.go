package broker

import (
	"crypto/rand"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/server"
)

// credentials implements auth.Credentials: PLAIN users from each
// listener's JAAS config, SCRAM credentials from the metadata image.
type credentials struct {
	plain      map[string]map[string]string // listener name ("" for all) -> user -> password
	controller *controller.Controller
	// peer is the inter-broker SCRAM login this node's configuration
	// knows (nil: none): brokers log in with it before any SCRAM
	// credential can have reached the metadata (Raft itself needs the
	// login), as Kafka's kafka-storage format --add-scram bootstraps it.
	peer *auth.ScramCredential
	// peerMechanism and peerUser name it.
	peerMechanism auth.ScramMechanism
	peerUser      string
}

// addPeerLogin makes the inter-broker SCRAM user of ps known with the
// password of this node's configuration (a credential in the metadata
// for the same user wins).
func (c *credentials) addPeerLogin(ps *peerSecurity) error {
	m, ok := auth.ScramMechanismByName(ps.mechanism)
	if !ok {
		return nil
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	salted, err := auth.SaltPassword(m, ps.secret, salt, auth.ScramMinIterations)
	if err != nil {
		return err
	}
	cred := auth.NewScramCredential(m, salted, salt, auth.ScramMinIterations)
	c.peer, c.peerMechanism, c.peerUser = &cred, m, ps.user
	return nil
}

func newCredentials(sec config.Security, c *controller.Controller) (*credentials, error) {
	cr := &credentials{plain: map[string]map[string]string{}, controller: c}
	for listener, jaas := range sec.PlainJAAS {
		users, err := auth.PlainUsers(jaas)
		if err != nil {
			if listener != "" {
				return nil, fmt.Errorf("listener.name.%s.plain.sasl.jaas.config: %w", strings.ToLower(listener), err)
			}
			return nil, err
		}
		cr.plain[listener] = users
	}
	return cr, nil
}

func (c *credentials) PlainPassword(listener, user string) (string, bool) {
	if users, ok := c.plain[listener]; ok {
		p, ok := users[user]
		return p, ok
	}
	p, ok := c.plain[""][user]
	return p, ok
}

func (c *credentials) Scram(m auth.ScramMechanism, user string) (auth.ScramCredential, bool) {
	rec, ok := c.controller.Image().ScramCredentials[metadata.ScramKey{User: user, Mechanism: int8(m)}]
	if !ok {
		if c.peer != nil && m == c.peerMechanism && user == c.peerUser {
			return *c.peer, true
		}
		return auth.ScramCredential{}, false
	}
	return auth.ScramCredential{Salt: rec.Salt, StoredKey: rec.StoredKey, ServerKey: rec.ServerKey, Iterations: rec.Iterations}, true
}

// newAuthorizer builds the authorizer of cfg and keeps its ACLs current
// with the controller's images.
func newAuthorizer(sec config.Security, c *controller.Controller) (*auth.Authorizer, error) {
	cfg := auth.AuthorizerConfig{Enabled: sec.AuthorizerEnabled(), AllowEveryoneIfNoACLFound: sec.AllowEveryoneIfNoACLFound}
	for _, s := range strings.Split(sec.SuperUsers, ";") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := auth.ParsePrincipal(s)
		if err != nil {
			return nil, fmt.Errorf("super.users: %w", err)
		}
		cfg.SuperUsers = append(cfg.SuperUsers, p)
	}
	a := auth.NewAuthorizer(cfg)
	var mu sync.Mutex
	var last uintptr
	update := func(im *metadata.Image) {
		// Rebuild only when the ACL map changed (each change clones it).
		ptr := reflect.ValueOf(im.ACLs).Pointer()
		mu.Lock()
		defer mu.Unlock()
		if ptr == last {
			return
		}
		last = ptr
		a.Update(api.Bindings(im))
	}
	update(c.Image())
	c.Subscribe(update)
	return a, nil
}

// clientListener is one running client listener.
type clientListener struct {
	name       string
	protocol   string
	server     *server.Server
	advertised struct {
		host string
		port int32
	}
}

// listenerServerConfig adds the security of listener l to base.
func (b *Broker) listenerServerConfig(base server.Config, l config.NamedListener, creds *credentials) (server.Config, string, error) {
	base.ListenerName = l.Name
	base.Logger = base.Logger.With("listener", l.Name)
	protocol, err := b.secureServerConfig(&base, l.Name, creds)
	return base, protocol, err
}

// secureServerConfig sets the TLS and SASL of listener name (its
// listener.name.<name>.* overrides over the unprefixed settings) in cfg
// and returns its protocol.
func (b *Broker) secureServerConfig(cfg *server.Config, name string, creds *credentials) (string, error) {
	sec := b.cfg.Security
	protocol, err := sec.Protocol(name)
	if err != nil {
		return "", err
	}
	ls := sec.ForListener(name)
	if protocol == config.ProtocolSSL || protocol == config.ProtocolSASLSSL {
		// As Kafka: ssl.client.auth applies to SSL listeners; SASL_SSL
		// clients authenticate with SASL and are not asked for
		// certificates, unless listener.name.<l>.ssl.client.auth asks
		// (KIP-684; the principal still comes from SASL).
		clientAuth := ls.ClientAuth
		if protocol == config.ProtocolSASLSSL {
			clientAuth = sec.Listeners[name].ClientAuth
		}
		files := auth.TLSFiles{KeystoreLocation: ls.KeystoreLocation, TruststoreLocation: ls.TruststoreLocation, ClientAuth: clientAuth}
		if b.tls == nil {
			b.tls = map[auth.TLSFiles]*auth.ServerTLS{}
		}
		st := b.tls[files]
		if st == nil {
			if st, err = auth.NewServerTLS(files, b.logger); err != nil {
				return "", fmt.Errorf("listener %s: %w", name, err)
			}
			b.tls[files] = st
		}
		cfg.TLS = st.Config()
		if cfg.PrincipalMapper, err = auth.NewPrincipalMapper(ls.PrincipalMappingRules); err != nil {
			return "", err
		}
	}
	if protocol == config.ProtocolSASLPlaintext || protocol == config.ProtocolSASLSSL {
		if err := auth.ValidMechanisms(ls.SASLMechanisms); err != nil {
			return "", fmt.Errorf("listener %s: %w", name, err)
		}
		cfg.SASL = &server.SASLConfig{Mechanisms: ls.SASLMechanisms, Credentials: creds, Listener: name,
			MaxReauth: sec.ConnectionsMaxReauth, FailedDelay: max(sec.FailedAuthenticationDelay, 0)}
	}
	return protocol, nil
}

// listenExtra starts the client listeners after the first.
func (b *Broker) listenExtra(base server.Config, creds *credentials) error {
	for _, l := range b.cfg.ExtraListeners {
		cfg, protocol, err := b.listenerServerConfig(base, l, creds)
		if err != nil {
			return err
		}
		srv, err := server.Listen(l.Addr, cfg)
		if err != nil {
			return fmt.Errorf("listen on %s (listener %s): %w", l.Addr, l.Name, err)
		}
		cl := &clientListener{name: l.Name, protocol: protocol, server: srv}
		b.extra = append(b.extra, cl)
		listener := l.Addr
		if host, port, _ := net.SplitHostPort(listener); host == "" || host == "0.0.0.0" || host == "::" {
			listener = net.JoinHostPort(b.advertised.host, port)
		}
		if cl.advertised.host, cl.advertised.port, err = advertisedAddr(l.Advertised, listener, srv.Addr()); err != nil {
			return fmt.Errorf("advertised listener %s: %w", l.Name, err)
		}
	}
	return nil
}

// advertisedFor implements api.Deps.AdvertisedFor.
func (b *Broker) advertisedFor(name string) (string, int32, bool) {
	if name == b.cfg.ListenerName {
		return b.advertised.host, b.advertised.port, true
	}
	for _, l := range b.extra {
		if l.name == name {
			return l.advertised.host, l.advertised.port, true
		}
	}
	return "", 0, false
}

// registeredListeners lists every client listener for registration.
func (b *Broker) registeredListeners() []metadata.BrokerListener {
	proto, _ := b.cfg.Security.Protocol(b.cfg.ListenerName)
	out := []metadata.BrokerListener{{Name: b.cfg.ListenerName, Host: b.advertised.host, Port: b.advertised.port, SecurityProtocol: proto}}
	for _, l := range b.extra {
		out = append(out, metadata.BrokerListener{Name: l.name, Host: l.advertised.host, Port: l.advertised.port, SecurityProtocol: l.protocol})
	}
	return out
}

// ListenerAddr is the bound address of the named client listener, nil
// when there is none.
func (b *Broker) ListenerAddr(name string) net.Addr {
	if name == b.cfg.ListenerName {
		return b.server.Addr()
	}
	for _, l := range b.extra {
		if l.name == name {
			return l.server.Addr()
		}
	}
	return nil
}
