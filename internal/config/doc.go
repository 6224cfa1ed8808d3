// Package config owns every typed configuration of arus: the broker's own
// settings (flags) and the topic-level configs with Kafka's names
// (retention.ms, segment.bytes, ...), their defaults, validation and
// documentation. It is the only package that parses configuration text.
package config
