// Package server accepts Kafka client connections and runs the framing
// around internal/api: it reads size-prefixed requests, parses the request
// header, checks the API key and version against api's table, decodes the
// body with kmsg, calls the handler and writes the response.
//
// Each connection has one goroutine; it handles one request at a time, so
// responses leave in request order. Bad input (an oversized or negative
// size, a truncated frame, an unknown key, an unsupported version, a body
// that does not decode) closes that connection only; it never affects
// other connections and never panics the process.
//
// A server is a client listener or the inter-broker listener (Config.
// InterBroker). A client listener serves the client API keys only and
// closes a connection that sends an inter-broker or controller key (as
// Kafka's SocketServer does for a key its listener does not enable). The
// inter-broker listener serves every key, but only on connections that
// open with the peer handshake (peer.go: node id and cluster id, checked
// per request by internal/api) or with the Raft transport's preface, which
// it hands to the metadata quorum.
package server
