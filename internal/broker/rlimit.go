package broker

import (
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/config"
)

// raiseNoFileLimit raises the soft RLIMIT_NOFILE to the hard limit (the Go
// runtime does so too since Go 1.19; doing it here makes it explicit and
// logged) and returns the soft limit now in force, at most 1<<20, or 0
// when it cannot be read.
func raiseNoFileLimit(logger *slog.Logger) int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		logger.Warn("cannot read the open file limit", "err", err)
		return 0
	}
	before := rl.Cur
	if rl.Cur < rl.Max {
		want := unix.Rlimit{Cur: rl.Max, Max: rl.Max}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
			logger.Warn("cannot raise the open file limit to the hard limit", "soft", rl.Cur, "hard", rl.Max, "err", err)
		} else {
			rl.Cur = rl.Max
		}
	}
	logger.Info("open file limit", "soft", rl.Cur, "hard", rl.Max, "softBefore", before)
	return int(min(rl.Cur, 1<<20))
}

// fileBudget sizes the segment file cache from the descriptor limit and
// the reserve, and derives the partition limit this broker reports at
// registration (0: none).
func fileBudget(cfg config.Broker, logger *slog.Logger) (*commitlog.FileCache, int32) {
	limit := raiseNoFileLimit(logger)
	files := commitlog.NewFileCache(commitlog.DefaultCacheCapacity(limit, int(cfg.FDReserve)))
	capacity := files.Stats().Capacity
	maxPartitions := cfg.MaxPartitionsPerBroker
	switch maxPartitions {
	case 0:
		maxPartitions = int32(min(capacity, 1<<30))
	case -1:
		maxPartitions = 0
	}
	logger.Info("file descriptor budget", "limit", limit, "reserve", cfg.FDReserve,
		"segmentFileCache", capacity, "maxPartitions", maxPartitions)
	return files, maxPartitions
}
