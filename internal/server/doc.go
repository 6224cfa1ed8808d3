// Package server accepts Kafka client connections and runs the framing
// around internal/api: it reads size-prefixed requests, parses the request
// header, checks the API key and version against api's table, checks the
// body's counts and lengths with internal/guard (kmsg trusts them), decodes
// the body with kmsg, calls the handler and writes the response.
//
// Each connection has a reader goroutine that reads and handles one
// request at a time, and a writer goroutine, running only while responses
// are queued, that finishes them (Outcome.Wait) and writes them in request
// order. An idle connection holds its parked reader, its socket and a few
// hundred bytes: frame and response buffers come from pools shared by all
// connections, by power-of-two size, and go back as soon as a request is
// handled or the queue is written.
//
// Limits (Kafka's names; zero in Config means unlimited):
//   - socket.request.max.bytes: a larger (or negative) size closes the
//     connection before anything is allocated;
//   - queued.max.request.bytes: a broker-wide budget of request bytes read
//     but not handled; a reader waits (first come, first served) before
//     reading a frame while it is spent. A frame counts its size rounded
//     up to a power of two, but its buffer only grows (from 64 KiB,
//     doubling) as bytes actually arrive;
//   - connections.max.idle.ms: a connection with nothing in flight and no
//     bytes moving is closed, as is a frame stalled mid-way or a client
//     that stops reading its responses, after that long;
//   - max.connections (the acceptor waits for a slot),
//     max.connection.creation.rate (the acceptor is delayed) and
//     max.connections.per.ip with overrides (the connection is closed
//     right after accept, with a warning at most every 10 s per address).
//
// Bad input (an oversized or negative size, a truncated frame, an unknown
// key, an unsupported version, a body that does not decode) closes that
// connection only; it never affects other connections and never panics
// the process.
//
// Shutdown closes the listener and every connection (which ends every
// blocked read and write) and cancels the context handlers receive (which
// ends long polls, acks=all waits and budget waits), then waits for every
// goroutine, bounded by its context.
//
// A server is a client listener or the inter-broker listener (Config.
// InterBroker). A client listener serves the client API keys only and
// closes a connection that sends an inter-broker or controller key (as
// Kafka's SocketServer does for a key its listener does not enable). The
// inter-broker listener serves every key, but only on connections that
// open with the peer handshake (peer.go: node id and cluster id, checked
// per request by internal/api) or with the Raft transport's preface, which
// it hands to the metadata quorum. With Config.TLS the inter-broker
// listener starts with TLS, and with Config.SASL each connection logs in
// (SaslHandshake v1, SaslAuthenticate) before its handshake or preface;
// then Config.AuthorizePeer must accept its principal (CLUSTER_ACTION).
package server
