package group

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// member is one member of a classic group. Owned by the shard goroutine.
type member struct {
	id         string
	instanceID *string // nil for a dynamic member
	clientID   string
	clientHost string

	rebalanceTimeout time.Duration
	sessionTimeout   time.Duration
	protocolType     string
	protocols        []Protocol // in the member's order of preference
	assignment       []byte     // from the leader's SyncGroup, empty before

	// joinReply is set while the member waits in JoinGroup for the round
	// to complete; syncReply while it waits in SyncGroup for the
	// leader's assignment. Each is called at most once, then cleared.
	joinReply func(JoinResult)
	syncReply func(SyncResult)

	// isNew is set until the member's first join round completes; such a
	// member expires after the new-member join timeout even while it
	// waits in JoinGroup, because its client may have given up.
	isNew bool
	// deadline is when the session (or the new-member join timeout)
	// expires without a heartbeat; zero while none is scheduled (a
	// member waiting in JoinGroup or SyncGroup does not expire).
	deadline time.Time
}

func (m *member) awaitingJoin() bool { return m.joinReply != nil }
func (m *member) awaitingSync() bool { return m.syncReply != nil }

func (m *member) isStatic() bool { return m.instanceID != nil }

// metadataFor returns the member's metadata for protocol, nil if it does
// not support it.
func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func (m *member) supports(protocol string) bool {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return true
		}
	}
	return false
}

// matches reports whether protocols equal the member's current ones, in
// order, names and metadata.
func (m *member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i, p := range protocols {
		if p.Name != m.protocols[i].Name || !bytes.Equal(p.Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// vote returns the member's most preferred protocol among candidates.
func (m *member) vote(candidates map[string]bool) string {
	for _, p := range m.protocols {
		if candidates[p.Name] {
			return p.Name
		}
	}
	return ""
}

// replyJoin delivers a JoinGroup result if the member is waiting for one.
func (m *member) replyJoin(r JoinResult) bool {
	if m.joinReply == nil {
		return false
	}
	reply := m.joinReply
	m.joinReply = nil
	reply(r)
	return true
}

// replySync delivers a SyncGroup result if the member is waiting for one.
func (m *member) replySync(r SyncResult) bool {
	if m.syncReply == nil {
		return false
	}
	reply := m.syncReply
	m.syncReply = nil
	reply(r)
	return true
}

// newMemberID returns Kafka's member id shape: the client id (or the
// instance id of a static member), a dash and a random UUID.
func newMemberID(clientID string, instanceID *string) string {
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func strPtrEqual(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
