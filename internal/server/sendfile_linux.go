package server

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/arus-io/arus/internal/commitlog"
)

// sendRegion sends a file region to a TCP connection with sendfile(2) at an
// explicit offset (it never moves the file's shared position, which
// concurrent readers use), waiting for the socket through the runtime's
// poller. Other connections fall back to copyRegion.
func sendRegion(conn net.Conn, r commitlog.FileRegion) error {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return copyRegion(conn, r)
	}
	sock, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	file, err := r.File.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	ctrlErr := file.Control(func(ffd uintptr) {
		off, remain := r.Offset, r.Length
		writeErr := sock.Write(func(sfd uintptr) bool {
			for remain > 0 {
				n, err := unix.Sendfile(int(sfd), int(ffd), &off, int(min(remain, 1<<30)))
				if n > 0 {
					remain -= int64(n)
				}
				switch {
				case errors.Is(err, unix.EAGAIN):
					return false // wait until the socket is writable
				case errors.Is(err, unix.EINTR):
					continue
				case err != nil:
					sendErr = err
					return true
				case n == 0:
					sendErr = fmt.Errorf("server: sendfile: file ended %d bytes early", remain)
					return true
				}
			}
			return true
		})
		if sendErr == nil {
			sendErr = writeErr
		}
	})
	if ctrlErr != nil {
		return ctrlErr
	}
	return sendErr
}
