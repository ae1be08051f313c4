package state

import (
	"os"
	"sync"
	"time"
)

// metaCache remembers the metadata of the generation files entry decoded,
// by path, with the file's identity when it was read (device, inode, size,
// modification time): generation files are only ever replaced by rename
// (writeAtomic), so an unchanged identity is an unchanged file. It spares
// a long-running process (leash daemon, whose every live update checks the
// current generation's namespace) from decoding a many-megabyte
// generation.json again for a few fields.
type metaCache struct {
	mu      sync.Mutex
	entries map[string]cachedMeta
}

type cachedMeta struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
	meta     Meta
}

// identity is fi's device and inode; ok is false when fi does not say.
func identity(fi os.FileInfo) (dev, ino uint64, ok bool) {
	id, ok := statOf(fi)
	return id.dev, id.ino, ok
}

// get returns the cached metadata of path if the file is the one cached.
func (c *metaCache) get(path string, fi os.FileInfo) (Meta, bool) {
	dev, ino, ok := identity(fi)
	if !ok {
		return Meta{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, hit := c.entries[path]
	if !hit || e.dev != dev || e.ino != ino || e.size != fi.Size() || !e.mtime.Equal(fi.ModTime()) {
		return Meta{}, false
	}
	return e.meta, true
}

// put caches m as the metadata of path as fi describes it.
func (c *metaCache) put(path string, fi os.FileInfo, m Meta) {
	dev, ino, ok := identity(fi)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedMeta{}
	}
	c.entries[path] = cachedMeta{dev: dev, ino: ino, size: fi.Size(), mtime: fi.ModTime(), meta: m}
}
