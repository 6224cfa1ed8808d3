package quorum

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// frameHeader is 4 bytes payload length + 4 bytes CRC-32C of the payload.
// Format constant: never change.
const frameHeader = 8

// maxRecord bounds one metadata record; larger length fields are corruption.
const maxRecord = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("quorum: log closed")

// Local is a one-node metadata log in <dir>/records.log. Safe for
// concurrent use.
type Local struct {
	path   string
	logger *slog.Logger
	mu     struct {
		sync.Mutex
		f    *os.File
		next int64 // offset of the next record
	}
}

// OpenLocal opens or creates the log and returns every committed record in
// order. A torn or corrupt tail (an unclean stop during a write) is cut off.
func OpenLocal(dir string, logger *slog.Logger) (*Local, [][]byte, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("metadata log dir: %w", err)
	}
	path := filepath.Join(dir, "records.log")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open metadata log: %w", err)
	}
	records, valid, err := readAll(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() > valid {
		logger.Warn("truncating torn tail of metadata log", "path", path, "valid_bytes", valid, "dropped_bytes", st.Size()-valid)
		if err := f.Truncate(valid); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("truncate metadata log: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("sync metadata log: %w", err)
		}
	}
	if _, err := f.Seek(valid, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	l := &Local{path: path, logger: logger}
	l.mu.f = f
	l.mu.next = int64(len(records))
	return l, records, nil
}

func readAll(f *os.File) (records [][]byte, valid int64, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	r := bufio.NewReader(f)
	var hdr [frameHeader]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return records, valid, nil // EOF or torn header
		}
		n := binary.BigEndian.Uint32(hdr[0:])
		sum := binary.BigEndian.Uint32(hdr[4:])
		if n > maxRecord {
			return records, valid, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return records, valid, nil
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			return records, valid, nil
		}
		records = append(records, payload)
		valid += frameHeader + int64(n)
	}
}

// Append durably appends records as one write and returns the offset of
// the first. When it returns nil the records are committed.
func (l *Local) Append(records ...[]byte) (int64, error) {
	var buf []byte
	for _, p := range records {
		if len(p) > maxRecord {
			return 0, fmt.Errorf("quorum: record of %d bytes exceeds %d", len(p), maxRecord)
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(p)))
		buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(p, castagnoli))
		buf = append(buf, p...)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.f == nil {
		return 0, ErrClosed
	}
	if _, err := l.mu.f.Write(buf); err != nil {
		return 0, fmt.Errorf("write metadata log: %w", err)
	}
	if err := l.mu.f.Sync(); err != nil {
		return 0, fmt.Errorf("sync metadata log: %w", err)
	}
	first := l.mu.next
	l.mu.next += int64(len(records))
	return first, nil
}

// Close closes the file; idempotent.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.f == nil {
		return nil
	}
	err := l.mu.f.Close()
	l.mu.f = nil
	return err
}
