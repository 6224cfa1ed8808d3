// Package errorfs is a file system for commitlog that fails the operations
// a test names: the Nth write, every fsync of a path, a rename, a full
// disk. It follows pebble's vfs/errorfs: rules match an operation kind and
// a path, may let the first few matches through, and return an error
// shaped as package os returns it (*os.PathError), so errors.Is finds the
// injected errno (syscall.ENOSPC, syscall.EIO).
//
// FS implements commitlog.FS structurally; it does not import commitlog
// so commitlog's own tests can use it. Operations that match no rule go to
// package os. Safe for concurrent use.
package errorfs

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
)

// Op is a set of operation kinds.
type Op uint32

// Operation kinds. OpenFile counts as OpCreate when its flags include
// O_CREATE, as OpOpen otherwise.
const (
	OpOpen     Op = 1 << iota // OpenFile without O_CREATE
	OpCreate                  // OpenFile with O_CREATE
	OpWrite                   // WriteAt
	OpSync                    // Sync of a file
	OpTruncate                // Truncate, TruncatePath
	OpRemove                  // Remove, RemoveAll
	OpRename                  // Rename
	OpReadDir                 // ReadDir
	OpStat                    // Stat
	OpMkdir                   // MkdirAll
	OpSyncDir                 // SyncDir

	// OpAll is every kind.
	OpAll Op = 1<<iota - 1
)

var opNames = []string{"open", "create", "write", "sync", "truncate", "remove", "rename", "readdir", "stat", "mkdir", "syncdir"}

func (o Op) String() string {
	var parts []string
	for i, name := range opNames {
		if o&(1<<i) != 0 {
			parts = append(parts, name)
		}
	}
	return strings.Join(parts, "|")
}

// ErrInjected is the error of a rule without Err.
var ErrInjected = errors.New("errorfs: injected error")

// Rule says which operations fail.
type Rule struct {
	// Ops are the kinds the rule applies to.
	Ops Op
	// Path, when set, must accept the operation's path (the old name of a
	// rename).
	Path func(path string) bool
	// Skip lets this many matching operations succeed before the first
	// failure (fail the Nth: Skip N-1).
	Skip int
	// Times is how many matching operations fail after Skip; 0 is all.
	Times int
	// Err is the error returned inside an *os.PathError; nil is
	// ErrInjected.
	Err error
	// Partial makes a failing WriteAt write the first half of its bytes
	// before it fails, as a write that runs out of space does.
	Partial bool
}

// HasSuffix is a Rule.Path matching paths that end in suffix.
func HasSuffix(suffix string) func(string) bool {
	return func(p string) bool { return strings.HasSuffix(p, suffix) }
}

// Contains is a Rule.Path matching paths that contain s.
func Contains(s string) func(string) bool {
	return func(p string) bool { return strings.Contains(p, s) }
}

// FullDisk is the rule of a disk without space: every write fails with
// ENOSPC after writing part of its bytes, and so does creating a file.
func FullDisk() Rule {
	return Rule{Ops: OpWrite | OpCreate, Err: syscall.ENOSPC, Partial: true}
}

type rule struct {
	Rule
	seen, failed int
}

// FS is the error-injecting file system.
type FS struct {
	mu       sync.Mutex
	rules    []*rule
	holds    []*Hold
	counts   map[Op]int
	injected int
}

// Hold stops matching operations before they run until Release: a slow or
// hung disk, so tests can show what still works while a write or an fsync
// is stuck. See FS.Hold.
type Hold struct {
	ops     Op
	path    func(string) bool
	reached chan struct{}
	release chan struct{}
	once    sync.Once // closes reached
	freed   sync.Once // closes release
}

// Hold makes every later operation of a kind in ops whose path path
// accepts (nil: any) wait until the Hold is released, then run normally
// (rules still apply). Reached is closed when the first one waits.
func (fs *FS) Hold(ops Op, path func(string) bool) *Hold {
	h := &Hold{ops: ops, path: path, reached: make(chan struct{}), release: make(chan struct{})}
	fs.mu.Lock()
	fs.holds = append(fs.holds, h)
	fs.mu.Unlock()
	return h
}

// Reached is closed once an operation waits on the Hold.
func (h *Hold) Reached() <-chan struct{} { return h.reached }

// Release lets every waiting and later matching operation run. Idempotent.
func (h *Hold) Release() { h.freed.Do(func() { close(h.release) }) }

// wait blocks while a Hold matches op on path.
func (fs *FS) wait(op Op, path string) {
	fs.mu.Lock()
	var match []*Hold
	for _, h := range fs.holds {
		if h.ops&op != 0 && (h.path == nil || h.path(path)) {
			match = append(match, h)
		}
	}
	fs.mu.Unlock()
	for _, h := range match {
		select {
		case <-h.release:
			continue
		default:
		}
		h.once.Do(func() { close(h.reached) })
		<-h.release
	}
}

