package quorum

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

var testConfState = &pb.ConfState{Voters: []uint64{1, 2, 3}, AutoLeave: new(false)}

func openTestStorage(t *testing.T, dir string) *fileStorage {
	t.Helper()
	s, err := openStorage(dir, testConfState, testLogger())
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	t.Cleanup(func() { s.close() })
	return s
}

func entry(index, term uint64, data string) *pb.Entry {
	return &pb.Entry{Index: new(index), Term: new(term), Type: pb.EntryNormal.Enum(), Data: []byte(data)}
}

func hardState(term, vote, commit uint64) *pb.HardState {
	return &pb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}

// logOf returns "index/term/data" for every entry in storage.
func logOf(t *testing.T, s *fileStorage) []string {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if last < first {
		return nil
	}
	ents, err := s.Entries(first, last+1, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, fmt.Sprintf("%d/%d/%s", e.GetIndex(), e.GetTerm(), e.GetData()))
	}
	return out
}

func equalStrings(a, b []string) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func TestStorageRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openTestStorage(t, dir)
	hs, cs, err := s.InitialState()
	if err != nil || !raft.IsEmptyHardState(hs) || fmt.Sprint(cs.GetVoters()) != "[1 2 3]" {
		t.Fatalf("fresh storage: %v %v %v", hs, cs, err)
	}
	must(t, s.save(hardState(1, 1, 0), []*pb.Entry{entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")}, true))
	// A new leader overwrites the uncommitted suffix from index 3.
	must(t, s.save(hardState(2, 2, 2), []*pb.Entry{entry(3, 2, "C"), entry(4, 2, "d")}, true))
	want := []string{"1/1/a", "2/1/b", "3/2/C", "4/2/d"}
	if got := logOf(t, s); !equalStrings(got, want) {
		t.Fatalf("log %v, want %v", got, want)
	}
	s.close()

	s = openTestStorage(t, dir)
	if got := logOf(t, s); !equalStrings(got, want) {
		t.Fatalf("after reopen: log %v, want %v", got, want)
	}
	hs, _, _ = s.InitialState()
	if hs.GetTerm() != 2 || hs.GetVote() != 2 || hs.GetCommit() != 2 {
		t.Fatalf("hard state after reopen: %v", hs)
	}
}

func TestStorageTornTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
	}{
		{"partial frame", func(t *testing.T, path string, size int64) {
			// An append of another entry that stopped half way.
			frame, _ := appendWALRecord(nil, walEntry, entry(4, 1, "dddddddd"))
			appendBytes(t, path, frame[:len(frame)/2])
		}},
		{"partial header", func(t *testing.T, path string, size int64) {
			appendBytes(t, path, []byte{0, 0, 0})
		}},
		{"bad crc", func(t *testing.T, path string, size int64) {
			frame, _ := appendWALRecord(nil, walEntry, entry(4, 1, "dddddddd"))
			frame[len(frame)-1] ^= 0xff
			appendBytes(t, path, frame)
		}},
		{"absurd length", func(t *testing.T, path string, size int64) {
			appendBytes(t, path, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStorage(t, dir)
			must(t, s.save(hardState(1, 1, 2), []*pb.Entry{entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")}, true))
			s.close()
			path := filepath.Join(dir, walName)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			tc.damage(t, path, st.Size())

			s = openTestStorage(t, dir)
			want := []string{"1/1/a", "2/1/b", "3/1/c"}
			if got := logOf(t, s); !equalStrings(got, want) {
				t.Fatalf("log %v, want %v", got, want)
			}
			after, _ := os.Stat(path)
			if after.Size() != st.Size() {
				t.Fatalf("wal is %d bytes after recovery, want the %d valid bytes", after.Size(), st.Size())
			}
			// Appends continue after the cut.
			must(t, s.save(hardState(1, 1, 3), []*pb.Entry{entry(4, 1, "d")}, true))
			s.close()
			s = openTestStorage(t, dir)
			if got := logOf(t, s); !equalStrings(got, append(want, "4/1/d")) {
				t.Fatalf("after append past the cut: %v", got)
			}
		})
	}
}

func TestStorageCorruptMiddleRecord(t *testing.T) {
	// A record that passes its CRC but does not fit the log (a gap) is
	// corruption, not a torn write.
	dir := t.TempDir()
	s := openTestStorage(t, dir)
	must(t, s.save(nil, []*pb.Entry{entry(1, 1, "a")}, true))
	s.close()
	frame, _ := appendWALRecord(nil, walEntry, entry(5, 1, "gap"))
	appendBytes(t, filepath.Join(dir, walName), frame)
	if _, err := openStorage(dir, testConfState, testLogger()); err == nil {
		t.Fatal("opened a log with a gap")
	}
}

func TestStorageSnapshotAndCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openTestStorage(t, dir)
	var ents []*pb.Entry
	for i := uint64(1); i <= 10; i++ {
		ents = append(ents, entry(i, 1, fmt.Sprint(i)))
	}
	must(t, s.save(hardState(1, 1, 10), ents, true))
	must(t, s.createSnapshot(8, testConfState, []byte("state@8"), 3))
	if first, _ := s.FirstIndex(); first != 6 {
		t.Fatalf("first index %d after compaction to 5, want 6", first)
	}
	must(t, s.save(hardState(1, 1, 11), []*pb.Entry{entry(11, 1, "11")}, true))
	s.close()

	// After a restart the log starts after the snapshot.
	s = openTestStorage(t, dir)
	snap, _ := s.Snapshot()
	if snap.GetMetadata().GetIndex() != 8 || string(snap.GetData()) != "state@8" {
		t.Fatalf("snapshot %v", snap.GetMetadata())
	}
	if got, want := logOf(t, s), []string{"9/1/9", "10/1/10", "11/1/11"}; !equalStrings(got, want) {
		t.Fatalf("log %v, want %v", got, want)
	}
	hs, cs, _ := s.InitialState()
	if hs.GetCommit() != 11 || fmt.Sprint(cs.GetVoters()) != "[1 2 3]" {
		t.Fatalf("state after reopen: %v %v", hs, cs)
	}
}

func TestStorageSnapshotFromLeader(t *testing.T) {
	dir := t.TempDir()
	s := openTestStorage(t, dir)
	// A follower with an uncommitted suffix from a deposed leader.
	must(t, s.save(hardState(1, 1, 2), []*pb.Entry{entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "stale")}, true))
	snap := &pb.Snapshot{Data: []byte("leader state"), Metadata: &pb.SnapshotMetadata{
		Index: new(uint64(20)), Term: new(uint64(3)), ConfState: proto.Clone(testConfState).(*pb.ConfState),
	}}
	must(t, s.applySnapshot(snap))
	must(t, s.save(hardState(3, 0, 20), []*pb.Entry{entry(21, 3, "x")}, true))
	s.close()

	s = openTestStorage(t, dir)
	if got, want := logOf(t, s), []string{"21/3/x"}; !equalStrings(got, want) {
		t.Fatalf("log %v, want %v", got, want)
	}
	if got, _ := s.Snapshot(); got.GetMetadata().GetIndex() != 20 {
		t.Fatalf("snapshot at %d", got.GetMetadata().GetIndex())
	}
}

func TestStorageCrashBetweenSnapshotFileAndLog(t *testing.T) {
	dir := t.TempDir()
	s := openTestStorage(t, dir)
	must(t, s.save(hardState(1, 1, 2), []*pb.Entry{entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "stale")}, true))
	// The snapshot file of a snapshot from the leader is written, then the
	// process dies before the base record reaches the log.
	snap := &pb.Snapshot{Data: []byte("leader state"), Metadata: &pb.SnapshotMetadata{
		Index: new(uint64(20)), Term: new(uint64(3)), ConfState: proto.Clone(testConfState).(*pb.ConfState),
	}}
	must(t, s.writeSnapshotFile(snap))
	s.close()

	s = openTestStorage(t, dir)
	// The stale branch is gone and the commit index covers the snapshot.
	if got := logOf(t, s); len(got) != 0 {
		t.Fatalf("log %v, want empty", got)
	}
	hs, _, _ := s.InitialState()
	if hs.GetCommit() != 20 {
		t.Fatalf("commit %d, want 20", hs.GetCommit())
	}
	if last, _ := s.LastIndex(); last != 20 {
		t.Fatalf("last index %d, want 20", last)
	}
}

func TestStorageDamagedSnapshotFile(t *testing.T) {
	dir := t.TempDir()
	s := openTestStorage(t, dir)
	must(t, s.save(hardState(1, 1, 3), []*pb.Entry{entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")}, true))
	must(t, s.createSnapshot(2, testConfState, []byte("state"), 0))
	s.close()
	path := filepath.Join(dir, snapshotName)
	b, _ := os.ReadFile(path)
	b[len(b)-1] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openStorage(dir, testConfState, testLogger()); err == nil {
		t.Fatal("opened with a damaged snapshot")
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
