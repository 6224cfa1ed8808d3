// Package controller turns admin requests into metadata records, commits
// them through the quorum log and publishes the resulting metadata.Image.
//
// Validation reads the current image; records are built with every
// non-deterministic input (topic ids, cluster id) already decided, so that
// replaying the log on any node reaches the same image. One mutex
// serialises proposals: a request validates against the image that its
// records will be applied to.
package controller
