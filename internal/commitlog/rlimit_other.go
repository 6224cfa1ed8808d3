//go:build !unix

package commitlog

// currentNoFileLimit is unknown off unix: the cache gets its minimum.
func currentNoFileLimit() int { return 0 }