// New returns an FS that fails nothing until Inject.
func New() *FS { return &FS{counts: make(map[Op]int)} }

// Inject adds a rule. Rules are tried in the order added; the first that
// fails an operation counts it, later rules do not see it.
func (fs *FS) Inject(r Rule) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = append(fs.rules, &rule{Rule: r})
}

// Reset removes every rule (the disk is healthy again) and releases
// every Hold. Counters stay.
func (fs *FS) Reset() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = nil
	for _, h := range fs.holds {
		h.Release()
	}
	fs.holds = nil
}

// Injected is how many operations failed by a rule.
func (fs *FS) Injected() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.injected
}

// Count is how many operations of the kinds in op were attempted.
func (fs *FS) Count(op Op) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := 0
	for k, c := range fs.counts {
		if k&op != 0 {
			n += c
		}
	}
	return n
}

// check waits out the Holds that match an operation, counts it and
// returns the rule that fails it, if any.
func (fs *FS) check(op Op, path string) *rule {
	fs.wait(op, path)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.counts[op]++
	for _, r := range fs.rules {
		if r.Ops&op == 0 || r.Path != nil && !r.Path(path) {
			continue
		}
		r.seen++
		if r.seen <= r.Skip || r.Times > 0 && r.failed >= r.Times {
			continue
		}
		r.failed++
		fs.injected++
		return r
	}
	return nil
}

func (r *rule) err(op Op, path string) error {
	err := r.Err
	if err == nil {
		err = ErrInjected
	}
	return &os.PathError{Op: op.String(), Path: path, Err: fmt.Errorf("%w (injected)", err)}
}

// OpenFile is os.OpenFile.
func (fs *FS) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	op := OpOpen
	if flag&os.O_CREATE != 0 {
		op = OpCreate
	}
	if r := fs.check(op, name); r != nil {
		return nil, r.err(op, name)
	}
	return os.OpenFile(name, flag, perm)
}

// WriteAt is f.WriteAt.
func (fs *FS) WriteAt(f *os.File, b []byte, off int64) (int, error) {
	if r := fs.check(OpWrite, f.Name()); r != nil {
		n := 0
		if r.Partial && len(b) > 1 {
			n, _ = f.WriteAt(b[:len(b)/2], off)
		}
		return n, r.err(OpWrite, f.Name())
	}
	return f.WriteAt(b, off)
}

// Truncate is f.Truncate.
func (fs *FS) Truncate(f *os.File, size int64) error {
	if r := fs.check(OpTruncate, f.Name()); r != nil {
		return r.err(OpTruncate, f.Name())
	}
	return f.Truncate(size)
}

// Sync is f.Sync.
func (fs *FS) Sync(f *os.File) error {
	if r := fs.check(OpSync, f.Name()); r != nil {
		return r.err(OpSync, f.Name())
	}
	return f.Sync()
}

// TruncatePath is os.Truncate.
func (fs *FS) TruncatePath(name string, size int64) error {
	if r := fs.check(OpTruncate, name); r != nil {
		return r.err(OpTruncate, name)
	}
	return os.Truncate(name, size)
}

// Remove is os.Remove.
func (fs *FS) Remove(name string) error {
	if r := fs.check(OpRemove, name); r != nil {
		return r.err(OpRemove, name)
	}
	return os.Remove(name)
}

// RemoveAll is os.RemoveAll.
func (fs *FS) RemoveAll(name string) error {
	if r := fs.check(OpRemove, name); r != nil {
		return r.err(OpRemove, name)
	}
	return os.RemoveAll(name)
}

// Rename is os.Rename.
func (fs *FS) Rename(oldname, newname string) error {
	if r := fs.check(OpRename, oldname); r != nil {
		return r.err(OpRename, oldname)
	}
	return os.Rename(oldname, newname)
}

// ReadDir is os.ReadDir.
func (fs *FS) ReadDir(name string) ([]os.DirEntry, error) {
	if r := fs.check(OpReadDir, name); r != nil {
		return nil, r.err(OpReadDir, name)
	}
	return os.ReadDir(name)
}

// Stat is os.Stat.
func (fs *FS) Stat(name string) (os.FileInfo, error) {
	if r := fs.check(OpStat, name); r != nil {
		return nil, r.err(OpStat, name)
	}
	return os.Stat(name)
}

// MkdirAll is os.MkdirAll.
func (fs *FS) MkdirAll(name string, perm os.FileMode) error {
	if r := fs.check(OpMkdir, name); r != nil {
		return r.err(OpMkdir, name)
	}
	return os.MkdirAll(name, perm)
}

// SyncDir fsyncs the directory name.
func (fs *FS) SyncDir(name string) error {
	if r := fs.check(OpSyncDir, name); r != nil {
		return r.err(OpSyncDir, name)
	}
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
