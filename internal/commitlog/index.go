package commitlog

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
)

// Index entry sizes. They are part of the on-disk format (docs/format/segment.md)
// and must never change.
const (
	offsetEntrySize = 8  // int32 relative offset, int32 position
	timeEntrySize   = 12 // int64 timestamp, int32 relative offset

	// indexFlushBytes is how many bytes of new entries are buffered in
	// memory before they are written to the index file.
	indexFlushBytes = 4096
)

// offsetEntry maps the last offset of a batch to its byte position in the
// segment's .log file.
type offsetEntry struct {
	offset int64 // absolute last offset of the batch
	pos    int32 // byte position of the batch in the .log file
}

// timeEntry says that the batch holding offset has the largest max timestamp
// of all batches up to it, ts, and all earlier batches have smaller ones.
type timeEntry struct {
	ts     int64 // max timestamp of the batch holding offset
	offset int64 // absolute last offset of that batch
}

// lookupOffset returns the position of the last entry whose offset is <=
// offset, or 0 when there is none: the batch holding offset starts there or later.
func lookupOffset(entries []offsetEntry, offset int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].offset > offset })
	if i == 0 {
		return 0
	}
	return int64(entries[i-1].pos)
}

// boundOffset returns the position of the first entry whose offset is >=
// offset, or -1: the batch there and all later ones end at or after offset.
func boundOffset(entries []offsetEntry, offset int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].offset >= offset })
	if i == len(entries) {
		return -1
	}
	return int64(entries[i].pos)
}

// lookupTime returns the offset of the last entry whose timestamp is <= ts,
// or -1 when there is none. Every batch before that offset's batch has a max
// timestamp below the entry's, so a search for ts may start there.
func lookupTime(entries []timeEntry, ts int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].ts > ts })
	if i == 0 {
		return -1
	}
	return entries[i-1].offset
}

func appendOffsetEntries(dst []byte, base int64, entries []offsetEntry) []byte {
	for _, e := range entries {
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.offset-base))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.pos))
	}
	return dst
}

func appendTimeEntries(dst []byte, base int64, entries []timeEntry) []byte {
	for _, e := range entries {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.ts))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.offset-base))
	}
	return dst
}

// readOffsetIndex loads and checks an .index file against the size of its
// .log file. Any inconsistency returns an error so the caller rebuilds it.
func readOffsetIndex(f *os.File, base, logSize int64) ([]offsetEntry, error) {
	b, err := readAll(f)
	if err != nil {
		return nil, err
	}
	if len(b)%offsetEntrySize != 0 {
		return nil, fmt.Errorf("offset index of %d bytes is not a multiple of %d", len(b), offsetEntrySize)
	}
	entries := make([]offsetEntry, 0, len(b)/offsetEntrySize)
	for p := 0; p < len(b); p += offsetEntrySize {
		e := offsetEntry{
			offset: base + int64(int32(binary.BigEndian.Uint32(b[p:]))),
			pos:    int32(binary.BigEndian.Uint32(b[p+4:])),
		}
		if e.offset < base || e.pos < 0 || int64(e.pos) >= logSize {
			return nil, fmt.Errorf("offset index entry %d (offset %d, position %d) outside the segment of %d bytes", p/offsetEntrySize, e.offset, e.pos, logSize)
		}
		if n := len(entries); n > 0 && (e.offset <= entries[n-1].offset || e.pos <= entries[n-1].pos) {
			return nil, fmt.Errorf("offset index entry %d (offset %d, position %d) does not increase", p/offsetEntrySize, e.offset, e.pos)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// readTimeIndex loads and checks a .timeindex file.
func readTimeIndex(f *os.File, base int64) ([]timeEntry, error) {
	b, err := readAll(f)
	if err != nil {
		return nil, err
	}
	if len(b)%timeEntrySize != 0 {
		return nil, fmt.Errorf("time index of %d bytes is not a multiple of %d", len(b), timeEntrySize)
	}
	entries := make([]timeEntry, 0, len(b)/timeEntrySize)
	for p := 0; p < len(b); p += timeEntrySize {
		e := timeEntry{
			ts:     int64(binary.BigEndian.Uint64(b[p:])),
			offset: base + int64(int32(binary.BigEndian.Uint32(b[p+8:]))),
		}
		if e.offset < base {
			return nil, fmt.Errorf("time index entry %d has offset %d below the segment base", p/timeEntrySize, e.offset)
		}
		if n := len(entries); n > 0 && (e.ts <= entries[n-1].ts || e.offset < entries[n-1].offset) {
			return nil, fmt.Errorf("time index entry %d (timestamp %d, offset %d) does not increase", p/timeEntrySize, e.ts, e.offset)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func readAll(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b[:n], nil
}
