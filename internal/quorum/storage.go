package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Files of a Raft directory; see docs/format/metadata-raft.md.
// Format constants: never change.
const (
	walName      = "raft.wal"
	snapshotName = "raft.snap"
	tmpSuffix    = ".tmp"
)

// Record types of the write-ahead log: the first payload byte of each
// frame. Format constants: never change.
const (
	// walEntry: a raftpb.Entry. A later entry with the same or a lower
	// index replaces the earlier one and everything after it.
	walEntry byte = 1
	// walHardState: a raftpb.HardState; the last one wins.
	walHardState byte = 2
	// walBase: 8 bytes index + 8 bytes term. The log restarts here: the
	// next entry has index+1, and every earlier entry is dropped. Written
	// first when the log is rewritten after compaction, and when a
	// snapshot from the leader replaces the log.
	walBase byte = 3
)

// maxWALRecord bounds one write-ahead log record (one entry).
const maxWALRecord = 256 << 20

// fileStorage is raft.Storage over a directory: a write-ahead log of
// entries and hard states, and a snapshot file. Reads are served by the
// embedded MemoryStorage, a mirror of what is on disk; the Raft goroutine
// writes through save, applySnapshot and createSnapshot, each of which
// changes the files before the mirror.
//
// Only the Raft goroutine calls the write methods; MemoryStorage's own
// mutex makes the reads safe from other goroutines.
type fileStorage struct {
	*raft.MemoryStorage
	dir    string
	logger *slog.Logger
	wal    *os.File
	// hardState is the last hard state written to the write-ahead log,
	// repeated when the log is rewritten.
	hardState *pb.HardState
	buf       []byte // scratch for one write
}

// openStorage loads dir, cutting a torn tail off the write-ahead log. A
// directory without a snapshot starts from an index-0 snapshot holding
// the bootstrap membership.
func openStorage(dir string, bootstrap *pb.ConfState, logger *slog.Logger) (*fileStorage, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raft dir: %w", err)
	}
	for _, name := range []string{walName + tmpSuffix, snapshotName + tmpSuffix} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove leftover %s: %w", name, err)
		}
	}
	snap, err := readSnapshotFile(filepath.Join(dir, snapshotName))
	if err != nil {
		return nil, err
	}
	if snap == nil {
		snap = &pb.Snapshot{Metadata: &pb.SnapshotMetadata{
			Index: new(uint64(0)), Term: new(uint64(0)), ConfState: proto.Clone(bootstrap).(*pb.ConfState),
		}}
	}
	snap = pb.EnsureSnapshot(snap)

	path := filepath.Join(dir, walName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open raft wal: %w", err)
	}
	s := &fileStorage{dir: dir, logger: logger, wal: f}
	w, err := s.load()
	if err != nil {
		f.Close()
		return nil, err
	}
	ents, err := reconcile(w, snap)
	if err != nil {
		f.Close()
		return nil, err
	}
	hs := w.hardState
	if hs != nil {
		hs = proto.Clone(hs).(*pb.HardState)
		// A snapshot is committed by definition. Its file is written before
		// the hard state that follows it, so a crash between the two leaves
		// an older commit index behind; raft refuses a commit index below
		// the snapshot.
		if hs.GetCommit() < snap.GetMetadata().GetIndex() {
			hs.Commit = new(snap.GetMetadata().GetIndex())
		}
		last := snap.GetMetadata().GetIndex() + uint64(len(ents))
		if hs.GetCommit() > last {
			f.Close()
			return nil, fmt.Errorf("%w: raft commit index %d beyond last entry %d", ErrCorrupt, hs.GetCommit(), last)
		}
	}
	ms := raft.NewMemoryStorage()
	if err := ms.ApplySnapshot(snap); err != nil {
		f.Close()
		return nil, fmt.Errorf("load raft snapshot: %w", err)
	}
	if hs != nil {
		if err := ms.SetHardState(hs); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := ms.Append(ents); err != nil {
		f.Close()
		return nil, err
	}
	s.MemoryStorage = ms
	s.hardState = hs
	return s, nil
}

// walContents is what replaying the write-ahead log found.
type walContents struct {
	baseIndex, baseTerm uint64
	entries             []*pb.Entry // baseIndex+1, baseIndex+2, ...
	hardState           *pb.HardState
}

