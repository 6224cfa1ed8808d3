package commitlog

import (
	"container/list"
	"errors"
	"os"
	"sync"
	"sync/atomic"
)

// FileCache bounds the file descriptors that the segment files of every
// Log sharing it keep open, so that the number of partitions and segments
// a broker hosts is not limited by RLIMIT_NOFILE (Kafka keeps every
// segment's files open and needs a huge limit; its LazyIndex only defers
// opening the indexes).
//
// Only .log files are cached. Index files hold no descriptor at all: their
// entries live in memory and the files are opened for a moment to load,
// write, truncate or fsync them (counted as transient opens). A .log file
// is opened on first use and stays open while it is used; when the cache
// is full, opening another one closes an idle one chosen by the CLOCK
// algorithm (second chance, an approximation of least recently used that
// needs no global lock on a hit). A file is never closed while it is
// pinned: an append or fsync in progress, or a reader (including file
// regions handed to sendfile) that has not released its snapshot. Pinned
// files may push the count over the capacity for a while (counted in
// Overcommits); the descriptor reserve kept outside the cache absorbs that.
//
// Files of a segment that was deleted or replaced while readers still use
// it are held open until the last reader releases it: a reopen by name
// would find nothing or another file.
//
// Lock order: segmentFile.mu before FileCache.mu. Eviction, which holds
// FileCache.mu, only tries segmentFile.mu and skips a file it cannot get.
type FileCache struct {
	capacity int

	opens       atomic.Uint64
	evictions   atomic.Uint64
	overcommits atomic.Uint64

	mu struct {
		sync.Mutex
		open int       // descriptors counted: cached, pinned and transient
		ring list.List // *segmentFile that are open and not held, in CLOCK order
	}
}

// MinFileCacheCapacity is the smallest capacity NewFileCache accepts.
const MinFileCacheCapacity = 16

// NewFileCache returns a cache that keeps at most capacity descriptors
// open (at least MinFileCacheCapacity).
func NewFileCache(capacity int) *FileCache {
	return &FileCache{capacity: max(capacity, MinFileCacheCapacity)}
}

// FileCacheStats is a snapshot of a FileCache's counters.
type FileCacheStats struct {
	Capacity    int    // descriptors the cache may keep open
	Open        int    // descriptors open now
	Opens       uint64 // files opened (misses and transient opens)
	Evictions   uint64 // idle files closed to make room
	Overcommits uint64 // opens beyond capacity because every open file was pinned
}

// Stats returns the current counters.
func (c *FileCache) Stats() FileCacheStats {
	c.mu.Lock()
	open := c.mu.open
	c.mu.Unlock()
	return FileCacheStats{Capacity: c.capacity, Open: open, Opens: c.opens.Load(),
		Evictions: c.evictions.Load(), Overcommits: c.overcommits.Load()}
}

// defaultFileCache serves Logs opened without Config.Files: descriptors
// are a per-process resource, so one cache for the process is right.
var defaultFileCache = sync.OnceValue(func() *FileCache {
	return NewFileCache(DefaultCacheCapacity(currentNoFileLimit(), DefaultFDReserve))
})

// DefaultFDReserve is how many descriptors DefaultCacheCapacity keeps out
// of the cache for connections, the metadata log and everything else.
const DefaultFDReserve = 1024

// DefaultCacheCapacity is the cache capacity for a process descriptor
// limit: the limit minus the reserve, but never more than half of it below
// 2*reserve, so a small limit still leaves room for connections.
func DefaultCacheCapacity(limit, reserve int) int {
	if limit <= 0 {
		return MinFileCacheCapacity
	}
	if limit-reserve < limit/2 {
		return max(limit/2, MinFileCacheCapacity)
	}
	return limit - reserve
}

// admit counts one more descriptor, closing an idle file first when the
// cache is full.
func (c *FileCache) admit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.open >= c.capacity && !c.evictLocked() {
		c.overcommits.Add(1)
	}
	c.mu.open++
	c.opens.Add(1)
}

// forget uncounts a descriptor that was closed (or never opened).
func (c *FileCache) forget(sf *segmentFile) {
	c.mu.Lock()
	c.mu.open--
	if sf != nil && sf.elem != nil {
		c.mu.ring.Remove(sf.elem)
		sf.elem = nil
	}
	c.mu.Unlock()
}

// evictLocked closes one idle file. Files used since the hand last passed
// get a second chance; pinned, held or busy files are skipped. It reports
// whether it closed one.
func (c *FileCache) evictLocked() bool {
	for n := 2*c.mu.ring.Len() + 1; n > 0; n-- {
		e := c.mu.ring.Front()
		if e == nil {
			return false
		}
		sf := e.Value.(*segmentFile)
		if !sf.mu.TryLock() {
			c.mu.ring.MoveToBack(e) // busy: in use right now
			continue
		}
		if sf.pins > 0 || sf.used.Swap(false) {
			sf.mu.Unlock()
			c.mu.ring.MoveToBack(e)
			continue
		}
		c.mu.ring.Remove(e)
		sf.elem = nil
		f := sf.f
		sf.f = nil
		sf.mu.Unlock()
		// Nothing is lost: written bytes are in the page cache, and an
		// fsync through a later descriptor of the same file flushes them.
		_ = f.Close()
		c.mu.open--
		c.evictions.Add(1)
		return true
	}
	return false
}

