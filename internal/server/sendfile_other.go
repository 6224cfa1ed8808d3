//go:build !linux

package server

import (
	"net"

	"github.com/arus-io/arus/internal/commitlog"
)

func sendRegion(conn net.Conn, r commitlog.FileRegion) error { return copyRegion(conn, r) }
