package commitlog

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults of Config, the same as Kafka's topic config defaults.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentMs          = 7 * 24 * 60 * 60 * 1000
	DefaultRetentionMs        = 7 * 24 * 60 * 60 * 1000
	DefaultRetentionBytes     = -1
	DefaultIndexIntervalBytes = 4096
)

// Config of one log; field names mirror Kafka topic configs. A zero field
// takes its default.
type Config struct {
	// SegmentBytes (segment.bytes): roll when the active segment would
	// exceed this many bytes. Default 1 GiB, at most math.MaxInt32 because
	// index positions are int32.
	SegmentBytes int64
	// SegmentMs (segment.ms): roll on append when the active segment is older
	// than this by Now. The age of a segment counts from the later of its
	// first batch's max timestamp and the time this process created or
	// opened it. Default 7 days.
	SegmentMs int64
	// RetentionMs (retention.ms): delete segments whose largest timestamp is
	// older than this; -1 keeps forever. Default 7 days.
	RetentionMs int64
	// RetentionBytes (retention.bytes): delete the oldest segments while the
	// log stays at or above this size without them; -1 (the default, also
	// taken for 0) is unlimited.
	RetentionBytes int64
	// IndexIntervalBytes (index.interval.bytes): bytes of log between two
	// index entries. Default 4096.
	IndexIntervalBytes int32
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Files is the open-file cache shared by the broker's logs. Only Open
	// reads it (SetConfig keeps the log's cache); nil takes a cache for
	// the whole process sized from RLIMIT_NOFILE (DefaultCacheCapacity
	// with DefaultFDReserve).
	Files *FileCache
	// FS is the file system; nil is OS. Tests inject failures through it.
	// Only Open reads it, like Files.
	FS FS
}

// validate fills defaults and rejects nonsense.
func (c Config) validate() (Config, error) {
	var errs []error
	switch {
	case c.SegmentBytes == 0:
		c.SegmentBytes = DefaultSegmentBytes
	case c.SegmentBytes < 0 || c.SegmentBytes > math.MaxInt32:
		errs = append(errs, fmt.Errorf("segment bytes %d outside [1, %d]", c.SegmentBytes, math.MaxInt32))
	}
	switch {
	case c.SegmentMs == 0:
		c.SegmentMs = DefaultSegmentMs
	case c.SegmentMs < 0:
		errs = append(errs, fmt.Errorf("segment ms %d is negative", c.SegmentMs))
	}
	switch {
	case c.RetentionMs == 0:
		c.RetentionMs = DefaultRetentionMs
	case c.RetentionMs < -1:
		errs = append(errs, fmt.Errorf("retention ms %d below -1", c.RetentionMs))
	}
	switch {
	case c.RetentionBytes == 0:
		c.RetentionBytes = DefaultRetentionBytes
	case c.RetentionBytes < -1:
		errs = append(errs, fmt.Errorf("retention bytes %d below -1", c.RetentionBytes))
	}
	switch {
	case c.IndexIntervalBytes == 0:
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	case c.IndexIntervalBytes < 0:
		errs = append(errs, fmt.Errorf("index interval bytes %d is negative", c.IndexIntervalBytes))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FS == nil {
		c.FS = OS
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("commitlog: invalid config: %w", errors.Join(errs...))
	}
	return c, nil
}
