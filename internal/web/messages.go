package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file is the message browser: a bounded read of a few records from
// chosen partitions, with a short-lived consumer (no group, no commits).

const (
	// defaultBrowseLimit is the number of records a request without
	// ?limit= returns.
	defaultBrowseLimit = 50
	// maxShownBytes is the most of a key, value or header value sent to
	// the page; longer ones are cut and marked truncated.
	maxShownBytes = 16 << 10
	// filterScanFactor: with a filter, up to limit*filterScanFactor
	// records per partition are read to find matches (bounded by
	// maxFilterScan).
	filterScanFactor = 20
	maxFilterScan    = 10_000
	// idleWait ends a read that got records and then nothing more for
	// this long (see readRanges).
	idleWait = 1500 * time.Millisecond
)

type headerView struct {
	Key   string `json:"key"`
	Value []byte `json:"value"` // base64 in JSON
}

type recordView struct {
	Partition      int32        `json:"partition"`
	Offset         int64        `json:"offset"`
	Timestamp      int64        `json:"timestamp"` // ms since the epoch
	Key            []byte       `json:"key"`       // base64; null for a null key
	Value          []byte       `json:"value"`     // base64; null for a tombstone
	KeySize        int          `json:"keySize"`
	ValueSize      int          `json:"valueSize"`
	Headers        []headerView `json:"headers"`
	KeyTruncated   bool         `json:"keyTruncated,omitempty"`
	ValueTruncated bool         `json:"valueTruncated,omitempty"`
}

type browseRange struct {
	Partition int32 `json:"partition"`
	Start     int64 `json:"startOffset"` // the log's
	End       int64 `json:"endOffset"`
	From      int64 `json:"from"` // the range read: [from, to)
	To        int64 `json:"to"`
}

type browseResult struct {
	Records  []recordView  `json:"records"` // newest first
	Ranges   []browseRange `json:"ranges"`
	Scanned  int           `json:"scanned"`
	TimedOut bool          `json:"timedOut"` // the read stopped at the time bound
	Elapsed  int64         `json:"elapsedMs"`
	Limit    int           `json:"limit"`
}

// browseQuery is a parsed message-browser request.
type browseQuery struct {
	partitions []int32 // nil: all
	offset     int64   // -1: none
	timestamp  int64   // -1: none
	limit      int
	filter     []byte // lower case; nil: none
}

func (s *Server) parseBrowseQuery(r *http.Request) (browseQuery, error) {
	q := r.URL.Query()
	bq := browseQuery{offset: -1, timestamp: -1, limit: defaultBrowseLimit}
	if v := q.Get("partition"); v != "" && v != "all" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return bq, badRequest("partition %q: want a partition number or \"all\"", v)
		}
		bq.partitions = []int32{int32(n)}
	}
	if v := strings.TrimSpace(q.Get("offset")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return bq, badRequest("offset %q: want a number >= 0", v)
		}
		bq.offset = n
	}
	if v := strings.TrimSpace(q.Get("timestamp")); v != "" {
		ts, err := parseTimestamp(v)
		if err != nil {
			return bq, err
		}
		bq.timestamp = ts
	}
	if bq.offset >= 0 && bq.timestamp >= 0 {
		return bq, badRequest("give an offset or a timestamp, not both")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.MaxRecords {
			return bq, badRequest("limit %q: want 1 to %d records", v, s.cfg.MaxRecords)
		}
		bq.limit = n
	}
	if v := q.Get("filter"); v != "" {
		if len(v) > 1024 {
			return bq, badRequest("filter is longer than 1024 bytes")
		}
		bq.filter = bytes.ToLower([]byte(v))
	}
	return bq, nil
}

// parseTimestamp takes milliseconds since the epoch or an RFC 3339 time.
func parseTimestamp(v string) (int64, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, badRequest("timestamp %q: want milliseconds since 1970 >= 0", v)
		}
		return n, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, badRequest("timestamp %q: want milliseconds since 1970 or an RFC 3339 time like 2025-01-31T12:00:00Z", v)
	}
	return t.UnixMilli(), nil
}

