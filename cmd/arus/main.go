// Command arus is a Kafka-compatible streaming platform in one binary.
// With no arguments it starts a one-node cluster on localhost:9092 with
// data in ./arus-data; see `arus --help`.
package main

import (
	"os"

	"github.com/arus-io/arus/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
