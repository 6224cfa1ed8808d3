// Package web serves arus's web console: an HTTP listener with a JSON API
// under /api/ and the console's pages, embedded from static/ with go:embed
// (plain HTML, CSS and ES modules; no build step, nothing loaded from
// another origin).
//
// The console reads and changes the cluster only through the Kafka
// protocol, with franz-go kgo and kadm, like any client: it imports nothing
// from the broker, so `arus console --bootstrap host:port` points it at
// any Kafka-compatible cluster, and a broker started with --http-listener
// runs it against its own client listener.
//
// Load on the cluster: metadata, offsets, log dir sizes and group lists are
// cached for Config.MetadataTTL (1.5 s by default), so several open pages
// share one request; pages poll no faster than every 2 s; the message
// browser reads at most Config.MaxRecords records in at most
// Config.FetchTimeout per request, and at most maxBrowsers such reads run
// at once. Errors reach the browser as {"error": "..."} with a 4xx status
// for bad input, 404 for what does not exist, 409 for conflicts and 502
// when the cluster fails; never a stack trace.
//
// Mutating requests (POST, PATCH, DELETE) must carry a JSON content type
// or no body, and an Origin header, when present, must name this host: a
// page on another site cannot drive the console from a user's browser.
//
// Concurrency: Server's handlers run on net/http's goroutines and share
// the franz-go client (safe for concurrent use) and the cache (guarded by
// its own mutex). Shutdown stops the listener, waits for handlers, then
// closes the client.
package web