func (s *Server) browseMessages(ctx context.Context, r *http.Request) (any, error) {
	name, err := topicPath(r)
	if err != nil {
		return nil, err
	}
	bq, err := s.parseBrowseQuery(r)
	if err != nil {
		return nil, err
	}
	t, err := s.topicMetadata(ctx, name)
	if err != nil {
		return nil, err
	}
	if bq.partitions == nil {
		for _, p := range t.Partitions.Sorted() {
			bq.partitions = append(bq.partitions, p.Partition)
		}
	} else if _, ok := t.Partitions[bq.partitions[0]]; !ok {
		return nil, notFound("topic %q has no partition %d (it has %d)", name, bq.partitions[0], len(t.Partitions))
	}
	select {
	case s.browsers <- struct{}{}:
		defer func() { <-s.browsers }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	began := time.Now()
	ranges, err := s.browseRanges(ctx, name, bq)
	if err != nil {
		return nil, err
	}
	res := browseResult{Records: []recordView{}, Ranges: ranges, Limit: bq.limit}
	if err := s.readRanges(ctx, name, bq, ranges, &res); err != nil {
		return nil, err
	}
	// Newest first: by timestamp across partitions, by offset within one.
	sort.SliceStable(res.Records, func(i, j int) bool {
		a, b := res.Records[i], res.Records[j]
		if a.Partition == b.Partition {
			return a.Offset > b.Offset
		}
		if a.Timestamp != b.Timestamp {
			return a.Timestamp > b.Timestamp
		}
		return a.Partition < b.Partition
	})
	if n := len(res.Records); n > bq.limit {
		if bq.offset >= 0 || bq.timestamp >= 0 {
			// Read forward from a point: keep the records nearest to it.
			res.Records = res.Records[n-bq.limit:]
		} else {
			res.Records = res.Records[:bq.limit]
		}
	}
	res.Elapsed = time.Since(began).Milliseconds()
	return res, nil
}

// browseRanges picks the offsets to read per partition: the newest limit
// records, or limit records from an offset or from the first record at or
// after a timestamp. With a filter, more are read to find matches.
func (s *Server) browseRanges(ctx context.Context, topic string, bq browseQuery) ([]browseRange, error) {
	starts, err := s.admin.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := s.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	var fromTime map[int32]int64
	if bq.timestamp >= 0 {
		after, err := s.admin.ListOffsetsAfterMilli(ctx, bq.timestamp, topic)
		if err != nil {
			return nil, fmt.Errorf("list offsets by time: %w", err)
		}
		fromTime = map[int32]int64{}
		after.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				fromTime[o.Partition] = o.Offset
			}
		})
	}
	window := int64(bq.limit)
	if bq.filter != nil {
		window = min(int64(bq.limit)*filterScanFactor, maxFilterScan)
	}
	var out []browseRange
	for _, p := range bq.partitions {
		so, ok1 := starts.Lookup(topic, p)
		eo, ok2 := ends.Lookup(topic, p)
		if !ok1 || !ok2 || so.Err != nil || eo.Err != nil {
			err := so.Err
			if err == nil {
				err = eo.Err
			}
			return nil, fmt.Errorf("offsets of %s/%d: %w", topic, p, orMissing(err))
		}
		br := browseRange{Partition: p, Start: so.Offset, End: eo.Offset}
		switch {
		case bq.offset >= 0:
			br.From = min(max(bq.offset, br.Start), br.End)
			br.To = min(br.End, br.From+window)
		case bq.timestamp >= 0:
			from, ok := fromTime[p]
			if !ok || from < 0 {
				from = br.End // nothing at or after that time
			}
			br.From = min(max(from, br.Start), br.End)
			br.To = min(br.End, br.From+window)
		default:
			br.To = br.End
			br.From = max(br.Start, br.End-window)
		}
		out = append(out, br)
	}
	return out, nil
}

func orMissing(err error) error {
	if err == nil {
		return fmt.Errorf("missing from the ListOffsets answer")
	}
	return err
}

// readRanges consumes [From, To) of each range with a client of its own,
// until every range is read or FetchTimeout passes.
func (s *Server) readRanges(ctx context.Context, topic string, bq browseQuery, ranges []browseRange, res *browseResult) error {
	want := map[int32]kgo.Offset{}
	pending := map[int32]int64{} // partition -> next offset wanted, up to To
	to := map[int32]int64{}
	for _, br := range ranges {
		if br.From < br.To {
			want[br.Partition] = kgo.NewOffset().At(br.From)
			pending[br.Partition] = br.From
			to[br.Partition] = br.To
		}
	}
	if len(want) == 0 {
		return nil
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(s.cfg.Bootstrap...),
		kgo.ClientID("arus-console-browser"),
		kgo.DialTimeout(5 * time.Second),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: want}),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.FetchMaxBytes(8 << 20),
		kgo.FetchMaxPartitionBytes(2 << 20),
		kgo.MetadataMinAge(time.Second),
	}, s.cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	gotAny := false
	for len(pending) > 0 {
		// Once records flow, a pause of idleWait means the rest of a range
		// holds no data records (transaction markers, compacted away):
		// kgo does not report such empty progress, so stop waiting.
		pctx, pcancel := rctx, context.CancelFunc(func() {})
		if gotAny {
			pctx, pcancel = context.WithTimeout(rctx, idleWait)
		}
		fetches := cl.PollFetches(pctx)
		idle := pctx.Err() != nil && rctx.Err() == nil
		pcancel()
		if idle {
			return nil
		}
		if rctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res.TimedOut = true
			return nil
		}
		gotAny = gotAny || fetches.NumRecords() > 0
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			next, ok := pending[rec.Partition]
			if !ok || rec.Offset < next {
				return
			}
			if rec.Offset >= to[rec.Partition] {
				delete(pending, rec.Partition)
				return
			}
			res.Scanned++
			if rec.Offset+1 >= to[rec.Partition] {
				delete(pending, rec.Partition)
			} else {
				pending[rec.Partition] = rec.Offset + 1
			}
			if bq.filter != nil && !matches(rec, bq.filter) {
				return
			}
			res.Records = append(res.Records, viewRecord(rec))
		})
	}
	return nil
}

// matches reports whether the record's key, value or a header contains
// filter (lower case), ignoring case.
func matches(rec *kgo.Record, filter []byte) bool {
	if bytes.Contains(bytes.ToLower(rec.Key), filter) || bytes.Contains(bytes.ToLower(rec.Value), filter) {
		return true
	}
	for _, h := range rec.Headers {
		if bytes.Contains(bytes.ToLower([]byte(h.Key)), filter) || bytes.Contains(bytes.ToLower(h.Value), filter) {
			return true
		}
	}
	return false
}

func viewRecord(rec *kgo.Record) recordView {
	v := recordView{
		Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp.UnixMilli(),
		KeySize: len(rec.Key), ValueSize: len(rec.Value), Headers: []headerView{},
	}
	v.Key, v.KeyTruncated = cut(rec.Key)
	v.Value, v.ValueTruncated = cut(rec.Value)
	for _, h := range rec.Headers {
		hv, _ := cut(h.Value)
		v.Headers = append(v.Headers, headerView{Key: h.Key, Value: hv})
	}
	return v
}

func cut(b []byte) ([]byte, bool) {
	if len(b) > maxShownBytes {
		return b[:maxShownBytes], true
	}
	return b, false
}
