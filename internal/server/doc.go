// Package server accepts Kafka client connections and runs the framing
// around internal/api: it reads size-prefixed requests, parses the request
// header, checks the API key and version against api's table, checks the
// body's counts and lengths with internal/guard (kmsg trusts them), decodes
// the body with kmsg, calls the handler and writes the response.
//
// Each connection has one goroutine; it handles one request at a time, so
// responses leave in request order. Bad input (an oversized or negative
// size, a truncated frame, an unknown key, an unsupported version, a body
// that does not decode) closes that connection only; it never affects
// other connections and never panics the process.
package server
