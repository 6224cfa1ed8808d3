package partition

import "testing"

func TestEpochCacheEndOffsetFor(t *testing.T) {
	c := epochCache{{Epoch: 2, StartOffset: 10}, {Epoch: 4, StartOffset: 25}, {Epoch: 5, StartOffset: 40}}
	const leo = 55
	for _, tc := range []struct {
		name      string
		cache     epochCache
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{"latest", c, 5, 5, leo},
		{"newer than latest", c, 9, 5, leo},
		{"middle", c, 2, 2, 25},
		{"gap takes the one before", c, 3, 2, 25},
		{"older than every entry ends at the first start", c, 1, 1, 10},
		{"undefined", c, -1, -1, -1},
		{"empty cache", nil, 3, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, end := tc.cache.endOffsetFor(tc.epoch, leo)
			if e != tc.wantEpoch || end != tc.wantEnd {
				t.Fatalf("endOffsetFor(%d) = %d, %d; want %d, %d", tc.epoch, e, end, tc.wantEpoch, tc.wantEnd)
			}
		})
	}
}