// load replays the write-ahead log and cuts it at the first frame that is
// incomplete or fails its CRC: what an unclean stop during a write leaves
// (nothing after it was fsynced, so nothing after it was acknowledged). A
// record that passes its CRC but does not fit the log is corruption.
func (s *fileStorage) load() (*walContents, error) {
	data, err := os.ReadFile(s.wal.Name())
	if err != nil {
		return nil, fmt.Errorf("read raft wal: %w", err)
	}
	w := &walContents{}
	pos := 0
	for pos < len(data) {
		payload, size, err := nextFrame(data[pos:], maxWALRecord)
		if err != nil {
			s.logger.Warn("truncating torn tail of raft wal", "path", s.wal.Name(), "valid_bytes", pos, "dropped_bytes", len(data)-pos, "reason", err)
			break
		}
		if err := w.apply(payload); err != nil {
			return nil, fmt.Errorf("raft wal at byte %d: %w", pos, err)
		}
		pos += size
	}
	if pos < len(data) {
		if err := s.wal.Truncate(int64(pos)); err != nil {
			return nil, fmt.Errorf("truncate raft wal: %w", err)
		}
		if err := s.wal.Sync(); err != nil {
			return nil, fmt.Errorf("sync raft wal: %w", err)
		}
	}
	if _, err := s.wal.Seek(int64(pos), io.SeekStart); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *walContents) apply(payload []byte) error {
	if len(payload) == 0 {
		return fmt.Errorf("%w: empty wal record", ErrCorrupt)
	}
	body := payload[1:]
	switch payload[0] {
	case walEntry:
		e := &pb.Entry{}
		if err := proto.Unmarshal(body, e); err != nil {
			return fmt.Errorf("%w: entry: %v", ErrCorrupt, err)
		}
		idx := e.GetIndex()
		next := w.baseIndex + uint64(len(w.entries)) + 1
		if idx <= w.baseIndex || idx > next {
			return fmt.Errorf("%w: entry %d does not follow log [%d, %d]", ErrCorrupt, idx, w.baseIndex, next-1)
		}
		// An entry at or below the last one replaces it and its successors
		// (a new leader overwrote an uncommitted suffix).
		w.entries = append(w.entries[:idx-w.baseIndex-1], e)
	case walHardState:
		hs := &pb.HardState{}
		if err := proto.Unmarshal(body, hs); err != nil {
			return fmt.Errorf("%w: hard state: %v", ErrCorrupt, err)
		}
		w.hardState = hs
	case walBase:
		if len(body) != 16 {
			return fmt.Errorf("%w: base record of %d bytes", ErrCorrupt, len(body))
		}
		w.baseIndex = binary.BigEndian.Uint64(body)
		w.baseTerm = binary.BigEndian.Uint64(body[8:])
		w.entries = nil
	default:
		return fmt.Errorf("%w: wal record type %d", ErrCorrupt, payload[0])
	}
	return nil
}

// reconcile returns the entries after the snapshot. The snapshot file is
// written before the log records that depend on it, so the log may still
// describe the time before it: entries the snapshot covers are dropped,
// and when the log does not contain the snapshot's last entry (index and
// term) it held another branch, which raft discarded when it took the
// snapshot, so it is dropped whole.
func reconcile(w *walContents, snap *pb.Snapshot) ([]*pb.Entry, error) {
	si, st := snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm()
	if si < w.baseIndex {
		return nil, fmt.Errorf("%w: raft wal starts after index %d but the snapshot is at %d", ErrCorrupt, w.baseIndex, si)
	}
	last := w.baseIndex + uint64(len(w.entries))
	switch {
	case si == w.baseIndex:
		if si > 0 && w.baseTerm != st {
			return nil, nil
		}
		return w.entries, nil
	case si <= last && w.entries[si-w.baseIndex-1].GetTerm() == st:
		return w.entries[si-w.baseIndex:], nil
	default:
		return nil, nil
	}
}

// save writes a Ready's entries and hard state to the log, fsyncs when
// sync is set, then updates the mirror. Entries must be durable before the
// Ready's messages are sent.
func (s *fileStorage) save(hs *pb.HardState, ents []*pb.Entry, sync bool) error {
	s.buf = s.buf[:0]
	var err error
	for _, e := range ents {
		if s.buf, err = appendWALRecord(s.buf, walEntry, e); err != nil {
			return err
		}
	}
	if !raft.IsEmptyHardState(hs) {
		if s.buf, err = appendWALRecord(s.buf, walHardState, hs); err != nil {
			return err
		}
	}
	if len(s.buf) == 0 {
		return nil
	}
	if _, err := s.wal.Write(s.buf); err != nil {
		return fmt.Errorf("write raft wal: %w", err)
	}
	if sync {
		if err := s.wal.Sync(); err != nil {
			return fmt.Errorf("sync raft wal: %w", err)
		}
	}
	if err := s.MemoryStorage.Append(ents); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(hs) {
		s.hardState = hs
		if err := s.MemoryStorage.SetHardState(hs); err != nil {
			return err
		}
	}
	return nil
}

