package commitlog

import (
	"fmt"
	"os"

	"github.com/arus-io/arus/internal/record"
)

// FileRegion is a byte range of a segment file: whole batches, to be sent
// to a socket with sendfile instead of being copied through memory.
type FileRegion struct {
	File   *os.File
	Offset int64
	Length int64
	// Records is the sum of the batches' record counts (for metrics).
	Records int64
}

// ReadRegions is Read without reading: it returns the byte ranges of the
// batches Read would return (same rules for offset, maxOffset, maxBytes and
// minOneBatch) and a release function that must be called once they were
// sent; until then the segment files stay open (pinned in the FileCache)
// even if retention deletes them or the cache is full. Only batch headers are read, through the indexes.
//
// The regions describe the log as of the call. A follower's TruncateTo may
// rewrite the bytes before they are sent; consumers read from leaders,
// which never truncate while they lead, and a batch that changed under a
// send fails its CRC check at the client, which fetches again.
func (l *Log) ReadRegions(offset, maxOffset int64, maxBytes int, minOneBatch bool) ([]FileRegion, func(), error) {
	sn, err := l.acquire(offset)
	if err != nil {
		return nil, func() {}, err
	}
	regions, err := sn.regions(offset, maxOffset, maxBytes, minOneBatch)
	if err != nil || len(regions) == 0 {
		sn.release()
		return nil, func() {}, err
	}
	return regions, sn.release, nil
}

func (sn *snapshot) regions(offset, maxOffset int64, maxBytes int, minOneBatch bool) ([]FileRegion, error) {
	regions, _, err := sn.regionsTo(offset, maxOffset, maxBytes, minOneBatch)
	return regions, err
}

// regionsTo is regions that also returns the offset after the last batch
// of the regions.
func (sn *snapshot) regionsTo(offset, maxOffset int64, maxBytes int, minOneBatch bool) ([]FileRegion, int64, error) {
	if offset < sn.start || offset > sn.end {
		return nil, offset, fmt.Errorf("%w: offset %d, log holds [%d, %d)", ErrOffsetOutOfRange, offset, sn.start, sn.end)
	}
	if offset >= sn.end || offset >= maxOffset {
		return nil, offset, nil
	}
	endOffset := offset
	var out []FileRegion
	var total int64
	for i := range sn.views {
		var records int64
		v := &sn.views[i]
		if v.base >= maxOffset {
			break
		}
		w, err := v.window(lookupChunk)
		if err != nil {
			return nil, offset, err
		}
		var from int64
		if i == 0 {
			if from, err = v.findBatch(w, offset); err != nil {
				return nil, offset, err
			}
		}
		stop := false
		end, err := scan(w, from, false, func(h *record.Header, pos int64) (bool, error) {
			size := int64(h.Size())
			if h.LastOffset() >= maxOffset || total+size > int64(maxBytes) && !(total == 0 && minOneBatch) {
				stop = true
				return false, nil
			}
			total += size
			records += int64(h.RecordCount)
			endOffset = h.NextOffset()
			return true, nil
		})
		if err != nil {
			return nil, offset, fmt.Errorf("commitlog: segment %d: %w", v.base, err)
		}
		if end > from {
			out = append(out, FileRegion{File: v.f, Offset: from, Length: end - from, Records: records})
		}
		if stop {
			break
		}
	}
	return out, endOffset, nil
}
