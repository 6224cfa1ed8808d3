// Package metadata holds the cluster metadata as an immutable Image and the
// records that change it. Every node applies the same committed records in
// the same order with Apply and reaches the same Image; nothing here does
// I/O, reads a clock or draws random numbers (record producers do that and
// put the results into the records).
//
// Images are never mutated after Apply returns them, so readers share them
// without locks; Apply copies what it changes.
package metadata