// applySnapshot installs a snapshot received from the leader: the file
// first, then a base record that restarts the log after it.
func (s *fileStorage) applySnapshot(snap *pb.Snapshot) error {
	if err := s.writeSnapshotFile(snap); err != nil {
		return err
	}
	rec := walBaseRecord(snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm())
	if _, err := s.wal.Write(appendFrame(nil, rec)); err != nil {
		return fmt.Errorf("write raft wal: %w", err)
	}
	if err := s.wal.Sync(); err != nil {
		return fmt.Errorf("sync raft wal: %w", err)
	}
	return s.MemoryStorage.ApplySnapshot(snap)
}

// createSnapshot records a snapshot of the state machine at index (which
// must be applied), keeps catchUp entries before it, and rewrites the log
// without the rest.
func (s *fileStorage) createSnapshot(index uint64, cs *pb.ConfState, data []byte, catchUp uint64) error {
	term, err := s.Term(index)
	if err != nil {
		return fmt.Errorf("snapshot at %d: %w", index, err)
	}
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{
		Index: new(index), Term: new(term), ConfState: proto.Clone(cs).(*pb.ConfState),
	}}
	if err := s.writeSnapshotFile(snap); err != nil {
		return err
	}
	if _, err := s.MemoryStorage.CreateSnapshot(index, cs, data); err != nil {
		return fmt.Errorf("snapshot at %d: %w", index, err)
	}
	first, _ := s.FirstIndex()
	if index > catchUp && index-catchUp >= first {
		if err := s.Compact(index - catchUp); err != nil {
			return fmt.Errorf("compact raft log to %d: %w", index-catchUp, err)
		}
	}
	return s.rewriteWAL()
}

// rewriteWAL replaces the log with a base record, the mirror's entries and
// the hard state, through a temporary file renamed over the old one.
func (s *fileStorage) rewriteWAL() error {
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	baseTerm, err := s.Term(first - 1)
	if err != nil {
		return fmt.Errorf("rewrite raft wal: %w", err)
	}
	buf := appendFrame(nil, walBaseRecord(first-1, baseTerm))
	if last >= first {
		ents, err := s.Entries(first, last+1, math.MaxUint64)
		if err != nil {
			return fmt.Errorf("rewrite raft wal: %w", err)
		}
		for _, e := range ents {
			if buf, err = appendWALRecord(buf, walEntry, e); err != nil {
				return err
			}
		}
	}
	if !raft.IsEmptyHardState(s.hardState) {
		if buf, err = appendWALRecord(buf, walHardState, s.hardState); err != nil {
			return err
		}
	}
	path := filepath.Join(s.dir, walName)
	if err := writeFileAtomic(path, buf); err != nil {
		return fmt.Errorf("rewrite raft wal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("reopen raft wal: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return err
	}
	old := s.wal
	s.wal = f
	return old.Close()
}

func (s *fileStorage) writeSnapshotFile(snap *pb.Snapshot) error {
	b, err := proto.Marshal(snap)
	if err != nil {
		return fmt.Errorf("encode raft snapshot: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(s.dir, snapshotName), appendFrame(nil, b)); err != nil {
		return fmt.Errorf("write raft snapshot: %w", err)
	}
	return nil
}

// close closes the log file; the mirror stays readable.
func (s *fileStorage) close() error {
	if s.wal == nil {
		return nil
	}
	err := s.wal.Close()
	s.wal = nil
	return err
}

// readSnapshotFile returns nil when the file does not exist. The file is
// only ever replaced by rename, so any damage is corruption.
func readSnapshotFile(path string) (*pb.Snapshot, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read raft snapshot: %w", err)
	}
	payload, size, err := nextFrame(data, math.MaxInt32)
	if err != nil || size != len(data) {
		return nil, fmt.Errorf("%w: raft snapshot %s is damaged", ErrCorrupt, path)
	}
	snap := &pb.Snapshot{}
	if err := proto.Unmarshal(payload, snap); err != nil {
		return nil, fmt.Errorf("%w: raft snapshot: %v", ErrCorrupt, err)
	}
	return snap, nil
}

func appendWALRecord(dst []byte, typ byte, m proto.Message) ([]byte, error) {
	body, err := proto.MarshalOptions{}.MarshalAppend([]byte{typ}, m)
	if err != nil {
		return dst, fmt.Errorf("encode raft wal record: %w", err)
	}
	return appendFrame(dst, body), nil
}

func walBaseRecord(index, term uint64) []byte {
	rec := []byte{walBase}
	rec = binary.BigEndian.AppendUint64(rec, index)
	return binary.BigEndian.AppendUint64(rec, term)
}

// writeFileAtomic writes path through path.tmp: write, fsync, rename,
// fsync the directory, so a crash leaves the old or the new file whole.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