// openTransient opens a file for a moment (an index file). Close it with
// closeTransient.
func (c *FileCache) openTransient(fs FS, name string, flag int) (*os.File, error) {
	c.admit()
	f, err := fs.OpenFile(name, flag, 0o644)
	if err != nil {
		c.forget(nil)
		return nil, err
	}
	return f, nil
}

func (c *FileCache) closeTransient(f *os.File) error {
	err := f.Close()
	c.forget(nil)
	return err
}

// withTransient runs fn on name opened with flag and closes it again.
func (c *FileCache) withTransient(fs FS, name string, flag int, fn func(f *os.File) error) error {
	f, err := c.openTransient(fs, name, flag)
	if err != nil {
		return err
	}
	err = fn(f)
	return errors.Join(err, c.closeTransient(f))
}

// errFileClosed is returned when a segment file is used after its segment
// was closed for good; callers hold a reference, so it means a bug.
var errFileClosed = errors.New("commitlog: segment file used after close")

// segmentFile is one segment's .log file in a FileCache: open while used
// or until evicted, reopened by name on the next use.
type segmentFile struct {
	cache *FileCache
	fs    FS // of the Log the file belongs to
	path  string
	used  atomic.Bool // set on every pin; cleared by the CLOCK hand

	mu     sync.Mutex
	f      *os.File // nil while closed
	pins   int      // users that need f to stay open
	held   bool     // not evictable: renamed or deleted, or being written by the cleaner
	closed bool     // closed for good
	elem   *list.Element
}

func (c *FileCache) newFile(fs FS, path string) *segmentFile {
	return &segmentFile{cache: c, fs: fs, path: path}
}

// openLocked opens name with flag into sf, which must be closed.
func (sf *segmentFile) openLocked(name string, flag int) error {
	c := sf.cache
	c.admit()
	f, err := sf.fs.OpenFile(name, flag, 0o644)
	if err != nil {
		c.forget(nil)
		return err
	}
	sf.f = f
	if !sf.held {
		c.mu.Lock()
		sf.elem = c.mu.ring.PushBack(sf)
		c.mu.Unlock()
	}
	return nil
}

// create opens (or creates, with flag) the file for the first time.
func (sf *segmentFile) create(flag int) error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	return sf.openLocked(sf.path, flag)
}

// createHeld creates name (another name than path, a .cleaned file) held
// open: it is reopened by path only after unhold, once it was renamed.
func (sf *segmentFile) createHeld(name string, flag int) error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	sf.held = true
	return sf.openLocked(name, flag)
}

// pin returns the open file, opening it when needed; it stays open until
// unpin.
func (sf *segmentFile) pin() (*os.File, error) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.closed {
		return nil, errFileClosed
	}
	if sf.f == nil {
		if err := sf.openLocked(sf.path, os.O_RDWR); err != nil {
			return nil, err
		}
	}
	sf.pins++
	if !sf.used.Load() {
		sf.used.Store(true)
	}
	return sf.f, nil
}

func (sf *segmentFile) unpin() {
	sf.mu.Lock()
	sf.pins--
	sf.mu.Unlock()
}

// with runs fn with the file pinned.
func (sf *segmentFile) with(fn func(f *os.File) error) error {
	f, err := sf.pin()
	if err != nil {
		return err
	}
	defer sf.unpin()
	return fn(f)
}

// hold opens the file if needed and keeps it open until close: its name is
// about to be removed or to point at another file.
func (sf *segmentFile) hold() error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.closed || sf.held {
		return nil
	}
	if sf.f == nil {
		sf.held = true
		if err := sf.openLocked(sf.path, os.O_RDWR); err != nil {
			sf.held = false
			return err
		}
		return nil
	}
	sf.held = true
	c := sf.cache
	c.mu.Lock()
	if sf.elem != nil {
		c.mu.ring.Remove(sf.elem)
		sf.elem = nil
	}
	c.mu.Unlock()
	return nil
}

// unhold makes a held file evictable again: its path names it now.
func (sf *segmentFile) unhold() {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if !sf.held || sf.closed {
		return
	}
	sf.held = false
	if sf.f != nil {
		c := sf.cache
		c.mu.Lock()
		sf.elem = c.mu.ring.PushBack(sf)
		c.mu.Unlock()
	}
}

// close closes the file for good.
func (sf *segmentFile) close() error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.closed {
		return nil
	}
	sf.closed = true
	if sf.f == nil {
		return nil
	}
	err := sf.f.Close()
	sf.f = nil
	sf.cache.forget(sf)
	return err
}
