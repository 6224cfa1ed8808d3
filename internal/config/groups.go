package config

import (
	"strconv"
	"time"
)

// applyGroupProperty sets the group coordinator setting named by a Kafka
// broker config key; ok is false for keys that are not group settings.
func applyGroupProperty(g *Groups, key, value string) (ok bool, err error) {
	ms := func(set func(time.Duration)) (bool, error) {
		n, err := strconv.ParseInt(value, 10, 64)
		if err == nil {
			set(time.Duration(n) * time.Millisecond)
		}
		return true, err
	}
	integer := func(bits int, set func(int64)) (bool, error) {
		n, err := strconv.ParseInt(value, 10, bits)
		if err == nil {
			set(n)
		}
		return true, err
	}
	switch key {
	case "group.initial.rebalance.delay.ms":
		return ms(func(d time.Duration) { g.InitialRebalanceDelay = &d })
	case "group.min.session.timeout.ms":
		return ms(func(d time.Duration) { g.MinSessionTimeout = d })
	case "group.max.session.timeout.ms":
		return ms(func(d time.Duration) { g.MaxSessionTimeout = d })
	case "offsets.retention.minutes":
		return integer(64, func(n int64) { g.OffsetsRetention = time.Duration(n) * time.Minute })
	case "offsets.retention.check.interval.ms":
		return ms(func(d time.Duration) { g.OffsetsRetentionCheckInterval = d })
	case "offset.metadata.max.bytes":
		return integer(32, func(n int64) { g.OffsetMetadataMaxBytes = int32(n) })
	case "offsets.topic.num.partitions":
		return integer(32, func(n int64) { g.OffsetsTopicPartitions = int32(n) })
	case "offsets.topic.replication.factor":
		return integer(16, func(n int64) { g.OffsetsTopicReplicationFactor = int16(n) })
	case "offsets.topic.segment.bytes":
		return integer(32, func(n int64) { g.OffsetsTopicSegmentBytes = int32(n) })
	}
	return false, nil
}
