package commitlog

import (
	"bytes"
	"fmt"
	"testing"
)

// TestReadRegionsMatchesRead: for every offset, bound and size limit the
// regions hold exactly the bytes Read returns, across segments.
func TestReadRegionsMatchesRead(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 1500, IndexIntervalBytes: 200})
	appendN(t, l, 40, 3, 1000) // 120 records in batches of 3, several segments
	leo := l.LogEndOffset()
	for _, maxOffset := range []int64{leo, leo - 4, 50, 1} {
		for _, maxBytes := range []int{0, 10, 100, 400, 1 << 20} {
			for _, minOne := range []bool{false, true} {
				for offset := int64(0); offset <= leo; offset += 7 {
					name := fmt.Sprintf("off%d/max%d/bytes%d/min%v", offset, maxOffset, maxBytes, minOne)
					want, err := l.Read(offset, maxOffset, maxBytes, minOne)
					if err != nil {
						t.Fatalf("%s: read: %v", name, err)
					}
					regions, release, err := l.ReadRegions(offset, maxOffset, maxBytes, minOne)
					if err != nil {
						t.Fatalf("%s: regions: %v", name, err)
					}
					var got []byte
					for _, r := range regions {
						b := make([]byte, r.Length)
						if _, err := r.File.ReadAt(b, r.Offset); err != nil {
							t.Fatalf("%s: read region: %v", name, err)
						}
						got = append(got, b...)
					}
					release()
					if !bytes.Equal(got, want) {
						t.Fatalf("%s: regions hold %d bytes, Read returned %d", name, len(got), len(want))
					}
				}
			}
		}
	}
	if _, _, err := l.ReadRegions(leo+1, leo, 100, true); err == nil {
		t.Fatal("regions past the log end: no error")
	}
}
