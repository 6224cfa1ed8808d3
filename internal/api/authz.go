package api

// Authorization of client requests, as Kafka's KafkaApis checks it: every
// handler asks authorized() for the operation and resource Kafka's
// handler asks for, before it looks at the resource, and answers a denial
// with Kafka's code (TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED,
// CLUSTER_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
// Where Kafka hides what a principal may not DESCRIBE (Metadata for all
// topics, ListGroups, OffsetFetch for all topics), the handler leaves it
// out. With no authorizer configured every check passes.
//
// Requests on the inter-broker listener come from peers, which are
// trusted (their connection's principal holds CLUSTER_ACTION and they
// proved membership with the handshake: see peers.go). A client
// request a broker forwarded to the active controller carries the
// client's principal and host in a tagged field and is authorized as the
// client's, but only when the connection it came on may act as a broker
// (CLUSTER_ACTION, as Kafka asks of an Envelope's sender); otherwise the
// claim is ignored and the request is authorized as the connection's own
// principal (ANONYMOUS on a PLAINTEXT inter-broker listener).

import (
	"encoding/binary"
	"reflect"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
)

// authorized reports whether req's principal may perform op on the
// resource.
func (h *Handlers) authorized(req *Request, op auth.Operation, rt auth.ResourceType, name string) bool {
	if req.Listener == ListenerInterBroker && !req.forwardedFor {
		return true
	}
	return h.deps.Authorizer.Authorize(req.Principal, req.host(), op, rt, name)
}

// authorizedCluster is authorized on the cluster resource.
func (h *Handlers) authorizedCluster(req *Request, op auth.Operation) bool {
	return h.authorized(req, op, auth.ResourceCluster, auth.ClusterName)
}

// authorizedAny reports whether req's principal may perform op on some
// resource of type rt (Kafka's authorizeByResourceType).
func (h *Handlers) authorizedAny(req *Request, op auth.Operation, rt auth.ResourceType) bool {
	if req.Listener == ListenerInterBroker && !req.forwardedFor {
		return true
	}
	return h.deps.Authorizer.AuthorizeAny(req.Principal, req.host(), op, rt)
}

// host is the client's IP address as ACLs name it.
func (r *Request) host() string { return strings.TrimPrefix(r.ClientHost, "/") }

// forwardedPrincipalTag is an arus tagged field of a client request a
// broker forwards to the active controller: int16 length + principal,
// int16 length + host. Kafka forwards inside an Envelope (KIP-590); arus
// forwards the request itself.
const forwardedPrincipalTag = 10_001

// tagsOf returns the tagged fields of a flexible request, nil for a
// request without them.
func tagsOf(body kmsg.Request) *kmsg.Tags {
	v := reflect.ValueOf(body)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("UnknownTags")
	if !f.IsValid() || !f.CanAddr() {
		return nil
	}
	t, _ := f.Addr().Interface().(*kmsg.Tags)
	return t
}

// markForwarded attaches the client's identity to a request about to be
// forwarded.
func markForwarded(req *Request) {
	tags := tagsOf(req.Body)
	if tags == nil {
		return
	}
	p, host := req.Principal.String(), req.host()
	val := binary.BigEndian.AppendUint16(nil, uint16(len(p)))
	val = append(val, p...)
	val = binary.BigEndian.AppendUint16(val, uint16(len(host)))
	val = append(val, host...)
	tags.Set(forwardedPrincipalTag, val)
}

// unmarkForwarded takes the client's identity off a forwarded request
// (from a peer, on the inter-broker listener) and makes req carry it when
// the peer's connection may act as a broker; otherwise req is authorized
// as the connection's principal.
func (h *Handlers) unmarkForwarded(req *Request) {
	tags := tagsOf(req.Body)
	if tags == nil {
		return
	}
	var val []byte
	tags.Each(func(key uint32, v []byte) {
		if key == forwardedPrincipalTag {
			val = v
		}
	})
	if val == nil {
		return
	}
	if !h.peerMayAct(req) {
		h.deps.Logger.Warn("forwarded request from a connection without CLUSTER_ACTION: authorized as the connection's principal, not the one it names",
			"api_key", req.Body.Key(), "principal", req.Principal.String(), "remote", req.ClientHost)
		req.forwardedFor = true
		return
	}
	read := func() (string, bool) {
		if len(val) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(val))
		if len(val) < 2+n {
			return "", false
		}
		s := string(val[2 : 2+n])
		val = val[2+n:]
		return s, true
	}
	ps, ok1 := read()
	host, ok2 := read()
	p, err := auth.ParsePrincipal(ps)
	// A malformed claim is authorized as nobody in particular: ANONYMOUS.
	if !ok1 || !ok2 || err != nil {
		p, host = auth.Anonymous, ""
	}
	req.forwardedFor, req.Principal, req.ClientHost = true, p, "/"+host
}

// supportedOperations are the operations ACLs may name per resource type
// (Kafka's AclEntry.supportedOperations), for authorized-operations bit
// fields.
var supportedOperations = [...][]auth.Operation{
	auth.ResourceTopic: {auth.OpRead, auth.OpWrite, auth.OpCreate, auth.OpDescribe, auth.OpDelete, auth.OpAlter,
		auth.OpDescribeConfigs, auth.OpAlterConfigs},
	auth.ResourceGroup:           {auth.OpRead, auth.OpDescribe, auth.OpDelete, auth.OpDescribeConfigs, auth.OpAlterConfigs},
	auth.ResourceCluster:         {auth.OpCreate, auth.OpClusterAction, auth.OpDescribeConfigs, auth.OpAlterConfigs, auth.OpIdempotentWrite, auth.OpAlter, auth.OpDescribe},
	auth.ResourceTransactionalID: {auth.OpDescribe, auth.OpWrite},
}

// authorizedOperations is the bit field (1 << operation code) of the
// operations req's principal may perform on the resource, as Kafka's
// AuthHelper.authorizedOperations answers Metadata, DescribeGroups,
// DescribeCluster and DescribeTopicPartitions.
func (h *Handlers) authorizedOperations(req *Request, rt auth.ResourceType, name string) int32 {
	var ops int32
	if int(rt) >= len(supportedOperations) {
		return 0
	}
	for _, op := range supportedOperations[rt] {
		if h.authorized(req, op, rt, name) {
			ops |= 1 << op
		}
	}
	return ops
}
