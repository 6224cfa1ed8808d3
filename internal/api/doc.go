// Package api serves the Kafka protocol's request kinds, one file per API
// key (00_produce.go, 01_fetch.go, ...). Each file opens with the versions
// served and what changed per version. Handlers are thin: they check the
// request, call the domain packages (controller, partition) and map domain
// errors to Kafka error codes in errors.go.
//
// Framing, header parsing and version checks against the table in
// registry.go happen in internal/server before a handler runs; a handler
// receives a decoded kmsg request of a version it serves.
package api
