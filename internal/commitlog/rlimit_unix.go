//go:build unix

package commitlog

import "golang.org/x/sys/unix"

// currentNoFileLimit is the soft RLIMIT_NOFILE of the process (at most
// 1<<20), or 0 when it cannot be read.
func currentNoFileLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return int(min(rl.Cur, 1<<20))
}
