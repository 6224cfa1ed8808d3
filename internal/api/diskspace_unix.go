//go:build linux || darwin || freebsd

package api

import "golang.org/x/sys/unix"

// diskSpace returns the total and usable (available to unprivileged
// users) bytes of the file system holding path, or -1, -1.
func diskSpace(path string) (total, usable int64) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return -1, -1
	}
	bsize := int64(st.Bsize)
	return int64(st.Blocks) * bsize, int64(st.Bavail) * bsize
}
