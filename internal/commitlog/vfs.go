package commitlog

import (
	"os"
)

// FS is the file system a Log works on: every call that creates, writes,
// syncs, truncates, renames or removes a file, or lists a directory, goes
// through it, so tests can fail any of them (internal/arustest/errorfs, in
// the manner of pebble's vfs/errorfs). The default, OS, is a thin wrapper
// over package os.
//
// Files stay *os.File: readers pread them directly and hand them to
// sendfile (regions.go), which needs a real descriptor. Mutations of an
// open file are therefore FS methods taking the file (WriteAt, Truncate,
// Sync) rather than methods of a wrapped file type; reads are not part of
// the seam.
//
// Methods may be called from any goroutine, concurrently. Errors are
// returned as package os returns them (*os.PathError, *os.LinkError).
type FS interface {
	// OpenFile is os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (*os.File, error)
	// WriteAt writes b at off of f, as f.WriteAt; on error n bytes may
	// have been written (a full disk writes a prefix).
	WriteAt(f *os.File, b []byte, off int64) (n int, err error)
	// Truncate is f.Truncate.
	Truncate(f *os.File, size int64) error
	// Sync flushes f's data and the metadata needed to read it back (its
	// size) to stable storage: fdatasync where there is one.
	Sync(f *os.File) error
	// TruncatePath is os.Truncate.
	TruncatePath(name string, size int64) error
	// Remove, RemoveAll, Rename, ReadDir, Stat and MkdirAll are the os
	// functions of the same names.
	Remove(name string) error
	RemoveAll(name string) error
	Rename(oldname, newname string) error
	ReadDir(name string) ([]os.DirEntry, error)
	Stat(name string) (os.FileInfo, error)
	MkdirAll(name string, perm os.FileMode) error
	// SyncDir fsyncs a directory so that entries created, renamed or
	// removed in it survive a crash.
	SyncDir(name string) error
}

// OS is the FS of the operating system, the default of Config.FS.
var OS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
func (osFS) WriteAt(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }
func (osFS) Truncate(f *os.File, size int64) error                { return f.Truncate(size) }
func (osFS) Sync(f *os.File) error                                { return fdatasync(f) }
func (osFS) TruncatePath(name string, size int64) error           { return os.Truncate(name, size) }
func (osFS) Remove(name string) error                             { return os.Remove(name) }
func (osFS) RemoveAll(name string) error                          { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error                 { return os.Rename(oldname, newname) }
func (osFS) ReadDir(name string) ([]os.DirEntry, error)           { return os.ReadDir(name) }
func (osFS) Stat(name string) (os.FileInfo, error)                { return os.Stat(name) }
func (osFS) MkdirAll(name string, perm os.FileMode) error         { return os.MkdirAll(name, perm) }

func (osFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
