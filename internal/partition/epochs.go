package partition

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// epochEntry says that leader epoch Epoch wrote its first batch at
// StartOffset. The cache is Kafka's leader-epoch-checkpoint: it lets a
// leader tell a follower where their logs diverge (KIP-101, KIP-279).
type epochEntry struct {
	Epoch       int32
	StartOffset int64
}

// epochCache is ordered by epoch and by start offset, both strictly increasing.
type epochCache []epochEntry

// assign records that epoch starts at offset (no-op if it is not newer).
func (c epochCache) assign(epoch int32, offset int64) epochCache {
	if n := len(c); n > 0 {
		last := c[n-1]
		if epoch <= last.Epoch {
			return c
		}
		if offset <= last.StartOffset && epoch > last.Epoch {
			// The previous epoch wrote nothing: replace it.
			for len(c) > 0 && c[len(c)-1].StartOffset >= offset {
				c = c[:len(c)-1]
			}
		}
	}
	return append(c, epochEntry{Epoch: epoch, StartOffset: offset})
}

// latest returns the newest epoch, or -1.
func (c epochCache) latest() int32 {
	if len(c) == 0 {
		return -1
	}
	return c[len(c)-1].Epoch
}

// endOffsetFor returns the largest epoch <= epoch and the offset where it
// ended (the start of the next epoch, or leo for the latest), as Kafka's
// OffsetsForLeaderEpoch does. An epoch older than every entry ended where
// the first known epoch starts (Kafka's LeaderEpochFileCache: a leader
// elected with an empty log has no entry for the epochs before its own,
// and its followers must not see that as divergence). Undefined (-1) or
// an empty cache: -1, -1.
func (c epochCache) endOffsetFor(epoch int32, leo int64) (int32, int64) {
	if epoch < 0 || len(c) == 0 {
		return -1, -1
	}
	if epoch < c[0].Epoch {
		return epoch, c[0].StartOffset
	}
	for i := len(c) - 1; i >= 0; i-- {
		if c[i].Epoch <= epoch {
			if i == len(c)-1 {
				return c[i].Epoch, leo
			}
			return c[i].Epoch, c[i+1].StartOffset
		}
	}
	return -1, -1
}

// truncateFrom drops what starts at or after offset.
func (c epochCache) truncateFrom(offset int64) epochCache {
	for len(c) > 0 && c[len(c)-1].StartOffset >= offset {
		c = c[:len(c)-1]
	}
	return c
}

const epochCheckpointFile = "leader-epoch-checkpoint"

// writeEpochCheckpoint writes Kafka's text format: version, count, then
// "epoch offset" lines.
func writeEpochCheckpoint(dir string, c epochCache) error {
	var b strings.Builder
	fmt.Fprintf(&b, "0\n%d\n", len(c))
	for _, e := range c {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return writeCheckpointFile(dir, epochCheckpointFile, []byte(b.String()))
}

// writeCheckpointFile replaces dir/name with data (write then rename),
// unless it already holds exactly that: closing thousands of idle
// partitions then touches no file.
func writeCheckpointFile(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readEpochCheckpoint reads the checkpoint; a missing or damaged file
// yields an empty cache (it is rebuilt from the log).
func readEpochCheckpoint(dir string) epochCache {
	f, err := os.Open(filepath.Join(dir, epochCheckpointFile))
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if len(lines) < 2 || lines[0] != "0" {
		return nil
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n != len(lines)-2 {
		return nil
	}
	var c epochCache
	for _, l := range lines[2:] {
		parts := strings.Fields(l)
		if len(parts) != 2 {
			return nil
		}
		e, err1 := strconv.ParseInt(parts[0], 10, 32)
		o, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil
		}
		c = c.assign(int32(e), o)
	}
	return c
}
