// Package guard checks a Kafka request body against the wire layout of its
// API key and version before anything decodes it, so that no request costs
// more than a small multiple of its size.
//
// kmsg's decoders trust the counts they read in two places: a tagged-field
// section loops as many times as its count says even after the buffer ran
// out (a flexible request with a huge tag count costs tens of seconds of CPU),
// and an array allocates count elements of its Go type before reading them.
// Check walks the body once with a cursor and rejects, with a
// *MalformedError, any array, string, bytes or tagged-field count that claims
// more elements or bytes than the frame has left, any negative length where
// the field is not nullable, any body that ends early, and any trailing bytes
// after the last field. It also bounds what decoding will allocate: the sum of
// array lengths times their element's Go size must stay under
// AllocFactor times the body size (plus a small floor).
//
// # Where the layout comes from
//
// The layouts are derived from kmsg itself, not written by hand: for each key
// and version the request type is walked by reflection, and every field is
// probed through kmsg's own encoder (AppendTo). A field whose value changes
// the encoding is present in that version; the size difference between one
// and two units of a marker value tells a regular field (the difference
// doubles) from a tagged one (a tag number and a size are added once); for a
// tagged field that holds a struct, the tag number is read from the encoding.
// So the guard always matches the kmsg version arus is built with, and
// guard_test.go proves the derived layout byte for byte against kmsg for every
// key and version arus serves.
//
// Layouts are derived lazily, once per key and version, and are immutable
// afterwards; Check is safe for concurrent use and allocates nothing.
package guard
